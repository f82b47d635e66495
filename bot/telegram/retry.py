"""PTB's AIORateLimiter, plus retries for the server and network errors it does not retry.

AIORateLimiter keeps the bot within Telegram's rate limits and retries `RetryAfter` (429).
A 502/503 from Telegram's front end or a dropped connection arrives as `NetworkError`; for a
bot that answers residents, a short backoff and another try beats losing the answer. Not
retried: `BadRequest` (a NetworkError subclass in PTB, but our fault, so retrying cannot help)
and `TimedOut` (the request may have reached Telegram, so a retry could post a message twice).
`getUpdates` never comes through here: the updater has its own retry loop.

Every failed attempt is counted by error type (bot/metrics.py), and every retry: a RetryAfter that
AIORateLimiter will wait out, a NetworkError backed off here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter

from .. import metrics

log = logging.getLogger(__name__)


class RetryingRateLimiter(AIORateLimiter):
    def __init__(
        self, *, network_retries: int = 3, backoff: float = 0.5, max_backoff: float = 8.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.network_retries = network_retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        max_retry_after = rate_limit_args or self._max_retries  # as AIORateLimiter reads it
        waits = 0

        async def counted(*a: Any, **kw: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            nonlocal waits
            try:
                return await callback(*a, **kw)
            except TelegramError as exc:
                metrics.record_telegram_error(exc)
                if isinstance(exc, RetryAfter):
                    waits += 1
                    if waits <= max_retry_after:  # AIORateLimiter waits, then tries again
                        metrics.record_telegram_retry(exc)
                raise

        attempt = 0
        while True:
            waits = 0
            try:
                return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)
            except (BadRequest, TimedOut):
                raise
            except NetworkError as exc:
                if attempt >= self.network_retries:
                    raise
                delay = min(self.backoff * (2**attempt), self.max_backoff)
                attempt += 1
                metrics.record_telegram_retry(exc)
                # the message names the HTTP status or the connection problem, never the URL
                log.warning(
                    "%s failed (%s); retry %d/%d in %.1fs",
                    endpoint,
                    exc.message[:160],
                    attempt,
                    self.network_retries,
                    delay,
                )
                await asyncio.sleep(delay)
