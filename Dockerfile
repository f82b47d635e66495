# district-news-bot as a service. Build: `docker build -t district-news-bot .`
# Run one process, long polling, state in SQLite under /data:
#   docker run -e TELEGRAM_BOT_TOKEN -v district-news:/data district-news-bot
# Webhook mode with workers and PostgreSQL: see compose.yaml and the README's "Deploying as a service".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package and its runtime dependencies only (no test extra). `postgres` is the extra with the
# PostgreSQL driver, for DATABASE_URL (pip only warns if a checkout does not define it).
# Installed editable: the bot reads config/ and seeds/ beside its source (bot/config.py ROOT).
ARG EXTRAS=postgres
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install -e ".[${EXTRAS}]"
COPY config ./config
COPY seeds ./seeds
COPY docker/entrypoint.sh /usr/local/bin/district-news-entrypoint

# Non-root. /data holds what the bot writes: the corpus (seeded from seeds/ on first start), the
# index cache and, without DATABASE_URL, the SQLite state. A volume keeps them across containers.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data \
    && chmod 0755 /usr/local/bin/district-news-entrypoint
VOLUME ["/data"]
USER bot

# config/container.yaml puts corpus, cache_dir and state_db under /data. Logs: one JSON line an event.
# numba keeps the compiled search loops of large archives (bot/topk.py) beside the source when it
# can write there; /app is not the bot's, so they go to the volume (compiled once, not each start).
ENV DISTRICT_NEWS_CONFIG=/app/config/container.yaml \
    NUMBA_CACHE_DIR=/data/.numba-cache \
    DATA_DIR=/data \
    SEED_CORPUS=/app/seeds \
    LOG_FORMAT=json \
    PORT=8443

# The webhook (with WORKERS: also GET /healthz and /metrics); unused in long-polling mode.
EXPOSE 8443

ENTRYPOINT ["district-news-entrypoint"]
# WORKERS=N makes this `python -m bot run --workers N` (webhook mode: needs TELEGRAM_WEBHOOK_URL).
CMD ["python", "-m", "bot", "run"]
