"""config/bot.yaml → typed settings. The token comes only from the environment."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "bot.yaml"
# Memory (MB) a process may spend on BM25 impacts worked out ahead (bot/search.py SearchIndex.warm,
# archives of up to 200,000 articles); `run --workers` sets 0 for its workers unless the operator
# sets it.
IMPACT_CACHE_ENV = "DISTRICT_NEWS_IMPACT_CACHE_MB"
# Milliseconds the search's helper thread spins for the next question before it sleeps (archives
# over 200,000 articles, bot/topk_helper.py); `run --workers` sets 0 for its workers (a spinning
# helper would take a core from another worker's question) unless the operator sets it.
SEARCH_SPIN_ENV = "DISTRICT_NEWS_SEARCH_SPIN_MS"

log = logging.getLogger(__name__)


@dataclass
class WebhookSettings:
    url: str | None = None
    listen: str = "0.0.0.0"
    port: int = 8443
    path: str = "telegram"
    secret_token: str | None = None
    # `run --workers N`: a worker holds an update this long before another may take it over
    # (longer than any handler runs: a group answer waits up to group_queue_seconds for its turn).
    update_lease_seconds: float = 60.0


@dataclass
class TelegramSettings:
    bot_username: str | None = None
    api_base_url: str | None = None
    admin_user_ids: tuple[int, ...] = ()
    group_cooldown_seconds: float = 20.0  # per asker in a group
    group_messages_per_minute: int = 18  # per group, all askers: under Telegram's 20
    group_queue_seconds: float = 15.0  # an answer waits this long at most for the group's next turn
    group_repeat_seconds: float = 60.0  # a button does not post the same article or list again within this
    flood_burst: int = 8  # the flood guard's token bucket: this many at once ...
    flood_rate_per_minute: float = 20.0  # ... refilled at this rate
    flood_max_messages: int | None = None  # the old flood keys (a count per window), still read:
    flood_window_seconds: float | None = None  # see flood_bucket()
    inline_cache_seconds: int = 60
    latest_default: int = 5
    watch_corpus_seconds: float = 30.0
    webhook: WebhookSettings = field(default_factory=WebhookSettings)

    def flood_bucket(self) -> tuple[int, float]:
        """The flood guard's (burst, refill per minute). The old keys, when set, keep their
        average rate: `flood_max_messages` at once, refilled over `flood_window_seconds`."""
        if self.flood_max_messages is None and self.flood_window_seconds is None:
            return self.flood_burst, self.flood_rate_per_minute
        burst = self.flood_burst if self.flood_max_messages is None else self.flood_max_messages
        window = 10.0 if self.flood_window_seconds is None else self.flood_window_seconds
        return burst, (burst * 60 / window if window > 0 else 0.0)


@dataclass
class EngineSettings:
    abstain_below: float = 0.28
    min_matched_idf: float = 1.2
    alternatives: int = 2


@dataclass
class Config:
    corpus: Path = ROOT / "seeds"
    cache_dir: Path | None = ROOT / ".cache"
    state_db: Path = ROOT / "state" / "bot.sqlite3"
    config_dir: Path = ROOT / "config"
    timezone: str = "Asia/Shanghai"
    metrics_port: int | None = None  # GET /metrics and /healthz of the one-process bot; METRICS_PORT overrides
    engine: EngineSettings = field(default_factory=EngineSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)

    @property
    def token(self) -> str | None:
        """Read on use, never stored or printed."""
        token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
        return token or None


class ConfigError(ValueError):
    pass


def _path(value: object, default: Path | None) -> Path | None:
    if value in (None, ""):
        return default
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else ROOT / path


def _section(data: dict, name: str) -> dict:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config: `{name}` must be a mapping")
    return value


def _fill(target: object, values: dict, where: str) -> None:
    for key, value in values.items():
        if not hasattr(target, key) or isinstance(getattr(target, key), (WebhookSettings,)):
            if key != "webhook":
                raise ConfigError(f"config: unknown setting `{where}.{key}`")
            continue
        current = getattr(target, key)
        try:
            if isinstance(current, bool) or value is None:
                setattr(target, key, value if value is not None else current)
            elif isinstance(current, tuple):
                setattr(target, key, tuple(int(v) for v in (value or [])))
            elif isinstance(current, (int, float)):
                setattr(target, key, type(current)(value))
            else:
                setattr(target, key, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config: `{where}.{key}` has a bad value: {value!r}") from exc


_OLD_FLOOD_KEYS = {"flood_max_messages": int, "flood_window_seconds": float}


def _old_flood_keys(settings: TelegramSettings, values: dict) -> dict:
    """`values` without the old flood keys, which go into `settings` unless the new ones are set."""
    old = {key: values[key] for key in _OLD_FLOOD_KEYS if key in values}
    if not old:
        return values
    rest = {key: value for key, value in values.items() if key not in old}
    if "flood_burst" in values or "flood_rate_per_minute" in values:
        log.warning("config: telegram.%s ignored: flood_burst/flood_rate_per_minute replace it", "/".join(old))
        return rest
    for key, value in old.items():
        if value is None:
            continue
        try:
            setattr(settings, key, _OLD_FLOOD_KEYS[key](value))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config: `telegram.{key}` has a bad value: {value!r}") from exc
    return rest


def load_config(path: Path | None = None) -> Config:
    path = path or Path(os.environ.get("DISTRICT_NEWS_CONFIG", DEFAULT_CONFIG))
    data: dict = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping")
    config = Config()
    config.corpus = _path(data.get("corpus"), config.corpus) or config.corpus
    config.cache_dir = _path(data.get("cache_dir"), config.cache_dir)
    config.state_db = _path(data.get("state_db"), config.state_db) or config.state_db
    config.timezone = str(_section(data, "digest").get("timezone") or config.timezone)
    metrics_port = os.environ.get("METRICS_PORT", "").strip() or data.get("metrics_port")
    if metrics_port not in (None, ""):
        try:
            config.metrics_port = int(str(metrics_port))
        except ValueError as exc:
            raise ConfigError(f"config: `metrics_port` (or METRICS_PORT) is not a port: {metrics_port!r}") from exc
    _fill(config.engine, _section(data, "engine"), "engine")
    telegram = _section(data, "telegram")
    _fill(config.telegram, _old_flood_keys(config.telegram, telegram), "telegram")
    _fill(config.telegram.webhook, _section(telegram, "webhook"), "telegram.webhook")
    env_base = os.environ.get("TELEGRAM_API_BASE_URL", "").strip()
    if env_base:
        config.telegram.api_base_url = env_base
    env_url = os.environ.get("TELEGRAM_WEBHOOK_URL", "").strip()
    if env_url:
        config.telegram.webhook.url = env_url
    if os.environ.get("PORT", "").strip().isdigit():
        config.telegram.webhook.port = int(os.environ["PORT"])
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    if secret:
        config.telegram.webhook.secret_token = secret
    return config
