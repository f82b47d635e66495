"""Telegram side of subscriptions, digests and live reload.

`register(application, engine_holder, store, config)` adds the commands below, a job that watches
the corpus folder, the daily digest jobs (re-created from the database on every start, since the
job queue does not persist) and a start-up job that notices articles ingested while the bot was
down. The logic of what matches what lives in bot/subscriptions.py; durability in bot/store.py.

Live reload itself (what changed on disk, add or rebuild) is bot/watch.py's `CorpusWatcher`.

Notices, digests and their jobs are notifier.py's `Notifier`.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

from telegram import Bot, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from ..answer import Engine
from ..config import Config
from ..store import Store
from ..subscriptions import (
    EngineHolder,
    Topic,
    parse_time,
    parse_topic,
    split_topics,
)
from ..watch import SETTLE_SECONDS, CorpusWatcher, ReloadResult
from .handlers import reply
from .notifier import Notifier

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
DEFAULT_DIGEST_TIME = "08:00"
SERVICE_KEY = "subscriptions"  # application.bot_data[SERVICE_KEY] is the SubscriptionService

_ON = {"on", "开", "开启", "打开"}
_OFF = {"off", "关", "关闭", "停止"}
_ALL = {"all", "全部", "所有"}


class SubscriptionService:
    """Subscriptions, notifications, digests and reloads for one application."""

    def __init__(
        self, engine_holder: EngineHolder, store: Store, config: Config, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.holder = engine_holder
        self.store = store
        self.config = config
        self.clock = clock
        self.application: Application | None = None
        self.watcher = CorpusWatcher(
            engine_holder, config.corpus, config_dir=config.config_dir, arrivals=store, clock=lambda: self.clock()
        )
        self.notifier = Notifier(engine_holder, store, config.timezone, clock=lambda: self.clock())
        self.settle_seconds = SETTLE_SECONDS

    # ------------------------------------------------------------ state

    @property
    def engine(self) -> Engine:
        return self.holder.engine

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
            await self.notifier.notify(bot)
        finally:
            self.notifier.started.set()
        return fresh

    async def reload(self, bot: Bot | None, *, settle: float = 0.0) -> ReloadResult:
        """Pick up new, changed and removed corpus files; then tell subscribers about new articles."""
        result = await self.watcher.reload(settle=settle)
        if bot is not None and (result.articles or self.notifier.retry_pending):
            result.notified = await self.notifier.notify(bot)
        return result

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
            self.notifier.unschedule_digest(chat.id)
            await self._reply(update, "已关闭每日摘要。订阅的新文章会逐条通知。")
            return
        at = parse_time(args[1]) if len(args) > 1 else DEFAULT_DIGEST_TIME
        if at is None:
            await self._reply(update, "时间格式应为 HH:MM，例如 /digest on 08:00")
            return
        self.store.set_digest(chat.id, True, at, self.clock())
        self.notifier.schedule_digest(chat.id, at)
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
    service.notifier.job_queue = application.job_queue
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
    service.notifier.schedule_digests()
