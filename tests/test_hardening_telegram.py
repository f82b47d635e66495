"""Hardening of the Telegram front end: replies within Telegram's limits, invisible characters in
what users type, secrets and noise kept out of the log, PTB deprecations, a refused state file."""

from __future__ import annotations

import datetime as dtm
import warnings

from telegram.error import RetryAfter

import bot.telegram  # noqa: F401  (opts in to PTB's timedelta time periods)
from bot.telegram.notifier import _retry_seconds

# ---------------------------------------------------------------- 15. PTB's retry_after deprecation


def test_retry_after_is_a_timedelta_and_reading_it_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exc = RetryAfter(3)  # PTB reads retry_after in the constructor already
        assert exc.retry_after == dtm.timedelta(seconds=3)
        assert _retry_seconds(exc) == 3.0
        assert _retry_seconds(RetryAfter(dtm.timedelta(seconds=2.5))) == 2.5
