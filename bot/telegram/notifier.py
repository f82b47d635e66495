"""Who hears about which new article, and getting it to them: notices, daily digests and their jobs.

What matches what is bot/subscriptions.py; when each article arrived and what each chat got is
bot/store.py; the words are notices.py. A chat with the daily digest on gets its articles in the
digest instead of one notice per reload; without subscriptions its digest lists everything new.

Delivery is at most once: articles are claimed (`Store.claim`) before sending. When Telegram asks
to wait (RetryAfter) nothing was delivered, so the claim is given back and a retry job scheduled;
when the outcome is unknown the claim is kept. A chat that blocked or removed the bot is forgotten,
a group upgraded to a supergroup keeps its settings, a forum topic that is gone sends to General.
Messages go out one after another through the application's bot, whose rate limiter paces them.

The job queue does not persist: `schedule_digests` re-creates each chat's digest job on start.
The corpus jobs at the end (start-up pass, watcher) ask the corpus watcher, then the notifier.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import re
import time
from collections.abc import Callable
from enum import Enum
from zoneinfo import ZoneInfo

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import JobQueue

from .. import metrics
from ..article import Article
from ..engine import Engine
from ..library import Library
from ..store import Store
from ..subscriptions import Matcher, Topic, due_articles
from ..watch import ReloadResult
from . import notices
from .context import BotContext, BotData

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a list of links would preview only the first
NOTIFY_WINDOW_SECONDS = 7 * 24 * 3600  # articles older than this are not announced any more

# A forum topic that was deleted or closed: its chat's notices go to General instead.
_TOPIC_GONE_RE = re.compile(r"thread not found|topic_(?:closed|deleted)|topic (?:was )?(?:closed|deleted)", re.I)


class Delivery(Enum):
    SENT = "sent"
    NOTHING = "nothing"  # nothing left to send (all delivered before)
    RETRY = "retry"  # Telegram asked to wait; claims released, try again later
    GONE = "gone"  # bot blocked or removed; the chat was forgotten
    FAILED = "failed"  # outcome unknown or refused; claims kept (at most once)


def _retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait: a timedelta (PTB_TIMEDELTA, set by bot.telegram), or the
    number of seconds of PTB's older form should an operator have turned that off."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _username(bot: Bot) -> str | None:
    try:
        return bot.username
    except RuntimeError:  # not initialised (no getMe yet): lists say /read <id> instead of linking
        return None


class Notifier:
    """Notices and digests for the chats in `store`, over the engine `library` currently serves."""

    def __init__(
        self,
        library: Library,
        store: Store,
        timezone: str,
        *,
        job_queue: JobQueue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.library = library
        self.store = store
        self.tz = ZoneInfo(timezone)
        self.job_queue = job_queue  # None without python-telegram-bot[job-queue]: no digests, no retries
        self.clock = clock
        self.started = asyncio.Event()  # set once the start-up pass has run
        self._matcher: Matcher | None = None
        self._retry = False  # a notice was refused with RetryAfter and awaits another try

    @property
    def engine(self) -> Engine:
        return self.library.engine

    @property
    def matcher(self) -> Matcher:
        analyzer = self.engine.analyzer
        if self._matcher is None or self._matcher.analyzer is not analyzer:
            self._matcher = Matcher(analyzer)
        return self._matcher

    @property
    def retry_pending(self) -> bool:
        """A notice waits for another try (Telegram asked to slow down)."""
        return self._retry

    # ------------------------------------------------------------ delivery

    async def notify(self, bot: Bot, now: float | None = None) -> int:
        """One message per subscribed chat (digest chats wait for their digest); returns how many."""
        now = self.clock() if now is None else now
        self._retry = False
        arrivals = self.store.new_articles(since=now - NOTIFY_WINDOW_SECONDS)
        if not arrivals:
            return 0
        digest_chats = {d.chat_id for d in self.store.digests()}
        sent = 0
        for chat_id, subs in self.store.all_subscriptions().items():
            if chat_id in digest_chats:
                continue
            due = due_articles(subs, arrivals, self.engine.get, self.matcher)
            if not due:
                continue
            topics = [Topic(s.kind, s.value) for s in subs]

            def header(chosen: list[Article], topics: list[Topic] = topics) -> str:
                matched = [t for t in topics if any(self.matcher.matches(a, t) for a in chosen)]
                return notices.notice_header(len(chosen), matched)

            if await self._deliver(bot, chat_id, due, "notify", header, now) is Delivery.SENT:
                sent += 1
        return sent

    async def run_digest(self, bot: Bot, chat_id: int, now: float | None = None, *, retry: bool = False) -> Delivery:
        """The daily digest of one chat: what arrived since the last digest, or nothing at all.

        Each chat's run of a day is claimed first (`Store.claim_digest_run`), so a job runner that
        takes over from one that died after sending it does not send it again; `retry` is the
        run Telegram asked to postpone, already claimed.
        """
        now = self.clock() if now is None else now
        setting = self.store.digest(chat_id)
        if setting is None or not setting.enabled:
            return Delivery.NOTHING
        day = dtm.datetime.fromtimestamp(now, self.tz).strftime("%Y-%m-%d")
        if not retry and not self.store.claim_digest_run(chat_id, day):
            return Delivery.NOTHING
        arrivals = [a for a in self.store.new_articles(since=setting.since) if a.first_seen <= now]
        subs = self.store.subscriptions(chat_id)
        due = due_articles(subs, arrivals, self.engine.get, self.matcher, everything_after=setting.since)
        # Newest first, as /latest: by the article's date, then by arrival (undated ones last).
        due = [a for _, a in sorted(enumerate(due), key=lambda pair: (pair[1].date or "", pair[0]), reverse=True)]

        def header(chosen: list[Article]) -> str:
            return notices.digest_header(day, len(chosen))

        outcome = await self._deliver(bot, chat_id, due, "digest", header, now) if due else Delivery.NOTHING
        if outcome in (Delivery.SENT, Delivery.NOTHING, Delivery.FAILED):
            # (FAILED: what was claimed is never sent again anyway; RETRY keeps `since` for the retry)
            self.store.digest_done(chat_id, now)
        return outcome

    async def _deliver(
        self,
        bot: Bot,
        chat_id: int,
        articles: list[Article],
        via: str,
        header: Callable[[list[Article]], str],
        now: float,
    ) -> Delivery:
        """Claim, send and count one notice or digest (nothing left to send is not counted)."""
        outcome = await self._send(bot, chat_id, articles, via, header, now)
        if outcome is not Delivery.NOTHING:
            metrics.record_delivery(via, outcome.value)
        return outcome

    async def _send(
        self,
        bot: Bot,
        chat_id: int,
        articles: list[Article],
        via: str,
        header: Callable[[list[Article]], str],
        now: float,
    ) -> Delivery:
        claimed = set(self.store.claim(chat_id, [a.id for a in articles], via, now))
        chosen = [a for a in articles if a.id in claimed]
        if not chosen:
            return Delivery.NOTHING
        text = notices.render_article_list(header(chosen), chosen, _username(bot))
        thread = self.store.thread(chat_id)
        for _attempt in range(3):
            try:
                await bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, message_thread_id=thread
                )
                return Delivery.SENT
            except ChatMigrated as exc:  # group → supergroup: its state moves with it
                if exc.new_chat_id == chat_id:
                    break
                log.info("chat migrated; moving its subscriptions")
                self.store.migrate_chat(chat_id, exc.new_chat_id)
                self._reschedule_migrated(chat_id, exc.new_chat_id)
                chat_id, thread = exc.new_chat_id, None
            except Forbidden as exc:
                log.info("bot blocked or removed (%s); forgetting the chat's subscriptions", exc.message)
                self.forget_chat(chat_id)
                return Delivery.GONE
            except RetryAfter as exc:  # nothing was delivered: give the articles back
                self.store.release(chat_id, claimed)
                self._retry = True
                self._schedule_retry(via, chat_id, _retry_seconds(exc))
                return Delivery.RETRY
            except BadRequest as exc:  # refused, so not delivered; a deleted topic sends to General
                if thread is None or not _TOPIC_GONE_RE.search(exc.message):
                    log.warning("sending %s failed: %s", via, exc)
                    return Delivery.FAILED
                log.info("the chat's topic is gone (%s); its notices go to General now", exc.message)
                self.store.set_thread(chat_id, None)
                thread = None
            except TelegramError as exc:  # may or may not have arrived: keep the marks
                log.warning("sending %s failed: %s", via, exc)
                return Delivery.FAILED
        return Delivery.FAILED

    def forget_chat(self, chat_id: int) -> None:
        self.store.forget_chat(chat_id)
        self.unschedule_digest(chat_id)

    # ------------------------------------------------------------ jobs

    async def catch_up_digests(self, bot: Bot, now: float | None = None) -> int:
        """Run today's digests whose time has passed and that have not run since: what a job
        runner that takes over owes (the one that died may have died just before 08:00).
        Returns how many were sent."""
        now = self.clock() if now is None else now
        today = dtm.datetime.fromtimestamp(now, self.tz)
        sent = 0
        for setting in self.store.digests():
            hour, minute = (int(x) for x in setting.time.split(":"))
            due_at = today.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
            if due_at > now or max(setting.since, setting.last_run or 0.0) >= due_at:
                continue
            if await self.run_digest(bot, setting.chat_id, now) is Delivery.SENT:
                sent += 1
        return sent

    def schedule_digests(self) -> None:
        """A daily job per chat with the digest on, from the database (the queue does not persist)."""
        for setting in self.store.digests():
            self.schedule_digest(setting.chat_id, setting.time)

    def schedule_digest(self, chat_id: int, at: str) -> None:
        queue = self.job_queue
        if queue is None:
            log.warning("no job queue (install python-telegram-bot[job-queue]); digests will not run")
            return
        self.unschedule_digest(chat_id)
        hour, minute = (int(x) for x in at.split(":"))
        queue.run_daily(
            self.digest_job, time=dtm.time(hour, minute, tzinfo=self.tz), chat_id=chat_id, name=f"digest:{chat_id}"
        )

    def unschedule_digest(self, chat_id: int) -> None:
        queue = self.job_queue
        if queue is None:
            return
        for job in queue.get_jobs_by_name(f"digest:{chat_id}"):
            job.schedule_removal()

    def _reschedule_migrated(self, old_id: int, new_id: int) -> None:
        self.unschedule_digest(old_id)
        setting = self.store.digest(new_id)
        if setting is not None and setting.enabled:
            self.schedule_digest(new_id, setting.time)

    def _schedule_retry(self, via: str, chat_id: int, delay: float) -> None:
        queue = self.job_queue
        if queue is None:
            return
        if via == "digest":
            queue.run_once(
                self.digest_job, when=delay + 1.0, chat_id=chat_id, name=f"digest-retry:{chat_id}", data="retry"
            )
        elif not queue.get_jobs_by_name("notify-retry"):
            queue.run_once(self.notify_job, when=delay + 1.0, name="notify-retry")

    async def digest_job(self, context: BotContext) -> None:
        job = context.job
        if job is not None and job.chat_id is not None:
            await self.run_digest(context.bot, job.chat_id, retry=getattr(job, "data", None) == "retry")

    async def notify_job(self, context: BotContext) -> None:
        await self.notify(context.bot)


# ------------------------------------------------------------------ jobs that start at the corpus


async def reload_and_notify(data: BotData, bot: Bot, *, settle: float = 0.0) -> ReloadResult:
    """Bring the engine up to date with the corpus folder, then tell subscribers what is new
    (only the process that runs the jobs tells them: `data.leader`)."""
    result = await data.watcher.reload(settle=settle)
    metrics.set_articles(len(data.library.articles))
    if data.leader and (result.articles or data.notifier.retry_pending):
        result.notified = await data.notifier.notify(bot)
    return result


async def watch_job(context: BotContext) -> None:
    """Every `telegram.watch_corpus_seconds`: files that settled are picked up without /reload."""
    await reload_and_notify(context.bot_data, context.bot, settle=context.bot_data.watcher.settle_seconds)


async def startup_job(context: BotContext) -> None:
    """Once on start: what arrived while the bot was down is news; record it, then notify."""
    data = context.bot_data
    try:
        await data.watcher.record_loaded()
        await data.notifier.notify(context.bot)
    finally:
        data.notifier.started.set()


async def takeover_job(context: BotContext) -> None:
    """Once when a process starts running the jobs in place of another (`run --workers N`): as on
    start, then today's digests that are due and have not run (the previous runner may have died
    just before their time)."""
    await startup_job(context)
    await context.bot_data.notifier.catch_up_digests(context.bot)
