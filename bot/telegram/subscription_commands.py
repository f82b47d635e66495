"""The subscription commands: /subscribe, /unsubscribe, /subscriptions, /digest, /reload and /sources.

Thin on purpose: parse the arguments, check who may change what, call the store, the notifier or
the corpus watcher, and reply with the words from notices.py. The services come from the typed
`context.bot_data` (context.py), filled in by subscriptions.register.

Who may change: anyone in a private chat; in a group, its administrators (asked with
getChatMember). /reload and /sources are for the bot's operators (`config.telegram.admin_user_ids`) only.
"""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from ..normalize import strip_invisible
from ..store import Store
from ..subscriptions import Topic, parse_time, parse_topic, split_topics
from . import notices
from .context import BotContext
from .handlers import reply
from .notifier import reload_and_notify

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 30
DEFAULT_DIGEST_TIME = "08:00"

_ON = {"on", "开", "开启", "打开"}
_OFF = {"off", "关", "关闭", "停止"}
_ALL = {"all", "全部", "所有"}


# ------------------------------------------------------------------ helpers


async def may_change(update: Update, context: BotContext) -> bool:
    """May the sender change this chat's subscriptions? Private chats: yes; groups: admins only."""
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


def is_operator(update: Update, context: BotContext) -> bool:
    """Is the sender one of the bot's operators (`config.telegram.admin_user_ids`)?"""
    user = update.effective_user
    return context.bot_data.services.is_admin(user.id if user else None)


def _chat(update: Update) -> Chat | None:
    """The chat a subscription command is about; None in channels (nobody there to answer)."""
    chat = update.effective_chat
    return None if chat is None or chat.type == ChatType.CHANNEL else chat


async def _reply(update: Update, text: str) -> None:
    message = update.effective_message
    if message is not None:
        await reply(message, text)


def _note_thread(store: Store, update: Update, what: str = "新文章通知") -> str | None:
    """In a forum group, notices go to the topic where they were last set up; says where."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or not chat.is_forum:
        return None
    thread = message.message_thread_id if message.is_topic_message else None
    store.set_thread(chat.id, thread)
    return notices.thread_note(thread is not None, what)


def _listing(context: BotContext, chat_id: int) -> str:
    data = context.bot_data
    return notices.subscriptions_html(
        data.store.subscriptions(chat_id), data.store.digest(chat_id), data.config.timezone
    )


# ------------------------------------------------------------------ commands


async def subscribe(update: Update, context: BotContext) -> None:
    chat = _chat(update)
    if chat is None:
        return
    data = context.bot_data
    raw = " ".join(context.args or [])
    if not raw.strip():
        await _reply(update, notices.SUBSCRIBE_USAGE)
        return
    if not await may_change(update, context):
        await _reply(update, notices.NOT_GROUP_ADMIN)
        return
    topics: list[Topic] = []
    unknown: list[str] = []
    for part in split_topics(raw):
        topic = parse_topic(data.library.engine.analyzer, part)
        if topic is None:
            unknown.append(part)
        elif topic not in topics:
            topics.append(topic)
    existing = {Topic(s.kind, s.value) for s in data.store.subscriptions(chat.id)}
    wanted = [t for t in topics if t not in existing]
    if len(existing) + len(wanted) > MAX_SUBSCRIPTIONS:
        await _reply(update, notices.TOO_MANY.format(limit=MAX_SUBSCRIPTIONS))
        return
    now = data.notifier.clock()
    added = [t for t in wanted if data.store.subscribe(chat.id, t.kind, t.value, now)]
    already = [t for t in topics if t not in added]
    where = _note_thread(data.store, update) if added or already else None
    digest = data.store.digest(chat.id)
    await _reply(update, notices.subscribed_html(added, already, unknown, digest, data.config.timezone, where))


async def unsubscribe(update: Update, context: BotContext) -> None:
    chat = _chat(update)
    if chat is None:
        return
    store = context.bot_data.store
    raw = " ".join(context.args or [])
    if not raw.strip():
        await _reply(update, notices.UNSUBSCRIBE_USAGE + "\n\n" + _listing(context, chat.id))
        return
    if not await may_change(update, context):
        await _reply(update, notices.NOT_GROUP_ADMIN)
        return
    parts = split_topics(raw)
    if any(p.lower() in _ALL for p in parts):
        await _reply(update, notices.unsubscribed_all_html(store.unsubscribe_all(chat.id)))
        return
    removed: list[Topic] = []
    missing: list[str] = []
    current = store.subscriptions(chat.id)
    for part in parts:
        topic = parse_topic(context.bot_data.library.engine.analyzer, part)
        candidates = [topic] if topic is not None else []
        # as stored (a keyword stored with zero-width characters, before input was cleaned, too)
        candidates += [Topic(s.kind, s.value) for s in current if strip_invisible(s.value) in (part, part.lower())]
        gone = [t for t in dict.fromkeys(candidates) if store.unsubscribe(chat.id, t.kind, t.value)]
        if gone:
            removed.extend(gone)
        else:
            missing.append(part)
    await _reply(update, notices.unsubscribed_html(removed, missing, _listing(context, chat.id)))


async def list_subscriptions(update: Update, context: BotContext) -> None:
    chat = _chat(update)
    if chat is not None:
        await _reply(update, _listing(context, chat.id))


async def digest(update: Update, context: BotContext) -> None:
    chat = _chat(update)
    if chat is None:
        return
    data = context.bot_data
    timezone = data.config.timezone
    args = [a.strip() for a in (context.args or []) if a.strip()]
    if not args:
        state = notices.digest_state(data.store.digest(chat.id), timezone)
        await _reply(update, f"{state}\n{notices.digest_usage(timezone)}")
        return
    action = args[0].lower()
    if action not in _ON | _OFF:  # `/digest 8:00` means on, at 8:00
        at = parse_time(action)
        if at is None:
            await _reply(update, notices.digest_usage(timezone))
            return
        action, args = "on", ["on", at]
    if not await may_change(update, context):
        await _reply(update, notices.NOT_GROUP_ADMIN)
        return
    if action in _OFF:
        data.store.set_digest(chat.id, False)
        data.notifier.unschedule_digest(chat.id)
        await _reply(update, notices.DIGEST_OFF)
        return
    at = parse_time(args[1]) if len(args) > 1 else DEFAULT_DIGEST_TIME
    if at is None:
        await _reply(update, notices.DIGEST_BAD_TIME)
        return
    data.store.set_digest(chat.id, True, at, data.notifier.clock())
    data.notifier.schedule_digest(chat.id, at)
    where = _note_thread(data.store, update, "每日摘要")
    has_subscriptions = bool(data.store.subscriptions(chat.id))
    await _reply(update, notices.digest_on_html(at, timezone, where, has_subscriptions))


async def reload(update: Update, context: BotContext) -> None:
    """Operators only: pick up the corpus folder's changes now and report what changed."""
    data = context.bot_data
    if not is_operator(update, context):
        await _reply(update, notices.NOT_BOT_ADMIN)
        return
    result = await reload_and_notify(data, context.bot)
    await _reply(update, notices.reload_html(result, len(data.library.engine.articles)))


async def sources(update: Update, context: BotContext) -> None:
    """Operators only: /sources lists the polled news sources; /sources resume NAME unpauses one."""
    data = context.bot_data
    if not is_operator(update, context):
        await _reply(update, notices.NOT_BOT_ADMIN_SOURCES)
        return
    poller = data.poller
    args = list(context.args or [])
    if not args:
        rows = [(s.name, s.interval, data.store.source_health(s.name)) for s in poller.sources.values()]
        await _reply(update, notices.sources_html(rows, data.config.timezone))
        return
    if args[0].lower() not in ("resume", "恢复") or len(args) < 2:
        await _reply(update, notices.SOURCES_USAGE)
        return
    name = " ".join(args[1:])
    if name not in poller.sources:
        await _reply(update, notices.unknown_source(name))
        return
    await _reply(update, notices.source_resumed(name, data.store.resume_source(name)))
