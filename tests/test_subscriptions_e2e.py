"""Subscriptions end to end: the real application (bot.telegram.app) against the Bot API emulator.

Covers subscribing in a private chat and in a group (admin and non-admin), a page added while
the bot runs (/reload and the watcher), exactly one notification per chat and article across a
restart, articles ingested while the bot was down, the daily digest on a fake clock, jobs
re-created from the database, Forbidden dropping a chat's subscriptions, and forum groups
(notices in the topic they were set up in, General once that topic is gone).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bot.config import Config, TelegramSettings
from bot.library import Library
from bot.store import Store
from bot.telegram.app import build_application
from bot.telegram.context import BotData
from bot.telegram.notifier import reload_and_notify

from .botapi_emulator import BotApiEmulator, Fault
from .conftest import copy_corpus

OPERATOR = 1000  # in config.telegram.admin_user_ids
ALICE = 1001
BOB = 1002  # group administrator
CAROL = 1003  # plain group member
GROUP = -1001500
BOT_ID = 123456
pytestmark = pytest.mark.asyncio

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dtm.datetime(2024, 3, 1, 7, 0, tzinfo=SHANGHAI).timestamp()

PAGE_ONE = """二七区新建三所中小学 秋季开学投用

本报讯(记者 张明 通讯员 李华)记者从二七区教育局获悉,今年二七区新建的三所中小学将在秋季开学时投入使用,新增学位4500个。

据介绍,三所学校分别位于长江路街道、五里堡街道和马寨镇,总投资约6亿元。

金水区贾鲁河步道全线贯通

本报讯(记者 王强)日前,金水区贾鲁河沿岸步道全线贯通,全长12公里,市民可以沿河散步、骑行。
"""
PAGE_TWO = """二七区樱桃沟迎来赏花季

本报讯(记者 赵敏)连日来,二七区樱桃沟的樱桃花竞相开放,吸引了大批市民前来踏青赏花,周末游客超过两万人次。
"""
PAGE_THREE = """中牟县万滩镇大蒜喜获丰收

本报讯(记者 孙立)时下正值大蒜收获季节,中牟县万滩镇的蒜农们忙着采收新蒜,今年亩产比去年提高一成。
"""


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def add_page(corpus: Path, name: str, text: str, url: str | None = None) -> None:
    if url:
        (corpus / name).with_suffix(".yaml").write_text(f"url: {url}\n", encoding="utf-8")
    (corpus / name).write_text(text, encoding="utf-8")


@pytest.fixture
def config(tmp_path: Path, warm_cache: Path) -> Config:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    return Config(
        corpus=corpus,
        cache_dir=cache,
        state_db=tmp_path / "state" / "bot.sqlite3",
        telegram=TelegramSettings(
            admin_user_ids=(OPERATOR,), watch_corpus_seconds=0, group_cooldown_seconds=0, flood_max_messages=1000
        ),
    )


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(bot_username="DistrictNewsBot", bot_id=BOT_ID) as emulator:
        for uid, name in ((OPERATOR, "Op"), (ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")):
            emulator.user(uid, name)
            emulator.private_chat(uid)
        emulator.group_chat(GROUP, "二七区居民群")
        emulator.set_admins(GROUP, [BOB])
        emulator.set_member_status(GROUP, CAROL, "member")
        yield emulator


@asynccontextmanager
async def running(emu: BotApiEmulator, config: Config, clock: FakeClock | None = None):
    """One run of the bot: a fresh engine and Store on the same files, like a process start."""
    store = Store(config.state_db)
    library = Library.open(config.corpus, cache_dir=config.cache_dir)
    app = build_application(config, library, base_url=emu.base_url, store=store, token=emu.token)
    data: BotData = app.bot_data
    if clock is not None:
        data.notifier.clock = data.watcher.clock = clock
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        await asyncio.wait_for(data.notifier.started.wait(), 10)
        yield app, data
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        store.close()


async def command(emu: BotApiEmulator, chat: int, user: int, text: str, expect: str) -> str:
    """Send a command and return the bot's reply in that chat (which must contain `expect`)."""
    mark = emu.mark()
    emu.send_text(chat, user, text)
    call = await emu.wait_for_call("sendMessage", lambda p: int(p["chat_id"]) == chat, since=mark, timeout=10)
    assert expect in call.params["text"], call.params["text"]
    return call.params["text"]


def notifications(emu: BotApiEmulator, chat: int, marker: str = "你订阅的新闻有更新") -> list[str]:
    return [m["text"] for m in emu.sent_messages(chat) if marker in m.get("text", "")]


async def test_subscribe_reload_notify_once_across_a_restart(emu: BotApiEmulator, config: Config):
    async with running(emu, config) as (app, data):
        await command(emu, ALICE, ALICE, "/subscribe 二七去", "已订阅：二七区（区县）")
        await command(emu, ALICE, ALICE, "/subscribe 二七区", "已经订阅过：二七区")
        await command(emu, GROUP, CAROL, "/subscribe 金水区", "只有群管理员")
        await command(
            emu, GROUP, BOB, "/subscribe@DistrictNewsBot 金水区 清华附中", "已订阅：金水区（区县）、「清华附中」"
        )
        listed = await command(emu, GROUP, CAROL, "/subscriptions", "当前订阅")
        assert "金水区" in listed and "清华附中" in listed
        assert store_values(data.store, GROUP) == {("district", "金水区"), ("keyword", "清华附中")}

        add_page(config.corpus, "105_new.txt", PAGE_ONE, url="https://example.com/zzrb/105")
        await command(emu, GROUP, CAROL, "/reload", "只有机器人管理员")
        reply = await command(emu, OPERATOR, OPERATOR, "/reload", "新增 2 篇文章")
        assert "增量添加" in reply and "已通知 2 个订阅的聊天" in reply

        [to_alice] = notifications(emu, ALICE)
        assert "二七区新建三所中小学" in to_alice and "贾鲁河" not in to_alice
        assert 'href="https://example.com/zzrb/105"' not in to_alice  # HTML was parsed, not shown raw
        [to_group] = notifications(emu, GROUP)
        assert "金水区贾鲁河步道全线贯通" in to_group and "二七区新建" not in to_group
        message = emu.sent_messages(GROUP)[-1]
        assert any(
            e["type"] == "text_link" and e["url"] == "https://example.com/zzrb/105" for e in message.get("entities", [])
        )
        # questions are answered from the new index right away
        assert data.library.engine.answer("二七区新建的三所中小学新增多少学位").article.source == "105_new.txt"
        await command(emu, OPERATOR, OPERATOR, "/reload", "语料没有变化")

    # while the bot is down: a page arrives (as `python -m bot ingest` would put it there)
    add_page(config.corpus, "106_spring.txt", PAGE_TWO)

    async with running(emu, config) as (app, data):
        await emu.wait_idle()
        texts = notifications(emu, ALICE)
        assert len(texts) == 2  # the page that came while down; the first one not again
        assert "樱桃沟迎来赏花季" in texts[1] and "三所中小学" not in texts[1]
        assert len(notifications(emu, GROUP)) == 1
        listed = await command(emu, ALICE, ALICE, "/subscriptions", "二七区")
        assert "（1 项）" in listed
        await command(emu, OPERATOR, OPERATOR, "/reload", "语料没有变化")
        assert await data.notifier.notify(app.bot) == 0  # replaying the notification pass sends nothing
        await emu.wait_idle()
        assert len(notifications(emu, ALICE)) == 2 and len(notifications(emu, GROUP)) == 1


def store_values(store: Store, chat: int) -> set[tuple[str, str]]:
    return {(s.kind, s.value) for s in store.subscriptions(chat)}


async def test_watcher_picks_up_a_new_file_and_retry_after_sends_once(emu: BotApiEmulator, config: Config):
    config.telegram.watch_corpus_seconds = 0.2
    async with running(emu, config) as (_app, data):
        data.watcher.settle_seconds = 0.1
        await command(emu, ALICE, ALICE, "/subscribe 中牟", "已订阅：中牟县（区县）")
        emu.fail_next("sendMessage", Fault.retry_after(1))  # Telegram: slow down (nothing delivered)
        mark = emu.mark()
        add_page(config.corpus, "107_garlic.txt", PAGE_THREE)
        await emu.wait_for_call(
            "sendMessage", lambda p: int(p["chat_id"]) == ALICE and "大蒜" in p["text"], since=mark, timeout=15, ok=True
        )
        await asyncio.sleep(0.6)  # a few more watcher rounds
        await emu.wait_idle()
        assert len(notifications(emu, ALICE)) == 1
        assert data.library.engine.get(data.library.engine.articles[-1].id).source == "107_garlic.txt"


async def test_changed_file_rebuilds_and_swaps_the_engine(emu: BotApiEmulator, config: Config):
    async with running(emu, config) as (app, data):
        await command(emu, ALICE, ALICE, "/subscribe 樱桃沟", "已订阅：「樱桃沟」（关键词）")
        add_page(config.corpus, "106_spring.txt", PAGE_ONE)
        await command(emu, OPERATOR, OPERATOR, "/reload", "新增 2 篇")
        old_engine = data.library.engine
        (config.corpus / "106_spring.txt").write_text(PAGE_ONE + "\n" + PAGE_TWO, encoding="utf-8")
        reply = await command(emu, OPERATOR, OPERATOR, "/reload", "修改 1 个")
        assert "完整重建" in reply and "新增 1 篇" in reply
        assert data.library.engine is not old_engine and app.bot_data["services"].library.engine is data.library.engine
        await emu.wait_idle()
        [text] = notifications(emu, ALICE)
        assert "樱桃沟迎来赏花季" in text
        (config.corpus / "106_spring.txt").unlink()
        await command(emu, OPERATOR, OPERATOR, "/reload", "删除 1 个")
        assert all(a.source != "106_spring.txt" for a in data.library.engine.articles)


async def test_digest_on_a_fake_clock_and_recreated_on_restart(emu: BotApiEmulator, config: Config):
    clock = FakeClock(T0)
    async with running(emu, config, clock) as (app, data):
        await command(emu, GROUP, CAROL, "/digest on 08:00", "只有群管理员")
        await command(emu, GROUP, BOB, "/subscribe 二七区", "已订阅")
        reply = await command(emu, GROUP, BOB, "/digest on 8:00", "已开启每日摘要：每天 08:00（北京时间）")
        assert "没有新文章的日子不发送" in reply
        [job] = app.job_queue.get_jobs_by_name(f"digest:{GROUP}")
        fire = job.next_t.astimezone(SHANGHAI)
        assert (fire.hour, fire.minute) == (8, 0)

        clock.advance(600)
        add_page(config.corpus, "105_new.txt", PAGE_ONE)
        result = await reload_and_notify(data, app.bot)
        assert len(result.articles) == 2 and result.notified == 0  # a digest chat waits for its digest
        await emu.wait_idle()
        assert notifications(emu, GROUP) == []

        clock.advance(3000)  # 08:00 in Shanghai: run the digest job as the job queue would
        mark = emu.mark()
        app.job_queue.run_once(data.notifier.digest_job, when=0.01, chat_id=GROUP)
        call = await emu.wait_for_call("sendMessage", lambda p: int(p["chat_id"]) == GROUP, since=mark, timeout=10)
        text = call.params["text"]
        assert "每日新闻摘要</b> 2024-03-01（1 篇新文章）" in text
        assert "二七区新建三所中小学" in text and "贾鲁河" not in text

        clock.advance(24 * 3600)  # the next day: nothing new, nothing posted
        mark = emu.mark()
        await data.notifier.digest_job(_JobContext(app, GROUP))
        await emu.wait_idle()
        assert [c for c in emu.calls[mark:] if c.method == "sendMessage" and int(c.params["chat_id"]) == GROUP] == []

    async with running(emu, config, clock) as (app, data):  # restart: the job comes back from the database
        [job] = app.job_queue.get_jobs_by_name(f"digest:{GROUP}")
        assert job.chat_id == GROUP
        assert job.next_t.astimezone(SHANGHAI).strftime("%H:%M") == "08:00"
        await command(emu, GROUP, BOB, "/digest off", "已关闭每日摘要")
        await asyncio.sleep(0.05)
        assert not app.job_queue.get_jobs_by_name(f"digest:{GROUP}")
        assert not data.store.digest(GROUP).enabled


class _JobContext:
    """What a job callback reads from its context: the bot and the job's chat."""

    def __init__(self, app, chat_id: int) -> None:
        self.bot = app.bot
        self.job = type("Job", (), {"chat_id": chat_id})()


async def test_forbidden_removes_the_chats_subscriptions(emu: BotApiEmulator, config: Config):
    async with running(emu, config) as (app, data):
        await command(emu, ALICE, ALICE, "/subscribe 二七区", "已订阅")
        await command(emu, GROUP, BOB, "/subscribe 金水区", "已订阅")
        await command(emu, GROUP, BOB, "/digest off", "已关闭")
        emu.block_bot(ALICE)  # Alice blocked the bot
        emu.set_member_status(GROUP, BOT_ID, "kicked")  # and the group removed it
        add_page(config.corpus, "105_new.txt", PAGE_ONE)
        result = await reload_and_notify(data, app.bot)
        assert len(result.articles) == 2 and result.notified == 0
        assert data.store.subscriptions(ALICE) == [] and data.store.subscriptions(GROUP) == []
        assert data.store.digest(GROUP) is None
        failed = [c for c in emu.calls_to("sendMessage") if c.status == 403]
        assert {int(c.params["chat_id"]) for c in failed} == {ALICE, GROUP}


async def test_usage_and_unsubscribe(emu: BotApiEmulator, config: Config):
    async with running(emu, config) as (_app, data):
        await command(emu, ALICE, ALICE, "/subscribe", "用法：/subscribe")
        await command(emu, ALICE, ALICE, "/subscribe 水 ！", "无法识别：水")
        await command(emu, ALICE, ALICE, "/subscribe a<b>c", "已订阅：「a&lt;b&gt;c」（关键词）")  # escaped
        await command(emu, ALICE, ALICE, "/unsubscribe a<b>c", "已取消订阅")
        await command(emu, ALICE, ALICE, "/subscribe 清华付中 erqi", "已订阅：「清华附中」（关键词）、二七区（区县）")
        await command(emu, ALICE, ALICE, "/unsubscribe 二七", "已取消订阅：二七区")
        await command(emu, ALICE, ALICE, "/unsubscribe 火星", "没有这项订阅：火星")
        await command(emu, ALICE, ALICE, "/digest at noon", "用法：/digest on 08:00")
        await command(emu, ALICE, ALICE, "/digest on 25:00", "时间格式应为 HH:MM")
        await command(emu, ALICE, ALICE, "/unsubscribe 全部", "已取消全部订阅（1 项）")
        assert data.store.subscriptions(ALICE) == []


FORUM = -1001600


def _notices(emu: BotApiEmulator, chat: int) -> list:
    return [
        c
        for c in emu.calls_to("sendMessage")
        if int(c.params["chat_id"]) == chat and "你订阅的新闻有更新" in c.params["text"]
    ]


async def test_forum_notices_go_to_the_topic_they_were_set_up_in(emu: BotApiEmulator, config: Config):
    emu.group_chat(FORUM, "郑东新区论坛", forum=True)
    emu.set_admins(FORUM, [BOB])
    async with running(emu, config) as (app, data):
        mark = emu.mark()
        emu.send_text(FORUM, BOB, "/subscribe 二七区", message_thread_id=42)
        call = await emu.wait_for_call("sendMessage", lambda p: int(p["chat_id"]) == FORUM, since=mark, timeout=10)
        assert "已订阅" in call.params["text"] and "本话题" in call.params["text"]
        assert int(call.params["message_thread_id"]) == 42  # the reply itself is in the topic
        add_page(config.corpus, "105_new.txt", PAGE_ONE)
        assert (await reload_and_notify(data, app.bot)).notified == 1
        [notice] = _notices(emu, FORUM)
        assert int(notice.params["message_thread_id"]) == 42 and "二七区新建三所中小学" in notice.params["text"]

        # The topic was deleted: the notice lands in General instead of being lost, and stays there.
        emu.fail_next("sendMessage", Fault.error(400, "Bad Request: message thread not found"))
        add_page(config.corpus, "106_spring.txt", PAGE_TWO)
        assert (await reload_and_notify(data, app.bot)).notified == 1
        failed, moved = _notices(emu, FORUM)[-2:]
        assert failed.status == 400 and int(failed.params["message_thread_id"]) == 42
        assert moved.status == 200 and "message_thread_id" not in moved.params and "樱桃沟" in moved.params["text"]
        assert data.store.thread(FORUM) is None

        # A subscription set up in another topic moves the chat's notices there, across a restart.
        await command(emu, ALICE, ALICE, "/subscribe 中牟", "已订阅")
        mark = emu.mark()
        emu.send_text(FORUM, BOB, "/subscribe 中牟", message_thread_id=7)
        await emu.wait_for_call("sendMessage", lambda p: int(p["chat_id"]) == FORUM, since=mark, timeout=10)
        assert data.store.thread(FORUM) == 7

    add_page(config.corpus, "107_garlic.txt", PAGE_THREE)
    async with running(emu, config):
        await emu.wait_idle()
        latest = _notices(emu, FORUM)[-1]
        assert "大蒜" in latest.params["text"] and int(latest.params["message_thread_id"]) == 7
        [private] = _notices(emu, ALICE)  # a chat that is not a forum has no topics
        assert "大蒜" in private.params["text"] and "message_thread_id" not in private.params
