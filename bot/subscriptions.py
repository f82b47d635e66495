"""What a chat follows and which new articles it should hear about: pure logic, no Telegram.

A topic is a district (二七区; typed as 二七, 二七去, erqi …) or a keyword (清华附中, 老旧小区).
Only names of districts themselves become district topics: a place inside a district (清华附中,
樱桃沟) stays a keyword, so following a school does not bring the whole district's news.

Delivery model (see bot/store.py for the durability side):
* the store records when each article first reached the bot (`first_seen`);
* a chat is due an article when one of its subscriptions matches it, the subscription existed
  before the article arrived, and the article was not delivered to the chat before;
* a chat with the daily digest on gets its due articles in the digest instead of one message
  per reload; with no subscriptions, its digest lists every new article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .article import Article
from .normalize import normalize, strip_invisible
from .text import Analyzer, Lexicon

if TYPE_CHECKING:
    from .store import KnownArticle, Subscription

MAX_TOPIC_CHARS = 30
_SPLIT_RE = re.compile(r"[\s,，、;；]+")
_EDGE_PUNCT = "\"'“”‘’「」『』《》()（）[]【】<>〈〉.。!！?？:：#"
_WORDY_RE = re.compile(r"[\w\u4e00-\u9fff]")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3])[:：.]([0-5]\d)$")


@dataclass(frozen=True)
class Topic:
    kind: str  # "district" | "keyword"
    value: str

    @property
    def label(self) -> str:
        return self.value if self.kind == "district" else f"「{self.value}」"


def district_names(lexicon: Lexicon) -> set[str]:
    """District names and the short names residents use for them (not places inside)."""
    names = set(lexicon.districts)
    for shorts in lexicon.districts.values():
        names.update(shorts)
    return names


def split_topics(text: str) -> list[str]:
    """`/subscribe 二七区 金水区、清华附中` → the three things typed, in order, without repeats."""
    parts = (p.strip(_EDGE_PUNCT) for p in _SPLIT_RE.split(strip_invisible(text or "")))
    return list(dict.fromkeys(p for p in parts if p))


def parse_topic(analyzer: Analyzer, text: str) -> Topic | None:
    """A district (resolved like a question: aliases, one-character typos, pinyin) or a keyword.

    Returns None for nothing usable (punctuation only, a single character, too long).
    """
    cleaned = strip_invisible(text or "").strip().strip(_EDGE_PUNCT).strip()
    if not cleaned or not _WORDY_RE.search(cleaned):
        return None
    lexicon = analyzer.lexicon
    repaired = analyzer.question_terms(cleaned)[0].strip()  # normalised, typos of names repaired
    repaired = re.sub(r"\s+", " ", repaired)
    names = district_names(lexicon)
    if repaired in names:
        return Topic("district", lexicon.places[repaired])
    if repaired in lexicon.places:  # a place inside a district: follow the place itself
        return Topic("keyword", repaired)
    if repaired.isascii():
        place = lexicon.pinyin.get(re.sub(r"[^a-z]", "", repaired))
        if place in lexicon.places and place not in names:  # yingtaogou → the place 樱桃沟
            return Topic("keyword", place)
        district = analyzer.resolve_district(cleaned)  # erqi, Zhengdong, jinshui qu
        if district:
            return Topic("district", district)
    else:
        from rapidfuzz import fuzz, process

        match = process.extractOne(repaired, sorted(names), scorer=fuzz.ratio, score_cutoff=75)
        if match:
            return Topic("district", lexicon.places[match[0]])
    keyword = repaired
    if len(keyword) > MAX_TOPIC_CHARS or len(keyword) < 2:
        return None
    return Topic("keyword", keyword)


class Matcher:
    """Does an article match a topic? Districts by the article's districts, keywords by text."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self._texts: dict[str, str] = {}

    def text(self, article: Article) -> str:
        cached = self._texts.get(article.id)
        if cached is None:
            if len(self._texts) >= 8192:
                self._texts.clear()
            cached = self._texts[article.id] = normalize(f"{article.headline}\n{article.body}")
        return cached

    def matches(self, article: Article, topic: Topic) -> bool:
        if topic.kind == "district":
            return topic.value in article.districts
        text = self.text(article)
        value = strip_invisible(topic.value)  # a keyword stored before they were stripped on input
        if value in text or value.replace(" ", "") in text:
            return True
        # 清华附中 is written 清华大学附属中学 in the paper: the configured aliases count too.
        return any(alias in text for alias in self.analyzer.lexicon.aliases.get(topic.value, ()))

    def matching(self, article: Article, topics: Iterable[Topic]) -> list[Topic]:
        return [t for t in topics if self.matches(article, t)]


def due_articles(
    subscriptions: Sequence[Subscription],
    arrivals: Sequence[KnownArticle],
    get: Callable[[str], Article | None],
    matcher: Matcher,
    *,
    everything_after: float | None = None,
) -> list[Article]:
    """The arrived articles a chat should hear about (before removing what it already got).

    An article counts for a subscription only if it arrived after the subscription was made.
    `everything_after` (digests of chats without subscriptions) takes every article that
    arrived after that time.
    """
    out: list[Article] = []
    topics = [(Topic(s.kind, s.value), s.created) for s in subscriptions]
    for known in arrivals:
        article = get(known.article_id)
        if article is None:  # its file was removed since
            continue
        if any(known.first_seen >= created and matcher.matches(article, topic) for topic, created in topics) or (
            not topics and everything_after is not None and known.first_seen > everything_after
        ):
            out.append(article)
    return out


def parse_time(text: str) -> str | None:
    """'8:00', '08:00', '20：30' → 'HH:MM'; None when it is not a time of day."""
    match = _TIME_RE.match((text or "").strip())
    if not match:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"
