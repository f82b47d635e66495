"""Article layouts: the sentences and fact bits the index stores are the ones a question would
work out from the article itself."""

from __future__ import annotations

import pytest

from benchmarks import synthetic
from bot import cache, index, passages, search
from bot.article import Article
from bot.corpus import load_page
from bot.passages import FACTS, analyse
from bot.text import Analyzer, load_lexicon

from .conftest import SEEDS


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(load_lexicon())


def _articles() -> list[Article]:
    lexicon = load_lexicon()
    seeds = [a for page in sorted(SEEDS.glob("*.txt")) for a in load_page(page, lexicon.places)]
    generated = [
        Article(id=r["id"], title=r["title"], paragraphs=tuple(r["body"].split("\n")))
        for r in synthetic.generate_articles(60, synthetic.Sources())
    ]
    odd = [
        Article(id="headline-only", title="二七区召开会议", paragraphs=()),
        Article(id="blank-body", title="空白正文", paragraphs=("  ", "")),
        Article(id="no-stop", title="没有句号", paragraphs=("2023年12月5日上午 区长说 包括：甲、乙、丙",)),
        Article(id="traditional", title="鄭州市金水區", paragraphs=("今年９月投入使用。記者表示，６０００人參加。",)),
    ]
    return seeds + generated + odd


def test_stored_layouts_equal_the_article_worked_out_afresh(analyzer: Analyzer) -> None:
    articles = _articles()
    search_index = search.SearchIndex([index.build_segment(articles, analyzer)])
    kinds_seen = set()
    for doc, article in enumerate(articles):
        fresh = analyse(article.headline, article.body, analyzer.terms)
        stored = analyse(article.headline, article.body, analyzer.terms, search_index.layout(doc))
        assert stored == fresh, article.id  # text, normalised text, sentence offsets, paragraphs
        for kind, pattern in FACTS.items():
            assert stored.holds(kind) == fresh.holds(kind) == fresh.flagged(pattern), (article.id, kind)
            if stored.holds(kind):
                kinds_seen.add(kind)
    assert kinds_seen == set(FACTS)  # every bit is exercised by some article
    headline_only = analyse("二七区召开会议", "", analyzer.terms, search_index.layout(len(articles) - 4))
    assert headline_only.sentence(0) == "二七区召开会议"


def test_layout_version_follows_the_patterns(monkeypatch) -> None:
    # The cache key holds LAYOUT_VERSION: stored fact bits must not outlive a changed pattern.
    key = cache.cache_key("x")
    monkeypatch.setattr(cache, "LAYOUT_VERSION", passages.LAYOUT_VERSION + "-changed")
    assert cache.cache_key("x") != key
