"""The same words get the same answer through every front end: `ask --json`, the terminal chat,
a private Telegram chat and inline mode (the intent layer decides once, the library answers)."""

from __future__ import annotations

import io
import json

import pytest

from bot.chat import run_chat
from bot.library import Library
from bot.render import reply_plain
from bot.reply import Kind

from .test_cli import run
from .test_telegram_e2e import Harness, bot, data_of, engine  # noqa: F401 - fixtures

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

MESSAGES = [
    "清华附中什么时候投入使用？",  # a question of fact
    "二七区有什么新闻",  # a district's news, in words
    "/district 金水",  # the same as a command, short name
    "最新消息",  # the latest news
    "/latest 3",
    "新郑有什么新闻",  # a district without news: an empty list
    "news from Zhengdong New District",
    "火星上有外星人吗",  # nothing in the news answers it
    "你好",
    "/help",
]


def expected_ids(library: Library, message: str) -> tuple[str, list[str]]:
    """What the library says: the reply's kind and the articles it shows, first to last."""
    reply = library.ask(message)
    if reply.kind is Kind.ANSWER and reply.answer is not None and reply.answer.article is not None:
        return reply.kind.value, [reply.answer.article.id]
    if reply.kind is Kind.LIST and reply.listing is not None:
        return reply.kind.value, [a.id for a in reply.listing.articles]
    return reply.kind.value, []


async def test_ask_chat_telegram_and_inline_agree(bot: Harness, engine: Library) -> None:  # noqa: F811
    library = engine
    expected = {m: expected_ids(library, m) for m in MESSAGES}
    assert {kind for kind, _ in expected.values()} >= {"answer", "list", "abstain", "greeting", "help"}

    # 1. the CLI contract: one JSON line per message, in order
    result = run("ask", "--batch", "-", stdin="\n".join(MESSAGES) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == MESSAGES
    for message, row in zip(MESSAGES, rows, strict=True):
        kind, ids = expected[message]
        assert row["kind"] == kind, message
        shown = [row["answer"]["article_id"]] if row["answer"] else [a["article_id"] for a in row.get("articles", [])]
        assert shown == ids, message

    # 2. the terminal chat prints what the library's reply renders to
    out = io.StringIO()
    run_chat(library, io.StringIO("\n".join(MESSAGES) + "\nquit\n"), out)
    printed = out.getvalue()
    for message in MESSAGES:
        assert reply_plain(library.ask(message)) in printed, message

    # 3. a private Telegram chat: the card or list names the same articles (their buttons)
    user, chat = bot.private()
    for message in MESSAGES:
        kind, ids = expected[message]
        sent = await bot.say(chat, user, message)
        if kind == "answer":
            assert data_of(sent, "r:") == [f"r:{ids[0]}"], message
        elif kind == "list" and ids:
            opened = [d[2:] for d in data_of(sent, "r:")]
            assert opened and opened == ids[: len(opened)], message
        else:
            assert not data_of(sent, "r:"), message

    # 4. inline mode offers the same articles first
    for number, message in enumerate(MESSAGES, 1):
        kind, ids = expected[message]
        bot.emu.inline_query(user, message)
        calls = await bot.emu.wait_for_call("answerInlineQuery", count=number, ok=True)
        calls = calls if isinstance(calls, list) else [calls]
        results = [r["id"] for r in calls[-1].params["results"]]
        if kind in ("answer", "list"):
            assert results[: len(ids[:10])] == ids[:10], message
        else:
            assert results == [], message
