"""Unit tests of the Telegram front end's pure parts: guards, addressing filters, callback data,
keyboards, message builders, and the app's small helpers (no network, no Application run)."""

from __future__ import annotations

import datetime as dtm
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Chat, Message, MessageEntity, User
from telegram.ext import Application, ApplicationBuilder

from bot.article import Article
from bot.cli import open_library
from bot.config import Config, ConfigError, TelegramSettings, load_config
from bot.intent import Act, classify
from bot.library import Catalog, Library
from bot.render import TELEGRAM_LIMIT
from bot.reply import Listing
from bot.store import Store
from bot.telegram import keyboards, views
from bot.telegram.app import _file_url, _Redact, build_application, protect_logs, run_bot, webhook_url
from bot.telegram.context import BotData
from bot.telegram.guards import (
    PRUNE_AT,
    Cooldown,
    FloodGuard,
    GroupBudget,
    Once,
    RecentPosts,
    Verdict,
    addressed_to_bot,
    command_for_bot,
    mentions_bot,
    replies_to_bot,
    sender_key,
    strip_mentions,
)
from bot.telegram.handlers import flood_gate
from bot.telegram.notices import render_article_list
from bot.telegram.subscriptions import register

BOT = SimpleNamespace(id=123456, username="DistrictNewsBot")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    config = Config()
    config.cache_dir = tmp_path_factory.mktemp("tg-unit-cache")
    return open_library(config, quiet=True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- guards


def test_flood_guard_a_burst_is_fine_then_one_notice_and_silence_until_the_bucket_refills() -> None:
    clock = Clock()
    guard = FloodGuard(8, 20.0, clock=clock)  # 8 at once, one more every 3 s
    verdicts = [guard.check(1) for _ in range(20)]
    assert verdicts[:8] == [Verdict.OK] * 8
    assert verdicts[8] is Verdict.NOTIFY
    assert set(verdicts[9:]) == {Verdict.DROP}
    assert guard.check(2) is Verdict.OK  # other users are unaffected
    clock.now += 23.9  # refilling: still silent, though a token or more is back
    assert guard.check(1) is Verdict.DROP
    clock.now += 0.2  # full again (8 tokens take 24 s)
    assert [guard.check(1) for _ in range(8)] == [Verdict.OK] * 8  # a clean slate
    assert guard.check(1) is Verdict.NOTIFY


def test_flood_notice_once_in_each_chat_where_the_sender_is_ignored() -> None:
    clock = Clock()
    guard = FloodGuard(2, 20.0, clock=clock)
    group, private = -100, 1
    assert [guard.check(1, group) for _ in range(4)] == [Verdict.OK, Verdict.OK, Verdict.NOTIFY, Verdict.DROP]
    assert guard.check(1, private) is Verdict.NOTIFY  # ignored in private too: told there, once
    assert guard.check(1, private) is Verdict.DROP
    assert guard.check(1, group) is Verdict.DROP
    clock.now += 6.0  # full again: a new block is a new round of notices
    assert [guard.check(1, private) for _ in range(3)] == [Verdict.OK, Verdict.OK, Verdict.NOTIFY]
    assert guard.check(1, group) is Verdict.NOTIFY


def test_flood_guard_sustained_use_at_the_refill_rate_is_never_a_flood() -> None:
    clock = Clock()
    guard = FloodGuard(3, 20.0, clock=clock)
    assert [guard.check(7) for _ in range(3)] == [Verdict.OK] * 3
    for _ in range(50):  # then one every 3 s, forever
        clock.now += 3.0
        assert guard.check(7) is Verdict.OK
    assert guard.check(7) is Verdict.NOTIFY  # one more at once is too many
    assert FloodGuard(0, 20.0).check(7) is Verdict.OK  # 0 turns it off
    assert all(FloodGuard(5, 0).check(7) is Verdict.OK for _ in range(20))


def test_flood_guard_forgets_settled_senders() -> None:
    clock = Clock()
    guard = FloodGuard(2, 60.0, clock=clock)
    for key in range(PRUNE_AT):
        guard.check(key)
    clock.now += 2.0  # everyone's bucket is full again
    guard.check("new")
    assert len(guard._buckets) == 1


def test_flood_settings_new_keys_old_keys_and_both(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def loaded(yaml_text: str) -> tuple[int, float]:
        path = tmp_path / "bot.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        return load_config(path).telegram.flood_bucket()

    assert TelegramSettings().flood_bucket() == (8, 20.0)
    assert loaded("telegram:\n  flood_burst: 4\n  flood_rate_per_minute: 6\n") == (4, 6.0)
    assert loaded("telegram:\n  flood_max_messages: 5\n  flood_window_seconds: 10\n") == (5, 30.0)  # same rate
    assert loaded("telegram:\n  flood_max_messages: 0\n") == (0, 0.0)  # 0 still turns it off
    with caplog.at_level(logging.WARNING):
        assert loaded("telegram:\n  flood_burst: 6\n  flood_max_messages: 5\n") == (6, 20.0)
    assert "flood_max_messages" in caplog.text
    with pytest.raises(ConfigError, match="flood_window_seconds"):
        loaded("telegram:\n  flood_window_seconds: soon\n")
    assert TelegramSettings(flood_max_messages=1000).flood_bucket() == (1000, 6000.0)  # in code, too
    assert load_config(ROOT / "config" / "bot.yaml").telegram.flood_bucket() == (8, 20.0)  # the shipped file


def test_group_cooldown_is_per_asker_with_one_notice_a_period() -> None:
    clock = Clock()
    cooldown = Cooldown(20.0, clock=clock)
    alice, bob = (-100, 1), (-100, 2)
    assert cooldown.check(alice) is Verdict.OK
    cooldown.arm(alice)  # Alice was answered
    clock.now += 5
    assert cooldown.check(bob) is Verdict.OK  # another resident of the same group is not held up
    cooldown.arm(bob)
    assert cooldown.check(alice) is Verdict.NOTIFY
    assert cooldown.remaining(alice) == 15
    assert cooldown.check(alice) is Verdict.DROP
    assert cooldown.check((-200, 1)) is Verdict.OK  # Alice in another group
    clock.now += 15
    assert cooldown.check(alice) is Verdict.OK
    assert cooldown.check(alice) is Verdict.OK  # checking does not start a cooldown ...
    cooldown.arm(alice)  # ... an answer does
    clock.now += 1
    assert cooldown.check(alice) is Verdict.NOTIFY  # a new period gets its own notice
    assert all(Cooldown(0).check(alice) is Verdict.OK for _ in range(5))


def test_group_budget_queues_briefly_then_refuses_with_one_notice_per_asker() -> None:
    clock = Clock()
    budget = GroupBudget(3, 15.0, clock=clock, period=60.0)
    group = -100
    assert [budget.book(group, asker) for asker in (1, 2, 3)] == [(Verdict.OK, 0.0)] * 3
    assert budget.book(-200, 1) == (Verdict.OK, 0.0)  # per group
    clock.now += 50
    assert budget.book(group, 4) == (Verdict.OK, 10.0)  # queued for the first turn to free up
    assert budget.book(group, 5) == (Verdict.OK, 10.0)
    assert budget.book(group, 6) == (Verdict.OK, 10.0)
    assert budget.book(group, 7) == (Verdict.NOTIFY, 70.0)  # too far off: refused, told once
    assert budget.book(group, 7) == (Verdict.DROP, 70.0)
    assert budget.book(group, 8)[0] is Verdict.NOTIFY  # another asker is told too
    clock.now += 70  # the turns at 60 s have left the window
    assert budget.book(group, 7) == (Verdict.OK, 0.0)


def test_group_budget_keeps_any_minute_under_the_limit_and_no_asker_takes_more_than_half() -> None:
    clock = Clock()
    budget = GroupBudget(18, 15.0, clock=clock)
    assert budget.share == 9
    booked: list[float] = []
    for step in range(600):  # ten minutes of someone asking every second, four askers taking turns
        verdict, wait = budget.book(-100, step % 4)
        if verdict is Verdict.OK:
            booked.append(clock.now + wait)
            assert wait <= 15.0
        clock.now += 1.0
    assert len(booked) >= 18 * 9  # the budget is used ...
    assert all(sum(t <= at < t + 60 for at in booked) <= 18 for t in booked)  # ... never over it
    alone = GroupBudget(18, 15.0, clock=clock)
    assert [alone.book(-100, 1)[0] for _ in range(10)] == [Verdict.OK] * 9 + [Verdict.NOTIFY]
    assert alone.book(-100, 2) == (Verdict.OK, 0.0)  # the others still have their turns
    assert all(GroupBudget(0, 15.0).book(-100, 1) == (Verdict.OK, 0.0) for _ in range(50))


def test_recent_posts_remember_what_went_out_for_a_while() -> None:
    clock = Clock()
    recent = RecentPosts(60.0, clock=clock)
    assert not recent.seen((-100, ("read", "a1")))
    recent.note((-100, ("read", "a1")))
    clock.now += 59
    assert recent.seen((-100, ("read", "a1")))
    assert not recent.seen((-100, ("read", "a2"))) and not recent.seen((-200, ("read", "a1")))
    clock.now += 1
    assert not recent.seen((-100, ("read", "a1")))
    off = RecentPosts(0, clock=clock)
    off.note("latest")
    assert not off.seen("latest")


def test_once_is_true_the_first_time_only_and_forgets_the_oldest() -> None:
    once = Once(limit=3)
    assert once.first((10, 1)) and not once.first((10, 1))
    assert once.first((10, 2)) and once.first((11, 1))  # another user, another card
    assert once.first((12, 1))  # a fourth key: the oldest is forgotten
    assert once.first((10, 1))


# --------------------------------------------------------------------------- addressing filters


def message(
    text: str,
    chat_type: str = Chat.SUPERGROUP,
    *,
    entities: list[MessageEntity] | None = None,
    reply_from: User | None = None,
    via_bot: User | None = None,
) -> Message:
    chat = Chat(-1001, chat_type)
    user = User(1, "Alice", False)
    reply = Message(1, dtm.datetime.now(dtm.UTC), chat, from_user=reply_from, text="earlier") if reply_from else None
    if entities is None:
        entities = []
        if text.startswith("/"):
            entities.append(MessageEntity(MessageEntity.BOT_COMMAND, 0, len(text.split()[0])))
        for word in text.split():
            if word.startswith("@"):
                entities.append(MessageEntity(MessageEntity.MENTION, text.index(word), len(word)))
    msg = Message(
        2,
        dtm.datetime.now(dtm.UTC),
        chat,
        from_user=user,
        text=text,
        entities=entities,
        reply_to_message=reply,
        via_bot=via_bot,
    )
    msg.set_bot(BOT)  # the filters ask the message for the bot's id and username
    return msg


def test_group_messages_are_addressed_only_by_command_mention_or_reply() -> None:
    me = User(BOT.id, "District News", True, username=BOT.username)
    someone = User(2, "Bob", False)
    assert addressed_to_bot(message("/ask 清华附中"))
    assert addressed_to_bot(message("/ask@DistrictNewsBot 清华附中"))
    assert addressed_to_bot(message("/ask@districtnewsbot 清华附中"))  # usernames ignore case
    assert not addressed_to_bot(message("/ask@OtherBot 清华附中"))
    assert addressed_to_bot(message("@DistrictNewsBot 清华附中什么时候投入使用"))
    assert not addressed_to_bot(message("@someone 清华附中什么时候投入使用"))
    assert addressed_to_bot(message("在哪个区", reply_from=me))
    assert not addressed_to_bot(message("同意", reply_from=someone))
    assert not addressed_to_bot(message("清华附中什么时候投入使用"))
    assert addressed_to_bot(message("清华附中", Chat.PRIVATE))
    assert not addressed_to_bot(message("清华附中", Chat.PRIVATE, via_bot=me))  # our own inline card
    assert not addressed_to_bot(message("/ask 清华附中", Chat.CHANNEL))
    mention = MessageEntity(MessageEntity.TEXT_MENTION, 0, 4, user=me)
    assert mentions_bot(message("新闻助手 清华附中", entities=[mention]))
    assert not command_for_bot(message("请看 /ask"))  # a command must open the message
    assert not replies_to_bot(message("hi"))


def test_limits_count_a_message_against_the_chat_it_was_sent_for_else_the_user() -> None:
    group = Chat(-1001, Chat.SUPERGROUP)
    anonymous = User(1087968824, "Group", True, username="GroupAnonymousBot")
    channel_bot = User(136817688, "Channel", True, username="Channel_Bot")
    now = dtm.datetime.now(dtm.UTC)
    assert sender_key(message("/ask 问题")) == 1  # a user: their id
    assert sender_key(Message(3, now, group, from_user=anonymous, sender_chat=group, text="/ask")) == -1001
    other_group = Chat(-1002, Chat.SUPERGROUP)
    assert sender_key(Message(3, now, other_group, from_user=anonymous, sender_chat=other_group)) == -1002
    channel = Chat(-1003, Chat.CHANNEL)
    assert sender_key(Message(4, now, group, from_user=channel_bot, sender_chat=channel, text="/ask")) == -1003
    assert sender_key(Message(5, now, channel, sender_chat=channel)) == -1003  # a channel post: no from
    assert sender_key(Message(6, now, group)) is None


def test_mentions_are_removed_from_the_question() -> None:
    assert strip_mentions(message("@DistrictNewsBot 清华附中什么时候投入使用")) == "清华附中什么时候投入使用"
    assert strip_mentions(message("清华附中 @DistrictNewsBot 什么时候投入使用")) == "清华附中 什么时候投入使用"
    assert strip_mentions(message("@someone 你好")) == "@someone 你好"  # other people's names stay


# --------------------------------------------------------------------------- browsing questions


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("二七区有什么新闻", ("district", "二七区")),
        ("金水最近有啥新闻", ("district", "金水区")),
        ("二七去有什么新闻？", ("district", "二七区")),  # a typo
        ("erqi news", ("district", "二七区")),  # pinyin
        ("航空港区有哪些消息", ("district", "航空港区")),
        ("最新新闻", ("latest", None)),
        ("有什么新闻", ("latest", None)),
        ("樱桃沟有什么新闻", ("topic", None)),  # a place inside a district: news about it, not the district's
        ("二七区老旧小区改造有什么新闻", ("topic", "二七区")),  # a topic within a district
        ("火星有什么新闻", ("topic", None)),  # a topic nothing is about: an empty list
        ("清华附中什么时候投入使用", None),
    ],
)
def test_browse_intent(library: Library, question: str, intent: tuple | None) -> None:
    found = classify(question, library.engine.analyzer)
    if intent is None:
        assert found.act is Act.QUESTION
    else:
        assert (found.act.value, found.district) == intent


# --------------------------------------------------------------------------- callback data and keyboards


def test_callback_data_round_trips() -> None:
    assert keyboards.parse("r:a266052e1124") == keyboards.Action("read", article_id="a266052e1124")
    assert keyboards.parse("p:a266052e1124:3") == keyboards.Action("page", article_id="a266052e1124", number=3)
    assert keyboards.parse("m:a1,b2,c3").ids == ("a1", "b2", "c3")
    assert keyboards.parse("f:1:a1") == keyboards.Action("feedback", article_id="a1", positive=True)
    assert keyboards.parse("f:0:a1").positive is False
    assert keyboards.parse("d:二七区:2") == keyboards.Action("district", district="二七区", number=2)
    within = keyboards.Action("district", district="二七区", when="2020年", number=1)
    assert keyboards.parse("d:二七区|2020年:1") == within  # a district's list limited to some days
    assert keyboards.parse("w:2020年3月:2") == keyboards.Action("when", when="2020年3月", number=2)
    assert keyboards.parse("t:二七区|老旧小区改造:1").topic == "老旧小区改造"
    assert [keyboards.parse(d).kind for d in ("do", "ds", "l", "n")] == ["overview", "districts", "latest", "noop"]
    for junk in (None, "", "zzz", "p:x:y", "f:2:a1", "f:1:", "d::1", "r:", "m:"):
        assert keyboards.parse(junk).kind == "unknown", junk


_ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z")


@given(st.lists(_ids, min_size=1, max_size=8, unique=True))
@settings(max_examples=200, deadline=None)
def test_more_button_data_always_fits_in_64_bytes(ids: list[str]) -> None:
    data = keyboards.more_data(ids)
    assert data is not None and len(data.encode()) <= keyboards.MAX_DATA
    packed = keyboards.parse(data).ids
    assert packed and list(packed) == ids[: len(packed)]  # a prefix, best first


@given(_ids, st.integers(min_value=0, max_value=999))
@settings(max_examples=200, deadline=None)
def test_page_button_data_always_fits(article_id: str, number: int) -> None:
    row = keyboards.pager(f"p:{article_id}", number, number + 2)
    assert all(len(b.callback_data.encode()) <= 64 for b in row)
    assert keyboards.parse(row[-1].callback_data) == keyboards.Action("page", article_id=article_id, number=number + 1)


def test_answer_keyboard_after_more_results_and_feedback(library: Library) -> None:
    engine = library.engine
    lone = keyboards.answer_keyboard(engine.answer("清华附中什么时候投入使用"))
    assert not any(b.callback_data.startswith("m:") for row in lone.inline_keyboard for b in row)
    answer = engine.answer("万人助万企都有啥活动")  # several articles answer it
    assert answer.alternatives
    markup = keyboards.answer_keyboard(answer)
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data[0] == f"r:{answer.article.id}" and data[1].startswith("m:")
    assert data[2:] == [f"f:1:{answer.article.id}", f"f:0:{answer.article.id}"]
    alternatives = [c.article for c in answer.alternatives]
    expanded = keyboards.with_alternatives(markup, alternatives)
    rows = [[b.callback_data for b in row] for row in expanded.inline_keyboard]
    assert rows[0] == [f"r:{answer.article.id}"]
    assert rows[1:-1] == [[f"r:{a.id}"] for a in alternatives]
    assert rows[-1][0].startswith("f:1:")
    voted = keyboards.without_feedback(expanded)
    assert all(not b.callback_data.startswith("f:") for row in voted.inline_keyboard for b in row)
    assert keyboards.without_feedback(keyboards.InlineKeyboardMarkup([[keyboards._button("👍", "f:1:x")]])) is None
    assert keyboards.answer_keyboard(engine.answer("火星上有外星人吗")) is None


def test_district_buttons_fit_for_every_district(library: Library) -> None:
    engine = library.engine
    counts = library.district_counts()
    markup = keyboards.districts_keyboard(counts)
    assert sum(len(row) for row in markup.inline_keyboard) == len(counts)
    assert all(len(row) <= keyboards.PER_ROW for row in markup.inline_keyboard)
    for district in engine.analyzer.lexicon.districts:
        assert keyboards.fits(f"d:{district}:99")


# --------------------------------------------------------------------------- views


def test_every_seed_article_fits_one_page(library: Library) -> None:
    engine = library.engine
    for article in engine.articles:
        page = views.article_page(article, 0)
        assert page.total == 1 and len(page.text) <= TELEGRAM_LIMIT
        assert article.paragraphs[-1][:50].replace("&", "&amp;").replace("<", "&lt;") in page.text


def test_long_articles_are_paged_under_the_limit() -> None:
    paragraphs = tuple(f"第{i}段<&>" + "字" * 900 for i in range(12))
    article = Article(id="long", title="长文", paragraphs=paragraphs)
    first = views.article_page(article, 0)
    pages = [views.article_page(article, n) for n in range(first.total)]
    assert first.total >= 3
    assert all(len(p.text) <= TELEGRAM_LIMIT for p in pages)
    assert all(f"第 {n + 1}/{first.total} 页" in p.text for n, p in enumerate(pages))
    text = "".join(p.text for p in pages)
    assert all(f"第{i}段&lt;&amp;&gt;" in text for i in range(12))
    assert views.article_page(article, 99).number == first.total - 1  # clamped
    assert views.article_page(article, -3).number == 0


def test_abstain_text_escapes_and_shortens_the_question() -> None:
    text = views.abstain_html("<script>alert(1)</script>" + "很长" * 50)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "很长" * 30 not in text and "…" in text
    assert "/latest" in text and "/districts" in text


def test_newest_first_uses_dates_then_arrival() -> None:
    articles = [
        Article(id=i, title=i, paragraphs=("x",), date=d)
        for i, d in (("a", None), ("b", "2024-03-01"), ("c", None), ("d", "2024-05-01"))
    ]
    catalog = Catalog.of(articles, ())
    assert [a.id for a in Listing(catalog.order, articles).articles] == ["d", "b", "c", "a"]


def test_district_counts_and_lists(library: Library) -> None:
    engine = library.engine
    counts = dict(library.district_counts())
    assert counts["二七区"] == sum("二七区" in a.districts for a in engine.articles)
    assert all(n > 0 for n in counts.values())
    reply = library.ask("/district 中原区")
    page, chunk = views.district_page(reply.listing, 1)
    assert page.number == 1 and page.total == 2 and "第 2/2 页" in page.text
    assert chunk == library.in_district("中原区")[views.LIST_PAGE :]


# --------------------------------------------------------------------------- app helpers


def test_rendered_list_is_escaped_and_fits_one_message() -> None:
    evil = Article(id="a<1>", title="<b>标题</b> & 更多", paragraphs=("正文。",), url="https://x.example/?a=1&b=<2>")
    text = render_article_list("头", [evil], None)
    assert "&lt;b&gt;标题&lt;/b&gt; &amp; 更多" in text
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in text
    plain = Article(id="a123", title="无链接", paragraphs=("正文。",))
    assert "/read <code>a123</code>" in render_article_list("头", [plain], None)
    many = [Article(id=f"a{i}", title="很长的标题" * 8, paragraphs=("x",)) for i in range(200)]
    text = render_article_list("头", many, None)
    assert len(text) < 4096
    assert "另有" in text


def test_article_links_are_the_page_or_a_deep_link_into_the_bot() -> None:
    plain = Article(id="a123", title="无链接", paragraphs=("正文。",))
    assert views.article_link(plain, "@DistrictNewsBot") == "https://t.me/DistrictNewsBot?start=a123"
    assert views.article_link(plain, None) is None
    paged = Article(id="a124", title="有链接", paragraphs=("正文。",), url="https://example.com/1")
    assert views.article_link(paged, "DistrictNewsBot") == "https://example.com/1"
    assert views.article_link(Article(id="a<1>", title="t", paragraphs=("x",)), "DistrictNewsBot") is None
    assert 'href="https://t.me/DistrictNewsBot?start=a123"' in render_article_list("头", [plain], "DistrictNewsBot")


def test_webhook_and_file_urls() -> None:
    assert webhook_url("https://bot.example.org", "telegram") == "https://bot.example.org/telegram"
    assert webhook_url("https://bot.example.org/", "/telegram/") == "https://bot.example.org/telegram"
    assert webhook_url("https://bot.example.org/telegram", "telegram") == "https://bot.example.org/telegram"
    assert _file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert _file_url("https://api.telegram.org/bot/") == "https://api.telegram.org/file/bot"
    assert _file_url("http://proxy/{token}/x") is None


def test_the_token_never_reaches_a_log_handler(caplog: pytest.LogCaptureFixture) -> None:
    token = "123:SECRET"
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(_Redact(token))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    try:
        logger.warning("POST https://api.telegram.org/bot%s/getMe", token)
        try:
            raise RuntimeError(f"bad url /bot{token}/sendMessage")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert records and all(token not in r for r in records)
    assert "bot<secret>/getMe" in records[0] and "<secret>/sendMessage" in records[1]


def test_protect_logs_quiets_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        protect_logs("1:X")
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        assert any(isinstance(f, _Redact) for f in handler.filters)
    finally:
        root.removeHandler(handler)


def test_run_bot_without_a_token_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert run_bot(Config()) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_build_application_wiring(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = Config()
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        build_application(config, library)
    app = build_application(config, library, token="1:TEST", base_url="http://127.0.0.1:9/bot")
    assert isinstance(app, Application)
    assert app.bot.base_url == "http://127.0.0.1:9/bot1:TEST"
    assert app.bot.base_file_url == "http://127.0.0.1:9/file/bot1:TEST"
    services = app.bot_data["services"]
    assert services.library is library
    assert services.extra_commands == []  # no store: no subscription commands
    gates = app.handlers[-1]  # before everything: messages meant for the bot, and button presses
    assert [type(g).__name__ for g in gates] == ["MessageHandler", "CallbackQueryHandler"]
    assert all(g.callback is flood_gate for g in gates)
    assert app.bot.rate_limiter is not None and app.bot.defaults.link_preview_options.is_disabled
    assert app.error_handlers


def test_bot_data_is_typed_and_subscriptions_need_it(library: Library, tmp_path: Path) -> None:
    app = build_application(Config(), library, token="1:TEST", base_url="http://127.0.0.1:9/bot")
    data = app.bot_data
    assert isinstance(data, BotData) and data.services is data["services"]  # handlers.py's accessor
    with pytest.raises(KeyError):  # a typo fails instead of creating a key
        data["notifer"]
    with pytest.raises(AttributeError):
        data.notifier  # noqa: B018 - without a store nothing registered a notifier
    bare = ApplicationBuilder().token("1:TEST").build()  # plain dict bot_data
    with Store() as store, pytest.raises(TypeError, match="context_types"):
        register(bare, library, store, Config(corpus=tmp_path))
