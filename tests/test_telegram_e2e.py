"""End to end: the real Application (long polling over HTTP, PTB's request encoding, rate
limiter and error mapping) against the local Bot API emulator on 127.0.0.1.

Each test starts a fresh bot (its own flood/cooldown state and store) over one engine built
from seeds/ for the module. Nothing reaches the internet.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from telegram import Update
from telegram.ext import Application

from bot.article import Article
from bot.cli import open_library
from bot.config import Config, load_config
from bot.engine import Engine
from bot.library import Library
from bot.render import TELEGRAM_LIMIT, article_pages
from bot.store import Store
from bot.telegram import views
from bot.telegram.app import build_application
from bot.telegram.guards import FloodGuard, GroupBudget
from tests.botapi_emulator import BotApiEmulator, Fault

# slow: end to end over HTTP against the emulator, and `python -m bot run` processes.
pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "DistrictNewsBot"
QUESTION = "清华附中什么时候投入使用"
HEADLINE = "郑州清华附中 建设项目提速"
ANSWER_TEXT = "预计今年9月投入使用"
QINGHUA_ID = "a266052e1124"
GROUP = -1001234567890
LONG_ID = "longread01"


# --------------------------------------------------------------------------- fixtures


class RecordingStore(Store):
    """The real SQLite store, also remembering what the bot logged, for assertions."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.questions: list[tuple[str, str, bool, str | None]] = []
        self.feedback: list[tuple[str, str | None, bool]] = []

    def log_question(self, chat_type: str, question: str, answered: bool, article_id: str | None) -> None:
        super().log_question(chat_type, question, answered, article_id)
        self.questions.append((chat_type, question, answered, article_id))

    def log_feedback(self, article_id: str, question: str | None, positive: bool) -> None:
        super().log_feedback(article_id, question, positive)
        self.feedback.append((article_id, question, positive))


def make_config(**telegram: Any) -> Config:
    config = Config()
    config.cache_dir = None
    config.telegram.bot_username = None  # learnt from getMe
    config.telegram.group_cooldown_seconds = 0
    config.telegram.flood_burst = 100
    config.telegram.flood_rate_per_minute = 600
    config.telegram.inline_cache_seconds = 7
    config.telegram.watch_corpus_seconds = 0
    for key, value in telegram.items():
        setattr(config.telegram, key, value)
    return config


def shipped_limits() -> dict[str, Any]:
    """The flood guard and group limits as config/bot.yaml sets them, for tests of what residents meet."""
    settings = load_config(ROOT / "config" / "bot.yaml").telegram
    burst, rate = settings.flood_bucket()
    return {
        "flood_burst": burst,
        "flood_rate_per_minute": rate,
        "group_cooldown_seconds": settings.group_cooldown_seconds,
    }


def seed_library(cache: Path) -> Library:
    config = Config()
    config.cache_dir = cache
    return open_library(config, quiet=True)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Library:
    return seed_library(tmp_path_factory.mktemp("tg-cache"))


def long_article() -> Article:
    paragraphs = tuple(
        f"第{i}段：二七区老旧小区改造持续推进，居民说“<好>&方便”。" + "改造内容包括管网、道路和绿化。" * 20
        for i in range(1, 31)
    )
    return Article(id=LONG_ID, title="二七区老旧小区改造长篇报道", paragraphs=paragraphs, districts=("二七区",))


@pytest.fixture(scope="module")
def long_engine(tmp_path_factory: pytest.TempPathFactory) -> Library:
    library = seed_library(tmp_path_factory.mktemp("tg-cache-long"))
    library.add([long_article()])
    return library


@dataclass
class Harness:
    emu: BotApiEmulator
    app: Application
    store: RecordingStore
    config: Config

    @property
    def engine(self) -> Engine:
        return self.app.bot_data["services"].library.engine

    def user(self, user_id: int = 4242, name: str = "小王") -> dict:
        return self.emu.user(user_id, name)

    def private(self, user_id: int = 4242) -> tuple[dict, dict]:
        user = self.user(user_id)
        return user, self.emu.private_chat(user)

    async def settle(self) -> None:
        await self.emu.wait_idle(timeout=5.0, quiet=0.2)

    async def sent_to(self, chat_id: int, count: int = 1, since: int = 0) -> list[dict]:
        """Wait for `count` successful sendMessage calls to a chat; their results (messages)."""
        calls = await self.emu.wait_for_call(
            "sendMessage", lambda p: p["chat_id"] == chat_id, count=count, since=since, ok=True
        )
        calls = calls if isinstance(calls, list) else [calls]
        return [c.response["result"] for c in calls]

    async def say(self, chat: dict, user: dict, text: str, **kwargs: Any) -> dict:
        """Send a message and wait for the bot's next message in that chat (one at a time, so
        the order of replies is the order of questions even with concurrent updates)."""
        mark = self.emu.mark()
        self.emu.send_text(chat, user, text, **kwargs)
        [reply] = await self.sent_to(chat["id"], since=mark)
        return reply

    async def press(self, chat: dict, user: dict, message: dict, data: str, *, wait_for: str = "") -> Any:
        """Press a button; wait until the query is answered (and for `wait_for`, if given)."""
        mark = self.emu.mark()
        self.emu.press_button(chat, user, message["message_id"], data)
        await self.emu.wait_for_call("answerCallbackQuery", since=mark, ok=True)
        if wait_for == "sendMessage":
            [reply] = await self.sent_to(chat["id"], since=mark)
            return reply
        if wait_for:
            await self.emu.wait_for_call(wait_for, since=mark, ok=True)
        return self.emu.get_message(chat["id"], message["message_id"])


@asynccontextmanager
async def running_bot(
    engine: Library, *, privacy_mode: bool = True, token: str | None = None, **telegram: Any
) -> AsyncIterator[Harness]:
    config = make_config(**telegram)
    store = RecordingStore()
    async with BotApiEmulator(bot_username=USERNAME, privacy_mode=privacy_mode, token=token) as emu:
        app = build_application(config, engine, base_url=emu.base_url, store=store, token=emu.token)
        await app.initialize()
        try:
            await app.post_init(app)  # what run_polling does between initialize() and start()
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
            yield Harness(emu, app, store, config)
        finally:
            await stop_application(app)
            store.close()


@pytest_asyncio.fixture
async def bot(request: pytest.FixtureRequest, engine: Library) -> AsyncIterator[Harness]:
    options = dict(getattr(request, "param", None) or {})
    if options.pop("long", False):
        engine = request.getfixturevalue("long_engine")
    async with running_bot(engine, **options) as harness:
        yield harness


def keyboard(message: dict) -> list[tuple[str, str]]:
    return [
        (b["text"], b.get("callback_data", b.get("url", "")))
        for row in message.get("reply_markup", {}).get("inline_keyboard", [])
        for b in row
    ]


def data_of(message: dict, prefix: str) -> list[str]:
    return [data for _, data in keyboard(message) if data.startswith(prefix)]


async def stop_application(app) -> None:
    """Stop polling, the application and its network client, whatever state a test left it in."""
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


def entity_texts(message: dict, kind: str) -> list[str]:
    text = message["text"].encode("utf-16-le")
    return [
        text[e["offset"] * 2 : (e["offset"] + e["length"]) * 2].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


# --------------------------------------------------------------------------- private chat


async def test_private_question_gets_the_answer_card(bot: Harness) -> None:
    user, chat = bot.private()
    card = await bot.say(chat, user, QUESTION)

    call = bot.emu.calls_to("sendMessage")[-1]
    assert call.params["parse_mode"] == "HTML"
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert "reply_parameters" not in call.params  # no quoting in a private chat
    assert card["text"].startswith(HEADLINE)
    assert ANSWER_TEXT in card["text"]
    assert HEADLINE in entity_texts(card, "bold")
    assert "投入使用" in entity_texts(card, "underline")  # the matched words are marked
    [link] = [e["url"] for e in card["entities"] if e["type"] == "text_link"]
    assert link == f"https://t.me/{USERNAME}?start={QINGHUA_ID}"  # the deep link
    buttons = keyboard(card)
    assert ("📖 全文", f"r:{QINGHUA_ID}") in buttons
    assert ("👍 有帮助", f"f:1:{QINGHUA_ID}") in buttons and ("👎 没帮助", f"f:0:{QINGHUA_ID}") in buttons
    assert not data_of(card, "m:")  # no other article answers this: no 更多结果 filler
    assert bot.store.questions == [("private", QUESTION, True, QINGHUA_ID)]
    assert bot.store.question_counts() == {"questions": 1, "answered": 1, "abstained": 0}


async def test_deep_link_start_payload_shows_the_full_article(bot: Harness) -> None:
    user, chat = bot.private()
    article = bot.engine.get(QINGHUA_ID)
    page = await bot.say(chat, user, f"/start {QINGHUA_ID}")
    assert page["text"].startswith(HEADLINE)
    for paragraph in article.paragraphs:  # the whole article, not a snippet
        assert paragraph in page["text"]
    assert "reply_markup" not in page  # one page: no ◀ ▶

    welcome = await bot.say(chat, user, "/start")
    assert "郑州区县新闻助手" in welcome["text"] and ("🆕 最新新闻", "l") in keyboard(welcome)
    help_page = await bot.say(chat, user, "/start help")
    assert "/district" in help_page["text"] and f"@{USERNAME}" in help_page["text"]
    assert help_page["text"] == (await bot.say(chat, user, "/help"))["text"]
    missing = await bot.say(chat, user, "/start nosucharticle")
    assert "nosucharticle" in missing["text"] and "没有找到" in missing["text"]


@pytest.mark.parametrize("bot", [{"long": True}], indirect=True)
async def test_read_pages_with_buttons_that_edit_in_place(bot: Harness) -> None:
    user, chat = bot.private()
    first = await bot.say(chat, user, f"/read {LONG_ID}")
    total = len(article_pages(bot.engine.get(LONG_ID)))
    assert total >= 3
    assert f"第 1/{total} 页" in first["text"] and "第1段" in first["text"]
    assert "<好>&方便" in first["text"]  # corpus text escaped, shown literally
    assert keyboard(first) == [(f"1/{total}", "n"), ("下一页 ▶", f"p:{LONG_ID}:1")]

    second = await bot.press(chat, user, first, f"p:{LONG_ID}:1")
    assert len(bot.emu.sent_messages(user["id"])) == 1  # edited in place, no new message
    assert second["message_id"] == first["message_id"]
    assert f"第 2/{total} 页" in second["text"] and "第1段" not in second["text"]
    assert keyboard(second)[0] == ("◀ 上一页", f"p:{LONG_ID}:0")
    assert keyboard(second)[-1] == ("下一页 ▶", f"p:{LONG_ID}:2")

    back = await bot.press(chat, user, second, f"p:{LONG_ID}:0")
    assert back["text"] == first["text"] and keyboard(back) == keyboard(first)

    page = back
    for number in range(1, total):
        page = await bot.press(chat, user, page, f"p:{LONG_ID}:{number}")
        assert f"第 {number + 1}/{total} 页" in page["text"]
    assert "第30段" in page["text"] and keyboard(page)[-1] == (f"{total}/{total}", "n")  # no ▶
    edits = bot.emu.calls_to("editMessageText")
    assert all(c.ok for c in edits) and all(len(c.params["text"]) <= TELEGRAM_LIMIT for c in edits)
    assert len(bot.emu.sent_messages(user["id"])) == 1


async def test_more_results_and_full_text_buttons(bot: Harness) -> None:
    user, chat = bot.private()
    question = "万人助万企都有啥活动"  # three articles answer it
    best_id = bot.engine.answer(question).article.id
    card = await bot.say(chat, user, question)
    [more] = data_of(card, "m:")
    alternatives = more[2:].split(",")
    assert len(alternatives) >= 2 and all(bot.engine.get(i) for i in alternatives)

    updated = await bot.press(chat, user, card, more)
    assert bot.emu.calls_to("editMessageReplyMarkup")[-1].ok
    assert updated["text"] == card["text"]
    assert not data_of(updated, "m:")  # the 更多结果 button is replaced by the results
    assert data_of(updated, "r:") == [f"r:{best_id}"] + [f"r:{i}" for i in alternatives]
    assert len(data_of(updated, "f:")) == 2  # feedback still there
    labels = dict((data, text) for text, data in keyboard(updated))
    for article_id in alternatives:
        assert bot.engine.get(article_id).title[:10] in labels[f"r:{article_id}"]

    opened = await bot.press(chat, user, updated, f"r:{alternatives[0]}", wait_for="sendMessage")
    assert bot.engine.get(alternatives[0]).title in opened["text"].split("\n")[:3]  # below any kicker

    full = await bot.press(chat, user, updated, f"r:{best_id}", wait_for="sendMessage")
    assert bot.engine.get(best_id).title in full["text"].split("\n")[:3]
    assert bot.engine.get(best_id).paragraphs[0][:40] in full["text"]
    assert len(bot.emu.callback_answers) == 3


async def test_feedback_buttons_log_and_thank(bot: Harness) -> None:
    user, chat = bot.private()
    card = await bot.say(chat, user, QUESTION)

    updated = await bot.press(chat, user, card, f"f:1:{QINGHUA_ID}")
    assert "谢谢" in bot.emu.callback_answers[-1]["text"]
    assert bot.store.feedback == [(QINGHUA_ID, QUESTION, True)]
    assert bot.store.feedback_counts() == {"positive": 1, "negative": 0}
    assert not data_of(updated, "f:")  # one vote per card
    assert data_of(updated, "r:") == [f"r:{QINGHUA_ID}"]

    second = await bot.say(chat, user, "金水区科技资金惠及多少家企业")
    [down] = data_of(second, "f:0:")
    await bot.press(chat, user, second, down)
    assert bot.store.feedback[-1] == (down[4:], "金水区科技资金惠及多少家企业", False)
    assert bot.store.feedback_counts() == {"positive": 1, "negative": 1}


async def test_three_quick_taps_on_thumbs_up_log_one_vote(bot: Harness) -> None:
    user, chat = bot.private()
    card = await bot.say(chat, user, QUESTION)
    for _ in range(3):  # before the first tap's edit removes the row
        bot.emu.press_button(chat, user, card["message_id"], f"f:1:{QINGHUA_ID}")
    await bot.emu.wait_for_call("answerCallbackQuery", count=3, ok=True)
    await bot.settle()
    assert bot.store.feedback == [(QINGHUA_ID, QUESTION, True)]
    assert bot.store.feedback_counts() == {"positive": 1, "negative": 0}
    assert all("谢谢" in a["text"] for a in bot.emu.callback_answers)  # each tap is answered
    assert not data_of(bot.emu.get_message(user["id"], card["message_id"]), "f:")


async def test_abstain_is_kind_and_html_in_questions_is_escaped(bot: Harness) -> None:
    question = "<b>x</b>&火星上有外星人吗"
    assert bot.engine.answer(question).status == "abstain", "precondition: an out-of-scope question"
    user, chat = bot.private()
    reply = await bot.say(chat, user, question)
    assert "没有找到" in reply["text"] and "/latest" in reply["text"]
    assert question in reply["text"]  # shown literally ...
    assert not entity_texts(reply, "bold")  # ... not as markup
    assert keyboard(reply) == [("🆕 最新新闻", "l"), ("🗺 按区县浏览", "ds")]
    assert bot.store.questions == [("private", question, False, None)]

    district = await bot.say(chat, user, "/district <b>x</b>&<i>")
    assert "<b>x</b>&<i>" in district["text"] and not entity_texts(district, "italic")
    read = await bot.say(chat, user, "/read <b>")
    assert "<b>" in read["text"] and not entity_texts(read, "bold")

    latest = await bot.press(chat, user, reply, "l", wait_for="sendMessage")
    assert latest["text"].startswith("最新 5 篇新闻")
    districts = await bot.press(chat, user, reply, "ds", wait_for="sendMessage")
    assert districts["text"].startswith("按区县浏览")


async def test_district_names_with_typos_and_browsing(bot: Harness) -> None:
    user, chat = bot.private()
    listing = await bot.say(chat, user, "/district 二七去")
    erqi = [a for a in bot.engine.articles if "二七区" in a.districts]
    assert listing["text"].startswith(f"二七区的新闻（{len(erqi)} 篇）")
    assert set(data_of(listing, "r:")) == {f"r:{a.id}" for a in erqi}
    assert ("↩ 全部区县", "do") in keyboard(listing)

    overview = await bot.press(chat, user, listing, "do")
    assert overview["message_id"] == listing["message_id"]
    assert overview["text"].startswith("按区县浏览")
    assert (f"二七区（{len(erqi)}）", "d:二七区:0") in keyboard(overview)

    zhongyuan = await bot.press(chat, user, overview, "d:中原区:0")
    count = sum("中原区" in a.districts for a in bot.engine.articles)
    assert zhongyuan["text"].startswith(f"中原区的新闻（{count} 篇）")
    assert count > 8 and ("下一页 ▶", "d:中原区:1") in keyboard(zhongyuan)  # a paged list
    page2 = await bot.press(chat, user, zhongyuan, "d:中原区:1")
    assert len(data_of(page2, "r:")) == count - 8 and "第 2/2 页" in page2["text"]
    opened = await bot.press(chat, user, page2, data_of(page2, "r:")[0], wait_for="sendMessage")
    assert "中原区" in opened["text"]

    asked = await bot.say(chat, user, "二七区有什么新闻？")  # browsing, asked as a question
    assert asked["text"] == listing["text"] and keyboard(asked) == keyboard(listing)
    latest = await bot.say(chat, user, "最新新闻")
    assert latest["text"].startswith("最新 5 篇新闻")

    districts = await bot.say(chat, user, "/districts")
    assert len(data_of(districts, "d:")) >= 10
    assert (await bot.say(chat, user, "/district erqi"))["text"].startswith("二七区的新闻")
    unknown = await bot.say(chat, user, "/district 火星区")
    assert "火星区" in unknown["text"] and data_of(unknown, "d:")


async def test_latest_and_about(bot: Harness) -> None:
    user, chat = bot.private()
    three = await bot.say(chat, user, "/latest 3")
    articles = bot.engine.articles  # newest first: by date, then later in the corpus (undated last)
    newest = [articles[i].id for i in sorted(range(len(articles)), key=lambda i: (articles[i].date or "", i))[::-1]]
    assert data_of(three, "r:") == [f"r:{i}" for i in newest[:3]]
    default = await bot.say(chat, user, "/latest")
    assert len(data_of(default, "r:")) == 5  # latest_default
    too_many = await bot.say(chat, user, "/latest 500")
    assert len(data_of(too_many, "r:")) == 20
    about = await bot.say(chat, user, "/about")
    assert f"{len(bot.engine.articles)} 篇新闻" in about["text"]


# --------------------------------------------------------------------------- groups


async def test_group_commands_and_replies_are_answered_quoting_the_asker(bot: Harness) -> None:
    """Privacy mode on (Telegram's default): the bot gets commands for it and replies to it."""
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    alice, bob = bot.user(1, "Alice"), bot.user(2, "Bob")

    emu.send_text(group, alice, "大家好，今天中午吃什么？")  # chatter: never reaches the bot
    card = await bot.say(group, alice, f"/ask {QUESTION}")
    asked = emu.messages(GROUP)[-2]
    assert ANSWER_TEXT in card["text"]
    call = emu.calls_to("sendMessage")[-1]
    assert call.params["reply_parameters"]["message_id"] == asked["message_id"]  # quotes the asker
    assert card["reply_to_message"]["message_id"] == asked["message_id"]

    second = await bot.say(group, bob, f"/ask@{USERNAME} 金水区科技资金惠及多少家企业")
    assert second["reply_to_message"]["text"].endswith("金水区科技资金惠及多少家企业")
    assert "5000万科技资金" in second["text"]

    third = await bot.say(group, alice, "清华附中在哪个区", reply_to_message_id=card["message_id"])
    assert third["reply_to_message"]["text"] == "清华附中在哪个区"
    assert HEADLINE in third["text"]

    emu.send_text(group, bob, "/ask@OtherBot 清华附中")  # another bot's command
    prompt = await bot.say(group, bob, "/ask")
    assert prompt["reply_to_message"]["text"] == "/ask"
    assert emu.calls_to("sendMessage")[-1].params["reply_markup"]["force_reply"] is True
    answer = await bot.say(group, bob, QUESTION, reply_to_message_id=prompt["message_id"])  # the reply
    assert ANSWER_TEXT in answer["text"]
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 5
    assert [q[0] for q in bot.store.questions] == ["supergroup"] * 4


@pytest.mark.parametrize("bot", [{"privacy_mode": False}], indirect=True)
async def test_group_chatter_is_ignored_mentions_are_answered(bot: Harness) -> None:
    """Privacy mode off: the bot sees everything and must pick what is meant for it."""
    emu = bot.emu
    group = emu.group_chat(GROUP, "金水区邻里")
    alice, bob = bot.user(1, "Alice"), bot.user(2, "Bob")

    emu.send_text(group, alice, QUESTION)  # a question, but not to the bot
    other = emu.send_text(group, bob, "今天下雨了")
    emu.send_text(group, alice, "同意", reply_to_message_id=other["message_id"])  # reply to a person
    emu.send_text(group, alice, "@someone_else 清华附中什么时候投入使用")
    emu.send_text(group, alice, "/start@OtherBot")
    emu.send_sticker(group, bob)
    emu.send_photo(group, bob)
    await bot.settle()
    assert emu.sent_messages(GROUP) == []
    assert bot.store.questions == []

    card = await bot.say(group, bob, f"@{USERNAME} {QUESTION}")
    assert card["reply_to_message"]["text"] == f"@{USERNAME} {QUESTION}"
    assert ANSWER_TEXT in card["text"]
    assert bot.store.questions[-1][1] == QUESTION  # the mention is not part of the question

    hint = await bot.say(group, alice, f"@{USERNAME}")
    assert "/ask" in hint["text"]
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 2  # nothing for the chatter, even late


@pytest.mark.parametrize("bot", [{"flood_burst": 3, "flood_rate_per_minute": 1}], indirect=True)
async def test_anonymous_admins_and_channels_each_have_their_own_flood_allowance(bot: Harness) -> None:
    """Telegram sends them all from one placeholder user; the guard keys them by sender_chat."""
    emu = bot.emu
    first, second = emu.group_chat(GROUP, "二七区居民群"), emu.group_chat(GROUP - 1, "金水区居民群")
    channel = {"id": -1009876543210, "title": "金水发布", "type": "channel"}
    for _ in range(6):  # an anonymous admin of the first group floods it
        emu.send_text(first, None, f"/ask {QUESTION}", sender_chat=first)
    await bot.sent_to(GROUP, count=4)
    await bot.settle()
    texts = [m["text"] for m in emu.sent_messages(GROUP)]
    assert sum(HEADLINE in t for t in texts) == 3 and sum("请稍后再试" in t for t in texts) == 1
    assert len(texts) == 4

    card = await bot.say(second, None, f"/ask {QUESTION}", sender_chat=second)  # another group's admin
    assert HEADLINE in card["text"]
    posted = await bot.say(first, None, f"/ask {QUESTION}", sender_chat=channel)  # a channel, in the first group
    assert HEADLINE in posted["text"]
    member = await bot.say(first, bot.user(7, "Alice"), f"/ask {QUESTION}")  # and its ordinary members
    assert HEADLINE in member["text"]
    assert len(bot.store.questions) == 6


async def test_forum_topics_get_answers_in_the_same_topic(bot: Harness) -> None:
    emu = bot.emu
    forum = emu.group_chat(GROUP, "郑东新区论坛", forum=True)
    alice = bot.user(1, "Alice")
    card = await bot.say(forum, alice, f"/ask {QUESTION}", message_thread_id=77)
    assert emu.calls_to("sendMessage")[-1].params["message_thread_id"] == 77
    assert card["message_thread_id"] == 77 and card["is_topic_message"] is True
    assert card["reply_to_message"]["text"] == f"/ask {QUESTION}"

    full = await bot.press(forum, alice, card, f"r:{QINGHUA_ID}", wait_for="sendMessage")
    assert full["message_thread_id"] == 77  # 全文 lands in the topic too
    assert full["text"].startswith(HEADLINE)


async def test_being_added_to_a_group_introduces_the_bot_once(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "惠济区居民")
    admin = bot.user(1, "Admin")
    me = {"id": 123456, "is_bot": True, "first_name": "District News", "username": USERNAME}

    rights = dict.fromkeys(
        (
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ),
        False,
    )

    def member(status: str) -> dict:
        return {"user": me, "status": status, **(rights if status == "administrator" else {})}

    def change(old: str, new: str) -> None:
        emu.push_update(
            "my_chat_member",
            {
                "chat": group,
                "from": admin,
                "date": 1700000000,
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    change("left", "member")
    [hello] = await bot.sent_to(GROUP)
    assert "/ask" in hello["text"] and f"@{USERNAME}" in hello["text"]
    change("member", "administrator")  # promoted: already there, no second hello
    change("administrator", "left")
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 1


@pytest.mark.parametrize("bot", [{"group_cooldown_seconds": 60}], indirect=True)
async def test_group_cooldown_is_per_asker_with_one_notice(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "中原区")
    users = [bot.user(i, f"U{i}") for i in range(1, 5)]
    for user in users:  # four residents ask within seconds: all four are answered
        emu.send_text(group, user, f"/ask {QUESTION}")
    await bot.sent_to(GROUP, count=4)
    emu.send_text(group, users[0], "/ask 金水区科技资金惠及多少家企业")  # the first asks again, too soon
    emu.send_text(group, users[0], "/latest")
    await bot.sent_to(GROUP, count=5)
    await bot.settle()
    texts = [m["text"] for m in emu.sent_messages(GROUP)]
    assert sum(HEADLINE in t for t in texts) == 4
    assert len(texts) == 5 and "秒后再问" in texts[4]  # one notice, then silence
    assert texts[4].startswith("你刚问过")
    assert len(bot.store.questions) == 4


async def test_over_the_groups_budget_answers_wait_their_turn_then_one_notice(bot: Harness) -> None:
    """The group's budget (here 3 a minute) queues an answer briefly rather than refusing it."""
    now, waits = [1000.0], []

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    s = bot.app.bot_data["services"]
    s.budget, s.sleep = GroupBudget(3, 15.0, clock=lambda: now[0]), wait
    emu = bot.emu
    group = emu.group_chat(GROUP, "管城区居民群")
    residents = [bot.user(i, f"U{i}") for i in range(1, 9)]
    for resident in residents[:3]:
        assert HEADLINE in (await bot.say(group, resident, f"/ask {QUESTION}"))["text"]
    assert waits == []
    now[0] += 50
    for resident in residents[3:6]:  # over budget: each waits 10 s for the first turns to free up
        assert HEADLINE in (await bot.say(group, resident, f"/ask {QUESTION}"))["text"]
    assert waits == [10.0] * 3
    busy = await bot.say(group, residents[6], f"/ask {QUESTION}")  # the next turn is 70 s off: refused
    assert busy["text"] == "本群消息有点多，请 70 秒后再试，也可以私聊我。"
    emu.send_text(group, residents[6], f"/ask {QUESTION}")  # told once: then silence
    assert "秒后再试" in (await bot.say(group, residents[7], f"/ask {QUESTION}"))["text"]
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 8 and len(bot.store.questions) == 6
    assert waits == [10.0] * 3


@pytest.mark.parametrize("bot", [shipped_limits()], indirect=True)
async def test_thirty_quick_full_text_taps_post_one_article_and_others_are_answered_promptly(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    alice, bob, carol = bot.user(1, "Alice"), bot.user(2, "Bob"), bot.user(3, "Carol")
    card = await bot.say(group, alice, f"/ask {QUESTION}")
    mark = emu.mark()
    for _ in range(30):
        emu.press_button(group, alice, card["message_id"], f"r:{QINGHUA_ID}")
    asked = emu.send_text(group, bob, "/ask 金水区科技资金惠及多少家企业")
    answer = await emu.wait_for_call(  # promptly: not queued behind Alice's taps
        "sendMessage", lambda p: "5000万科技资金" in p["text"], since=mark, ok=True, timeout=3.0
    )
    assert answer.response["result"]["reply_to_message"]["message_id"] == asked["message_id"]
    await bot.settle()
    posted = emu.sent_messages(GROUP)
    assert len(posted) == 3  # the card, the article once, Bob's answer
    assert posted[1]["text"].startswith(HEADLINE) and not data_of(posted[1], "f:")  # the article
    answers = [a.get("text") for a in emu.callback_answers]
    # Alice's burst of eight: her /ask, the tap that posted, six 「刚刚已发过」; then one flood alert
    assert answers.count(views.ALREADY_POSTED) == 6
    assert sum("请稍后再试" in (t or "") for t in answers) == 1
    assert len(answers) == 8  # and silence for the other 22 taps

    await bot.press(group, carol, card, f"r:{QINGHUA_ID}")  # someone else, a moment later: the same
    assert emu.callback_answers[-1]["text"] == views.ALREADY_POSTED
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 3


@pytest.mark.parametrize("bot", [{"group_messages_per_minute": 1, "group_queue_seconds": 0}], indirect=True)
async def test_a_vote_in_a_group_over_budget_still_counts_and_thanks(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    alice = bot.user(1, "Alice")
    card = await bot.say(group, alice, f"/ask {QUESTION}")  # the group's one turn this minute
    await bot.press(group, alice, card, f"r:{QINGHUA_ID}")
    assert emu.callback_answers[-1]["text"].startswith("本群消息有点多")  # 全文 must wait: told so
    unchanged = await bot.press(group, alice, card, f"f:1:{QINGHUA_ID}")
    assert "谢谢" in emu.callback_answers[-1]["text"]
    assert bot.store.feedback == [(QINGHUA_ID, QUESTION, True)]
    assert data_of(unchanged, "f:")  # the row stays until there is a turn to edit it
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 1


@pytest.mark.parametrize("bot", [shipped_limits()], indirect=True)
async def test_list_buttons_in_a_group_do_not_post_the_same_list_twice(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    alice, bob = bot.user(1, "Alice"), bot.user(2, "Bob")
    nothing = await bot.say(group, alice, "/ask 火星上有外星人吗")
    assert keyboard(nothing) == [("🆕 最新新闻", "l"), ("🗺 按区县浏览", "ds")]
    latest = await bot.press(group, alice, nothing, "l", wait_for="sendMessage")
    assert latest["text"].startswith("最新 5 篇新闻")
    await bot.press(group, bob, nothing, "l")
    assert emu.callback_answers[-1]["text"] == views.ALREADY_POSTED
    districts = await bot.press(group, bob, nothing, "ds", wait_for="sendMessage")  # another list: posted
    erqi = await bot.press(group, alice, districts, "d:二七区:0", wait_for="editMessageText")  # edits in place
    assert erqi["text"].startswith("二七区的新闻")
    await bot.settle()
    assert len(emu.sent_messages(GROUP)) == 3


@pytest.mark.parametrize("bot", [{**shipped_limits(), "privacy_mode": False}], indirect=True)
async def test_a_second_residents_mention_within_seconds_is_answered(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    alice, bob = bot.user(1, "Alice"), bot.user(2, "Bob")
    first = await bot.say(group, alice, f"/ask {QUESTION}")
    assert ANSWER_TEXT in first["text"]
    second = await bot.say(group, bob, f"@{USERNAME} 金水区科技资金惠及多少家企业")
    assert "5000万科技资金" in second["text"]
    assert second["reply_to_message"]["from"]["id"] == bob["id"]


@pytest.mark.parametrize("bot", [shipped_limits()], indirect=True)
async def test_a_bare_ask_in_a_group_then_the_reply_is_answered_within_the_cooldown(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    bob = bot.user(2, "Bob")
    prompt = await bot.say(group, bob, "/ask")
    assert emu.calls_to("sendMessage")[-1].params["reply_markup"]["force_reply"] is True
    answer = await bot.say(group, bob, QUESTION, reply_to_message_id=prompt["message_id"])
    assert ANSWER_TEXT in answer["text"]  # the prompt asked for this reply: no 「秒后再问」
    again = await bot.say(group, bob, "/ask 金水区科技资金惠及多少家企业")
    assert "秒后再问" in again["text"]  # but an answer does start Bob's cooldown


# --------------------------------------------------------------------------- inline mode


async def test_inline_query_offers_articles_and_always_answers(bot: Harness) -> None:
    user = bot.user()
    query_id = bot.emu.inline_query(user, "清华附中")
    call = await bot.emu.wait_for_call("answerInlineQuery", ok=True)
    params = call.params
    assert params["inline_query_id"] == query_id
    assert params["cache_time"] == 7
    first = params["results"][0]
    assert first["type"] == "article" and first["id"] == QINGHUA_ID
    assert "清华附中" in first["title"]
    snippet = bot.engine.answer("清华附中").snippet.text
    assert first["description"][:40] == snippet[:40] and "清华" in first["description"]  # the snippet
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML" and HEADLINE in content["message_text"]
    assert content["link_preview_options"] == {"is_disabled": True}
    assert "button" not in params

    bot.emu.inline_query(user, "比特币价格是多少 xyzzy")
    call = await bot.emu.wait_for_call("answerInlineQuery", count=2, ok=True)
    nothing = call[1].params
    assert nothing["results"] == []
    assert nothing["button"]["start_parameter"] == "help" and nothing["button"]["text"]

    bot.emu.inline_query(user, "")
    call = await bot.emu.wait_for_call("answerInlineQuery", count=3, ok=True)
    assert len(call[2].params["results"]) == 10  # empty query: the latest articles


# --------------------------------------------------------------------------- limits and faults


@pytest.mark.parametrize("bot", [shipped_limits()], indirect=True)
async def test_eight_quick_menu_taps_in_a_private_chat_are_not_a_flood(bot: Harness) -> None:
    user, chat = bot.private()
    assert "郑州区县新闻助手" in (await bot.say(chat, user, "/start"))["text"]
    assert ANSWER_TEXT in (await bot.say(chat, user, QUESTION))["text"]
    assert (await bot.say(chat, user, "/latest"))["text"].startswith("最新 5 篇新闻")
    districts = await bot.say(chat, user, "/districts")
    erqi = await bot.press(chat, user, districts, "d:二七区:0", wait_for="editMessageText")
    assert erqi["text"].startswith("二七区的新闻")
    article = await bot.press(chat, user, erqi, data_of(erqi, "r:")[0], wait_for="sendMessage")
    assert "二七区" in article["text"]
    assert (await bot.say(chat, user, "/district 金水区"))["text"].startswith("金水区的新闻")
    assert "5000万科技资金" in (await bot.say(chat, user, "金水区科技资金惠及多少家企业"))["text"]
    await bot.settle()
    assert not any("请稍后再试" in m["text"] for m in bot.emu.sent_messages(user["id"]))
    assert not any("请稍后再试" in (a.get("text") or "") for a in bot.emu.callback_answers)


@pytest.mark.parametrize("bot", [{"flood_burst": 3, "flood_rate_per_minute": 1}], indirect=True)
async def test_button_presses_draw_from_the_same_bucket_as_messages(bot: Harness) -> None:
    emu = bot.emu
    user, chat = bot.private()
    await bot.say(chat, user, "/start")
    districts = await bot.say(chat, user, "/districts")
    await bot.press(chat, user, districts, "d:二七区:0", wait_for="editMessageText")  # the third: fine
    mark = emu.mark()
    emu.press_button(chat, user, districts["message_id"], "do")  # the fourth: one alert, no edit
    call = await emu.wait_for_call("answerCallbackQuery", since=mark, ok=True)
    assert "请稍后再试" in call.params["text"] and call.params["show_alert"] is True
    emu.press_button(chat, user, districts["message_id"], "do", check_markup=False)
    emu.send_text(chat, user, QUESTION)  # told in this chat already: silence
    await bot.settle()
    assert len(emu.calls_to("answerCallbackQuery")) == 2  # the fifth press is not even answered
    assert len(emu.calls_to("editMessageText")) == 1
    assert len(emu.sent_messages(user["id"])) == 2

    other, other_chat = bot.private(5151)  # other residents' presses are not affected
    card = await bot.say(other_chat, other, QUESTION)
    full = await bot.press(other_chat, other, card, f"r:{QINGHUA_ID}", wait_for="sendMessage")
    assert full["text"].startswith(HEADLINE)


@pytest.mark.parametrize("bot", [shipped_limits()], indirect=True)
async def test_a_sustained_flood_gets_one_notice_then_silence_until_the_bucket_refills(bot: Harness) -> None:
    now = [1000.0]
    bot.app.bot_data["services"].flood = FloodGuard(*bot.config.telegram.flood_bucket(), clock=lambda: now[0])
    user, chat = bot.private()
    for _ in range(20):
        bot.emu.send_text(chat, user, QUESTION)
    await bot.sent_to(user["id"], count=9)
    await bot.settle()  # and nothing after those nine
    texts = [m["text"] for m in bot.emu.sent_messages(user["id"])]
    assert sum(HEADLINE in t for t in texts) == 8  # the burst
    assert sum("请稍后再试" in t for t in texts) == 1
    assert len(texts) == 9
    other, other_chat = bot.private(5151)  # other residents are not affected
    bot.emu.send_text(other_chat, other, QUESTION)
    await bot.sent_to(other["id"])

    now[0] += 12  # half refilled: still silent, no second notice
    for _ in range(3):
        bot.emu.send_text(chat, user, QUESTION)
    await bot.settle()
    assert len(bot.emu.sent_messages(user["id"])) == 9
    now[0] += 12.5  # full again
    bot.emu.send_text(chat, user, QUESTION)
    await bot.settle()
    assert HEADLINE in bot.emu.sent_messages(user["id"])[-1]["text"]
    assert len(bot.emu.sent_messages(user["id"])) == 10


@pytest.mark.parametrize("bot", [{"flood_burst": 3, "flood_rate_per_minute": 1}], indirect=True)
async def test_flooded_in_a_group_the_user_is_told_in_private_too_once(bot: Harness) -> None:
    emu = bot.emu
    group = emu.group_chat(GROUP, "二七区居民群")
    user, chat = bot.private()
    for _ in range(6):
        emu.send_text(group, user, f"/ask {QUESTION}")
    await bot.sent_to(GROUP, count=4)
    await bot.settle()
    assert sum("请稍后再试" in m["text"] for m in emu.sent_messages(GROUP)) == 1

    notice = await bot.say(chat, user, QUESTION)  # ignored in private now, so told in private
    assert "请稍后再试" in notice["text"]
    for _ in range(3):
        emu.send_text(chat, user, QUESTION)
    await bot.settle()
    assert len(emu.sent_messages(user["id"])) == 1  # once, then silence
    assert len(emu.sent_messages(GROUP)) == 4


async def test_retry_after_then_bad_gateway_then_success_answers_exactly_once(bot: Harness) -> None:
    bot.app.bot.rate_limiter.backoff = 0.05
    user, chat = bot.private()
    bot.emu.fail_next("sendMessage", Fault.retry_after(1), Fault.server_error(502))
    card = await bot.say(chat, user, QUESTION)
    assert ANSWER_TEXT in card["text"]
    await bot.settle()
    assert [c.status for c in bot.emu.calls_to("sendMessage")] == [429, 502, 200]
    assert len(bot.emu.sent_messages(user["id"])) == 1
    assert len(bot.store.questions) == 1


async def test_persistent_server_errors_are_not_fatal(bot: Harness) -> None:
    bot.app.bot.rate_limiter.backoff = 0.01
    user, chat = bot.private()
    bot.emu.fail_next("sendMessage", *[Fault.server_error(503)] * 4)  # one try + all three retries
    sorry = await bot.say(chat, user, QUESTION)
    assert [c.status for c in bot.emu.calls_to("sendMessage")] == [503] * 4 + [200]
    assert "出了点问题" in sorry["text"] and "503" not in sorry["text"]
    card = await bot.say(chat, user, QUESTION)  # and the bot lives on
    assert ANSWER_TEXT in card["text"]


async def test_errors_reach_the_user_without_internals(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(question: str) -> None:
        raise RuntimeError("index file /srv/secret.seg is corrupt")

    monkeypatch.setattr(bot.engine, "answer", broken)
    user, chat = bot.private()
    sorry = await bot.say(chat, user, QUESTION)
    assert "出了点问题" in sorry["text"]
    assert "secret" not in sorry["text"] and "RuntimeError" not in sorry["text"]
    monkeypatch.undo()
    card = await bot.say(chat, user, QUESTION)
    assert ANSWER_TEXT in card["text"]


async def test_rejected_markup_falls_back_to_plain_text(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.telegram import views

    monkeypatch.setattr(views, "answer_message", lambda answer, link, truncated=False: "<b>清华附中 &amp; 投入使用")
    user, chat = bot.private()
    reply = await bot.say(chat, user, QUESTION)
    assert reply["text"] == "清华附中 & 投入使用"
    assert [c.status for c in bot.emu.calls_to("sendMessage")] == [400, 200]
    assert data_of(reply, "r:") == [f"r:{QINGHUA_ID}"]  # the buttons survive


async def test_stickers_photos_empty_edited_and_long_messages(bot: Harness) -> None:
    emu = bot.emu
    user, chat = bot.private()

    async def next_reply(send: Any) -> dict:
        mark = emu.mark()
        send()
        [reply] = await bot.sent_to(user["id"], since=mark)
        return reply

    sticker = await next_reply(lambda: emu.send_sticker(chat, user))
    photo = await next_reply(lambda: emu.send_photo(chat, user))
    assert "文字" in sticker["text"] and "文字" in photo["text"]
    card = await next_reply(lambda: emu.send_photo(chat, user, caption=QUESTION))  # a caption is a question
    assert ANSWER_TEXT in card["text"]

    assert "请发一个问题" in (await bot.say(chat, user, "？？？"))["text"]
    assert "/ask 后面" in (await bot.say(chat, user, "/ask"))["text"]
    assert "/help" in (await bot.say(chat, user, "/nosuchcommand"))["text"]
    assert "你好" in (await bot.say(chat, user, "你好"))["text"]
    assert [q[1] for q in bot.store.questions] == [QUESTION]  # greetings and blanks are not questions

    sent = len(emu.sent_messages(user["id"]))
    emu.send_text(chat, user, "清华附中什么时候投入使用？？", edited=True)  # edits are ignored
    await bot.settle()
    assert len(emu.sent_messages(user["id"])) == sent

    long_question = QUESTION + "，" + "我想知道具体的情况和安排。" * 300  # ~3900 characters
    long_answer = await bot.say(chat, user, long_question)
    assert ANSWER_TEXT in long_answer["text"] and "问题较长" in long_answer["text"]
    logged = bot.store.questions[-1][1]
    assert len(logged) == 300 and logged.startswith(QUESTION)


async def test_command_menus_are_set_per_scope(bot: Harness) -> None:
    commands = {
        scope: [c["command"] for c in bot.emu.commands_for(scope)]
        for scope in ("all_private_chats", "all_group_chats", "all_chat_administrators", "default")
    }
    assert {"start", "help", "ask", "latest", "districts", "district", "read", "about"} <= set(
        commands["all_private_chats"]
    )
    assert commands["all_group_chats"][0] == "ask" and "read" not in commands["all_group_chats"]
    assert set(commands["all_group_chats"]) <= set(commands["all_chat_administrators"])
    for scope in commands:
        for command in bot.emu.commands_for(scope):
            assert any("\u4e00" <= ch <= "\u9fff" for ch in command["description"])  # Chinese
    extra = {name for name, _ in bot.app.bot_data["services"].extra_commands}  # /subscribe … if present
    if importlib.util.find_spec("bot.telegram.subscriptions") is not None:
        assert "subscribe" in extra
    assert extra <= set(commands["all_private_chats"]) and extra <= set(commands["all_chat_administrators"])
    assert not extra & set(commands["all_group_chats"])
    assert bot.emu.descriptions[("description", "")].startswith("郑州区县新闻助手")


# --------------------------------------------------------------------------- webhook and run_bot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_mode_checks_the_secret_and_answers(engine: Library) -> None:
    config = make_config()
    async with BotApiEmulator(bot_username=USERNAME) as emu:
        app = build_application(config, engine, base_url=emu.base_url, store=None, token=emu.token)
        port = free_port()
        url = f"http://127.0.0.1:{port}/hook-path"
        await app.initialize()
        try:
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="hook-path",
                webhook_url=url,
                secret_token="s3cret_Token-1",
                allowed_updates=Update.ALL_TYPES,
            )
            await app.start()
            assert emu.webhook["url"] == url and emu.webhook["secret_token"] == "s3cret_Token-1"
            user = emu.user(4242, "小王")
            emu.private_chat(user)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1700000000,
                    "chat": {"id": 4242, "type": "private", "first_name": "小王"},
                    "from": user,
                    "text": QUESTION,
                },
            }
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                ) as response:
                    assert response.status == 403
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_Token-1"}
                ) as response:
                    assert response.status == 200
            call = await emu.wait_for_call("sendMessage", ok=True)
            assert ANSWER_TEXT in call.response["result"]["text"]
            await emu.wait_idle(quiet=0.2)
            assert len(emu.calls_to("sendMessage")) == 1  # the forged update was dropped
        finally:
            await stop_application(app)


async def _post_update(url: str, update: dict, secret: str) -> int:
    """POST an update like Telegram does (the server may still be starting: retry briefly)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            try:
                async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as r:
                    return r.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens on {url}")


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_python_m_bot_run_answers_and_never_logs_the_token(tmp_path: Path, mode: str) -> None:
    """The deployed entry point, `python -m bot run`, in a subprocess: config from a file, token
    and API base URL from the environment; SIGINT stops it cleanly."""
    token = "987654:SECRET-never-in-logs"
    port = free_port()
    telegram: dict[str, Any] = {"watch_corpus_seconds": 0, "group_cooldown_seconds": 0}
    if mode == "webhook":  # no secret configured: the bot makes one up
        telegram["webhook"] = {
            "url": f"http://127.0.0.1:{port}",
            "listen": "127.0.0.1",
            "port": port,
            "path": "hook-7f3a",
        }
    settings = tmp_path / "bot.yaml"
    settings.write_text(
        json.dumps(
            {
                "corpus": str(ROOT / "seeds"),
                "cache_dir": str(tmp_path / "cache"),
                "state_db": str(tmp_path / "state" / "bot.sqlite3"),
                "telegram": telegram,
            }
        ),
        encoding="utf-8",
    )
    async with BotApiEmulator(bot_username=USERNAME, token=token) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PORT"))}
        env.update(
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_API_BASE_URL=emu.base_url,
            DISTRICT_NEWS_CONFIG=str(settings),
            PYTHONUNBUFFERED="1",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "-v",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        secrets_ = [token]
        try:
            user = emu.user(4242, "小王")
            chat = emu.private_chat(user)
            if mode == "polling":
                await emu.wait_for_call("deleteWebhook", timeout=30)  # then it starts polling
                emu.send_text(chat, user, QUESTION)
            else:
                call = await emu.wait_for_call("setWebhook", timeout=30)
                secret = call.params["secret_token"]
                assert call.params["url"] == f"http://127.0.0.1:{port}/hook-7f3a" and len(secret) >= 32
                assert (
                    "message" in call.params["allowed_updates"] and "callback_query" in call.params["allowed_updates"]
                )
                update = {
                    "update_id": 1,
                    "message": {"message_id": 1, "date": 1700000000, "chat": chat, "from": user, "text": QUESTION},
                }
                url = f"http://127.0.0.1:{port}/hook-7f3a"
                assert await _post_update(url, update, "not-the-secret") == 403
                assert await _post_update(url, update, secret) == 200
                secrets_ = [token, secret, "hook-7f3a"]  # the path is as secret (README: unguessable)
            call = await emu.wait_for_call("sendMessage", ok=True, timeout=10)
            assert ANSWER_TEXT in call.response["result"]["text"]
            assert f"https://t.me/{USERNAME}?start={QINGHUA_ID}" in call.params["text"]
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(process.communicate(), timeout=20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()
    assert len(emu.calls_to("sendMessage")) == 1
    log = out.decode() + err.decode()
    assert "Application started" in log  # -v: it logged plenty ...
    assert all(secret not in log for secret in secrets_)  # ... but never the token, webhook secret or path
    if mode == "webhook":
        assert "setWebhook" in log and "<secret>" in log  # PTB did log setWebhook's parameters, redacted
    assert "SECRET-never" not in log
    assert (tmp_path / "state" / "bot.sqlite3").exists()
