"""What a message is: decided once (bot/intent.py) for every front end."""

from __future__ import annotations

import pytest

from bot.intent import Act, classify
from bot.library import Library


@pytest.mark.parametrize(
    ("message", "act", "district", "topic", "when"),
    [
        # a district's news, however it is named
        ("荥阳有新闻吗", Act.DISTRICT, "荥阳市", None, None),
        ("上街", Act.DISTRICT, "上街区", None, None),  # the name alone
        ("管城回族区", Act.DISTRICT, "管城区", None, None),  # the full name
        ("中牟最近有啥新闻", Act.DISTRICT, "中牟县", None, None),
        ("航空港区的消息", Act.DISTRICT, "航空港区", None, None),
        ("港区最近有什么事", Act.DISTRICT, "航空港区", None, None),
        ("What's new in Erqi District?", Act.DISTRICT, "二七区", None, None),
        ("news from Zhengdong New District", Act.DISTRICT, "郑东新区", None, None),
        ("Zhongmu", Act.DISTRICT, "中牟县", None, None),
        ("Airport Economy Zone news", Act.DISTRICT, "航空港区", None, None),
        # the latest news, and by time
        ("最近有什么新闻", Act.LATEST, None, None, None),
        ("最新消息", Act.LATEST, None, None, None),
        ("latest news", Act.LATEST, None, None, None),
        ("今年有什么新闻", Act.LATEST, None, None, "今年"),
        ("3月的新闻", Act.LATEST, None, None, "3月"),
        ("这周的新闻", Act.LATEST, None, None, "这周"),
        # news on a topic
        ("有没有关于植树的新闻", Act.TOPIC, None, "植树", None),
        ("疫苗接种的新闻有哪些", Act.TOPIC, None, "疫苗接种", None),
        ("有关三送一强的新闻", Act.TOPIC, None, "三送一强", None),
        ("tree planting news", Act.TOPIC, None, "植树", None),
        # what a term means
        ("三送一强是啥意思", Act.DEFINE, None, "三送一强", None),
        ("什么是三送一强", Act.DEFINE, None, "三送一强", None),
        # questions of fact stay questions
        ("清华附中什么时候投入使用", Act.QUESTION, None, None, None),
        ("郑州清华附中有多少个班", Act.QUESTION, None, None, None),
        ("二七区的新闻发布会在哪开的消息", Act.QUESTION, None, None, None),
        ("二七区最近发生了什么事", Act.DISTRICT, "二七区", None, None),  # a district's events: its list
        ("那场暴雨发生了什么事情", Act.QUESTION, None, None, None),  # one thing's events: a question
    ],
)
def test_messages_are_understood(library: Library, message: str, act: Act, district, topic, when) -> None:
    intent = classify(message, library.engine.analyzer)
    assert (intent.act, intent.district, intent.topic, intent.when) == (act, district, topic, when)


@pytest.mark.parametrize(
    "message", ["那它具体在什么位置", "它能容纳多少学生", "那在哪", "还有呢", "具体说说", "什么时候"]
)
def test_follow_ups_lean_on_the_last_answer(library: Library, message: str) -> None:
    intent = classify(message, library.engine.analyzer)
    assert intent.act is Act.QUESTION and intent.leans


def test_a_new_subject_does_not_lean(library: Library) -> None:
    assert not classify("郑州地铁什么时候通车", library.engine.analyzer).leans


def test_topic_lists_hold_the_articles_about_it(library: Library) -> None:
    reply = library.ask("关于垃圾分类的新闻")
    assert reply.listing is not None
    assert [a.headline for a in reply.listing.articles] == ["践行垃圾分类 共创优美环境"]
    mentioned_once = [a for a in library.articles if "三送一强" in a.body]
    about = library.ask("有关三送一强的新闻").listing
    assert about is not None and 0 < about.total <= len(mentioned_once)
    assert library.ask("火星有什么新闻").listing.total == 0


def test_time_phrases_limit_lists_to_their_days(tmp_path) -> None:
    import datetime as dtm

    from .conftest import SEEDS

    library = Library.open(SEEDS, cache_dir=tmp_path / "cache", today=lambda: dtm.date(2020, 4, 30))
    this_year = library.ask("今年有什么新闻").listing
    assert this_year is not None and this_year.total > 0
    assert all(a.date is not None and a.date.startswith("2020-") for a in this_year.articles)
    march = library.ask("中原区3月的新闻").listing
    assert march is not None and march.total > 0 and march.district == "中原区"
    assert all(a.date.startswith("2020-03") and "中原区" in a.districts for a in march.articles)
    assert library.ask("今天有什么新闻").listing.total == 0  # nothing dated that day: an empty list, said so
    latest = library.ask("最近有什么新闻").listing  # 最近 limits nothing: newest first anyway
    assert latest is not None and latest.total == len(library.articles)


def test_follow_ups_are_answered_about_the_last_answer(library: Library) -> None:
    from bot.library import Conversation

    conversation = Conversation()
    first = library.ask("清华附中什么时候投入使用", conversation)
    assert first.answer is not None and first.answer.article is not None
    article_id = first.answer.article.id
    follow = library.ask("它能容纳多少学生", conversation)
    assert follow.answer is not None and follow.answer.article.id == article_id
    assert "6000名学生" in follow.answer.snippet.text
    more = library.ask("还有呢", conversation)
    assert more.answer.article.id == article_id and more.answer.snippet.text != follow.answer.snippet.text
    fresh = library.ask("金水区科技资金惠及多少家企业", conversation)
    assert fresh.answer.article.id != article_id  # a new subject starts afresh


def test_what_a_term_means_is_answered_by_its_definition(library: Library) -> None:
    reply = library.ask("三送一强是啥意思")
    assert reply.found and "送政策、送服务、送要素、强信心" in reply.answer.snippet.text
