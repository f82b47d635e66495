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
