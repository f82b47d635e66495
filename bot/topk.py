"""The BM25 top k of a large archive: the compiled MaxScore loops (bot/topk_loops.py) over a
question's pieces, on one thread or two.

A question with long lists is shared with a second thread: each segment is cut into pieces of
about PIECE_DOCS documents (a range of its doc numbers, the lists cut there by binary search) and
each thread takes the next piece left, largest segment first, until none is, with its own k best
across those it takes. Pieces rather than whole segments keep the two threads' shares even (three
segments of a million articles would leave one thread two of them) and one big segment is shared
too; each thread starts from no threshold only on a piece, not on a whole segment.

The second thread lives in compiled code (bot/topk_helper.py): it takes pieces without the GIL
and, after a question, waits for the next by spinning for a while (SPIN_SECONDS) before it
sleeps. Waking a sleeping thread on a virtual machine, and handing it the GIL, cost tens to
hundreds of microseconds a question; at a million articles the search took ~15% longer so. A
question that finds the helper busy (another thread's question) or asleep does not wait for it:
its own thread takes the pieces the helper does not.
"""

from __future__ import annotations

import threading

import numpy as np

from .topk_helper import shared_top_k
from .topk_helper import warm_up as warm_up_helper
from .topk_loops import Piece, QuestionLists, Segments, _k_best, _segment_top_k, scratch_buffers

__all__ = ["QuestionLists", "Segments", "top_k", "warm_up"]


# A question whose lists hold at least this many postings in all is shared with a second thread.
PARALLEL_MIN_POSTINGS = 40_000
# A shared question's segments are searched in pieces of about this many documents. At a million
# articles (three segments of 300,000 and one of 100,000: ten pieces) against whole segments, same
# process, taking turns: 21-22% fewer postings added, the search 1-7% quicker at the median (three
# runs), 9-11% on average, 13-25% at p99. Pieces of 50,000 cost more in per-piece start than they
# save. The last piece is cut in four: the two threads finish closer together.
PIECE_DOCS = 100_000


def top_k(question: QuestionLists, size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The k best documents (global doc numbers and their scores, best first, equal scores to the
    lower doc number, none scored 0), and how many postings were added up to find them.

    Each piece keeps its documents in its own range of the buffers (that of its doc numbers), and
    leaves its scores zeroed again: the candidates' scores are copied out first, on the thread
    that set them."""
    postings = question.postings
    shared = sum(postings) >= PARALLEL_MIN_POSTINGS
    sizes = [len(norms) for norms in question.segments.norms]
    pieces = [
        piece
        for number in sorted(range(len(postings)), key=lambda n: -postings[n])  # largest first
        if question.hi[number] > question.lo[number]
        for piece in _even_ranges(number, 0, sizes[number], max(1, round(sizes[number] / PIECE_DOCS)) if shared else 1)
    ]
    if shared and len(pieces) > 1:
        number, first_doc, end_doc = pieces.pop()  # the last piece in quarters: the threads end together
        pieces += _even_ranges(number, first_doc, end_doc, 4)
        found = shared_top_k(question, pieces, size, k)
        if found is not None:
            return found
    return _alone(question, pieces, size, k)


def _alone(question: QuestionLists, pieces: list[Piece], size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The pieces searched one after the other on this thread."""
    scores, touched, candidates, found_scores = _scratch(size)
    top_docs = np.full(k, -1, dtype=np.int64)
    top_scores = np.zeros(k, dtype=np.float32)
    segments, lo, hi = question.segments, question.lo, question.hi
    starts, ends, added = [], [], 0
    for number, first_doc, end_doc in pieces:
        rows = slice(lo[number], hi[number])
        base = segments.bases[number]
        end, piece_added = _segment_top_k(
            segments.docs[number], segments.tfs[number], segments.norms[number], question.starts[rows],
            question.ends[rows], question.weights[rows], question.bounds[rows], base,
            scores, touched, candidates, found_scores, top_docs, top_scores, first_doc, end_doc,
        )  # fmt: skip
        starts.append(base + first_doc)
        ends.append(end)
        added += piece_added
    found, best = _k_best(candidates, found_scores, np.array(starts, np.int64), np.array(ends, np.int64), k)
    return found, best, added


def _even_ranges(number: int, first_doc: int, end_doc: int, parts: int) -> list[Piece]:
    """The documents first_doc ≤ doc < end_doc of segment `number` in `parts` ranges of even size:
    one for a question one thread searches, about PIECE_DOCS documents each for a shared one."""
    cuts = [first_doc + (end_doc - first_doc) * j // parts for j in range(parts + 1)]
    return [(number, cuts[j], cuts[j + 1]) for j in range(parts)]


_SCRATCH = threading.local()


def _scratch(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This thread's zeroed score array, its touched and candidate doc buffers and the candidates'
    scores, reused question after question: fresh ones would cost a page fault per page a question
    touches."""
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = getattr(_SCRATCH, "buffers", None)
    if buffers is None or len(buffers[0]) < size:
        buffers = _SCRATCH.buffers = scratch_buffers(size)
    return buffers


def warm_up() -> None:
    """Compile (or load from numba's cache) the loops now, not in the first question: one thread's,
    and the helper's (a question of two pieces, shared)."""
    docs = np.array([0, 1], dtype=np.int32)
    tfs = np.ones(2, dtype=np.uint16)
    docs.flags.writeable = tfs.flags.writeable = False  # as SearchIndex passes them
    segments = Segments((docs,), (tfs,), (np.ones(2, dtype=np.float32),), (0,))
    question = QuestionLists(
        segments,
        [0],
        [2],
        [3],
        np.array([0, 0], dtype=np.int64),
        np.array([2, 1], dtype=np.int64),
        np.ones(2, dtype=np.float32),
        np.full(2, 2.2),
    )
    top_k(question, 2, 1)
    warm_up_helper(question, _even_ranges(0, 0, 2, 2))
