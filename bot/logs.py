"""How the bot's log lines look: readable text by default, or one JSON object a line for a log
collector (`LOG_FORMAT=json`, e.g. in a container).

JSON lines carry `time` (UTC, ISO 8601), `level`, `logger`, `message`, any `extra={...}` fields the
call passed, and `exc` with the traceback: an event is always one line, a traceback included, so a
collector never splits it. What a line may not contain (the token, the webhook secret and path) is
removed before formatting by the redaction filter of bot/telegram/app.py, extra fields included.
"""

from __future__ import annotations

import datetime as dtm
import json
import logging
import os

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMAT_ENV = "LOG_FORMAT"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log call added with `extra=`."""
    return {key: value for key, value in vars(record).items() if key not in STANDARD_ATTRS and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dtm.datetime.fromtimestamp(record.created, dtm.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def wants_json() -> bool:
    return os.environ.get(FORMAT_ENV, "").strip().lower() == "json"


def formatter() -> logging.Formatter:
    """The formatter `LOG_FORMAT` asks for: `json`, or the text format otherwise."""
    return JsonFormatter() if wants_json() else logging.Formatter(TEXT_FORMAT)


def configure(level: int = logging.INFO) -> None:
    """Log to stderr at `level` in the chosen format, as `logging.basicConfig` does: a root logger
    that already has handlers (tests, an embedding program) is left as it is."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter())
    root.addHandler(handler)
    root.setLevel(level)
