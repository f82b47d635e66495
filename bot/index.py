"""The segmented article index: BM25 over jieba terms, in segments, cached on disk.

Each corpus file becomes one segment (an inverted index of term frequencies), cached under a
key made of the file's content, the dictionaries and the code version, so a restart reloads
instead of re-segmenting, and a new page costs one small segment instead of a rebuild. BM25
weights are computed at query time from the global statistics of all segments, so adding a
segment never leaves stale weights behind.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import Article
from .text import Analyzer, Term

INDEX_VERSION = "3"  # bump when segmentation or the segment layout changes
TITLE_WEIGHT = 3  # a headline term counts as this many body occurrences
K1 = 1.2
B = 0.75


@dataclass
class Segment:
    """Inverted index of one batch of articles (local doc numbers 0..n-1)."""

    terms: dict[str, int]  # term -> row in indptr
    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32 local doc numbers, grouped by term
    tfs: np.ndarray  # float32 term frequencies (headline weighted)
    doc_len: np.ndarray  # float32 weighted length of each doc
    article_ids: list[str]

    @property
    def size(self) -> int:
        return len(self.article_ids)

    def df(self, term: str) -> int:
        row = self.terms.get(term)
        return 0 if row is None else int(self.indptr[row + 1] - self.indptr[row])


def build_segment(articles: Sequence[Article], analyzer: Analyzer,
                  progress: Callable[[int], None] | None = None) -> Segment:
    """Segment every article once and count its terms."""
    vocab: dict[str, int] = {}
    term_rows: list[np.ndarray] = []
    doc_rows: list[np.ndarray] = []
    tf_rows: list[np.ndarray] = []
    doc_len = np.zeros(len(articles), dtype=np.float32)
    for number, article in enumerate(articles):
        counts: dict[int, int] = {}
        for term in analyzer.terms(article.headline):
            tid = vocab.setdefault(term, len(vocab))
            counts[tid] = counts.get(tid, 0) + TITLE_WEIGHT
        for term in analyzer.terms(article.body):
            tid = vocab.setdefault(term, len(vocab))
            counts[tid] = counts.get(tid, 0) + 1
        if counts:
            term_rows.append(np.fromiter(counts.keys(), dtype=np.int32, count=len(counts)))
            tf_rows.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            doc_rows.append(np.full(len(counts), number, dtype=np.int32))
            doc_len[number] = float(sum(counts.values()))
        if progress is not None:
            progress(1)
    if term_rows:
        term_ids = np.concatenate(term_rows)
        docs = np.concatenate(doc_rows)
        tfs = np.concatenate(tf_rows)
    else:
        term_ids = np.zeros(0, dtype=np.int32)
        docs = np.zeros(0, dtype=np.int32)
        tfs = np.zeros(0, dtype=np.float32)
    order = np.argsort(term_ids, kind="stable")
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=docs[order],
        tfs=tfs[order],
        doc_len=doc_len,
        article_ids=[a.id for a in articles],
    )


def merge_segments(segments: Sequence[Segment]) -> Segment:
    """One segment equal to the given ones in order (fewer look-ups per question)."""
    if len(segments) == 1:
        return segments[0]
    vocab: dict[str, int] = {}
    term_parts, doc_parts, tf_parts = [], [], []
    base = 0
    for segment in segments:
        local_to_global = np.empty(len(segment.terms), dtype=np.int32)
        for term, row in segment.terms.items():
            local_to_global[row] = vocab.setdefault(term, len(vocab))
        counts = np.diff(segment.indptr)
        term_parts.append(np.repeat(local_to_global, counts))
        doc_parts.append(segment.docs + base)
        tf_parts.append(segment.tfs)
        base += segment.size
    term_ids = np.concatenate(term_parts) if term_parts else np.zeros(0, dtype=np.int32)
    order = np.argsort(term_ids, kind="stable")
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
    return Segment(
        terms=vocab,
        indptr=indptr,
        docs=np.concatenate(doc_parts)[order].astype(np.int32),
        tfs=np.concatenate(tf_parts)[order],
        doc_len=np.concatenate([s.doc_len for s in segments]),
        article_ids=[i for s in segments for i in s.article_ids],
    )


@dataclass
class Hits:
    """Top documents of a query: global doc numbers, BM25 scores, matched-term coverage."""

    docs: np.ndarray
    scores: np.ndarray
    coverage: np.ndarray  # share of the question's term weight each doc contains (0..1)
    query_weight: float


class SearchIndex:
    """BM25 over one or more segments, with global statistics."""

    def __init__(self, segments: Sequence[Segment] = ()) -> None:
        self.segments: list[Segment] = []
        self.bases: list[int] = []
        self.size = 0
        self._total_len = 0.0
        for segment in segments:
            self.add(segment)

    def add(self, segment: Segment) -> None:
        self.bases.append(self.size)
        self.segments.append(segment)
        self.size += segment.size
        self._total_len += float(segment.doc_len.sum())

    @property
    def avgdl(self) -> float:
        return self._total_len / self.size if self.size else 1.0

    def df(self, term: str) -> int:
        return sum(s.df(term) for s in self.segments)

    def idf(self, term: str) -> float:
        """BM25 idf (always positive); a term no article has gets the highest value."""
        df = self.df(term)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def search(self, terms: Iterable[Term], k: int = 10) -> Hits:
        terms = list(terms)
        scores = np.zeros(self.size, dtype=np.float32)
        cover = np.zeros(self.size, dtype=np.float32)
        avgdl = self.avgdl
        query_weight = 0.0
        for term in terms:
            idf = self.idf(term.text)
            query_weight += idf * term.weight
            for base, segment in zip(self.bases, self.segments, strict=True):
                row = segment.terms.get(term.text)
                if row is None:
                    continue
                lo, hi = segment.indptr[row], segment.indptr[row + 1]
                docs = segment.docs[lo:hi]
                tf = segment.tfs[lo:hi]
                norm = K1 * (1.0 - B + B * segment.doc_len[docs] / avgdl)
                target = docs + base if base else docs
                scores[target] += (idf * term.weight) * tf * (K1 + 1.0) / (tf + norm)
                cover[target] += idf * term.weight
        if not self.size:
            empty = np.zeros(0, dtype=np.int64)
            return Hits(empty, np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32), query_weight)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k] if k < self.size else np.arange(self.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        coverage = cover[top] / query_weight if query_weight > 0 else np.zeros(len(top), dtype=np.float32)
        return Hits(top, scores[top], coverage, query_weight)


# ---------------------------------------------------------------- cache


def cache_key(*parts: bytes | str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(INDEX_VERSION.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def load_cached(path: Path) -> object | None:
    """A cached object, or None when it is missing or unreadable (then it is rebuilt)."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is a cache miss, never a crash
        return None


def store_cached(path: Path, value: object) -> None:
    """Write atomically: a crash mid-write must not leave a half file that looks valid."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        # A read-only or full disk only costs speed; the index still works from memory.
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
