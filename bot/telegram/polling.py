"""Polling the configured news sources (config/sources.yaml) in the running bot.

One repeating job per source at its `interval`; the first runs are spread over the first interval
(source i of n starts at i × interval / n). Each run fetches the source (`bot.web.run.fetch_sources`:
the same de-duplication and ingest as `python -m bot fetch`), then, when articles were added, the
usual reload + notify tells subscribers about them once.

How each source is doing is kept in the state DB (`Store.source_health`). A failing source is
slowed down: its next poll is due after interval × 2^failures (at most MAX_BACKOFF_SECONDS), and
after PAUSE_AFTER failures in a row it is paused, with one private notice to each operator
(`config.telegram.admin_user_ids`); `/sources resume NAME` starts it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import JobQueue

from .. import metrics
from ..config import Config
from ..ingest import Known
from ..store import SourceHealth, Store
from ..web.fetch import FetchSettings
from ..web.run import FetchReport, fetch_sources
from ..web.sources import Source
from . import notices
from .context import BotContext
from .notifier import reload_and_notify

log = logging.getLogger(__name__)

PAUSE_AFTER = 5  # failures in a row before a source is paused
MAX_BACKOFF_SECONDS = 24 * 3600


@dataclass
class PollResult:
    source: str
    skipped: str | None = None  # "paused" / "not due": nothing was fetched
    added: int = 0
    error: str | None = None
    health: SourceHealth | None = None
    paused_now: bool = False  # this failure paused the source


def backoff(interval: float, failures: int) -> float:
    """Seconds until a source that failed `failures` times in a row is polled again."""
    return float(min(interval * 2 ** min(failures, 32), MAX_BACKOFF_SECONDS))


def _slack(interval: float) -> float:
    """A job that fires this much before its source is due still polls (the job queue's timing
    jitter); a slowed-down source skips the runs well before its next poll."""
    return min(max(1.0, interval * 0.1), 60.0)


def _failure(report: FetchReport, url: str) -> str | None:
    """Why a poll failed, or None: the source's own page must be fetched and the ingest work."""
    if report.ingest is not None and not report.ingest.ok:
        return "; ".join(report.ingest.errors) or "ingest failed"
    if url in report.found or url in report.not_modified:
        return None
    reasons = [reason for failed_url, reason in report.failed if failed_url == url]
    return reasons[0] if reasons else "nothing could be read"


class SourcePoller:
    """Polls sources for the running bot; one poll at a time (they share the fetch state file)."""

    def __init__(
        self,
        sources: list[Source],
        config: Config,
        store: Store,
        *,
        settings: FetchSettings | None = None,
        clock: Callable[[], float] = time.time,
        pause_after: int = PAUSE_AFTER,
    ) -> None:
        self.sources = {source.name: source for source in sources}
        self.config = config
        self.store = store
        self.settings = settings
        self.clock = clock
        self.pause_after = pause_after
        self._lock = asyncio.Lock()

    def schedule(self, queue: JobQueue) -> None:
        count = len(self.sources)
        for index, source in enumerate(self.sources.values()):
            first = index * source.interval / count
            queue.run_repeating(
                self.poll_job, interval=source.interval, first=first, name=f"poll:{source.name}", data=source.name
            )

    async def poll(self, name: str, known: Known | None = None) -> PollResult:
        """Fetch one source unless it is paused or not due yet; record how it went. `known`: the
        bot's library and the corpus files in it, for de-duplication (no second load of the corpus)."""
        source = self.sources[name]
        async with self._lock:
            started = self.clock()
            health = self.store.source_health(name)
            if health.paused:
                metrics.record_source_poll(name, "paused")
                return PollResult(name, skipped="paused", health=health)
            if health.next_due is not None and started < health.next_due - _slack(source.interval):
                return PollResult(name, skipped="not due", health=health)
            today = datetime.fromtimestamp(started, ZoneInfo(self.config.timezone)).date()  # the paper's day
            url = source.url_for(today)
            try:
                report = await fetch_sources(
                    [(url, source)], self.config, settings=self.settings, today=today, known=known
                )
                error = _failure(report, url)
            except Exception as exc:  # a broken source must not stop the job
                log.exception("polling %s failed", name)
                report, error = FetchReport(), f"{type(exc).__name__}: {exc}"
            # Due again counted from when this poll started, so a slow fetch does not skip the next run.
            if error is None:
                added = report.ingest.new_articles if report.ingest is not None else 0
                health = self.store.source_succeeded(name, started, started + source.interval, added)
                metrics.record_source_poll(name, "ok")
                return PollResult(name, added=added, health=health)
            failures = health.consecutive_failures + 1
            health = self.store.source_failed(
                name, started, started + backoff(source.interval, failures), error, self.pause_after
            )
            log.warning("source %s failed (%d in a row): %s", name, health.consecutive_failures, error)
            metrics.record_source_poll(name, "failed")
            return PollResult(name, error=error, health=health, paused_now=health.paused)

    async def poll_job(self, context: BotContext) -> None:
        job = context.job
        if job is None or not isinstance(job.data, str):
            return
        result = await self.poll(job.data, context.bot_data.watcher.known())
        if result.added:
            await reload_and_notify(context.bot_data, context.bot)
        if result.paused_now and result.health is not None:
            await self.tell_operators(context.bot, notices.source_paused_html(result.health))

    async def tell_operators(self, bot: Bot, text: str) -> None:
        for user_id in self.config.telegram.admin_user_ids:
            try:
                await bot.send_message(user_id, text, parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                log.warning("could not tell operator %s: %s", user_id, exc)
