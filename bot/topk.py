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

import numpy as np

from .topk_helper import alone_top_k, shared_top_k
from .topk_helper import warm_up as warm_up_helper
from .topk_loops import Question, Segments

__all__ = ["Question", "Segments", "top_k", "warm_up"]


# A question whose lists hold at least this many postings in all is shared with a second thread.
PARALLEL_MIN_POSTINGS = 40_000
# A shared question's segments are searched in pieces of about this many documents. At a million
# articles (three segments of 300,000 and one of 100,000: ten pieces) against whole segments, same
# process, taking turns: 21-22% fewer postings added, the search 1-7% quicker at the median (three
# runs), 9-11% on average, 13-25% at p99. Pieces of 50,000 cost more in per-piece start than they
# save. The last piece is cut in four: the two threads finish closer together.
PIECE_DOCS = 100_000


def top_k(question: Question, size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The k best documents (global doc numbers and their scores, best first, equal scores to the
    lower doc number, none scored 0), and how many postings were added up to find them.

    Each piece keeps its candidates and their scores in its own range of the buffers (that of its
    doc numbers): the two threads never write where the other does."""
    if question.postings >= PARALLEL_MIN_POSTINGS:
        found = shared_top_k(question, PIECE_DOCS, size, k)
        if found is not None:
            return found
        return alone_top_k(question, PIECE_DOCS, size, k)
    return alone_top_k(question, 0, size, k)  # a piece a segment


def warm_up() -> None:
    """Compile (or load from numba's cache) the loops now, not in the first question: one thread's,
    and the helper's (a question of two pieces, shared)."""
    docs = np.array([0, 1], dtype=np.int32)
    tfs = np.ones(2, dtype=np.uint16)
    indptr = np.array([0, 2], dtype=np.int64)
    row_bounds = np.ones(1, dtype=np.float32)
    for array in (docs, tfs, indptr, row_bounds):
        array.flags.writeable = False  # as SearchIndex passes them
    segments = Segments((docs,), (tfs,), (np.ones(2, dtype=np.float32),), (0,), (indptr,), (row_bounds,), (1.0,))
    question = Question(segments, np.zeros((1, 1), dtype=np.int64), np.ones(1), 2)
    top_k(question, 2, 1)
    warm_up_helper(question, 1)
