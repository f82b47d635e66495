"""BM25 search over the index's segments, with statistics of the whole archive.

BM25 weights are worked out at query time from the global statistics of all segments (document
count, each term's document frequency, the average length), so adding a segment never leaves
stale weights behind. A small archive scores every posting of a question with numpy; a large one
runs MaxScore in compiled loops (bot/topk.py), loaded on a thread of its own.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .config import IMPACT_CACHE_ENV
from .index import K1, B, Segment
from .passages import Layout
from .resident import make_resident, memory_budget
from .text import Term

if TYPE_CHECKING:  # bot.topk_loops loads numba: only large archives import it, on a thread
    from .topk_loops import Segments

log = logging.getLogger(__name__)

# SearchIndex.warm() works out the BM25 impact of every posting of segments up to this many
# postings in all (4 bytes each: 256 MB at most; 100,000 articles hold ~29 million, 116 MB).
IMPACT_CACHE_MAX = 64_000_000
# $DISTRICT_NEWS_IMPACT_CACHE_MB lowers that budget (0: none, each question works out the impacts
# of its lists): the impacts are the one large thing a process holds of its own, so several
# workers over one archive (bot/telegram/supervisor.py) go without them.
# An archive of up to this many articles scores every posting of a question (numpy, impacts
# worked out ahead: ~0.3 ms a question at 100,000 articles); a larger one skips the lists and
# documents that cannot reach the top k, in compiled loops (bot/topk.py), which cost a process
# ~0.6 s of start-up and ~45 MB of its own to load. Every accuracy set is far below it, so their
# answers stay exactly as they were.
EXHAUSTIVE_MAX_ARTICLES = 200_000
# Terms whose plans (rows, df, idf) an index keeps, a few MB at most; then it starts over.
PLANS_KEPT = 20_000


@dataclass
class Hits:
    """Top documents of a query: global doc numbers and their BM25 scores, best first."""

    docs: np.ndarray
    scores: np.ndarray
    idf: dict[str, float]  # each term's idf in this index (as scored)
    postings_scored: int = 0  # how many postings were added up to find them


class SearchIndex:
    """BM25 over one or more segments, with global statistics."""

    def __init__(self, segments: Sequence[Segment] = ()) -> None:
        self.segments: list[Segment] = []
        self.bases: list[int] = []
        self.size = 0
        self._total_len = 0.0
        self._norms: list[np.ndarray] | None = None  # per segment, for the current avgdl
        # The segments as the compiled loops read them (current norms)
        self._loops_view: Segments | None = None
        # Each term's rows, df and idf in this state of the index, as questions asked for them:
        # residents' questions share most of their words.
        self._plans: dict[str, tuple[tuple[int, ...], int, float]] = {}
        self._mapping_in = False  # its mapped arrays being made resident (_map_in_background)
        # Per segment, tf·(K1+1)/(tf+norm) of every posting in the order of `docs` (see warm()).
        self._impacts: list[np.ndarray | None] = []
        for segment in segments:
            self.add(segment)

    def add(self, segment: Segment) -> None:
        self.bases.append(self.size)
        self.segments.append(segment)
        self.size += segment.size
        self._total_len += float(segment.doc_len.sum())
        self._norms = self._loops_view = None
        self._plans = {}
        self._impacts = [None] * len(self.segments)  # avgdl changed: every impact did

    @property
    def avgdl(self) -> float:
        return self._total_len / self.size if self.size else 1.0

    def _doc_norms(self) -> list[np.ndarray]:
        """BM25 length normalisation of every doc, K1·(1 − B + B·len/avgdl), once per index state.

        Computed element-wise exactly as per posting before, so scores are bit-identical.
        """
        norms = self._norms
        if norms is None:
            avgdl = self.avgdl
            norms = self._norms = [K1 * (1.0 - B + B * s.doc_len / avgdl) for s in self.segments]
        return norms

    def df(self, term: str) -> int:
        return sum(s.df(term) for s in self.segments)

    def layout(self, doc: int) -> Layout:
        """The stored sentences and fact bits of a (global) doc number."""
        number = bisect_right(self.bases, doc) - 1
        return self.segments[number].layouts.get(doc - self.bases[number])

    def idf(self, term: str) -> float:
        """BM25 idf (always positive); a term no article has gets the highest value."""
        df = self.df(term)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def search(self, terms: Iterable[Term], k: int = 10) -> Hits:
        """BM25 top k of the question's terms.

        A small archive: every posting is scored, and the top k taken from the few documents
        above a threshold (a k-th best score known from one short list) rather than by
        partitioning the scores of the whole archive. A large one: MaxScore in compiled loops
        (bot/topk.py), which scores the rarest lists and only looks up, in the longest, the
        documents that can still win. The same top k either way.
        """
        if not self._mapping_in:
            self._map_in_background()
        terms = list(terms)
        plans = [self._plan(term) for term in terms]
        idf = {term.text: plan.idf for term, plan in zip(terms, plans, strict=True)}
        if not self.size:
            return Hits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), idf)
        k = min(k, self.size)
        compiled = None if self.size <= EXHAUSTIVE_MAX_ARTICLES else compiled_search(wait=True)
        if compiled is None:
            return self._search_all(plans, k, idf)
        return self._search_large(compiled, plans, k, idf)

    def _plan(self, term: Term) -> _TermPlan:
        text = term.text
        known = self._plans.get(text)
        if known is None:
            # .item(): a Python int at once, not a numpy scalar to convert
            rows = tuple(-1 if (r := s.terms.get(text)) is None else r for s in self.segments)
            df = sum(
                s.indptr.item(r + 1) - s.indptr.item(r) for s, r in zip(self.segments, rows, strict=True) if r >= 0
            )
            known = rows, df, math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            self._plans[text] = known
        rows, df, idf = known
        return _TermPlan(rows, df, idf, idf * term.weight)

    def _postings(self, plan: _TermPlan, norms: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(global docs, weighted impacts) of a term's list in each segment that has it."""
        for number, (base, segment, row) in enumerate(zip(self.bases, self.segments, plan.rows, strict=True)):
            if row < 0:
                continue
            docs = segment.docs[segment.indptr[row] : segment.indptr[row + 1]]
            yield (docs + base if base else docs), self._impact(number, row, norms) * plan.weight

    def _search_all(self, plans: list[_TermPlan], k: int, idf: dict[str, float]) -> Hits:
        norms = self._doc_norms()
        scores = np.zeros(self.size, dtype=np.float32)
        lists: list[np.ndarray] = []  # the docs of each term (distinct within one list)
        for plan in plans:
            for target, impacts in self._postings(plan, norms):
                np.add.at(scores, target, impacts)  # numpy ≥ 2: faster than +=
                lists.append(target)
        threshold = _threshold(scores, lists, k, budget=max(k, self.size // 16))
        top = np.flatnonzero(scores >= threshold) if threshold > 0 else np.arange(self.size)
        hits = _best(top, scores[top], k, idf)
        hits.postings_scored = sum(plan.df for plan in plans)
        return hits

    def _search_large(self, topk: ModuleType, plans: list[_TermPlan], k: int, idf: dict[str, float]) -> Hits:
        order = sorted(plans, key=lambda plan: plan.df)  # rarest first
        question = topk.Question(
            self._segments_for_loops(topk),
            np.array([plan.rows for plan in order], dtype=np.int64).reshape(len(order), len(self.segments)),
            np.array([plan.weight for plan in order], dtype=np.float64),
            sum(plan.df for plan in order),
        )
        docs, scores, scored = topk.top_k(question, self.size, k)  # the k best, ordered as _best orders them
        return Hits(docs, scores, idf, scored)

    def _segments_for_loops(self, topk: ModuleType) -> Segments:
        """The segments as the compiled loops read them: made once per state of the index (the
        same object question after question, so the helper's set-up for them stays)."""
        if self._loops_view is None:
            avgdl = self.avgdl
            self._loops_view = topk.Segments(
                tuple(_read_only(segment.docs) for segment in self.segments),
                tuple(_read_only(segment.tfs) for segment in self.segments),
                tuple(self._doc_norms()),
                tuple(self.bases),
                tuple(_read_only(segment.indptr) for segment in self.segments),
                tuple(_read_only(segment.bounds) for segment in self.segments),
                tuple(segment.bound_scale(avgdl) for segment in self.segments),
            )
        return self._loops_view

    def warm(self) -> None:
        """Do ahead, on a background thread after load, what the first questions would wait for.

        A small archive: every posting's impact, as bm25s works them out at index time (one
        vectorised pass a segment; kept in memory only, since every impact changes with avgdl).
        A large one: its compiled loops, loaded from numba's cache (compiled the first time).
        """
        if self.size > EXHAUSTIVE_MAX_ARTICLES:
            compiled_search(wait=None)
            return
        impacts = self._impacts  # before the norms: an add() in between leaves this list unused
        norms = self._doc_norms()
        budget = _impact_budget()
        for number, (segment, norm) in enumerate(zip(self.segments[: len(impacts)], norms, strict=False)):
            budget -= len(segment.docs)
            if budget < 0:
                break
            if impacts[number] is None:
                impacts[number] = _impacts_of(segment.tfs, segment.docs, norm)

    def _map_in_background(self) -> None:
        """Make the mapped arrays questions read resident (bot/resident.py), on a thread of its
        own: started by the first question, so that a process that only builds or loads the
        index (ingest, a build, the CLI's listings) never maps the whole of it in."""
        self._mapping_in = True
        threading.Thread(
            target=lambda: make_resident(self._read_at_random(), memory_budget()), name="index-resident", daemon=True
        ).start()

    def _read_at_random(self) -> Iterator[np.ndarray]:
        """The mapped arrays in the order questions need them resident: what every question
        reads a page of per word (term offsets, bounds), per candidate (sentence layouts), then
        the postings; each kind for every segment before the next kind."""
        for segment in self.segments:
            yield segment.indptr
            yield segment.bounds
        for segment in self.segments:
            layouts = segment.layouts
            yield from (layouts.indptr, layouts.starts, layouts.ends, layouts.paragraphs, layouts.facts)
        for segment in self.segments:
            yield segment.docs
            yield segment.tfs

    def _impact(self, number: int, row: int, norms: list[np.ndarray]) -> np.ndarray:
        segment = self.segments[number]
        lo, hi = segment.indptr[row], segment.indptr[row + 1]
        impacts = self._impacts[number]
        if impacts is not None:
            return impacts[lo:hi]
        return _impacts_of(segment.tfs[lo:hi], segment.docs[lo:hi], norms[number])


# A question waits for the compiled search at most this long after its loading began: loading it
# from numba's cache takes ~0.5 s, compiling it (the first time on a machine) a few seconds.
COMPILE_WAIT_S = 3.0
_COMPILED: list[ModuleType] = []  # bot.topk, once loaded and its loops compiled
_COMPILING: list[tuple[threading.Thread, float]] = []  # the thread loading it, and its deadline
_COMPILING_LOCK = threading.Lock()


def compiled_search(wait: bool | None = True) -> ModuleType | None:
    """bot.topk, the compiled search of large archives, started loading on a thread of its own if
    it is not yet (the loader starts it early, beside mapping the segments).

    wait=True (a question): wait for it until COMPILE_WAIT_S after its loading began, then go
    without it (None: the question is scored exhaustively, the same top k, a few ms slower at a
    million articles). The first compile on a machine can outlast that; the questions of those
    seconds do not wait for it. If numba cannot load at all, every question is scored so.
    wait=False: start loading it, return at once. wait=None: wait until it is loaded (or failed).
    """
    if _COMPILED:
        return _COMPILED[0]
    with _COMPILING_LOCK:
        if not _COMPILING:
            thread = threading.Thread(target=_compile, name="search-compile", daemon=True)
            _COMPILING.append((thread, time.monotonic() + COMPILE_WAIT_S))
            thread.start()
        thread, deadline = _COMPILING[0]
    if wait is None:
        thread.join()
    elif wait:
        thread.join(max(0.0, deadline - time.monotonic()))
    return _COMPILED[0] if _COMPILED else None


def _compile() -> None:
    try:
        from . import topk

        topk.warm_up()
    except Exception:  # an unsupported platform: slower questions, never none
        log.exception("the compiled search could not load: large archives are searched exhaustively")
        return
    _COMPILED.append(topk)


def _read_only(array: np.ndarray) -> np.ndarray:
    """The array as a read-only view: cached segments are mapped read-only, and the compiled
    loops are compiled once for that type rather than again for built (writable) segments."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def _impact_budget() -> int:
    """Postings whose impacts warm() may keep: IMPACT_CACHE_MAX, or fewer as the environment says."""
    wanted = os.environ.get(IMPACT_CACHE_ENV, "").strip()
    if wanted.isdigit():
        return min(IMPACT_CACHE_MAX, int(wanted) * (1 << 20) // 4)
    return IMPACT_CACHE_MAX


class _TermPlan(NamedTuple):
    """A term's lists in the segments and its BM25 weight (a tuple: made for every term of every
    question, where a frozen dataclass cost a few µs each)."""

    rows: tuple[int, ...]  # the term's row in each segment, -1 where it has none
    df: int
    idf: float
    weight: float  # idf × the term's weight in the question


def _best(docs: np.ndarray, scores: np.ndarray, k: int, idf: dict[str, float]) -> Hits:
    """The k best of the docs by their scores (aligned with them), best first, none scored 0.
    Equal scores (copies of one text) go to the lower doc number, the article indexed first: the
    same hits however the search found its candidates, and the ones the compiled search of a large
    archive picks (topk._k_best orders them so)."""
    if len(docs) > max(k, _SORT_ALL_MAX):  # the ones down to the k-th best score, its ties all kept
        kept = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
        docs, scores = docs[kept], scores[kept]
    order = np.lexsort((docs, -scores))[:k]
    docs, scores = docs[order], scores[order]
    found = scores > 0
    return Hits(docs[found], scores[found], idf)


_SORT_ALL_MAX = 64  # up to this many candidates one sort is quicker than a partition first


def _impacts_of(tfs: np.ndarray, docs: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """tf·(K1+1)/(tf+norm) of postings, worked out in blocks: the temporaries (uint16 tfs made
    float32) stay a few MB however long the list, not a copy of it."""
    impact = np.empty(len(docs), dtype=np.float32)
    for lo in range(0, len(docs), _IMPACT_BLOCK):
        hi = lo + _IMPACT_BLOCK
        block = impact[lo:hi]
        norms.take(docs[lo:hi], out=block)
        block_tfs = tfs[lo:hi].astype(np.float32)
        block += block_tfs
        np.divide(block_tfs, block, out=block)
        block *= K1 + 1.0
    return impact


_IMPACT_BLOCK = 1 << 20


def _threshold(scores: np.ndarray, lists: list[np.ndarray], k: int, budget: int) -> float:
    """A lower bound of the k-th best score: the k-th best within one posting list (its docs
    are distinct), the best over the shortest lists that fit the budget of gathered scores."""
    best = 0.0
    for docs in sorted((d for d in lists if len(d) >= k), key=len):
        if len(docs) > budget:
            break
        budget -= len(docs)
        values = scores[docs]
        best = max(best, float(np.partition(values, len(values) - k)[len(values) - k]))
    return best
