"""Who the bot listens to, and how often: group addressing filters, flood guard, group cooldown.

The guards are plain classes with an injectable clock (unit-tested without Telegram); the
filters are PTB `MessageFilter`s that learn the bot's own id and username from the message.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from telegram import Chat, Message, MessageEntity
from telegram.ext import filters


class Verdict(Enum):
    OK = "ok"  # go ahead
    NOTIFY = "notify"  # refuse, and say so (once)
    DROP = "drop"  # refuse silently


class FloodGuard:
    """Per user: more than `max_messages` within `window` seconds → one notice, then silence
    until `window` seconds after the notice; then a clean slate."""

    def __init__(self, max_messages: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_messages = max_messages
        self.window = window
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}

    def check(self, key: int) -> Verdict:
        if self.max_messages <= 0 or self.window <= 0:
            return Verdict.OK
        now = self.clock()
        until = self._blocked.get(key)
        if until is not None:
            if now < until:
                return Verdict.DROP
            del self._blocked[key]
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        seen.append(now)
        if len(seen) > self.max_messages:
            self._blocked[key] = now + self.window
            del self._seen[key]
            return Verdict.NOTIFY
        if len(self._seen) > 10_000:
            self._prune(now)
        return Verdict.OK

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._seen.items() if not s or now - s[-1] >= self.window]:
            del self._seen[key]
        for key in [k for k, until in self._blocked.items() if now >= until]:
            del self._blocked[key]


class Cooldown:
    """Per group: one answer every `seconds`; the first extra request in a cooldown gets a
    notice, later ones are dropped."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[int, float] = {}
        self._noticed: set[int] = set()

    def check(self, key: int) -> Verdict:
        if self.seconds <= 0:
            return Verdict.OK
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            if key in self._noticed:
                return Verdict.DROP
            self._noticed.add(key)
            return Verdict.NOTIFY
        self._last[key] = now
        self._noticed.discard(key)
        return Verdict.OK

    def remaining(self, key: int) -> int:
        last = self._last.get(key)
        if last is None:
            return 0
        return max(1, round(self.seconds - (self.clock() - last)))


# ------------------------------------------------------------------ filters


def _bot_identity(message: Message) -> tuple[int | None, str | None]:
    try:
        bot = message.get_bot()
        return bot.id, bot.username
    except RuntimeError:  # a message built without a bot (unit tests)
        return None, None


def mentions_bot(message: Message) -> bool:
    bot_id, username = _bot_identity(message)
    if message.text is None:
        return False
    for entity, text in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if entity.type == MessageEntity.TEXT_MENTION:
            if entity.user is not None and bot_id is not None and entity.user.id == bot_id:
                return True
        elif username and text.lower() == f"@{username.lower()}":
            return True
    return False


def strip_mentions(message: Message) -> str:
    """The message text without @mentions of the bot (what remains is the question)."""
    text = message.text or ""
    _, username = _bot_identity(message)
    if username:
        for mention in message.parse_entities([MessageEntity.MENTION]).values():
            if mention.lower() == f"@{username.lower()}":
                text = text.replace(mention, " ")
    return " ".join(text.split())


def replies_to_bot(message: Message) -> bool:
    bot_id, _ = _bot_identity(message)
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or bot_id is None:
        return False
    if message.is_topic_message and replied.forum_topic_created is not None:
        return False  # in a forum topic every message "replies" to the topic's first message
    return replied.from_user.id == bot_id


def command_for_bot(message: Message) -> bool:
    """A /command at the start of the message, without @name or with this bot's @name."""
    text = message.text or ""
    entities = message.entities
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset != 0:
        return False
    command = message.parse_entity(entities[0])
    _, _, target = command.partition("@")
    _, username = _bot_identity(message)
    return bool(text) and (not target or (username is not None and target.lower() == username.lower()))


def addressed_to_bot(message: Message) -> bool:
    """Whether the bot should act on a message: everything in private; in groups only a
    command for it, an @mention of it or a reply to one of its messages."""
    if message.chat.type == Chat.PRIVATE:
        return message.via_bot is None or message.via_bot.id != _bot_identity(message)[0]
    if message.chat.type not in (Chat.GROUP, Chat.SUPERGROUP):
        return False
    return command_for_bot(message) or mentions_bot(message) or replies_to_bot(message)


class _Predicate(filters.MessageFilter):
    __slots__ = ("_predicate",)

    def __init__(self, predicate: Callable[[Message], bool], name: str) -> None:
        super().__init__(name=name)
        self._predicate = predicate

    def filter(self, message: Message) -> bool:
        return self._predicate(message)


MENTIONS_BOT = _Predicate(mentions_bot, "MentionsBot")
REPLIES_TO_BOT = _Predicate(replies_to_bot, "RepliesToBot")
ADDRESSED = _Predicate(addressed_to_bot, "AddressedToBot")
