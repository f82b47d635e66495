"""Source polling in the running bot (bot.telegram.app against the Bot API emulator): a local
e-paper edition configured at a short interval is fetched, a subscriber of the article's district
gets exactly one notice linking the article, the next poll adds and sends nothing; a failing
source is slowed down, then paused with one notice to the operator; /sources shows it and
/sources resume starts it again."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Config
from bot.library import Library
from bot.web.fetch import FetchSettings
from tests.local_site import Page, Site
from tests.test_subscriptions_e2e import ALICE, OPERATOR, command, notifications, running
from tests.test_subscriptions_e2e import config as config
from tests.test_subscriptions_e2e import emu as emu
from tests.web_pages import EDITION_DIR, serve_epaper

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
FAST = FetchSettings(read_timeout=2, retries=1, backoff=0.01)


def with_sources(config: Config, tmp_path: Path, yaml: str) -> Config:
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    (folder / "sources.yaml").write_text(yaml, encoding="utf-8")
    return replace(config, config_dir=folder)


async def wait_until(condition, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_polled_edition_is_announced_once(
    emu, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Site() as site:
        edition = serve_epaper(site)
        config = with_sources(
            config, tmp_path, f"sources:\n  - name: 晚报\n    kind: epaper\n    url: {edition}\n    interval: 2\n"
        )
        async with running(emu, config) as (_app, data):
            data.poller.settings = FAST
            loads: list[Path] = []  # the corpus loaded again after the start (a second of CPU at 1M)
            real_open = Library.open.__func__  # type: ignore[attr-defined]
            monkeypatch.setattr(
                Library,
                "open",
                classmethod(lambda cls, corpus, **kw: loads.append(corpus) or real_open(cls, corpus, **kw)),
            )
            await command(emu, ALICE, ALICE, "/subscribe 金水区", "金水区")
            await wait_until(lambda: bool(notifications(emu, ALICE)))
            [notice] = [m for m in emu.sent_messages(ALICE) if "你订阅的新闻有更新" in m.get("text", "")]
            links = [e["url"] for e in notice.get("entities", []) if e["type"] == "text_link"]
            assert links == [site.url(f"{EDITION_DIR}/content_1002.htm")]
            assert "金水区新建口袋公园开放" in notice["text"] and "二七区老旧小区" not in notice["text"]
            first = data.store.source_health("晚报").last_fetch
            await wait_until(lambda: data.store.source_health("晚报").last_fetch != first)  # the next poll
            health = data.store.source_health("晚报")
            assert health.consecutive_failures == 0 and health.last_new_article == first
            await asyncio.sleep(0.5)
            assert len(notifications(emu, ALICE)) == 1  # nothing new, nothing sent
            assert loads == []  # the polls de-duplicate against the bot's own library
            reply = await command(emu, OPERATOR, OPERATOR, "/sources", "晚报")
            assert "正常" in reply and "连续失败：0" in reply
            await command(emu, ALICE, ALICE, "/sources", "只有机器人管理员")


async def test_a_failing_source_is_slowed_then_paused_with_one_notice(
    emu,
    config: Config,
    tmp_path: Path,
) -> None:
    with Site() as site:
        site.routes["/down.xml"] = Page(b"oops", status=500)
        url = site.url("/down.xml")
        config = with_sources(
            config, tmp_path, f"sources:\n  - name: 坏来源\n    kind: feed\n    url: {url}\n    interval: 1\n"
        )
        async with running(emu, config) as (_app, data):
            data.poller.settings = FAST
            data.poller.pause_after = 3
            await wait_until(lambda: data.store.source_health("坏来源").paused, timeout=30)
            health = data.store.source_health("坏来源")
            assert health.consecutive_failures == 3 and health.next_due is not None
            assert health.next_due - health.last_fetch == 8.0  # slowed: 1 s × 2³
            hits = site.hits["/down.xml"]
            await asyncio.sleep(2.5)  # two more job runs: a paused source is not fetched
            assert site.hits["/down.xml"] == hits
            paused = [m["text"] for m in emu.sent_messages(OPERATOR) if "已暂停" in m.get("text", "")]
            assert len(paused) == 1 and "坏来源" in paused[0] and "/sources resume" in paused[0]
            reply = await command(emu, OPERATOR, OPERATOR, "/sources", "坏来源")
            assert "已暂停" in reply and "连续失败：3" in reply
            await command(emu, OPERATOR, OPERATOR, "/sources resume 坏来源", "已恢复")
            await wait_until(lambda: site.hits["/down.xml"] > hits)  # polled again
            await command(emu, OPERATOR, OPERATOR, "/sources resume 没有", "没有名为")
