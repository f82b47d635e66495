"""The BM25 top k of one piece of a segment, in compiled loops (numba): MaxScore.

Why compiled: at a million articles a question's lists hold ~600,000 postings, and numpy pays a
pass over memory and a call per step (gather the norms, work out the impacts, scatter the scores,
find the new documents, filter the candidates), several times a list. One loop over the postings
does all of that at once and keeps the k best documents as it goes, so the threshold that lets
lists be skipped is known from the first list on rather than recomputed after each.

The search, per piece of a segment (its lists in the order given, rarest first), keeps its
candidates as a list of documents, ascending, beside their scores:
1. add whole lists while a document none of the added lists holds could still reach the k-th
   best score (the sum of the bounds of the lists not yet added is at least that score: each
   list's bound is the largest impact it holds, which the index keeps per term, times the
   term's weight): the candidates become their union with the list, in one merge;
   after two, score the best documents so far whole (binary search in every list), which lifts
   the k-th best score close to its final value at once;
2. then, for each remaining list, drop the candidates that can no longer reach the k-th best even
   with every remaining list, and add the list's impacts to the ones left: by galloping search
   when they are few against the list, by one pass beside it otherwise.
Every document that can reach the top k is scored exactly, so the top k is the exhaustive one
(up to float32 rounding: scores are added in this order, not the question's).

Candidates beside their scores, not scores in an array over the piece's documents: the array
was written and read at scattered places (a cache miss a posting), the dropping and the passes
read it again, and it was zeroed after each piece. At a million articles, one thread, questions
taken in turn: the search 5-20% quicker, the same top k.

The first passes read a document's norm a few postings ahead of where they add (a prefetch
hint): those are scattered over the piece, and waiting for each in turn was most of a pass.

How pieces are cut and shared by two threads: bot/topk.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np

from .atomics import prefetch


@dataclass(frozen=True, eq=False)
class Segments:
    """The index's segments as the loops read them: one object per state of the index (its norms),
    the same question after question, so the helper's set-up for them stays."""

    docs: tuple[np.ndarray, ...]  # each segment's int32 doc numbers, all terms (read-only)
    tfs: tuple[np.ndarray, ...]  # its uint16 term frequencies (read-only)
    norms: tuple[np.ndarray, ...]  # float32 K1·(1 − B + B·len/avgdl) of each of its docs
    bases: tuple[int, ...]  # its first global doc number
    indptrs: tuple[np.ndarray, ...]  # int64: row r's postings are docs[indptr[r]:indptr[r + 1]] (read-only)
    row_bounds: tuple[np.ndarray, ...]  # float32 the largest impact of each row (read-only)
    scales: tuple[float, ...]  # what its row bounds are multiplied by for the current average length


class Question(NamedTuple):
    """A question's terms as the loops read them: which row each term has in each segment, and
    its weight. The loops lay out the lists and pieces themselves (_lay_out): built in Python, per
    segment and term, that was ~0.1 ms a question at a million articles."""

    segments: Segments
    rows: np.ndarray  # int64 [terms, segments]: each term's row in each segment, -1 where none; rarest first
    weights: np.ndarray  # float64 idf × the term's weight in the question, per term
    postings: int  # how many postings its lists hold in all


def scratch_buffers(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spare scores and docs (a union being made), candidate docs and their scores for `size`
    documents: what a piece's loops write, each piece in its own range."""
    room = size + size // 8
    return (
        np.zeros(room, dtype=np.float32),
        np.zeros(room, dtype=np.int64),
        np.zeros(room, dtype=np.int64),
        np.zeros(room, dtype=np.float32),
    )


# K1 + 1 as float32 (search.K1; a test holds them equal): impacts are tf·(K1+1)/(tf+norm) in
# float32, as search.py works them out.
_K1_PLUS_1 = np.float32(2.2)
# A list is probed by galloping search when it holds this many times more postings than there are
# candidates left; otherwise one pass over it (reads the list, but no search per candidate).
GALLOP_RATIO = 8
# After this many lists are scored whole, the documents best so far (this many) are scored whole.
SAMPLE_AFTER = 2
SAMPLE = 16
# Bounds are kept with this much room for float32 rounding.
SCORE_SLACK = 1e-4
# How many postings ahead of the one added a pass prefetches its document's norm and score.
PREFETCH_AHEAD = 16


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _k_best(
    candidates: np.ndarray, found_scores: np.ndarray, starts: np.ndarray, ends: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of the pieces' candidates (candidates[starts[i]:ends[i]] and their scores), best
    first, equal scores to the lower doc number, none scored 0: in one pass, where gathering them
    (thousands, from a dozen pieces) and sorting them in numpy cost ~0.1 ms a question."""
    docs = np.full(k, -1, dtype=np.int64)
    scores = np.zeros(k, dtype=np.float32)
    held = 0
    for i in range(starts.shape[0] if k > 0 else 0):
        for j in range(starts[i], ends[i]):
            score = found_scores[j]
            doc = candidates[j]
            if score <= 0:
                continue
            if held == k and not (score > scores[k - 1] or (score == scores[k - 1] and doc < docs[k - 1])):
                continue
            at = min(held, k - 1)  # move the worse ones down, then put it in its place
            while at > 0 and (score > scores[at - 1] or (score == scores[at - 1] and doc < docs[at - 1])):
                docs[at] = docs[at - 1]
                scores[at] = scores[at - 1]
                at -= 1
            docs[at] = doc
            scores[at] = score
            held = min(held + 1, k)
    return docs[:held].copy(), scores[:held].copy()


@nb.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _impact(tf_count: int, norm: np.float32) -> np.float32:
    """BM25's tf·(K1+1)/(tf+norm), in float32 as search.py works it out: every place a posting is
    added computes it so, and the sums stay the same bits."""
    tf = np.float32(tf_count)
    return (tf / (norm + tf)) * _K1_PLUS_1


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _cut(
    docs: np.ndarray, starts: np.ndarray, ends: np.ndarray, first_doc: int, end_doc: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each list's postings of the documents first_doc ≤ doc < end_doc (lists are ascending)."""
    cut_starts = np.empty_like(starts)
    cut_ends = np.empty_like(ends)
    for i in range(starts.shape[0]):
        cut_starts[i] = _first_at_least(docs, starts[i], ends[i], first_doc)
        cut_ends[i] = _first_at_least(docs, cut_starts[i], ends[i], end_doc)
    return cut_starts, cut_ends


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _first_at_least(docs: np.ndarray, lo: int, hi: int, doc: int) -> int:
    """Where in docs[lo:hi] (ascending) the first document ≥ doc is, hi if none."""
    while lo < hi:
        middle = (lo + hi) >> 1
        if docs[middle] < doc:
            lo = middle + 1
        else:
            hi = middle
    return lo


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _offer(top_docs: np.ndarray, top_scores: np.ndarray, doc: int, score: float | np.float32) -> float:
    """Doc's score rose to `score` (above the k-th best): keep the k best distinct documents.
    Returns the new k-th best score."""
    slot = -1
    low = 0
    for i in range(top_docs.shape[0]):
        if top_docs[i] == doc:
            slot = i
        if top_scores[i] < top_scores[low]:
            low = i
    if slot < 0:
        slot = low
    elif top_scores[slot] >= score:  # it holds the doc's whole score (a sample) already
        return _kth(top_scores)
    top_docs[slot] = doc
    top_scores[slot] = score
    return _kth(top_scores)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _kth(top_scores: np.ndarray) -> float:
    kth = top_scores[0]
    for i in range(1, top_scores.shape[0]):
        kth = min(kth, top_scores[i])
    return kth


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _sample(
    docs: np.ndarray,
    tfs: np.ndarray,
    norms: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    base: int,
    held_docs: np.ndarray,
    held_scores: np.ndarray,
    first: int,
    end: int,
    top_docs: np.ndarray,
    top_scores: np.ndarray,
) -> float:
    """Offer the whole scores of the SAMPLE documents best so far: the k-th best score rises to
    near its final value at once, instead of list by list, and more lists need no full pass."""
    best = np.full(SAMPLE, -1, dtype=np.int64)
    best_scores = np.zeros(SAMPLE, dtype=np.float32)
    low = 0
    for j in range(first, end):
        if held_scores[j] > best_scores[low]:
            best[low] = held_docs[j]
            best_scores[low] = held_scores[j]
            for s in range(SAMPLE):
                if best_scores[s] < best_scores[low]:
                    low = s
    kth = _kth(top_scores)
    for s in range(SAMPLE):
        g = best[s]
        if g < 0:
            continue
        doc = g - base
        score = np.float32(0)
        for i in range(starts.shape[0]):  # in the order the search adds them: the same float sum
            lo = _first_at_least(docs, starts[i], ends[i], doc)
            if lo < ends[i] and docs[lo] == doc:
                score = score + _impact(tfs[lo], norms[doc]) * weights[i]
        if score > kth:
            kth = _offer(top_docs, top_scores, g, score)
    return kth


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _add_whole(
    docs: np.ndarray,
    tfs: np.ndarray,
    norms: np.ndarray,
    lo: int,
    hi: int,
    weight: np.float32,
    base: int,
    held_docs: np.ndarray,
    held_scores: np.ndarray,
    first: int,
    end: int,
    out_docs: np.ndarray,
    out_scores: np.ndarray,
    top_docs: np.ndarray,
    top_scores: np.ndarray,
    kth: float,
) -> tuple[int, float]:
    """Add a whole list to the documents held (held_docs[first:end], ascending, with their scores):
    the union, ascending, goes to out_docs/out_scores from `first` on. Returns where it ends and
    the k-th best score."""
    out = first
    j = first
    last = hi - 1
    for p in range(lo, hi):
        prefetch(norms, docs[min(p + PREFETCH_AHEAD, last)])
        g = base + docs[p]
        while j < end and held_docs[j] < g:  # held, not in this list: as they were
            out_docs[out] = held_docs[j]
            out_scores[out] = held_scores[j]
            out += 1
            j += 1
        old = np.float32(0)
        if j < end and held_docs[j] == g:
            old = held_scores[j]
            j += 1
        score = old + _impact(tfs[p], norms[g - base]) * weight
        out_docs[out] = g
        out_scores[out] = score
        out += 1
        if score > kth:
            kth = _offer(top_docs, top_scores, g, score)
    while j < end:
        out_docs[out] = held_docs[j]
        out_scores[out] = held_scores[j]
        out += 1
        j += 1
    return out, kth


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _segment_top_k(
    docs: np.ndarray,
    tfs: np.ndarray,
    norms: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    bounds: np.ndarray,
    base: int,
    spare_scores: np.ndarray,
    spare_docs: np.ndarray,
    candidates: np.ndarray,
    found_scores: np.ndarray,
    top_docs: np.ndarray,
    top_scores: np.ndarray,
    first_doc: int,
    end_doc: int,
) -> tuple[int, int]:
    """One piece's part of top_k(): the segment's documents first_doc ≤ doc < end_doc. Its
    candidates, ascending, and their scores go to candidates[base + first_doc:] and
    found_scores[base + first_doc:] (a piece's range of the buffers is its own; spare_docs and
    spare_scores, the same range, hold a union being made). Returns where its candidates end, and
    how many postings were added."""
    lists = starts.shape[0]
    starts, ends = _cut(docs, starts, ends, first_doc, end_doc)
    first = base + first_doc
    held_docs, held_scores, out_docs, out_scores = candidates, found_scores, spare_docs, spare_scores
    end = first
    added = 0
    remaining = 0.0  # the most the lists not yet scored can add to one document
    for i in range(lists):
        remaining += bounds[i]
    remaining *= 1.0 + SCORE_SLACK
    kth = _kth(top_scores)
    i = 0
    while i < lists and remaining >= kth:  # a document in none of the scored lists might still win
        end, kth = _add_whole(
            docs, tfs, norms, starts[i], ends[i], weights[i], base, held_docs, held_scores, first, end, out_docs,
            out_scores, top_docs, top_scores, kth,
        )  # fmt: skip
        held_docs, held_scores, out_docs, out_scores = out_docs, out_scores, held_docs, held_scores
        added += ends[i] - starts[i]
        remaining -= bounds[i] * (1.0 - SCORE_SLACK)
        i += 1
        if i == SAMPLE_AFTER and i < lists and remaining >= kth:
            kth = _sample(
                docs, tfs, norms, starts, ends, weights, base, held_docs, held_scores, first, end, top_docs, top_scores
            )
    while i < lists:
        # The candidates that can no longer reach the k-th best even with every list left are
        # dropped as the list is added to the others (in place: they are ascending, as the list is).
        floor = kth - remaining
        weight = weights[i]
        lo = starts[i]
        hi = ends[i]
        kept = first
        # Few against the list: gallop to each; many: step through the list beside them.
        gallop = (end - first) * GALLOP_RATIO < hi - lo
        at = lo
        for j in range(first, end):
            score = held_scores[j]
            if score < floor:
                continue
            g = held_docs[j]
            doc = g - base
            if at < hi and docs[at] < doc:
                if gallop:  # double the step, then binary search the last one
                    step = 1
                    below = at
                    while below + step < hi and docs[below + step] < doc:
                        below += step
                        step *= 2
                    at = _first_at_least(docs, below + 1, min(below + step, hi), doc)
                else:
                    while at < hi and docs[at] < doc:
                        at += 1
            if at < hi and docs[at] == doc:
                added += 1
                score = score + _impact(tfs[at], norms[doc]) * weight
                if score > kth:
                    kth = _offer(top_docs, top_scores, g, score)
            held_docs[kept] = g
            held_scores[kept] = score
            kept += 1
        end = kept
        remaining -= bounds[i] * (1.0 - SCORE_SLACK)
        i += 1
    floor = kth - max(remaining, 0.0)
    live = first
    for j in range(first, end):  # the survivors, to candidates/found_scores (held may be the spare)
        score = held_scores[j]
        if score >= floor:
            candidates[live] = held_docs[j]
            found_scores[live] = score
            live += 1
    return live, added
