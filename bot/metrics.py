"""Prometheus metrics of the running bot, and their text for a GET /metrics handler.

The front ends and services record what happened through the small `record_*`/`observe_*`
functions below (the engine stays pure: nothing in bot/engine.py knows of metrics). `exposition()`
returns the body and content type a web handler sends.

One process: the metrics live in prometheus-client's default registry. Several processes (the
workers behind one webhook port): set `PROMETHEUS_MULTIPROC_DIR` to an empty folder *before* any
process imports prometheus-client; each process then writes its samples to files there, and
`exposition()` in any of them (or in their supervisor) adds them up with prometheus-client's
`MultiProcessCollector`. Wipe the folder when the service starts (`clear_multiprocess_dir`), and
call `process_died(pid)` when a worker dies, so its live gauges stop counting.

Label values are bounded sets (reply kinds, exception class names, configured source names): never
a chat, a user or a question.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus reads (what prometheus-client answers a scrape without
# an Accept header); our names and labels are plain ASCII, so the body is the same in 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# An answer takes ~0.5-6 ms at 100k articles; a list or a cold snapshot longer; seconds is trouble.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ANSWERS = Counter(
    "district_news_answers",
    "Replies to residents by kind (answer, list, abstain, greeting, help, empty, article) and front end.",
    ["kind", "front"],
)
ABSTENTIONS = Counter(
    "district_news_abstentions",
    "Questions of fact nothing in the news answered (the bot said so).",
    ["front"],
)
ANSWER_SECONDS = Histogram(
    "district_news_answer_seconds",
    "Time to work out a reply (Library.ask), not counting Telegram.",
    ["front"],
    buckets=LATENCY_BUCKETS,
)
TELEGRAM_ERRORS = Counter(
    "district_news_telegram_errors",
    "Bot API requests that failed, by error type (each attempt, retried or not).",
    ["type"],
)
TELEGRAM_RETRIES = Counter(
    "district_news_telegram_retries",
    "Bot API requests tried again after an error, by error type (RetryAfter, NetworkError).",
    ["type"],
)
HANDLER_ERRORS = Counter(
    "district_news_handler_errors",
    "Updates whose handling failed and reached the error handler, by exception type.",
    ["type"],
)
DELIVERIES = Counter(
    "district_news_deliveries",
    "Subscription notices and daily digests, by outcome (sent, retry, gone, failed).",
    ["via", "outcome"],
)
SOURCE_FETCHES = Counter(
    "district_news_source_fetches",
    "Source pages and feeds fetched (the URL asked for, not the articles it links), by outcome.",
    ["outcome"],
)
SOURCE_POLLS = Counter(
    "district_news_source_polls",
    "Polls of the configured sources by the running bot, by source and outcome (ok, failed, paused).",
    ["source", "outcome"],
)
ARTICLES = Gauge(
    "district_news_articles",
    "Articles in the live index of the process that loaded most.",
    multiprocess_mode="livemax",
)


def multiprocess_dir() -> Path | None:
    """The folder the processes share their samples through, when multi-process mode is on."""
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format and their content type, for a GET /metrics handler.
    In multi-process mode, the sum over every process that wrote to the shared folder."""
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(REGISTRY), CONTENT_TYPE
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    return generate_latest(registry), CONTENT_TYPE


def clear_multiprocess_dir(folder: Path | None = None) -> None:
    """Empty the shared folder (created if missing): samples of an earlier run must not be added
    to this one's. Call once in the supervisor before any worker starts."""
    folder = folder or multiprocess_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def process_died(pid: int) -> None:
    """A worker is gone: its live gauges no longer count (its counters still do, as they should)."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(pid, str(folder))


# ------------------------------------------------------------------ recording


def record_reply(kind: str, front: str, seconds: float) -> None:
    """One reply worked out for a resident: its kind, the front end (chat, inline), how long."""
    ANSWERS.labels(kind=kind, front=front).inc()
    ANSWER_SECONDS.labels(front=front).observe(seconds)
    if kind == "abstain":
        ABSTENTIONS.labels(front=front).inc()


def record_telegram_error(error: BaseException) -> None:
    TELEGRAM_ERRORS.labels(type=type(error).__name__).inc()


def record_telegram_retry(error: BaseException) -> None:
    TELEGRAM_RETRIES.labels(type=type(error).__name__).inc()


def record_handler_error(error: BaseException | None) -> None:
    HANDLER_ERRORS.labels(type=type(error).__name__ if error is not None else "None").inc()


def record_delivery(via: str, outcome: str) -> None:
    """A notice or digest (`via`): sent, retry (Telegram asked to wait), gone (blocked), failed."""
    DELIVERIES.labels(via=via, outcome=outcome).inc()


def record_source_fetch(outcome: str) -> None:
    """A source's own page or feed: ok, not_modified (304), failed (HTTP, decoding, extraction)."""
    SOURCE_FETCHES.labels(outcome=outcome).inc()


def record_source_poll(source: str, outcome: str) -> None:
    SOURCE_POLLS.labels(source=source, outcome=outcome).inc()


def set_articles(count: int) -> None:
    ARTICLES.set(count)
