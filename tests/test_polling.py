"""The running bot's source polling (bot/telegram/polling.py) against local websites: new articles
once, a failing source slowed down then paused with one notice to each operator."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Config
from bot.store import Store
from bot.telegram.polling import MAX_BACKOFF_SECONDS, SourcePoller, backoff
from bot.web.fetch import FetchSettings
from bot.web.sources import Source
from tests.conftest import copy_corpus
from tests.local_site import Page, Site
from tests.web_pages import serve_epaper

FAST = FetchSettings(read_timeout=2, retries=1, backoff=0.01)


@pytest.fixture
def config(tmp_path: Path, warm_cache: Path) -> Config:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    config = Config(corpus=corpus, cache_dir=cache, state_db=tmp_path / "state.sqlite3")
    return replace(config, telegram=replace(config.telegram, admin_user_ids=(7, 8)))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeBot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_kwargs: object) -> None:
        self.sent.append((chat_id, text))


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(60, n) for n in (1, 2, 3)] == [120, 240, 480]
    assert backoff(3600, 10) == backoff(3600, 1000) == MAX_BACKOFF_SECONDS


def test_a_source_is_polled_and_its_articles_added_once(config: Config) -> None:
    clock = Clock()
    with Site() as site, Store() as store:
        edition = serve_epaper(site)
        poller = SourcePoller([Source("晚报", edition, "epaper", 60)], config, store, settings=FAST, clock=clock)
        first = asyncio.run(poller.poll("晚报"))
        assert first.error is None and first.added > 0
        assert first.health is not None and first.health.last_new_article == 1000.0
        assert first.health.next_due == 1060.0
        clock.now = 1030.0
        assert asyncio.run(poller.poll("晚报")).skipped == "not due"
        clock.now = 1060.0
        second = asyncio.run(poller.poll("晚报"))
        assert second.error is None and second.added == 0 and second.skipped is None
        health = store.source_health("晚报")
        assert health.last_fetch == 1060.0 and health.last_new_article == 1000.0


def test_a_failing_source_is_slowed_down_then_paused_with_one_notice(config: Config) -> None:
    clock = Clock()
    bot = FakeBot()
    with Site() as site, Store() as store:
        site.routes["/down.xml"] = Page(b"oops", status=500)
        source = Source("坏来源", site.url("/down.xml"), "feed", 60)
        poller = SourcePoller([source], config, store, settings=FAST, clock=clock, pause_after=3)
        due = []
        for _ in range(3):
            result = asyncio.run(poller.poll("坏来源"))
            assert result.error and result.health is not None
            due.append(result.health.next_due - clock.now)
            if result.paused_now:
                asyncio.run(poller.tell_operators(bot, "paused"))  # type: ignore[arg-type]
            clock.now = result.health.next_due
        assert due == [120.0, 240.0, 480.0]
        assert result.paused_now and store.source_health("坏来源").paused
        hits = site.hits["/down.xml"]
        clock.now += 10 * 86400
        assert asyncio.run(poller.poll("坏来源")).skipped == "paused"  # never hammered
        assert site.hits["/down.xml"] == hits
        assert bot.sent == [(7, "paused"), (8, "paused")]
        assert store.resume_source("坏来源")
        assert asyncio.run(poller.poll("坏来源")).error  # polled again after /sources resume


def test_source_texts_are_escaped_and_say_what_to_do() -> None:
    from bot.store import SourceHealth
    from bot.telegram import notices

    bad = SourceHealth("<b>晚报</b>", 1000.0, None, 5, 2000.0, True, "HTTP 500 <html>")
    paused = notices.source_paused_html(bad)
    assert "&lt;b&gt;晚报&lt;/b&gt;" in paused and "&lt;html&gt;" in paused and "<html>" not in paused
    assert "连续 5 次" in paused and "/sources resume" in paused
    listing = notices.sources_html(
        [("<b>晚报</b>", 60, bad), ("好来源", 3600, SourceHealth("好来源"))], "Asia/Shanghai"
    )
    assert "⏸ 已暂停" in listing and "&lt;b&gt;晚报" in listing and "上次抓取：从未" in listing
    assert "上次抓取：01-01 08:16" in listing  # 1000 s after the epoch, in Shanghai
    assert notices.sources_html([], "Asia/Shanghai") == notices.NO_SOURCES


def test_a_dated_url_is_the_days_edition_in_the_bots_timezone(config: Config) -> None:
    from datetime import UTC, datetime

    clock = Clock()
    clock.now = datetime(2026, 11, 21, 20, 0, tzinfo=UTC).timestamp()  # 22 November, 04:00 in Zhengzhou
    with Site() as site, Store() as store:
        serve_epaper(site)
        url = site.url("/html/{date:%Y-%m/%d}/node_2.htm")
        poller = SourcePoller([Source("晚报", url, "epaper", 60)], config, store, settings=FAST, clock=clock)
        result = asyncio.run(poller.poll("晚报"))
        assert result.error is None and result.added > 0
        assert site.hits["/html/2026-11/22/node_2.htm"] == 1
