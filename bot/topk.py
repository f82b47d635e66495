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
from collections.abc import Sequence

import numpy as np

from .topk_helper import shared_top_k
from .topk_helper import warm_up as warm_up_helper
from .topk_loops import Piece, SegmentLists, _k_best, _segment_top_k, scratch_buffers

__all__ = ["SegmentLists", "top_k", "warm_up"]


# A question whose lists hold at least this many postings in all is shared with a second thread.
PARALLEL_MIN_POSTINGS = 40_000
# A shared question's segments are searched in pieces of about this many documents. At a million
# articles (three segments of 300,000 and one of 100,000: ten pieces) against whole segments, same
# process, taking turns: 21-22% fewer postings added, the search 1-7% quicker at the median (three
# runs), 9-11% on average, 13-25% at p99. Pieces of 50,000 cost more in per-piece start than they
# save. The last piece is cut in four: the two threads finish closer together.
PIECE_DOCS = 100_000


def top_k(segments: Sequence[SegmentLists], size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The k best documents (global doc numbers and their scores, best first, equal scores to the
    lower doc number, none scored 0), and how many postings were added up to find them.
    `segments`: every segment of the index, those without lists too (the helper's set-up is kept
    for them, question after question).

    Each piece keeps its documents in its own range of the buffers (that of its doc numbers), and
    leaves its scores zeroed again: the candidates' scores are copied out first, on the thread
    that set them."""
    sizes = [int((lists.ends - lists.starts).sum()) for lists in segments]
    largest_first = [segments[n] for n in sorted(range(len(segments)), key=lambda n: -sizes[n])]
    shared = sum(sizes) >= PARALLEL_MIN_POSTINGS
    pieces = [piece for lists in largest_first if len(lists.starts) for piece in _pieces(lists, shared)]
    if shared and len(pieces) > 1:
        lists, first_doc, end_doc = pieces.pop()  # the last piece in quarters: the threads end together
        pieces += _even_ranges(lists, first_doc, end_doc, 4)
        found = shared_top_k(segments, pieces, size, k)
        if found is not None:
            return found
    return _alone(pieces, size, k)


def _alone(pieces: list[Piece], size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The pieces searched one after the other on this thread."""
    scores, touched, candidates, found_scores = _scratch(size)
    top_docs = np.full(k, -1, dtype=np.int64)
    top_scores = np.zeros(k, dtype=np.float32)
    starts, ends, added = [], [], 0
    for lists, first_doc, end_doc in pieces:
        end, piece_added = _segment_top_k(
            lists.docs, lists.tfs, lists.norms, lists.starts, lists.ends, lists.weights, lists.bounds, lists.base,
            scores, touched, candidates, found_scores, top_docs, top_scores, first_doc, end_doc,
        )  # fmt: skip
        starts.append(lists.base + first_doc)
        ends.append(end)
        added += piece_added
    found, best = _k_best(candidates, found_scores, np.array(starts, np.int64), np.array(ends, np.int64), k)
    return found, best, added


def _pieces(lists: SegmentLists, shared: bool) -> list[Piece]:
    """The segment as (lists, first doc, end doc) ranges of its local doc numbers: one for a
    question one thread searches, about PIECE_DOCS documents each for a shared one."""
    count = lists.norms.shape[0]
    return _even_ranges(lists, 0, count, max(1, round(count / PIECE_DOCS)) if shared else 1)


def _even_ranges(lists: SegmentLists, first_doc: int, end_doc: int, parts: int) -> list[Piece]:
    """The documents first_doc ≤ doc < end_doc of the segment in `parts` ranges of even size."""
    cuts = [first_doc + (end_doc - first_doc) * j // parts for j in range(parts + 1)]
    return [(lists, cuts[j], cuts[j + 1]) for j in range(parts)]


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
    lists = SegmentLists(
        docs,
        tfs,
        np.ones(2, dtype=np.float32),
        0,
        np.array([0, 0], dtype=np.int64),
        np.array([2, 1], dtype=np.int64),
        np.ones(2, dtype=np.float32),
        np.full(2, 2.2),
    )
    top_k([lists], 2, 1)
    warm_up_helper([lists], _even_ranges(lists, 0, 2, 2))
