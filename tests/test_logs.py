"""JSON logs (LOG_FORMAT=json, bot/logs.py): one parseable line per event, tracebacks included, and
the redaction filter still removes the token, the webhook secret, URL and path, extra fields too."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot import logs
from bot.telegram.app import _Redact, protect_logs

TOKEN = "123456:AAH-not-a-real-token_xyz"
SECRET = "whsec-9f8e7d6c5b4a"
HOOK_PATH = "hook-4b1c0e"
HOOK_URL = f"https://bot.example.org/{HOOK_PATH}"
SECRETS = (TOKEN, SECRET, HOOK_URL, f"/{HOOK_PATH}")


def log_everything(logger: logging.Logger) -> None:
    """Each way a secret could ride into a log line: message, arguments, extra fields, a traceback."""
    logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    logger.debug("Calling `setWebhook` with %s", {"url": HOOK_URL, "secret_token": SECRET})
    logger.warning("webhook request", extra={"path": f"/{HOOK_PATH}", "request": {"token": TOKEN}, "status": 403})
    try:
        raise RuntimeError(f"bad url /bot{TOKEN}/sendMessage\nsecond line with {SECRET}")
    except RuntimeError:
        logger.exception("sending failed")


@pytest.fixture
def json_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(_Redact(TOKEN, SECRET, HOOK_URL, paths=[HOOK_PATH]))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_json_line_per_event_with_time_level_logger_message_and_extras(json_lines) -> None:
    logger, stream = json_lines
    log_everything(logger)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4  # the traceback stays inside its event's line
    rows = [json.loads(line) for line in lines]
    assert [r["level"] for r in rows] == ["INFO", "DEBUG", "WARNING", "ERROR"]
    assert {r["logger"] for r in rows} == {"test.json"}
    assert all(r["time"].endswith("+00:00") and "T" in r["time"] for r in rows)
    assert rows[0]["message"] == "POST https://api.telegram.org/bot<secret>/getMe"
    assert rows[2]["status"] == 403 and rows[2]["path"] == "/<secret>"
    assert rows[3]["message"] == "sending failed"
    assert "Traceback (most recent call last)" in rows[3]["exc"] and "RuntimeError" in rows[3]["exc"]


def test_json_lines_never_contain_the_token_the_secret_or_the_webhook_path(json_lines) -> None:
    logger, stream = json_lines
    log_everything(logger)
    text = stream.getvalue()
    assert text.count("<secret>") >= 6
    for secret in SECRETS:
        assert secret not in text


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a fresh `python -m bot run` finds it: no handlers. (Entered inside the
    test: pytest attaches its capturing handlers after the fixtures are set up.)"""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler")}
    root.handlers = []
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = handlers
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


def test_log_format_json_makes_the_bots_own_log_json_and_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    logger = logging.getLogger("bot.telegram.test")
    logger.setLevel(logging.DEBUG)
    try:
        with bare_root() as root:
            protect_logs(TOKEN, SECRET, HOOK_URL, paths=[HOOK_PATH])  # what run_bot does first
            [handler] = root.handlers
            assert isinstance(handler.formatter, logs.JsonFormatter)
            log_everything(logger)
    finally:
        logger.setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    rows = [json.loads(line) for line in err.splitlines()]
    assert [r["level"] for r in rows] == ["INFO", "DEBUG", "WARNING", "ERROR"]
    for secret in SECRETS:
        assert secret not in err


def test_without_log_format_the_text_format_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    with bare_root() as root:
        logs.configure(logging.WARNING)
        [handler] = root.handlers
        assert not isinstance(handler.formatter, logs.JsonFormatter)
        assert handler.formatter is not None and handler.formatter._fmt == logs.TEXT_FORMAT
        assert root.level == logging.WARNING
