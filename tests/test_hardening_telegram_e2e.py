"""Hardening of the Telegram front end, end to end against the Bot API emulator: replies within
Telegram's limits whatever users send, and a quiet log when nothing happens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.library import Library
from bot.telegram.app import protect_logs
from bot.telegram.context import BotData
from bot.watch import ReloadResult

from .botapi_emulator import utf16_len
from .test_telegram_e2e import running_bot

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


@pytest.fixture
def logger_levels() -> Iterator[None]:
    """protect_logs sets library loggers' levels for the process: give them back afterwards."""
    names = ("httpx", "httpcore", "apscheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# ---------------------------------------------------------------- 13. a quiet log when idle


async def test_an_idle_corpus_watcher_logs_nothing(
    library: Library, logger_levels: None, caplog: pytest.LogCaptureFixture
) -> None:
    protect_logs("123:not-a-token")
    with caplog.at_level(logging.INFO):
        async with running_bot(library, watch_corpus_seconds=0.1) as harness:
            data: BotData = harness.app.bot_data
            await asyncio.wait_for(data.notifier.started.wait(), 10)
            ticks: list[ReloadResult] = []
            reload = data.watcher.reload

            async def counted(*, settle: float = 0.0) -> ReloadResult:
                ticks.append(await reload(settle=settle))
                return ticks[-1]

            data.watcher.reload = counted  # type: ignore[method-assign]
            await harness.settle()
            caplog.clear()
            await asyncio.sleep(1.0)
            idle = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert len(ticks) >= 4 and not any(t.changed for t in ticks)  # the watcher did run, idle
    assert idle == []


# ---------------------------------------------------------------- 3. invisible characters in keywords

ZW = "\u200b"


async def test_subscribe_stores_the_keyword_without_invisible_characters(library: Library) -> None:
    async with running_bot(library) as bot:
        user, chat = bot.private()
        reply = await bot.say(chat, user, f"/subscribe {ZW}樱桃沟{ZW} \u2060二七{ZW}区")
        assert "已订阅：「樱桃沟」（关键词）、二七区（区县）" in reply["text"]
        assert {(s.kind, s.value) for s in bot.store.subscriptions(chat["id"])} == {
            ("keyword", "樱桃沟"),
            ("district", "二七区"),
        }
        bot.store.subscribe(chat["id"], "keyword", f"{ZW}清华附中{ZW}")  # stored before the fix
        reply = await bot.say(chat, user, "/unsubscribe 清华附中 樱桃沟")
        assert "已取消订阅：「清华附中」、「樱桃沟」" in reply["text"].replace(ZW, "")
        assert [s.value for s in bot.store.subscriptions(chat["id"])] == ["二七区"]


# ---------------------------------------------------------------- 2. replies within Telegram's limit


def _unknown_words_message(command: str) -> str:
    """`command` and 2,000 different one-character words (none a topic), filled up to 4096
    characters with one over-long word: the most a user can send."""
    words = " ".join(chr(0x4E00 + n) for n in range(2000))
    head = f"{command} {words} "
    return head + "长" * (4096 - len(head))


@pytest.mark.parametrize("command", ["/subscribe", "/unsubscribe"])
async def test_subscribe_with_thousands_of_unknown_words_gets_a_short_reply(library: Library, command: str) -> None:
    async with running_bot(library) as bot:
        user, chat = bot.private()
        text = _unknown_words_message(command)
        assert len(text) == 4096
        reply = await bot.say(chat, user, text)
        assert ("无法识别：" if command == "/subscribe" else "没有这项订阅：") in reply["text"]
        assert "等 2001 项" in reply["text"] and len(reply["text"]) < 1000
        assert "出了点问题" not in reply["text"]
        assert [c.status for c in bot.emu.calls_to("sendMessage")] == [200]


async def test_an_over_long_reply_or_edit_is_cut_not_refused(
    library: Library, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The last resort in sending.reply/edit, should a view ever write too much."""
    from bot.telegram import views

    too_long = "<b>很长的回答</b>\n" + "<i>&lt;清华附中&gt; 😀</i>" * 700  # ~7,700 characters shown
    monkeypatch.setattr(views, "help_html", lambda username: too_long)
    monkeypatch.setattr(views, "article_page", lambda article, number: views.Page(too_long + "页", 1, 2))
    caplog.set_level(logging.WARNING, logger="bot.telegram.sending")
    async with running_bot(library) as bot:
        user, chat = bot.private()
        reply = await bot.say(chat, user, "/help")
        text = reply["text"]
        assert text.startswith("很长的回答\n<清华附中> 😀") and text.endswith("…")
        assert utf16_len(text) <= 4096 and utf16_len(text) > 4000
        assert reply["entities"][-1]["type"] == "italic"  # the cut <i> was closed, not dropped
        mark = bot.emu.mark()
        bot.emu.press_button(chat, user, reply["message_id"], f"p:{library.articles[0].id}:1", check_markup=False)
        edited = await bot.emu.wait_for_call("editMessageText", since=mark, ok=True)
        assert edited.response["result"]["text"].endswith("…")
        assert all(c.status == 200 for c in bot.emu.calls_to("sendMessage") + bot.emu.calls_to("editMessageText"))
    assert sum("was cut to Telegram's limit" in r.getMessage() for r in caplog.records) == 2
