"""Telegram side of subscriptions, digests and live reload.

`register(application, engine_holder, store, config)` adds the commands below, a job that watches
the corpus folder, the daily digest jobs (re-created from the database on every start, since the
job queue does not persist) and a start-up job that notices articles ingested while the bot was
down. The logic of what matches what lives in bot/subscriptions.py; durability in bot/store.py.

Live reload itself (what changed on disk, add or rebuild) is bot/watch.py's `CorpusWatcher`.

Delivery is at most once: see `Store.claim`. Messages go out one after another through the
application's bot, so the application's rate limiter (AIORateLimiter) paces them.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import logging
import re
import time
import warnings
from collections.abc import Callable
from enum import Enum
from functools import partial
from zoneinfo import ZoneInfo

from telegram import Bot, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from ..answer import Engine
from ..config import Config
from ..corpus import Article
from ..store import Store
from ..subscriptions import (
    EngineHolder,
    Matcher,
    Topic,
    due_articles,
    parse_time,
    parse_topic,
    split_topics,
)
from ..watch import SETTLE_SECONDS, CorpusWatcher, ReloadResult
from .handlers import NO_PREVIEW, reply
from .notices import render_article_list

log = logging.getLogger(__name__)

COMMANDS: list[tuple[str, str]] = [
    ("subscribe", "订阅区县或关键词的新闻，如 /subscribe 二七区"),
    ("unsubscribe", "取消订阅，如 /unsubscribe 二七区"),
    ("subscriptions", "查看本聊天的订阅"),
    ("digest", "每日摘要：/digest on 08:00 或 /digest off"),
]
# Not for the public command menu: only config.telegram.admin_user_ids may use them.
ADMIN_COMMANDS: list[tuple[str, str]] = [("reload", "重新加载新闻语料（管理员）")]

MAX_SUBSCRIPTIONS = 30
NOTIFY_WINDOW_SECONDS = 7 * 24 * 3600  # articles older than this are not announced any more
DEFAULT_DIGEST_TIME = "08:00"
SERVICE_KEY = "subscriptions"  # application.bot_data[SERVICE_KEY] is the SubscriptionService

# A forum topic that was deleted or closed: its chat's notices go to General instead.
_TOPIC_GONE_RE = re.compile(r"thread not found|topic_(?:closed|deleted)|topic (?:was )?(?:closed|deleted)", re.I)

_ON = {"on", "开", "开启", "打开"}
_OFF = {"off", "关", "关闭", "停止"}
_ALL = {"all", "全部", "所有"}


class Delivery(Enum):
    SENT = "sent"
    NOTHING = "nothing"  # nothing left to send (all delivered before)
    RETRY = "retry"  # Telegram asked to wait; claims released, try again later
    GONE = "gone"  # bot blocked or removed; the chat was forgotten
    FAILED = "failed"  # outcome unknown or refused; claims kept (at most once)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type becomes timedelta; both are handled
        warnings.simplefilter("ignore", DeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class SubscriptionService:
    """Subscriptions, notifications, digests and reloads for one application."""

    def __init__(
        self, engine_holder: EngineHolder, store: Store, config: Config, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.holder = engine_holder
        self.store = store
        self.config = config
        self.clock = clock
        self.tz = ZoneInfo(config.timezone)
        self.application: Application | None = None
        self.watcher = CorpusWatcher(
            engine_holder, config.corpus, config_dir=config.config_dir, arrivals=store, clock=lambda: self.clock()
        )
        self._matcher: Matcher | None = None
        self._retry = False  # a notification was refused with RetryAfter and awaits another try
        self.settle_seconds = SETTLE_SECONDS
        self.started = asyncio.Event()  # set once the start-up sync has run

    # ------------------------------------------------------------ state

    @property
    def engine(self) -> Engine:
        return self.holder.engine

    @property
    def matcher(self) -> Matcher:
        analyzer = self.engine.analyzer
        if self._matcher is None or self._matcher.analyzer is not analyzer:
            self._matcher = Matcher(analyzer)
        return self._matcher

    @property
    def _tz_label(self) -> str:
        return (
            "北京时间" if self.config.timezone in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else self.config.timezone
        )

    # ------------------------------------------------------------ reload

    async def startup(self, bot: Bot) -> list[str]:
        """Note the corpus the bot starts with; what it did not know arrived while it was down."""
        try:
            fresh = await self.watcher.record_loaded()
            await self.notify(bot)
        finally:
            self.started.set()
        return fresh

    async def reload(self, bot: Bot | None, *, settle: float = 0.0) -> ReloadResult:
        """Pick up new, changed and removed corpus files; then tell subscribers about new articles."""
        result = await self.watcher.reload(settle=settle)
        if bot is not None and (result.articles or self._retry):
            result.notified = await self.notify(bot)
        return result

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
            header = partial(self._notify_header, topics=[Topic(s.kind, s.value) for s in subs])
            if await self._deliver(bot, chat_id, due, "notify", header, now) is Delivery.SENT:
                sent += 1
        return sent

    def _notify_header(self, count: int, articles: list[Article], topics: list[Topic]) -> str:
        matched = [t for t in topics if any(self.matcher.matches(a, t) for a in articles)]
        labels = "、".join(html.escape(t.label) for t in matched)
        return f"📰 <b>你订阅的新闻有更新</b>（{count} 篇）" + (f"\n订阅：{labels}" if labels else "")

    async def run_digest(self, bot: Bot, chat_id: int, now: float | None = None) -> Delivery:
        """The daily digest of one chat: what arrived since the last digest, or nothing at all."""
        now = self.clock() if now is None else now
        setting = self.store.digest(chat_id)
        if setting is None or not setting.enabled:
            return Delivery.NOTHING
        arrivals = [a for a in self.store.new_articles(since=setting.since) if a.first_seen <= now]
        subs = self.store.subscriptions(chat_id)
        due = due_articles(subs, arrivals, self.engine.get, self.matcher, everything_after=setting.since)
        day = dtm.datetime.fromtimestamp(now, self.tz).strftime("%Y-%m-%d")

        def header(count: int, _articles: list[Article]) -> str:
            return f"🗞 <b>每日新闻摘要</b> {day}（{count} 篇新文章）"

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
        header: Callable[[int, list[Article]], str],
        now: float,
    ) -> Delivery:
        claimed = set(self.store.claim(chat_id, [a.id for a in articles], via, now))
        chosen = [a for a in articles if a.id in claimed]
        if not chosen:
            return Delivery.NOTHING
        try:
            username = bot.username
        except RuntimeError:  # not initialised: no deep links, /read <id> instead
            username = None
        text = render_article_list(header(len(chosen), chosen), chosen, username)
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
        self._unschedule_digest(chat_id)

    # ------------------------------------------------------------ jobs

    @property
    def job_queue(self):
        return self.application.job_queue if self.application is not None else None

    def schedule_digest(self, chat_id: int, at: str) -> None:
        queue = self.job_queue
        if queue is None:
            log.warning("no job queue (install python-telegram-bot[job-queue]); digests will not run")
            return
        self._unschedule_digest(chat_id)
        hour, minute = (int(x) for x in at.split(":"))
        queue.run_daily(
            self.digest_job, time=dtm.time(hour, minute, tzinfo=self.tz), chat_id=chat_id, name=f"digest:{chat_id}"
        )

    def _unschedule_digest(self, chat_id: int) -> None:
        queue = self.job_queue
        if queue is None:
            return
        for job in queue.get_jobs_by_name(f"digest:{chat_id}"):
            job.schedule_removal()

    def _reschedule_migrated(self, old_id: int, new_id: int) -> None:
        self._unschedule_digest(old_id)
        setting = self.store.digest(new_id)
        if setting is not None and setting.enabled:
            self.schedule_digest(new_id, setting.time)

    def _schedule_retry(self, via: str, chat_id: int, delay: float) -> None:
        queue = self.job_queue
        if queue is None:
            return
        if via == "digest":
            queue.run_once(self.digest_job, when=delay + 1.0, chat_id=chat_id, name=f"digest-retry:{chat_id}")
        elif not queue.get_jobs_by_name("notify-retry"):
            queue.run_once(self.notify_job, when=delay + 1.0, name="notify-retry")

    async def digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        job = context.job
        if job is not None and job.chat_id is not None:
            await self.run_digest(context.bot, job.chat_id)

    async def notify_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.notify(context.bot)

    async def watch_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reload(context.bot, settle=self.settle_seconds)

    async def startup_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.startup(context.bot)

    # ------------------------------------------------------------ commands

    async def _may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Private chats: yes. Groups: chat administrators only (anonymous admins included)."""
        chat, message, user = update.effective_chat, update.effective_message, update.effective_user
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True
        if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator writes as the group itself
        if user is None:
            return False
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
        except TelegramError as exc:
            log.warning("getChatMember failed: %s", exc)
            return False
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

    @staticmethod
    async def _reply(update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await reply(message, text)

    def _note_thread(self, update: Update, what: str = "新文章通知") -> str | None:
        """In a forum group, notices go to the topic where they were last set up; says so."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or not chat.is_forum:
            return None
        thread = message.message_thread_id if message.is_topic_message else None
        self.store.set_thread(chat.id, thread)
        return f"{what}会发到本话题。" if thread is not None else f"{what}会发到 General 话题。"

    async def _refuse_non_admin(self, update: Update) -> None:
        await self._reply(
            update, "抱歉，只有群管理员可以修改本群的订阅和摘要设置。发送 /subscriptions 可以查看当前订阅。"
        )

    async def cmd_subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        raw = " ".join(context.args or [])
        if not raw.strip():
            await self._reply(
                update,
                "用法：/subscribe 区县或关键词\n例如 /subscribe 二七区 或 /subscribe 清华附中；"
                "可以一次写几个，用空格或顿号隔开。",
            )
            return
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        topics: list[Topic] = []
        unknown: list[str] = []
        for part in split_topics(raw):
            topic = parse_topic(self.engine.analyzer, part)
            if topic is None:
                unknown.append(part)
            elif topic not in topics:
                topics.append(topic)
        existing = {Topic(s.kind, s.value) for s in self.store.subscriptions(chat.id)}
        wanted = [t for t in topics if t not in existing]
        lines: list[str] = []
        if len(existing) + len(wanted) > MAX_SUBSCRIPTIONS:
            await self._reply(update, f"每个聊天最多订阅 {MAX_SUBSCRIPTIONS} 项，请先用 /unsubscribe 取消一些。")
            return
        now = self.clock()
        added = [t for t in wanted if self.store.subscribe(chat.id, t.kind, t.value, now)]
        already = [t for t in topics if t not in added]
        if added:
            lines.append("已订阅：" + "、".join(_describe(t) for t in added))
            digest = self.store.digest(chat.id)
            if digest is not None and digest.enabled:
                lines.append(f"相关的新文章会收进每日摘要（每天 {digest.time}，{self._tz_label}）。")
            else:
                lines.append("有相关的新文章时我会发消息通知。")
        if added or already:
            where = self._note_thread(update)
            if where:
                lines.append(where)
        if already:
            lines.append("已经订阅过：" + "、".join(html.escape(t.label) for t in already))
        if unknown:
            lines.append(
                "无法识别：" + "、".join(html.escape(u) for u in unknown) + "（关键词至少两个字，最多三十个字）"
            )
        await self._reply(update, "\n".join(lines))

    async def cmd_unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        raw = " ".join(context.args or [])
        if not raw.strip():
            await self._reply(
                update, "用法：/unsubscribe 区县或关键词，或 /unsubscribe 全部\n\n" + self._list_text(chat.id)
            )
            return
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        parts = split_topics(raw)
        if any(p.lower() in _ALL for p in parts):
            count = self.store.unsubscribe_all(chat.id)
            await self._reply(update, f"已取消全部订阅（{count} 项）。" if count else "本聊天没有订阅。")
            return
        removed: list[Topic] = []
        missing: list[str] = []
        current = self.store.subscriptions(chat.id)
        for part in parts:
            topic = parse_topic(self.engine.analyzer, part)
            candidates = [topic] if topic is not None else []
            candidates += [Topic(s.kind, s.value) for s in current if s.value in (part, part.lower())]
            gone = [t for t in dict.fromkeys(candidates) if self.store.unsubscribe(chat.id, t.kind, t.value)]
            if gone:
                removed.extend(gone)
            else:
                missing.append(part)
        lines = []
        if removed:
            lines.append("已取消订阅：" + "、".join(html.escape(t.label) for t in removed))
        if missing:
            lines.append("没有这项订阅：" + "、".join(html.escape(m) for m in missing))
        lines.append("")
        lines.append(self._list_text(chat.id))
        await self._reply(update, "\n".join(lines).strip())

    async def cmd_subscriptions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        await self._reply(update, self._list_text(chat.id))

    def _list_text(self, chat_id: int) -> str:
        subs = self.store.subscriptions(chat_id)
        digest = self.store.digest(chat_id)
        lines = []
        if subs:
            lines.append(f"<b>当前订阅</b>（{len(subs)} 项）：")
            lines.extend(f"• {_describe(Topic(s.kind, s.value))}" for s in subs)
        else:
            lines.append("还没有订阅。发送 /subscribe 二七区 或 /subscribe 清华附中 试试。")
        if digest is not None and digest.enabled:
            lines.append(f"每日摘要：已开启，每天 {digest.time}（{self._tz_label}）。")
        else:
            lines.append("每日摘要：未开启（/digest on 08:00）。")
        return "\n".join(lines)

    async def cmd_digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL:
            return
        args = [a.strip() for a in (context.args or []) if a.strip()]
        usage = (
            "用法：/digest on 08:00 开启每日摘要（时间为" + self._tz_label + "），/digest off 关闭。\n"
            "开启后，订阅的新文章不再逐条通知，而是每天汇总成一条；没有新文章的日子不发送。"
        )
        if not args:
            digest = self.store.digest(chat.id)
            state = (
                f"每日摘要：已开启，每天 {digest.time}（{self._tz_label}）。"
                if digest is not None and digest.enabled
                else "每日摘要：未开启。"
            )
            await self._reply(update, f"{state}\n{usage}")
            return
        action = args[0].lower()
        if action not in _ON | _OFF:
            at = parse_time(action)
            if at is None:
                await self._reply(update, usage)
                return
            action, args = "on", ["on", at]
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        if action in _OFF:
            self.store.set_digest(chat.id, False)
            self._unschedule_digest(chat.id)
            await self._reply(update, "已关闭每日摘要。订阅的新文章会逐条通知。")
            return
        at = parse_time(args[1]) if len(args) > 1 else DEFAULT_DIGEST_TIME
        if at is None:
            await self._reply(update, "时间格式应为 HH:MM，例如 /digest on 08:00")
            return
        self.store.set_digest(chat.id, True, at, self.clock())
        self.schedule_digest(chat.id, at)
        lines = [f"已开启每日摘要：每天 {at}（{self._tz_label}）发送新文章汇总；没有新文章的日子不发送。"]
        where = self._note_thread(update, "每日摘要")
        if where:
            lines.append(where)
        if not self.store.subscriptions(chat.id):
            lines.append("本聊天还没有订阅，摘要会包含所有新文章；用 /subscribe 二七区 可以只看关心的区县或关键词。")
        await self._reply(update, "\n".join(lines))

    async def cmd_reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.config.telegram.admin_user_ids:
            await self._reply(update, "抱歉，只有机器人管理员可以使用 /reload。")
            return
        result = await self.reload(context.bot)
        await self._reply(update, _reload_text(result, len(self.engine.articles)))


def _describe(topic: Topic) -> str:
    kind = "区县" if topic.kind == "district" else "关键词"
    return f"{html.escape(topic.label)}（{kind}）"


def _reload_text(result: ReloadResult, total: int) -> str:
    if not (result.new_files or result.changed_files or result.removed_files):
        return f"语料没有变化（共 {total} 篇文章）。"
    parts = []
    if result.new_files:
        parts.append(f"新文件 {len(result.new_files)} 个")
    if result.changed_files:
        parts.append(f"修改 {len(result.changed_files)} 个")
    if result.removed_files:
        parts.append(f"删除 {len(result.removed_files)} 个")
    lines = [
        f"已重新加载：{'，'.join(parts)}；新增 {len(result.articles)} 篇文章，共 {total} 篇"
        f"（{'完整重建' if result.rebuilt else '增量添加'}，{result.seconds:.1f} 秒）。"
    ]
    for article in result.articles[:10]:
        lines.append(f"• {html.escape(article.headline)}")
    if len(result.articles) > 10:
        lines.append(f"……另有 {len(result.articles) - 10} 篇")
    if result.notified:
        lines.append(f"已通知 {result.notified} 个订阅的聊天。")
    if result.errors:
        lines.append(f"有 {len(result.errors)} 个文件无法读取：")
        lines.extend(f"<code>{html.escape(e[:300])}</code>" for e in result.errors[:5])
    return "\n".join(lines)


def register(application: Application, engine_holder: EngineHolder, store: Store, config: Config) -> None:
    """Add the subscription commands and jobs to an application (before it starts).

    Call it before adding any catch-all handler for unknown commands in group 0.
    `application.bot_data["subscriptions"]` is the service (tests drive its jobs through it).
    """
    service = SubscriptionService(engine_holder, store, config)
    service.application = application
    application.bot_data[SERVICE_KEY] = service
    new_messages = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("subscribe", service.cmd_subscribe, filters=new_messages))
    application.add_handler(CommandHandler("unsubscribe", service.cmd_unsubscribe, filters=new_messages))
    application.add_handler(CommandHandler("subscriptions", service.cmd_subscriptions, filters=new_messages))
    application.add_handler(CommandHandler("digest", service.cmd_digest, filters=new_messages))
    # block=False: questions keep being answered (from the old index) while a reload runs.
    application.add_handler(CommandHandler("reload", service.cmd_reload, filters=new_messages, block=False))
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): no corpus watcher, no digests")
        return
    queue.run_once(service.startup_job, when=0, name="subscriptions-startup")
    interval = config.telegram.watch_corpus_seconds
    if interval and interval > 0:
        queue.run_repeating(service.watch_job, interval=interval, first=interval, name="corpus-watch")
    for setting in store.digests():
        service.schedule_digest(setting.chat_id, setting.time)
