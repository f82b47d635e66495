"""Question → `Answer`: retrieve with BM25, re-rank the top few by their best passage, abstain.

An `Engine` is one immutable snapshot of a corpus: its articles, their index and the analyzer.
Adding articles makes a new snapshot (`with_articles`); who serves which snapshot is the
library's business (bot/library.py), so questions in flight keep the one they started with.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rapidfuzz import fuzz

from .article import ID_RE, Article
from .config import EngineSettings
from .index import Hits, SearchIndex, build_segment
from .passages import ArticleText, analyse
from .question import MARKUP_RE, MAX_QUESTION_CHARS, asks_of
from .results import Answer, Candidate, LoadReport, Snippet, Status
from .snippet import QuestionView, best_snippet, highlight_spans
from .text import Analyzer, Term, corpus_words

# Articles re-ranked by passage: the answer and its alternatives come from BM25's top few.
# Measured (python -m bot eval, bench): top-1 and answer-in-snippet are the same re-ranking 3,
# 6 or 12 on the residents', our own and CMRC's questions, and on CMRC-made questions over
# 100,000 articles; each candidate costs ~0.1 ms there. More alternatives re-rank more.
MIN_RERANK = 3
UNANCHORED_FACTOR = 0.6
MIN_DOCS_FOR_IDF = 20
ANALYSED_CACHE = 20000  # analysed articles kept (a few KB each): the hot part of a large archive
ALTERNATIVE_SHARE = 0.5  # an alternative scores at least this share of the best answer
NAMED_BONUS = 0.8  # the question names the article: its whole title, as an encyclopedia's entry
_NAME_PARTS_RE = re.compile(r"[·・•‧]")
_QUALIFIER_RE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")  # 夜来香 (夹竹桃科): the name is 夜来香


@dataclass(frozen=True)
class _Ranked:
    article: Article
    score: float
    snippet: Snippet
    coverage: float  # share of the question's weight the article holds
    matched_idf: float  # the weight of the most telling word it shares with the question
    named: bool = False  # the question names the article (its whole title)


class Engine:
    """The answering engine over one snapshot of the corpus; safe to share between threads."""

    def __init__(
        self,
        articles: Sequence[Article],
        index: SearchIndex,
        analyzer: Analyzer,
        settings: EngineSettings | None = None,
        report: LoadReport | None = None,
        *,
        _by_id: dict[str, int] | None = None,
        _texts: OrderedDict[str, ArticleText] | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.analyzer = analyzer
        self.report = report or LoadReport(articles=len(articles))
        self.articles: list[Article] = list(articles)
        self.index = index
        self._by_id = _by_id if _by_id is not None else {a.id: i for i, a in enumerate(self.articles)}
        # LRU of analysed articles, shared with the snapshots made from this one.
        self._texts: OrderedDict[str, ArticleText] = _texts if _texts is not None else OrderedDict()

    def with_articles(self, articles: Sequence[Article]) -> tuple[Engine, list[Article]]:
        """A new snapshot with the articles it did not have (one new index segment), and those."""
        fresh = [a for a in articles if a.id not in self._by_id]
        if not fresh:
            return self, []
        self.analyzer.add_words(corpus_words(t for a in fresh for t in (a.headline, a.body)))
        index = SearchIndex(self.index.segments)
        index.add(build_segment(fresh, self.analyzer))
        by_id = dict(self._by_id)  # a copy, not a rebuild: ~2 ms instead of ~60 at 100,000
        by_id.update((a.id, len(self.articles) + i) for i, a in enumerate(fresh))
        report = replace(self.report, articles=len(self.articles) + len(fresh))
        engine = Engine(self.articles + fresh, index, self.analyzer, self.settings, report,
                        _by_id=by_id, _texts=self._texts)  # fmt: skip
        warm_in_background(index)
        return engine, fresh

    # ------------------------------------------------------------ reading

    def get(self, article_id: str) -> Article | None:
        """The article with this id (ids are ASCII; a resident may type them in capitals)."""
        article_id = (article_id or "").strip()
        if not ID_RE.match(article_id):
            return None
        number = self._by_id.get(article_id)
        if number is None:
            number = self._by_id.get(article_id.lower())
        return None if number is None else self.articles[number]

    def _article_text(self, article: Article, doc: int) -> ArticleText:
        cached = self._texts.get(article.id)
        if cached is None:
            cached = analyse(article.headline, article.body, self.analyzer.terms, self.index.layout(doc))
            self._texts[article.id] = cached
            if len(self._texts) > ANALYSED_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(article.id)
        return cached

    # ------------------------------------------------------------ answering

    @property
    def rerank_depth(self) -> int:
        return max(MIN_RERANK, self.settings.alternatives + 1)

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        result = self._answer(question if isinstance(question, str) else "")
        return replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def _answer(self, question: str) -> Answer:
        raw = question.strip()
        # Markup a resident pasted (<b>…</b>, **…**) is not part of the question.
        text, terms = self.analyzer.question_terms(MARKUP_RE.sub(" ", raw[:MAX_QUESTION_CHARS]))
        # Stray Latin letters alone (x, b) say nothing a news article could answer.
        terms = terms if any(len(t.text) > 1 or not t.text.isascii() for t in terms) else []
        if not terms:
            return Answer(question, Status.ABSTAIN)
        index = self.index
        hits = index.search(terms, k=self.rerank_depth)
        term_texts = tuple(t.text for t in terms)
        if not len(hits.docs):
            return Answer(question, Status.ABSTAIN, terms=term_texts)
        idf = hits.idf
        ranked = self._rerank(text, terms, idf, asks_of(text), hits)
        best = ranked[0]
        # idf says nothing in a corpus of a handful of articles; there coverage alone decides.
        weak = best.matched_idf < self.settings.min_matched_idf and index.size >= MIN_DOCS_FOR_IDF
        # A question that names the article (蓍的叶子有什么特点) is about it, whatever else it says.
        if (best.coverage < self.settings.abstain_below or weak) and not best.named:
            return Answer(
                question,
                Status.ABSTAIN,
                confidence=float(best.coverage),
                terms=term_texts,
                alternatives=tuple(Candidate(r.article, float(r.score)) for r in ranked[:3]),
            )
        # Only candidates that are answers in their own right: no filler under 「更多结果」.
        alternatives = tuple(  # scored like the answer: by how much of the question they cover
            Candidate(r.article, float(min(1.0, r.coverage)))
            for r in ranked[1:]
            if r.coverage >= self.settings.abstain_below and r.score >= ALTERNATIVE_SHARE * best.score
        )[: self.settings.alternatives]
        # Highlights only for the snippet shown: marking every candidate's would be wasted work.
        weights = {t.text: idf[t.text] * t.weight for t in terms}
        snippet = replace(best.snippet, highlights=tuple(highlight_spans(best.snippet.text, weights)))
        return Answer(
            question,
            Status.ANSWER,
            article=best.article,
            snippet=snippet,
            confidence=float(min(1.0, best.coverage)),
            alternatives=alternatives,
            terms=term_texts,
        )

    def _rerank(
        self, text: str, terms: list[Term], idf: dict[str, float], asks: list[str], hits: Hits
    ) -> list[_Ranked]:
        """Combine BM25 with how well one passage of the article answers the question."""
        top_bm25 = float(hits.scores[0]) or 1.0
        seen: set[str] = set()
        ranked = []
        # For coverage a bare number (15) counts half: it matches dates and counts everywhere.
        cover_weight = {t.text: idf[t.text] * t.weight * (0.5 if t.text.isdigit() else 1.0) for t in terms}
        group_weight: dict[int, float] = {}
        for term in terms:
            group_weight[term.group] = max(group_weight.get(term.group, 0.0), cover_weight[term.text])
        total = sum(group_weight.values()) or 1.0
        group_len: dict[int, int] = {}
        for term in terms:
            group_len[term.group] = max(group_len.get(term.group, 1), len(term.text))
        view = QuestionView.of(text, terms, idf, asks)
        term_texts = frozenset(t.text for t in terms)
        for doc, bm25 in zip(hits.docs, hits.scores, strict=True):
            article = self.articles[int(doc)]
            if article.id in seen:
                continue
            seen.add(article.id)
            article_text = self._article_text(article, int(doc))
            located = view.locate(article_text)
            snippet = best_snippet(article_text, view, located)
            # Coverage: how much of the question (each word once, by its best form) the article has.
            got: dict[int, float] = {}
            for word in located.found:
                # A part of a word covers only that part: 天气 of 今天天气 is half of it.
                group = view.groups[word]
                weight = cover_weight[word] * len(word) / group_len[group]
                got[group] = max(got.get(group, 0.0), weight)
            coverage = sum(got.values()) / total
            # Anchored: a word of the question is in the headline, or two meet in one sentence.
            # Scattered single matches are how unrelated questions find a random article.
            anchored = snippet.evidence >= 2 or any(
                t in snippet.topic and (len(t) > 1 or t.isdigit()) for t in view.weights
            )
            if not anchored:
                coverage *= UNANCHORED_FACTOR
            matched_idf = max(got.values(), default=0.0)
            title_sim = fuzz.partial_ratio(text, article_text.headline) / 100.0
            passage = snippet.score / total
            score = float(bm25) / top_bm25 + 0.6 * passage + 0.25 * title_sim * title_sim + 0.5 * coverage
            named = _names(text, article_text.headline, term_texts)
            if named:
                score += NAMED_BONUS
            ranked.append(_Ranked(article, score, snippet, coverage, matched_idf, named))
        ranked.sort(key=lambda r: -r.score)
        return ranked


def _names(question: str, headline: str, terms: frozenset[str]) -> bool:
    """Whether the question names the article by its whole title (黄蝉的别称, not 软枝黄蝉's):
    the title less a qualifier in brackets, two characters or more, or one the question holds
    as a word of its own (蓍)."""
    name = _QUALIFIER_RE.sub("", headline).strip()
    if not name:
        return False
    if name in question:
        return len(name) >= 2 or name in terms
    # 拉诺米 of 拉诺米·克罗莫维焦约: a foreign name is called by one of its parts.
    parts = _NAME_PARTS_RE.split(name)
    return len(parts) > 1 and any(len(part) >= 2 and part in question for part in parts)


def warm_in_background(index: SearchIndex) -> None:
    """Work out the common words' impacts on the other core while the first questions come in:
    ~50 ms of numpy at 100,000 articles (it releases the GIL), kept off the start-up time."""
    threading.Thread(target=index.warm, name="index-warm", daemon=True).start()
