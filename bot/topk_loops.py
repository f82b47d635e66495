"""The BM25 top k of one piece of a segment, in compiled loops (numba): MaxScore.

Why compiled: at a million articles a question's lists hold ~600,000 postings, and numpy pays a
pass over memory and a call per step (gather the norms, work out the impacts, scatter the scores,
find the new documents, filter the candidates), several times a list. One loop over the postings
does all of that at once and keeps the k best documents as it goes, so the threshold that lets
lists be skipped is known from the first list on rather than recomputed after each.

The search, per piece of a segment (its lists in the order given, rarest first):
1. score whole lists while a document none of the scored lists holds could still reach the k-th
   best score (the sum of the bounds of the lists not yet scored is at least that score: each
   list's bound is the largest impact it holds, which the index keeps per term, times the
   term's weight);
   after two, score the best documents so far whole (binary search in every list), which lifts
   the k-th best score close to its final value at once;
2. then, for each remaining list, drop the candidates that can no longer reach the k-th best even
   with every remaining list (unless they outnumber the list's postings: the pass below skips
   them by their score), and add the list's impacts to the ones left: by galloping search when
   they are few against the list, by one pass over the list otherwise.
Every document that can reach the top k is scored exactly, so the top k is the exhaustive one
(up to float32 rounding: scores are added in this order, not the question's).

The passes over a list touch a document's norm and score a few postings ahead of where they add
(a prefetch hint): those are scattered over the piece, and waiting for each in turn was most of a
pass (single thread, questions taken in turn: ~15% quicker).

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


# A piece: a segment's number, and the range first ≤ doc < end of its local doc numbers.
Piece = tuple[int, int, int]


def scratch_buffers(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zeroed scores, touched and candidate docs, candidates' scores for `size` documents: what a
    piece's loops write, each piece in its own range."""
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
    scores: np.ndarray,
    touched: np.ndarray,
    first: int,
    used: int,
    top_docs: np.ndarray,
    top_scores: np.ndarray,
) -> float:
    """Offer the whole scores of the SAMPLE documents best so far: the k-th best score rises to
    near its final value at once, instead of list by list, and more lists need no full pass."""
    best = np.full(SAMPLE, -1, dtype=np.int64)
    best_scores = np.zeros(SAMPLE, dtype=np.float32)
    low = 0
    for j in range(first, used):
        g = touched[j]
        if scores[g] > best_scores[low]:
            best[low] = g
            best_scores[low] = scores[g]
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
                tf = np.float32(tfs[lo])
                score = score + (tf / (norms[doc] + tf)) * _K1_PLUS_1 * weights[i]
        if score > kth:
            kth = _offer(top_docs, top_scores, g, score)
    return kth


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
    scores: np.ndarray,
    touched: np.ndarray,
    candidates: np.ndarray,
    found_scores: np.ndarray,
    top_docs: np.ndarray,
    top_scores: np.ndarray,
    first_doc: int,
    end_doc: int,
) -> tuple[int, int]:
    """One piece's part of top_k(): the segment's documents first_doc ≤ doc < end_doc. They go to
    touched[base + first_doc:], its candidates and their scores to candidates[base + first_doc:]
    and found_scores[base + first_doc:] (a piece's range of the buffers is its own), and their
    scores are zeroed again. Returns where its candidates end, and how many postings were added."""
    lists = starts.shape[0]
    starts, ends = _cut(docs, starts, ends, first_doc, end_doc)
    used = kept = base + first_doc
    added = 0
    remaining = 0.0  # the most the lists not yet scored can add to one document
    for i in range(lists):
        remaining += bounds[i]
    remaining *= 1.0 + SCORE_SLACK
    kth = _kth(top_scores)
    first = used
    i = 0
    while i < lists and remaining >= kth:  # a document in none of the scored lists might still win
        weight = weights[i]
        last = ends[i] - 1
        for p in range(starts[i], ends[i]):
            ahead = docs[min(p + PREFETCH_AHEAD, last)]
            prefetch(norms, ahead)
            prefetch(scores, base + ahead)
            doc = docs[p]
            tf = np.float32(tfs[p])
            impact = (tf / (norms[doc] + tf)) * _K1_PLUS_1
            g = base + doc
            old = scores[g]
            score = old + impact * weight
            scores[g] = score
            if old == 0:
                touched[used] = g
                used += 1
            if score > kth:
                kth = _offer(top_docs, top_scores, g, score)
        added += ends[i] - starts[i]
        remaining -= bounds[i] * (1.0 - SCORE_SLACK)
        i += 1
        if i == SAMPLE_AFTER and i < lists and remaining >= kth:
            kth = _sample(
                docs, tfs, norms, starts, ends, weights, base, scores, touched, first, used, top_docs, top_scores
            )
    start = kept  # this segment's candidates: the documents the scored lists hold
    for j in range(first, used):
        candidates[kept] = touched[j]
        kept += 1
    ordered = False
    while i < lists:
        floor = kth - remaining
        weight = weights[i]
        lo = starts[i]
        hi = ends[i]
        # Drop the candidates that can no longer reach the k-th best: unless they outnumber the
        # list's postings, when one pass over the list (which skips them by their score) costs
        # less than the dropping would; the last step below drops them all the same.
        if kept - start <= hi - lo:
            live = start
            for j in range(start, kept):
                if scores[candidates[j]] >= floor:
                    candidates[live] = candidates[j]
                    live += 1
            kept = live
        if (kept - start) * GALLOP_RATIO < hi - lo:
            if not ordered:
                candidates[start:kept].sort()
                ordered = True
            at = lo
            for j in range(start, kept):
                g = candidates[j]
                doc = g - base
                if at >= hi:
                    break
                if docs[at] < doc:  # gallop: double the step, then binary search the last one
                    step = 1
                    below = at
                    while below + step < hi and docs[below + step] < doc:
                        below += step
                        step *= 2
                    at = _first_at_least(docs, below + 1, min(below + step, hi), doc)
                    if at >= hi:
                        break
                if docs[at] == doc:
                    added += 1
                    tf = np.float32(tfs[at])
                    impact = (tf / (norms[doc] + tf)) * _K1_PLUS_1
                    score = scores[g] + impact * weight
                    scores[g] = score
                    if score > kth:
                        kth = _offer(top_docs, top_scores, g, score)
        else:
            for p in range(lo, hi):
                prefetch(scores, base + docs[min(p + PREFETCH_AHEAD, hi - 1)])
                doc = docs[p]
                g = base + doc
                old = scores[g]
                if old > 0 and old >= floor:  # a live candidate (the rest are 0 or dropped)
                    added += 1
                    tf = np.float32(tfs[p])
                    impact = (tf / (norms[doc] + tf)) * _K1_PLUS_1
                    score = old + impact * weight
                    scores[g] = score
                    if score > kth:
                        kth = _offer(top_docs, top_scores, g, score)
        remaining -= bounds[i] * (1.0 - SCORE_SLACK)
        i += 1
    floor = kth - max(remaining, 0.0)
    live = start
    for j in range(start, kept):
        g = candidates[j]
        if scores[g] >= floor:
            candidates[live] = g
            found_scores[live] = scores[g]
            live += 1
    if (used - base - first_doc) * 16 > end_doc - first_doc:  # zero what was set: all, when it is most
        scores[base + first_doc : base + end_doc] = 0
    else:
        for j in range(base + first_doc, used):
            scores[touched[j]] = 0
    return live, added
