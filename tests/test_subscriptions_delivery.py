"""Delivery edge cases on a bare Application (no rate limiter that would retry for us):
RetryAfter gives the articles back and retries; an unknown outcome keeps them (at most once);
a group upgraded to a supergroup keeps its subscriptions."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import Application, ApplicationBuilder

from bot.config import Config, TelegramSettings
from bot.library import Library
from bot.store import Store
from bot.telegram.context import CONTEXT_TYPES, BotData
from bot.telegram.notifier import Delivery, reload_and_notify
from bot.telegram.subscriptions import register

from .botapi_emulator import BotApiEmulator, Fault
from .conftest import SEEDS
from .test_subscriptions_e2e import PAGE_ONE, add_page

pytestmark = pytest.mark.asyncio

ALICE = 2001
GROUP = -2001
SUPERGROUP = -1002002


@pytest_asyncio.fixture
async def bot_app(
    tmp_path: Path, state_target: str
) -> AsyncIterator[tuple[BotApiEmulator, Application, BotData, Config]]:
    """The subscriptions on a bare Application, with the state on SQLite, then on PostgreSQL."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    config = Config(
        corpus=corpus,
        cache_dir=tmp_path / "cache",
        state_db=tmp_path / "bot.sqlite3",
        telegram=TelegramSettings(watch_corpus_seconds=0),
    )
    library = Library.open(corpus, cache_dir=config.cache_dir)
    store = Store(state_target)
    async with BotApiEmulator() as emu:
        emu.user(ALICE, "Alice")
        emu.private_chat(ALICE)
        emu.group_chat(GROUP, "老群")
        emu.group_chat(SUPERGROUP, "新群")
        app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).context_types(CONTEXT_TYPES).build()
        register(app, library, store, config)
        data: BotData = app.bot_data
        async with app:
            await app.start()
            await asyncio.wait_for(data.notifier.started.wait(), 10)
            try:
                yield emu, app, data, config
            finally:
                await app.stop()
        store.close()


def sent_to(emu: BotApiEmulator, chat: int) -> list[str]:
    return [m["text"] for m in emu.sent_messages(chat)]


async def test_retry_after_releases_the_claim_and_retries_once(bot_app):
    emu, app, data, config = bot_app
    data.store.subscribe(ALICE, "district", "二七区")
    emu.fail_next("sendMessage", Fault.retry_after(1))
    add_page(config.corpus, "105_new.txt", PAGE_ONE)
    result = await reload_and_notify(data, app.bot)
    assert len(result.articles) == 2 and result.notified == 0
    assert data.store.delivered(ALICE) == set()  # nothing went out: nothing is marked
    assert app.job_queue.get_jobs_by_name("notify-retry")
    await emu.wait_for_call("sendMessage", lambda p: int(p["chat_id"]) == ALICE, timeout=10, ok=True)
    [text] = sent_to(emu, ALICE)
    assert "二七区新建三所中小学" in text
    assert len(data.store.delivered(ALICE)) == 1
    assert await data.notifier.notify(app.bot) == 0


async def test_unknown_outcome_keeps_the_claim(bot_app):
    emu, app, data, config = bot_app
    data.store.subscribe(ALICE, "district", "金水区")
    emu.fail_next("sendMessage", Fault.server_error(502))  # did it arrive? We cannot know.
    add_page(config.corpus, "105_new.txt", PAGE_ONE)
    result = await reload_and_notify(data, app.bot)
    assert result.notified == 0
    assert len(data.store.delivered(ALICE)) == 1  # at most once: it is not tried again
    assert await data.notifier.notify(app.bot) == 0
    assert sent_to(emu, ALICE) == []


async def test_group_upgraded_to_supergroup_keeps_subscriptions_and_digest(bot_app):
    emu, app, data, config = bot_app
    data.store.subscribe(GROUP, "keyword", "贾鲁河")
    emu.fail_next("sendMessage", Fault.migrate(SUPERGROUP))
    add_page(config.corpus, "105_new.txt", PAGE_ONE)
    result = await reload_and_notify(data, app.bot)
    assert result.notified == 1
    assert data.store.subscriptions(GROUP) == []
    assert [s.value for s in data.store.subscriptions(SUPERGROUP)] == ["贾鲁河"]
    [text] = sent_to(emu, SUPERGROUP)
    assert "贾鲁河步道全线贯通" in text


async def test_digest_without_subscriptions_lists_everything_new_and_nothing_twice(bot_app):
    emu, app, data, config = bot_app
    clock = [1_700_000_000.0]
    data.notifier.clock = data.watcher.clock = lambda: clock[0]
    data.store.set_digest(GROUP, True, "08:00", now=clock[0])
    clock[0] += 60
    add_page(config.corpus, "105_new.txt", PAGE_ONE)
    await reload_and_notify(data, app.bot)
    assert sent_to(emu, GROUP) == []
    clock[0] += 60
    assert await data.notifier.run_digest(app.bot, GROUP) is Delivery.SENT
    [text] = sent_to(emu, GROUP)
    assert "（2 篇新文章）" in text and "二七区新建" in text and "贾鲁河" in text
    clock[0] += 86400
    assert await data.notifier.run_digest(app.bot, GROUP) is Delivery.NOTHING
    assert len(sent_to(emu, GROUP)) == 1


async def test_digest_lists_newest_first_by_date_then_arrival(bot_app):
    emu, app, data, config = bot_app
    clock = [1_700_000_000.0]
    data.notifier.clock = data.watcher.clock = lambda: clock[0]
    data.store.set_digest(GROUP, True, "08:00", now=clock[0])

    def feed(name: str, *items: tuple[str, str | None]) -> None:
        lines = [
            json.dumps({"title": title, "body": f"{title}的消息。", "date": day}, ensure_ascii=False)
            for title, day in items
        ]
        (config.corpus / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    clock[0] += 60
    feed("201_first.jsonl", ("三月甲", "2024-03-01"), ("无日期", None))
    await reload_and_notify(data, app.bot)
    clock[0] += 60
    feed("202_second.jsonl", ("一月", "2024-01-01"), ("三月乙", "2024-03-01"))
    await reload_and_notify(data, app.bot)
    clock[0] += 60
    assert await data.notifier.run_digest(app.bot, GROUP) is Delivery.SENT
    [text] = sent_to(emu, GROUP)
    places = [text.index(title) for title in ("三月乙", "三月甲", "一月", "无日期")]
    assert places == sorted(places)  # not as they arrived: 三月甲, 无日期, 一月, 三月乙


async def test_a_vanished_corpus_keeps_the_old_index(bot_app):
    _emu, app, data, config = bot_app
    engine = data.library.engine
    config.corpus.rename(config.corpus.with_name("moved-away"))
    result = await reload_and_notify(data, app.bot)
    assert "rebuild failed, still serving the previous index" in result.errors[0]
    assert data.library.engine is engine and data.library.engine.answer("清华附中什么时候投入使用").found
