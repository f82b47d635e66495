"""The segmented article index: term frequencies over jieba terms, in segments, cached on disk.

Each corpus file becomes one segment (an inverted index of term frequencies), cached under a
key made of the file's content, the dictionaries and the code version, so a restart reloads
instead of re-segmenting, and a new page costs one small segment instead of a rebuild. BM25
weights are computed at query time from the global statistics of all segments, so adding a
segment never leaves stale weights behind.

Scale (see `python -m benchmarks`): a large batch is segmented on worker processes (one per core)
and the chunks merged without a global sort. The cache file format is bot/cache.py's.

Building and merging a segment read and write the same array layout (term ids, offsets, doc
numbers, tf); kept together, that layout is defined and checked in one place. Searching it is
bot/search.py's (and, for large archives, bot/topk.py's).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .article import Article
from .passages import LayoutBuilder, Layouts, concat_layouts
from .text import Analyzer

INDEX_VERSION = "11"  # bump when segmentation, the segment layout, the cache format or what an article holds changes
TITLE_WEIGHT = 3  # a headline term counts as this many body occurrences
# Batches of at least this many articles are segmented on worker processes (one per core, at
# most MAX_WORKERS); $DISTRICT_NEWS_INDEX_WORKERS=1 forces one process.
PARALLEL_MIN_ARTICLES = 4000
MAX_WORKERS = 4
CHUNK_ARTICLES = 2000
TF_MAX = np.iinfo(np.uint16).max
MERGE_BLOCK = 4_000_000  # postings placed at a time when segments are merged
# A segment of fewer articles than this is "small": merged with its small neighbours on load
# (bot/loader.py) and at the end of a running index (Engine.merged); larger ones stay as built.
SMALL_SEGMENT = 20_000
# BM25's parameters (bot/search.py scores with them; the index keeps bounds worked out with them).
K1 = 1.2
B = 0.75
BOUND_BLOCK = 1 << 20  # postings whose impacts are worked out at a time for the bounds


@dataclass
class Segment:
    """Inverted index of one batch of articles (local doc numbers 0..n-1)."""

    terms: dict[str, int]  # term -> row in indptr
    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32 local doc numbers, grouped by term, ascending within a term
    tfs: np.ndarray  # uint16 term frequencies (headline weighted): exact integers, half of float32's bytes
    doc_len: np.ndarray  # float32 weighted length of each doc
    layouts: Layouts  # each article's sentences and fact bits, for the snippet (passages.py)
    # Per row, at least the largest BM25 impact tf·(K1+1)/(tf+norm) of its postings with the
    # norms of average length `bounds_avgdl`; in an archive of another average, times
    # bound_scale(). What lets MaxScore (bot/topk.py) know how much a term can add to a document,
    # far below the K1+1 of any tf.
    bounds: np.ndarray  # float32, one per row
    bounds_avgdl: float

    @property
    def size(self) -> int:
        return len(self.doc_len)

    def df(self, term: str) -> int:
        row = self.terms.get(term)
        return 0 if row is None else int(self.indptr[row + 1] - self.indptr[row])

    def bound_scale(self, avgdl: float) -> float:
        """What the bounds are multiplied by for an archive of average length `avgdl`.

        A longer average shortens every norm by at most avgdl / bounds_avgdl, which raises an
        impact tf/(tf + norm) by at most as much; a shorter one only lowers it."""
        return max(1.0, avgdl / self.bounds_avgdl)


def _avgdl(doc_len: np.ndarray) -> float:
    """The average length (1 when there are no terms at all: the bounds are all 0 then)."""
    total = float(doc_len.sum(dtype=np.float64))
    return total / len(doc_len) if total > 0 else 1.0


def _row_bounds(indptr: np.ndarray, docs: np.ndarray, tfs: np.ndarray, doc_len: np.ndarray, avgdl: float) -> np.ndarray:
    """The largest impact of each row at average length `avgdl`, in blocks of rows (the impacts
    of a whole segment would be 4 bytes a posting)."""
    bounds = np.zeros(len(indptr) - 1, dtype=np.float32)
    if not len(docs):
        return bounds
    norms = (K1 * (1.0 - B + B * doc_len.astype(np.float64) / avgdl)).astype(np.float32)
    cuts = np.unique(np.searchsorted(indptr, np.arange(0, len(docs), BOUND_BLOCK), "right") - 1)
    for lo_row, hi_row in zip(cuts, [*cuts[1:], len(indptr) - 1], strict=True):
        lo, hi = int(indptr[lo_row]), int(indptr[hi_row])
        block_tfs = tfs[lo:hi].astype(np.float32)
        impacts = block_tfs * np.float32(K1 + 1.0) / (block_tfs + norms[docs[lo:hi]])
        starts = indptr[lo_row:hi_row] - lo
        full = starts < indptr[lo_row + 1 : hi_row + 1] - lo  # reduceat needs rows with postings
        bounds[lo_row:hi_row][full] = np.maximum.reduceat(impacts, starts[full])
    return bounds


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
        # Counted in C first: each distinct term then costs one step of Python, not each token.
        counts = {
            setdefault(term, len(vocab)): n * TITLE_WEIGHT for term, n in Counter(analyzer.terms(headline)).items()
        }
        for term, n in Counter(analyzer.terms(body)).items():
            tid = setdefault(term, len(vocab))
            counts[tid] = counts.get(tid, 0) + n
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
    order = np.argsort(term_ids, kind="stable")
    docs = np.repeat(np.arange(len(per_doc), dtype=np.int32), per_doc)[order]
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
    tfs = np.minimum(tfs[order], TF_MAX).astype(np.uint16)
    doc_len = np.array(doc_len, dtype=np.float32)
    avgdl = _avgdl(doc_len)
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=docs,
        tfs=tfs,
        doc_len=doc_len,
        layouts=layouts,
        bounds=_row_bounds(indptr, docs, tfs, doc_len, avgdl),
        bounds_avgdl=avgdl,
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
    doc_len = np.concatenate([s.doc_len for s in segments]).astype(np.float32, copy=False)
    avgdl = _avgdl(doc_len)
    # Each part's bounds, rescaled to the merged average (a valid bound, as for any archive),
    # rather than a pass over every posting again.
    bounds = np.zeros(len(vocab), dtype=np.float32)
    for segment, local_to_global in zip(segments, mappings, strict=True):
        scaled = segment.bounds * np.float32(segment.bound_scale(avgdl))
        bounds[local_to_global] = np.maximum(bounds[local_to_global], scaled)
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=docs,
        tfs=tfs,
        doc_len=doc_len,
        layouts=concat_layouts([s.layouts for s in segments]),
        bounds=bounds,
        bounds_avgdl=avgdl,
    )
