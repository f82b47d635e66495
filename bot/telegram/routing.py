"""Which worker handles an update (`run --workers N`): by chat, so a chat stays on one worker.

The flood guard, the per-asker group cooldown, a group's budget and a chat's follow-up context
(bot/telegram/guards.py, `Conversation` in chat_data) live in the memory of the worker that
answers the chat; routing every update of a chat to the same worker keeps them right without a
shared write per message. An update without a chat (an inline query, a callback of an inline
message) goes by its user, who lands on the same worker as their private chat (a private chat's
id is the user's id), so a user's private messages, inline queries and button presses share one
flood bucket.

Rendezvous hashing: each (key, worker) pair gets a stable score and the best live worker wins,
so when a worker dies only its chats move (to the others, spread evenly), and they move back
when it returns. Pure functions; no Telegram, no processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

# Updates whose object carries a chat (or whose message does); the rest go by their sender.
_USER_FIELDS = ("from", "user", "voter_chat")


def route_key(update: Mapping[str, Any]) -> int:
    """The chat an update belongs to, else its user; the update id when it has neither (a poll)."""
    for name, value in update.items():
        if name == "update_id" or not isinstance(value, Mapping):
            continue
        chat = value.get("chat")
        if not isinstance(chat, Mapping):
            message = value.get("message")
            chat = message.get("chat") if isinstance(message, Mapping) else None
        if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        for field in _USER_FIELDS:
            user = value.get(field)
            if isinstance(user, Mapping) and isinstance(user.get("id"), int):
                return int(user["id"])
    update_id = update.get("update_id")
    return int(update_id) if isinstance(update_id, int) else 0


def _score(key: int, worker: int) -> int:
    digest = hashlib.blake2b(f"{key}:{worker}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def choose(key: int, workers: Iterable[int]) -> int | None:
    """The worker (of those given, the live ones) that handles `key`; None when there is none."""
    best: tuple[int, int] | None = None
    for worker in workers:
        score = _score(key, worker)
        if best is None or score > best[0]:
            best = (score, worker)
    return None if best is None else best[1]
