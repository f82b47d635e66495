"""Who the bot listens to, and how often: group addressing filters, flood guard, per-asker group
cooldown, and each group's budget of messages a minute.

The guards are plain classes with an injectable clock (unit-tested without Telegram); the
filters are PTB `MessageFilter`s that learn the bot's own id and username from the message.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum

from telegram import Chat, Message, MessageEntity
from telegram.ext import filters


class Verdict(Enum):
    OK = "ok"  # go ahead
    NOTIFY = "notify"  # refuse, and say so (once)
    DROP = "drop"  # refuse silently


PRUNE_AT = 10_000  # keys a guard remembers before it forgets the settled ones


def _forget_settled(stamps: dict[Hashable, float], now: float, seconds: float) -> list[Hashable]:
    """Once a map of last times is large, drop the keys last seen `seconds` or more ago; returns them."""
    if len(stamps) < PRUNE_AT:
        return []
    settled = [key for key, at in stamps.items() if now - at >= seconds]
    for key in settled:
        del stamps[key]
    return settled


class FloodGuard:
    """Per sender, a token bucket: `burst` messages or button presses at once, refilled at
    `rate_per_minute`; a few quick taps are fine, a sustained flood is not. An empty bucket
    blocks the sender until it is full again (what they send meanwhile is dropped and costs
    them nothing), with one notice in each chat where they are being ignored: flooded in a
    group, they are told there, and told again in private when they write there, once.
    0 for either number turns it off."""

    def __init__(self, burst: int, rate_per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.rate_per_minute = rate_per_minute
        self.clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}

    def check(self, key: Hashable, chat: Hashable = None) -> Verdict:
        """May `key` (a sender) be answered now, in `chat`?"""
        if self.burst <= 0 or self.rate_per_minute <= 0:
            return Verdict.OK
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            self._refill(bucket, now)
        if bucket.told is not None:  # blocked
            if bucket.tokens < self.burst:
                if chat in bucket.told:
                    return Verdict.DROP
                bucket.told.add(chat)
                return Verdict.NOTIFY
            bucket.told = None
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict.OK
        bucket.told = {chat}
        return Verdict.NOTIFY

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate_per_minute / 60)
        bucket.at = now

    def _prune(self, now: float) -> None:
        """Forget senders whose bucket has refilled: they start full anyway."""
        for key, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.burst:
                del self._buckets[key]


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date
    told: set[Hashable] | None = None  # emptied: silent until full again; the chats told so


class Cooldown:
    """One answer per key (in the bot: a group and an asker in it) every `seconds`. `check`
    only looks; `arm` starts a cooldown once something was answered. A request within a
    cooldown is refused: with a notice the first time in that cooldown, silently after."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[Hashable, float] = {}
        self._noticed: set[Hashable] = set()

    def check(self, key: Hashable) -> Verdict:
        if self.seconds <= 0:
            return Verdict.OK
        last = self._last.get(key)
        if last is None or self.clock() - last >= self.seconds:
            return Verdict.OK
        if key in self._noticed:
            return Verdict.DROP
        self._noticed.add(key)
        return Verdict.NOTIFY

    def arm(self, key: Hashable) -> None:
        if self.seconds <= 0:
            return
        now = self.clock()
        for old in _forget_settled(self._last, now, self.seconds):
            self._noticed.discard(old)
        self._last[key] = now
        self._noticed.discard(key)

    def remaining(self, key: Hashable) -> int:
        last = self._last.get(key)
        if last is None:
            return 0
        return max(1, round(self.seconds - (self.clock() - last)))


class GroupBudget:
    """Per group, a sliding window that keeps the bot under Telegram's 20 messages a minute per
    group: at most `per_minute` posts and edits in any `period` seconds, shared by everyone in
    the group, no asker holding more than half of them (so one member cannot starve the rest).

    `book(group, asker)` books the earliest free turn and says how long to wait for it:
    (OK, 0.0) when there is room now, (OK, seconds) when the turn comes within `max_wait` — the
    answer is queued, not refused. A turn further off, or an asker already holding their half,
    is refused: (NOTIFY, seconds until there is room) once per asker per window, then (DROP, …).
    Notices are not booked: they are rare (once per asker per window) and the budget leaves
    room under Telegram's limit. `per_minute` 0 turns it off."""

    def __init__(
        self,
        per_minute: int,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        period: float = 60.0,
    ) -> None:
        self.per_minute = per_minute
        self.max_wait = max_wait
        self.clock = clock
        self.period = period
        self.share = max(1, per_minute // 2)
        self._turns: dict[int, deque[tuple[float, Hashable]]] = {}  # per group: (when, asker), in order
        self._told: dict[tuple[int, Hashable], float] = {}

    def book(self, group: int, asker: Hashable) -> tuple[Verdict, float]:
        if self.per_minute <= 0:
            return Verdict.OK, 0.0
        now = self.clock()
        if len(self._turns) >= PRUNE_AT:
            self._prune(now)
        turns = self._turns.setdefault(group, deque())
        while turns and turns[0][0] <= now - self.period:
            turns.popleft()
        mine = [at for at, who in turns if who == asker]
        if len(mine) >= self.share:
            return self._refuse(group, asker, now, mine[-self.share] + self.period - now)
        at = now if len(turns) < self.per_minute else max(now, turns[-self.per_minute][0] + self.period)
        if at - now > self.max_wait:
            return self._refuse(group, asker, now, at - now)
        turns.append((at, asker))
        return Verdict.OK, at - now

    def _refuse(self, group: int, asker: Hashable, now: float, wait: float) -> tuple[Verdict, float]:
        told = self._told.get((group, asker))
        if told is not None and now - told < self.period:
            return Verdict.DROP, wait
        self._told[(group, asker)] = now
        return Verdict.NOTIFY, wait

    def _prune(self, now: float) -> None:
        for group in [g for g, turns in self._turns.items() if not turns or turns[-1][0] <= now - self.period]:
            del self._turns[group]
        for key in [k for k, told in self._told.items() if now - told >= self.period]:
            del self._told[key]


class RecentPosts:
    """What the bot just posted where: `seen(key)` — was the same key (a chat and what went out:
    an article, a list) noted in the last `seconds`? `note(key)` notes it now. A button that would
    post it again is answered with a toast instead. 0 seconds: nothing is ever seen."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._at: dict[Hashable, float] = {}

    def seen(self, key: Hashable) -> bool:
        at = self._at.get(key)
        return at is not None and self.clock() - at < self.seconds

    def note(self, key: Hashable) -> None:
        if self.seconds <= 0:
            return
        now = self.clock()
        _forget_settled(self._at, now, self.seconds)
        self._at[key] = now


class Once:
    """`first(key)` is True the first time only (a vote per card and user). Remembers the last
    `limit` keys: older ones are forgotten first."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def first(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)
        return True


def sender_key(message: Message) -> int | None:
    """Whom a message counts against: the chat it was sent on behalf of, else the user.

    An anonymous group admin writes as the group, a channel (or a member posting as their
    channel) as that channel, and Telegram puts one shared placeholder user in `from` for all of
    them (GroupAnonymousBot, Channel_Bot); keyed by that user, every anonymous admin and every
    channel everywhere would share one allowance. Chat ids are negative, user ids positive."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user is not None else None


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
