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
from .article_store import ArticleShelf, ArticleStore
from .config import EngineSettings
from .index import SMALL_SEGMENT, build_segment, merge_segments
from .normalize import normalize
from .passages import ArticleText, analyse
from .question import MARKUP_RE, MAX_QUESTION_CHARS, asks_of
from .results import Answer, Candidate, LoadReport, Snippet, Status
from .search import Hits, SearchIndex
from .snippet import (
    Choice,
    QuestionView,
    best_snippet,
    choose_sentence,
    defining_snippet,
    highlight_spans,
    shown_sentences,
)
from .text import Analyzer, Term, corpus_words

# Articles re-ranked by passage: the answer and its alternatives come from BM25's top few.
# Measured (python -m bot eval, bench): top-1 and answer-in-snippet are the same re-ranking 3,
# 6 or 12 on the residents', our own and CMRC's questions, and on CMRC-made questions over
# 100,000 articles; each candidate costs ~0.1 ms there. More alternatives re-rank more.
MIN_RERANK = 3
UNANCHORED_FACTOR = 0.6
MIN_DOCS_FOR_IDF = 20
MERGE_AFTER = 8  # trailing small segments merged into one once there are this many (Engine.merged)
ANALYSED_CACHE = 1000  # analysed articles kept (~50 KB each): the hot part of a large archive
ALTERNATIVE_SHARE = 0.5  # an alternative scores at least this share of the best answer
NAMED_BONUS = 0.8  # the question names the article: its whole title, as an encyclopedia's entry
DEFINE_DEPTH = 30  # articles looked through for the one that defines a term
_TERM_EDGES = " \t\n“”\"'‘’「」『』《》()（）?？!！。，,:："  # around a term as typed: not part of it
# Asking for more of an article, not for these words (a follow-up: 具体说说, 还有呢).
FOLLOW_UP_RE = re.compile(
    r"(?:具体|详细|展开|再)?(?:说说|讲讲|说一下|讲一下|介绍一下)|(?:具体|详细|多说)一?点"
    r"|还有(?:呢|吗|什么|啥)|然后呢|接着说|继续说?"
)
_NAME_PARTS_RE = re.compile(r"[·・•‧]")
_QUALIFIER_RE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")  # 夜来香 (夹竹桃科): the name is 夜来香


@dataclass(frozen=True)
class _Ranked:
    article: Article
    score: float
    choice: Choice  # its best sentence; the snippet is cut for the answer only
    coverage: float  # share of the question's weight the article holds
    matched_idf: float  # the weight of the most telling word it shares with the question
    named: bool = False  # the question names the article (its whole title)


class Engine:
    """The answering engine over one snapshot of the corpus; safe to share between threads."""

    def __init__(
        self,
        articles: ArticleShelf | Sequence[Article],
        index: SearchIndex,
        analyzer: Analyzer,
        settings: EngineSettings | None = None,
        report: LoadReport | None = None,
        *,
        _texts: OrderedDict[str, ArticleText] | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.analyzer = analyzer
        # Articles are read from their stores (arrays, mapped from the cache), one at a time.
        self.articles = articles if isinstance(articles, ArticleShelf) else ArticleShelf([ArticleStore.of(articles)])
        self.report = report or LoadReport(articles=len(self.articles))
        self.index = index
        # LRU of analysed articles, shared with the snapshots made from this one.
        self._texts: OrderedDict[str, ArticleText] = _texts if _texts is not None else OrderedDict()

    def with_articles(self, articles: Sequence[Article]) -> tuple[Engine, list[Article]]:
        """A new snapshot with the articles it did not have (one new index segment), and those."""
        fresh = [a for a in articles if self.articles.number_of(a.id) is None]
        if not fresh:
            return self, []
        self.analyzer.add_words(corpus_words(t for a in fresh for t in (a.headline, a.body)))
        index = SearchIndex(self.index.segments)
        index.add(build_segment(fresh, self.analyzer))
        report = replace(self.report, articles=len(self.articles) + len(fresh))
        engine = Engine(self.articles.with_store(ArticleStore.of(fresh)), index, self.analyzer, self.settings, report,
                        _texts=self._texts)  # fmt: skip
        warm_in_background(index)
        return engine, fresh

    def merged(self) -> Engine | None:
        """The same snapshot with its trailing small segments (pages added one by one) merged
        into one, or None while there are fewer than MERGE_AFTER: a long-running bot adds a
        segment a page, and each costs every question a look-up. Answers are the same (BM25
        statistics are global); the library swaps the result in (Library.add)."""
        segments, stores = self.index.segments, self.articles.stores
        small = 0
        for segment in reversed(segments):
            if segment.size >= SMALL_SEGMENT:
                break
            small += 1
        # A page added is one segment and one store: the small tail has as many of each.
        tail = sum(s.size for s in segments[len(segments) - small :])
        if small < MERGE_AFTER or small > len(stores) or sum(len(s) for s in stores[len(stores) - small :]) != tail:
            return None
        index = SearchIndex([*segments[: len(segments) - small], merge_segments(segments[len(segments) - small :])])
        shelf = ArticleShelf([*stores[: len(stores) - small], ArticleStore.joined(stores[len(stores) - small :])])
        warm_in_background(index)
        return Engine(shelf, index, self.analyzer, self.settings, self.report, _texts=self._texts)

    # ------------------------------------------------------------ reading

    def get(self, article_id: str) -> Article | None:
        """The article with this id (ids are ASCII; a resident may type them in capitals)."""
        article_id = (article_id or "").strip()
        if not ID_RE.match(article_id):
            return None
        number = self.articles.number_of(article_id)
        if number is None:
            number = self.articles.number_of(article_id.lower())
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

    def answer(self, question: str, *, article_id: str | None = None, exclude: str | None = None) -> Answer:
        """The answer to a question of fact, from the whole corpus, or with `article_id` from
        that article only: a follow-up about the article the resident is reading (那在哪,
        它能容纳多少学生, 具体说说), never abstained on for low coverage; `exclude` is a snippet
        the resident has already seen, whose sentences are not shown again. An unknown id
        abstains."""
        started = time.perf_counter()
        question = question if isinstance(question, str) else ""
        if article_id is None:
            result = self._answer(question)
        else:
            result = self._answer_about(question, article_id, exclude if isinstance(exclude, str) else None)
        return replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def define(self, term: str) -> Answer:
        """What a term means (三送一强, 六个动力源): the article and sentence that define it — its
        expansion in brackets, X即/是指/是…, a list that names it — rather than one that only
        mentions it. Abstains when no article holds the term."""
        started = time.perf_counter()
        result = self._define(term if isinstance(term, str) else "")
        return replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def _define(self, term: str) -> Answer:
        wanted = normalize(MARKUP_RE.sub(" ", term[:MAX_QUESTION_CHARS])).strip(_TERM_EDGES)
        _, terms = self.analyzer.question_terms(wanted)
        if not wanted or not terms:
            return Answer(term, Status.ABSTAIN)
        hits = self.index.search(terms, k=DEFINE_DEPTH)
        found: list[tuple[int, int, Article, Snippet]] = []
        for rank, doc in enumerate(hits.docs):
            article = self.articles[int(doc)]
            defined = defining_snippet(self._article_text(article, int(doc)), wanted)
            if defined is not None:
                found.append((-defined[0], rank, article, defined[1]))
        term_texts = tuple(t.text for t in terms)
        if not found:
            return Answer(term, Status.ABSTAIN, terms=term_texts)
        found.sort(key=lambda f: (f[0], f[1]))
        strength, _, article, snippet = found[0]
        others = tuple(Candidate(a, 1.0 if s < -1 else 0.5) for s, _, a, _ in found[1:])
        return Answer(
            term,
            Status.ANSWER,
            article=article,
            snippet=snippet,
            confidence=1.0 if strength < -1 else 0.5,  # a definition, or only a mention
            alternatives=others[: self.settings.alternatives],
            terms=term_texts,
        )

    def _answer_about(self, question: str, article_id: str, exclude: str | None) -> Answer:
        article = self.get(article_id)
        doc = None if article is None else self.articles.number_of(article.id)
        if article is None or doc is None:
            return Answer(question, Status.ABSTAIN)
        # 具体说说 / 还有呢 ask for more of the article, not for the words 具体 and 说.
        raw = FOLLOW_UP_RE.sub(" ", MARKUP_RE.sub(" ", question.strip()[:MAX_QUESTION_CHARS]))
        text, terms = self.analyzer.question_terms(raw)
        terms = [t for t in terms if len(t.text) > 1 or not t.text.isascii()]
        idf = {t.text: self.index.idf(t.text) for t in terms}
        view = QuestionView.of(text, terms, idf, asks_of(text))
        article_text = self._article_text(article, doc)
        located = view.locate(article_text)
        shown = shown_sentences(article_text, exclude) if exclude else frozenset()
        snippet = best_snippet(article_text, view, located, shown=shown)
        weights = {t.text: idf[t.text] * t.weight for t in terms}
        snippet = replace(snippet, highlights=tuple(highlight_spans(snippet.text, weights)))
        total = sum(weights.values())
        found = sum(w for t, w in weights.items() if t in located.found)
        return Answer(
            question,
            Status.ANSWER,
            article=article,
            snippet=snippet,
            confidence=found / total if total else 1.0,
            terms=tuple(t.text for t in terms),
        )

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
        snippet = best.choice.snippet()
        snippet = replace(snippet, highlights=tuple(highlight_spans(snippet.text, weights)))
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
        # What each word covers when an article holds it: a part of a word only that part
        # (天气 of 今天天气 is half of it).
        covers = {
            word: (group, cover_weight[word] * len(word) / group_len[group]) for word, group in view.groups.items()
        }
        for doc, bm25 in zip(hits.docs, hits.scores, strict=True):
            article = self.articles[int(doc)]
            if article.id in seen:
                continue
            seen.add(article.id)
            article_text = self._article_text(article, int(doc))
            located = view.locate(article_text)
            choice = choose_sentence(article_text, view, located)
            # Coverage: how much of the question (each word once, by its best form) the article has.
            got: dict[int, float] = {}
            for word in located.found:
                group, weight = covers[word]
                got[group] = max(got.get(group, 0.0), weight)
            coverage = sum(got.values()) / total
            # Anchored: a word of the question is in the headline, or two meet in one sentence.
            # Scattered single matches are how unrelated questions find a random article.
            anchored = choice.evidence >= 2 or any(
                t in choice.topic and (len(t) > 1 or t.isdigit()) for t in view.weights
            )
            if not anchored:
                coverage *= UNANCHORED_FACTOR
            matched_idf = max(got.values(), default=0.0)
            title_sim = fuzz.partial_ratio(text, article_text.headline) / 100.0
            passage = choice.score / total
            score = float(bm25) / top_bm25 + 0.6 * passage + 0.25 * title_sim * title_sim + 0.5 * coverage
            named = _names(text, article_text.headline, term_texts)
            if named:
                score += NAMED_BONUS
            ranked.append(_Ranked(article, score, choice, coverage, matched_idf, named))
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
    """Get the search ready on the other core while the first questions come in, off the start-up
    time: a small archive's impacts (~50 ms of numpy at 100,000 articles; it releases the GIL), a
    large one's compiled loops (~0.5 s to load numba and them)."""
    threading.Thread(target=index.warm, name="index-warm", daemon=True).start()
