"""The segmented article index: BM25 over jieba terms, in segments, cached on disk.

Each corpus file becomes one segment (an inverted index of term frequencies), cached under a
key made of the file's content, the dictionaries and the code version, so a restart reloads
instead of re-segmenting, and a new page costs one small segment instead of a rebuild. BM25
weights are computed at query time from the global statistics of all segments, so adding a
segment never leaves stale weights behind.

Scale (see `python -m benchmarks`): a large batch is segmented on worker processes (one per core)
and the chunks merged without a global sort. The cache file format is bot/cache.py's.

Why one module of ~490 lines: building, merging and searching a segment all read and write the
same array layout (term ids, offsets, doc numbers, tf, impacts); kept together, that layout is
defined and checked in one place.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import sys
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from .article import Article
from .config import IMPACT_CACHE_ENV
from .passages import Layout, LayoutBuilder, Layouts, concat_layouts
from .text import Analyzer, Term

log = logging.getLogger(__name__)

INDEX_VERSION = "9"  # bump when segmentation, the segment layout, the cache format or what an article holds changes
TITLE_WEIGHT = 3  # a headline term counts as this many body occurrences
K1 = 1.2
B = 0.75
# Batches of at least this many articles are segmented on worker processes (one per core, at
# most MAX_WORKERS); $DISTRICT_NEWS_INDEX_WORKERS=1 forces one process.
PARALLEL_MIN_ARTICLES = 4000
MAX_WORKERS = 4
CHUNK_ARTICLES = 2000
# SearchIndex.warm() works out the BM25 impact of every posting of segments up to this many
# postings in all (4 bytes each: 256 MB at most; 100,000 articles hold ~29 million, 116 MB).
IMPACT_CACHE_MAX = 64_000_000
# $DISTRICT_NEWS_IMPACT_CACHE_MB lowers that budget (0: none, each question works out the impacts
# of its lists): the impacts are the one large thing a process holds of its own, so several
# workers over one archive (bot/telegram/supervisor.py) go without them.
TF_MAX = np.iinfo(np.uint16).max
MERGE_BLOCK = 4_000_000  # postings placed at a time when segments are merged
# A segment of fewer articles than this is "small": merged with its small neighbours on load
# (bot/loader.py) and at the end of a running index (Engine.merged); larger ones stay as built.
SMALL_SEGMENT = 20_000
# An archive of up to this many articles scores every posting of a question (numpy, impacts
# worked out ahead); a larger one skips the lists and documents that cannot reach the top k, in
# compiled loops (bot/topk.py). Every accuracy set is far below it, so their answers stay exactly
# as they were.
EXHAUSTIVE_MAX_ARTICLES = 50_000


@dataclass
class Segment:
    """Inverted index of one batch of articles (local doc numbers 0..n-1)."""

    terms: dict[str, int]  # term -> row in indptr
    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32 local doc numbers, grouped by term, ascending within a term
    tfs: np.ndarray  # uint16 term frequencies (headline weighted): exact integers, half of float32's bytes
    doc_len: np.ndarray  # float32 weighted length of each doc
    layouts: Layouts  # each article's sentences and fact bits, for the snippet (passages.py)

    @property
    def size(self) -> int:
        return len(self.doc_len)

    def df(self, term: str) -> int:
        row = self.terms.get(term)
        return 0 if row is None else int(self.indptr[row + 1] - self.indptr[row])


def _count_terms(
    texts: Iterable[tuple[str, str]], analyzer: Analyzer, progress: Callable[[int], None] | None = None
) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, Layouts]:
    """Term counts of (headline, body) pairs: vocab, term ids, tfs, postings per doc, doc lengths,
    and each article's layout (its sentences, cut here once rather than in every question).

    Growable C arrays instead of a small numpy array per article: ~30 million postings at
    100,000 articles would otherwise cost a Python object header each.
    """
    vocab: dict[str, int] = {}
    setdefault = vocab.setdefault
    term_ids = array("i")
    tfs = array("f")
    per_doc = array("i")
    lengths = array("f")
    layouts = LayoutBuilder()
    for headline, body in texts:
        layouts.add(headline, body)
        counts: dict[int, int] = {}
        for term in analyzer.terms(headline):
            tid = setdefault(term, len(vocab))
            counts[tid] = counts.get(tid, 0) + TITLE_WEIGHT
        for term in analyzer.terms(body):
            tid = setdefault(term, len(vocab))
            counts[tid] = counts.get(tid, 0) + 1
        term_ids.extend(counts.keys())
        tfs.extend(counts.values())
        per_doc.append(len(counts))
        lengths.append(float(sum(counts.values())))
        if progress is not None:
            progress(1)
    return (
        vocab,
        np.frombuffer(term_ids, dtype=np.int32),
        np.frombuffer(tfs, dtype=np.float32),
        np.frombuffer(per_doc, dtype=np.int32),
        np.frombuffer(lengths, dtype=np.float32),
        layouts.build(),
    )


def _segment_from_counts(
    vocab: dict[str, int],
    term_ids: np.ndarray,
    tfs: np.ndarray,
    per_doc: np.ndarray,
    doc_len: np.ndarray,
    layouts: Layouts,
) -> Segment:
    """Postings grouped by term (docs ascending within a term), as an inverted index."""
    docs = np.repeat(np.arange(len(per_doc), dtype=np.int32), per_doc)
    order = np.argsort(term_ids, kind="stable")
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=docs[order],
        tfs=np.minimum(tfs[order], TF_MAX).astype(np.uint16),
        doc_len=np.array(doc_len, dtype=np.float32),
        layouts=layouts,
    )


def build_segment(
    articles: Sequence[Article], analyzer: Analyzer, progress: Callable[[int], None] | None = None
) -> Segment:
    """Segment every article once and count its terms (large batches on all cores)."""
    articles = list(articles)
    workers = _workers_for(len(articles), analyzer)
    if workers > 1:
        reported = 0

        def counted(done: int) -> None:
            nonlocal reported
            reported += done
            if progress is not None:
                progress(done)

        try:
            return _build_parallel(articles, analyzer, workers, counted)
        except (OSError, RuntimeError, pickle.PicklingError):  # no worker processes here: one process
            if progress is not None and reported:
                progress(-reported)  # the bar starts over for the one-process build
    counts = _count_terms(((a.headline, a.body) for a in articles), analyzer, progress)
    return _segment_from_counts(*counts)


# ---------------------------------------------------------------- parallel segmentation


def _workers_for(count: int, analyzer: Analyzer) -> int:
    if count < PARALLEL_MIN_ARTICLES or type(analyzer) is not Analyzer:
        return 1  # a subclass may not be rebuildable in a worker from its lexicon and words
    wanted = os.environ.get("DISTRICT_NEWS_INDEX_WORKERS", "").strip()
    if wanted.isdigit():
        return max(1, min(int(wanted), MAX_WORKERS))
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


# A worker's answer for one chunk: its terms in id order, then term ids, tfs, postings per doc,
# doc lengths and layouts (as `_count_terms`, with the vocab as a list).
_Chunk = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, Layouts]


def _count_chunk(texts: list[tuple[str, str]], analyzer: Analyzer) -> _Chunk:
    vocab, term_ids, tfs, per_doc, lengths, layouts = _count_terms(texts, analyzer)
    # Terms in id order: a list pickles smaller and faster than the dict.
    return list(vocab), term_ids.copy(), tfs.copy(), per_doc.copy(), lengths.copy(), layouts


def _worker_main() -> None:
    """A segmentation worker: `python -c` reading pickled chunks on stdin, answering on stdout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    lexicon, extra_words = pickle.load(stdin)
    analyzer = Analyzer(lexicon, extra_words)
    while True:
        try:
            texts = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump(_count_chunk(texts, analyzer), stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


_WORKER_CODE = "from bot.index import _worker_main; _worker_main()"


def _build_parallel(
    articles: list[Article], analyzer: Analyzer, workers: int, progress: Callable[[int], None] | None
) -> Segment:
    """Chunks of articles segmented on `workers` processes, then merged in order.

    The workers are plain `python -c` processes fed pickled chunks over pipes, not a
    multiprocessing pool: nothing is forked from a possibly threaded server, and no caller's
    main script is re-imported in them. Each rebuilds the analyzer from the lexicon and the
    corpus words, so it cuts exactly as this process does. One thread per worker keeps it busy.
    """
    import queue
    import subprocess

    step = min(CHUNK_ARTICLES, max(100, -(-len(articles) // (workers * 4))))
    bounds = [(lo, min(len(articles), lo + step)) for lo in range(0, len(articles), step)]
    parts: list[Segment | None] = [None] * len(bounds)
    todo = iter(range(len(bounds)))
    todo_lock = threading.Lock()
    finished: queue.Queue[tuple[int, _Chunk] | BaseException | None] = queue.Queue()
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for _ in range(workers)
    ]

    def feed(proc: subprocess.Popen) -> None:
        try:
            assert proc.stdin is not None and proc.stdout is not None
            pickle.dump((analyzer.lexicon, tuple(analyzer.extra_words)), proc.stdin)
            while True:
                with todo_lock:
                    number = next(todo, None)
                if number is None:
                    break
                lo, hi = bounds[number]
                pickle.dump(
                    [(a.headline, a.body) for a in articles[lo:hi]], proc.stdin, protocol=pickle.HIGHEST_PROTOCOL
                )
                proc.stdin.flush()
                finished.put((number, pickle.load(proc.stdout)))
            finished.put(None)
        except BaseException as exc:  # a dead worker: the caller falls back to one process
            finished.put(exc)

    threads = [threading.Thread(target=feed, args=(p,), daemon=True) for p in procs]
    try:
        for thread in threads:
            thread.start()
        running = len(threads)
        while running:
            item = finished.get()
            if item is None:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise RuntimeError(f"segmentation worker failed: {item!r}") from item
            number, (terms, term_ids, tfs, per_doc, lengths, layouts) = item
            lo, hi = bounds[number]
            vocab = {term: row for row, term in enumerate(terms)}
            parts[number] = _segment_from_counts(vocab, term_ids, tfs, per_doc, lengths, layouts)
            if progress is not None:
                progress(hi - lo)
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
    if any(p is None for p in parts):
        raise RuntimeError("segmentation workers returned too few chunks")
    return merge_segments([p for p in parts if p is not None])


def merge_segments(segments: Sequence[Segment]) -> Segment:
    """One segment equal to the given ones in order (fewer look-ups per question).

    No global sort: every term's postings are the concatenation of its postings in each
    segment, in segment order, so each segment's postings are scattered straight to their
    place. The first segment's vocabulary is kept as is (a big cached segment plus a new page
    costs a dictionary copy, not a rebuild).
    """
    if len(segments) == 1:
        return segments[0]
    if not segments:
        return _segment_from_counts(
            {},
            np.zeros(0, np.int32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int32),
            np.zeros(0, np.float32),
            concat_layouts([]),
        )
    vocab: dict[str, int] = dict(segments[0].terms)
    mappings = [np.arange(len(segments[0].terms), dtype=np.int64)]
    for segment in segments[1:]:
        local_to_global = np.empty(len(segment.terms), dtype=np.int64)
        for term, row in segment.terms.items():
            local_to_global[row] = vocab.setdefault(term, len(vocab))
        mappings.append(local_to_global)
    # A term's global id is its row in the first segment (the dictionary was copied), so the
    # first mapping is the identity; rows are unique within a segment, so += is safe.
    counts = np.zeros(len(vocab), dtype=np.int64)
    for segment, local_to_global in zip(segments, mappings, strict=True):
        counts[local_to_global] += np.diff(segment.indptr)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    total = int(indptr[-1])
    docs = np.empty(total, dtype=np.int32)
    tfs = np.empty(total, dtype=np.uint16)
    filled = indptr[:-1].copy()  # next free slot of each global term
    base = 0
    for segment, local_to_global in zip(segments, mappings, strict=True):
        row_counts = np.diff(segment.indptr)
        if len(segment.docs):
            shift = filled[local_to_global] - segment.indptr[:-1]  # where each row's postings go
            # Rows in blocks of about MERGE_BLOCK postings: the positions worked out (8 bytes a
            # posting) stay a few MB, not a copy of the segment (merging a million articles' parts).
            cuts = np.unique(np.searchsorted(segment.indptr, np.arange(0, len(segment.docs), MERGE_BLOCK), "right") - 1)
            for lo_row, hi_row in zip(cuts, [*cuts[1:], len(row_counts)], strict=True):
                lo, hi = int(segment.indptr[lo_row]), int(segment.indptr[hi_row])
                dest = np.repeat(shift[lo_row:hi_row], row_counts[lo_row:hi_row]) + np.arange(lo, hi)
                docs[dest] = segment.docs[lo:hi] + base if base else segment.docs[lo:hi]
                tfs[dest] = segment.tfs[lo:hi]
            filled[local_to_global] += row_counts
        base += segment.size
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=docs,
        tfs=tfs,
        doc_len=np.concatenate([s.doc_len for s in segments]).astype(np.float32, copy=False),
        layouts=concat_layouts([s.layouts for s in segments]),
    )


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
        # Per segment, tf·(K1+1)/(tf+norm) of every posting in the order of `docs` (see warm()).
        self._impacts: list[np.ndarray | None] = []
        for segment in segments:
            self.add(segment)

    def add(self, segment: Segment) -> None:
        self.bases.append(self.size)
        self.segments.append(segment)
        self.size += segment.size
        self._total_len += float(segment.doc_len.sum())
        self._norms = None
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
        terms = list(terms)
        plans = [self._plan(term) for term in terms]
        idf = {term.text: plan.idf for term, plan in zip(terms, plans, strict=True)}
        if not self.size:
            return Hits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), idf)
        k = min(k, self.size)
        compiled = None if self.size <= EXHAUSTIVE_MAX_ARTICLES else compiled_search()
        if compiled is None:
            return self._search_all(plans, k, idf)
        return self._search_large(compiled, plans, k, idf)

    def _plan(self, term: Term) -> _TermPlan:
        rows = [s.terms.get(term.text) for s in self.segments]
        df = sum(int(s.indptr[r + 1] - s.indptr[r]) for s, r in zip(self.segments, rows, strict=True) if r is not None)
        idf = math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))
        return _TermPlan(rows, df, idf, idf * term.weight)

    def _postings(self, plan: _TermPlan, norms: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(global docs, weighted impacts) of a term's list in each segment that has it."""
        for number, (base, segment, row) in enumerate(zip(self.bases, self.segments, plan.rows, strict=True)):
            if row is None:
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
        hits = _best(scores, top, k, idf)
        hits.postings_scored = sum(plan.df for plan in plans)
        return hits

    def _search_large(self, topk: ModuleType, plans: list[_TermPlan], k: int, idf: dict[str, float]) -> Hits:
        norms = self._doc_norms()
        order = sorted(plans, key=lambda plan: plan.df)  # rarest first
        segments = []
        for number, (base, segment) in enumerate(zip(self.bases, self.segments, strict=True)):
            rows = [(row, plan.weight) for plan in order if (row := plan.rows[number]) is not None]
            if not rows:
                continue
            indptr = segment.indptr
            segments.append(
                topk.SegmentLists(
                    docs=_read_only(segment.docs),
                    tfs=_read_only(segment.tfs),
                    norms=norms[number],
                    base=base,
                    starts=np.array([indptr[row] for row, _ in rows], dtype=np.int64),
                    ends=np.array([indptr[row + 1] for row, _ in rows], dtype=np.int64),
                    weights=np.array([weight for _, weight in rows], dtype=np.float32),
                )
            )
        docs, scores, scored = topk.top_k(segments, self.size, k)
        return Hits(docs, scores, idf, scored)

    def warm(self) -> None:
        """Do ahead, on a background thread after load, what the first questions would wait for.

        A small archive: every posting's impact, as bm25s works them out at index time (one
        vectorised pass a segment; kept in memory only, since every impact changes with avgdl).
        A large one: its compiled loops, loaded from numba's cache (compiled the first time).
        """
        if self.size > EXHAUSTIVE_MAX_ARTICLES:
            compiled_search(wait=True)
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

    def _impact(self, number: int, row: int, norms: list[np.ndarray]) -> np.ndarray:
        segment = self.segments[number]
        lo, hi = segment.indptr[row], segment.indptr[row + 1]
        impacts = self._impacts[number]
        if impacts is not None:
            return impacts[lo:hi]
        return _impacts_of(segment.tfs[lo:hi], segment.docs[lo:hi], norms[number])


_COMPILED: list[ModuleType] = []  # bot.topk, once loaded and its loops compiled
_COMPILING: list[threading.Thread] = []
_COMPILING_LOCK = threading.Lock()


def compiled_search(wait: bool = False) -> ModuleType | None:
    """bot.topk, the compiled search of large archives, or None while it loads.

    Importing numba and loading the compiled loops takes ~0.5 s (compiling them, the first time
    on a machine, a few seconds): a thread does it, started by the first large archive, and
    questions asked meanwhile are scored exhaustively (the same top k, a few ms slower at a
    million articles) rather than waiting. If numba cannot load at all, every question is.
    """
    if not _COMPILED:
        with _COMPILING_LOCK:
            if not _COMPILING:
                _COMPILING.append(threading.Thread(target=_compile, name="search-compile", daemon=True))
                _COMPILING[0].start()
        if wait:
            _COMPILING[0].join()
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


@dataclass(frozen=True)
class _TermPlan:
    rows: list[int | None]  # the term's row in each segment
    df: int
    idf: float
    weight: float  # idf × the term's weight in the question


def _best(scores: np.ndarray, top: np.ndarray, k: int, idf: dict[str, float]) -> Hits:
    if len(top) > k:
        top = top[np.argpartition(-scores[top], k - 1)[:k]]
    top = top[np.argsort(-scores[top], kind="stable")]
    top = top[scores[top] > 0]
    return Hits(top, scores[top], idf)


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
