"""Subscription topics and matching, on the seed corpus (pure logic, no Telegram)."""

from __future__ import annotations

import pytest

from bot.article import Article
from bot.engine import Engine
from bot.store import KnownArticle, Subscription
from bot.subscriptions import (
    Matcher,
    Topic,
    due_articles,
    parse_time,
    parse_topic,
    split_topics,
)


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("二七区", Topic("district", "二七区")),
        ("二七", Topic("district", "二七区")),  # the short name residents use
        ("二七去", Topic("district", "二七区")),  # input-method typo
        ("erqi", Topic("district", "二七区")),  # pinyin
        ("Erqi District", Topic("district", "二七区")),
        ("zhengdong", Topic("district", "郑东新区")),
        ("港区", Topic("district", "航空港区")),  # alias
        ("管城回族", Topic("district", "管城区")),  # near miss of 管城回族区
        ("「金水区」", Topic("district", "金水区")),  # quotes around it
        ("清华附中", Topic("keyword", "清华附中")),  # a place inside 郑东新区 stays itself
        ("清华付中", Topic("keyword", "清华附中")),  # typo of a known name repaired
        ("樱桃沟", Topic("keyword", "樱桃沟")),
        ("yingtaogou", Topic("keyword", "樱桃沟")),
        ("二七商圈改造", Topic("keyword", "二七商圈改造")),  # starts like 二七 but is a topic
        ("老旧小区", Topic("keyword", "老旧小区")),
        ("ＧＤＰ", Topic("keyword", "gdp")),  # full width and case folded
    ],
)
def test_parse_topic(engine: Engine, typed: str, expected: Topic):
    assert parse_topic(engine.analyzer, typed) == expected


@pytest.mark.parametrize("typed", ["", "  ", "！！", "水", "长" * 31])
def test_parse_topic_rejects_what_cannot_be_followed(engine: Engine, typed: str):
    assert parse_topic(engine.analyzer, typed) is None


def test_split_topics():
    assert split_topics("二七区 金水区、清华附中，二七区") == ["二七区", "金水区", "清华附中"]
    assert split_topics("  ") == []


def titles(engine: Engine, topic: Topic) -> list[str]:
    matcher = Matcher(engine.analyzer)
    return [a.title for a in engine.articles if matcher.matches(a, topic)]


def test_district_matches_by_the_articles_districts(engine: Engine):
    found = titles(engine, Topic("district", "郑东新区"))
    assert any("清华附中" in t for t in found)
    for article in engine.articles:
        assert Matcher(engine.analyzer).matches(article, Topic("district", "郑东新区")) == (
            "郑东新区" in article.districts
        )


def test_keyword_matches_text_and_aliases(engine: Engine):
    assert any("清华附中" in t for t in titles(engine, Topic("keyword", "清华附中")))
    matcher = Matcher(engine.analyzer)
    article = Article(id="x1", title="郑州清华大学附属中学开学", paragraphs=("今天开学。",))
    assert matcher.matches(article, Topic("keyword", "清华附中"))  # aliases.yaml: 清华附中 → 清华大学附属中学
    assert not matcher.matches(article, Topic("keyword", "老旧小区"))
    assert matcher.matches(
        Article(id="x2", title="全市ＧＤＰ增长", paragraphs=("同比增长。",)), Topic("keyword", "gdp")
    )
    assert titles(engine, Topic("keyword", "火星基地")) == []


def sub(kind: str, value: str, created: float) -> Subscription:
    return Subscription(chat_id=1, kind=kind, value=value, created=created)


def test_due_articles_respect_subscription_time(engine: Engine):
    school = next(a for a in engine.articles if "清华附中" in a.title)
    other = next(a for a in engine.articles if "郑东新区" not in a.districts and "清华" not in a.body)
    arrivals = [
        KnownArticle(school.id, 100.0, school.source),
        KnownArticle(other.id, 100.0, other.source),
        KnownArticle("gone", 100.0, "removed.txt"),
    ]
    matcher = Matcher(engine.analyzer)
    due = due_articles([sub("keyword", "清华附中", 50.0)], arrivals, engine.get, matcher)
    assert due == [school]
    # subscribed after the article arrived: not news for this subscription
    assert due_articles([sub("district", "郑东新区", 150.0)], arrivals, engine.get, matcher) == []
    # a digest without subscriptions takes everything that arrived (and still exists)
    assert due_articles([], arrivals, engine.get, matcher, everything_after=90.0) == [school, other]
    assert due_articles([], arrivals, engine.get, matcher) == []


def test_parse_time():
    assert parse_time("8:00") == "08:00"
    assert parse_time("20：30") == "20:30"
    assert parse_time("23:59") == "23:59"
    for bad in ("24:00", "8", "08:60", "morning", ""):
        assert parse_time(bad) is None
