"""The second thread of a shared question (bot/topk.py), living in compiled code.

The question's thread lays out its lists and pieces in a job's tables (compiled too: from its
terms' rows in each segment) and publishes the pieces with atomic stores; both threads take the
next piece with an atomic add and search it with the same loops (bot/topk_loops.py), and the
question's thread waits, spinning, for the pieces the helper took.
Neither needs the GIL for any of it. Between questions the helper spins for SPIN_SECONDS, then
sleeps until a question wakes it: a question never waits for a helper that has not come, it
only waits for the pieces the helper took.

A job holds what stays from question to question: the segments' arrays (typed lists), the
tables, the buffers, and the loops' compiled entry points for their types (called directly, not
through numba's dispatcher). A new state of the index (a page added: new norms) makes a new job; the
helper leaves the old one when it sees it stopped. A question searched alone (the helper busy, or
lists too short to share) runs the same loops on a job of its own thread's that no helper serves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np
from numba.typed import List

from .atomics import atomic_add, atomic_load, atomic_store, spin_pause
from .config import SEARCH_SPIN_ENV
from .topk_loops import Question, Segments, _k_best, _segment_top_k, scratch_buffers

# After a question the helper spins this long for the next before it sleeps: questions that come
# in a burst (a group's, an inline query's keystrokes, a benchmark's) find it awake; a quiet bot
# spends this much of a core per question. $DISTRICT_NEWS_SEARCH_SPIN_MS sets another (0: none;
# `run --workers` sets it for its workers).
SPIN_SECONDS = 0.02
MAX_K = 64  # a larger k (none the bot asks for) is searched on one thread

# The job's control words (an int64 array; every access atomic).
_NEXT = 0  # the next piece to take (CLOSED between questions)
_COUNT = 1  # the question's pieces
_DONE = 2  # pieces searched
_QUESTION = 3  # the question's number: the helper starts a fresh k best on a new one
_K = 4
_AWAKE = 5  # 1 while the helper spins on this job
_STOP = 6  # the job is left for a new one
_HELPED = 7  # pieces the helper searched, all questions (for tests and curiosity)
_CLOSED = 1 << 40


def shared_top_k(question: Question, piece_docs: int, size: int, k: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """top_k over the question's pieces (of about piece_docs documents), shared with the helper;
    None if it is busy with another thread's question or k is too large (the caller searches
    alone)."""
    if k > MAX_K or not _STATE.lock.acquire(blocking=False):
        return None
    try:
        return _STATE.search(question, piece_docs, size, k)
    finally:
        _STATE.lock.release()


def alone_top_k(question: Question, piece_docs: int, size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """top_k on this thread alone: the same loops, on a job of this thread's that no helper
    serves (its own buffers, so questions on other threads search at the same time)."""
    buffers = getattr(_SOLO, "buffers", None)
    if buffers is None or len(buffers[0]) < size:
        buffers = _SOLO.buffers = scratch_buffers(size)
    job: _Job | None = getattr(_SOLO, "job", None)
    if job is None or not job.fits(question.segments, buffers, question.rows.size, piece_docs):
        job = _SOLO.job = _Job(question.segments, buffers, question.rows.size, piece_docs, helped=False)
    return job.lead(question, piece_docs, k, 1)


# This thread's buffers and job for the questions it searches alone: fresh buffers would cost a
# page fault per page a question touches.
_SOLO = threading.local()


class _Job:
    """One state of the index, as the two threads' loops read it, with tables for questions of up
    to twice `lists` lists (at least 64) and pieces of about `piece_docs` documents or more."""

    def __init__(
        self, segments: Segments, buffers: tuple[np.ndarray, ...], lists: int, piece_docs: int, helped: bool = True
    ) -> None:
        self.of = segments
        self.buffers = buffers
        self.control = np.zeros(8, dtype=np.int64)
        self.control[_NEXT] = _CLOSED
        # typed lists: the loops index the segments' arrays by number
        self.segments = (
            _typed_list(segments.docs),
            _typed_list(segments.tfs),
            _typed_list(segments.norms),
            np.array(segments.bases, dtype=np.int64),
            _typed_list(segments.indptrs),
            _typed_list(segments.row_bounds),
            np.array(segments.scales, dtype=np.float64),
        )
        self.lists = max(2 * lists, 64)  # room for longer questions than the one that made it
        self.piece_docs = piece_docs
        pieces = sum(_parts(len(norms), piece_docs) for norms in segments.norms) + 3  # + the last one's quarters
        self.tables = (
            np.zeros(pieces, np.int64),  # each piece's segment
            np.zeros(pieces, np.int64),  # its first doc
            np.zeros(pieces, np.int64),  # its end doc
            np.zeros(len(segments.bases), np.int64),  # each segment's first list in the tables below
            np.zeros(len(segments.bases), np.int64),  # its end
            np.zeros(self.lists, np.int64),  # the lists' starts
            np.zeros(self.lists, np.int64),  # ends
            np.zeros(self.lists, np.float32),  # weights
            np.zeros(self.lists, np.float64),  # bounds
            np.zeros(pieces, np.int64),  # each piece's candidates' end (out)
            np.zeros(pieces, np.int64),  # postings it added (out)
        )
        self.helper_seen = np.full(1, -1, dtype=np.int64)
        self.helper_top = (np.full(MAX_K, -1, dtype=np.int64), np.zeros(MAX_K, dtype=np.float32))
        rows, weights = np.zeros((1, 1), dtype=np.int64), np.zeros(1, dtype=np.float64)
        self.lead_code = _machine_code(
            _lead, self.control, self.segments, self.tables, self.buffers, rows, weights, 0, 0, 0
        )
        self.serve_code = (
            _machine_code(
                _serve, self.control, self.helper_seen, self.segments, self.tables, self.buffers, *self.helper_top, 0
            )
            if helped
            else None
        )

    def fits(self, segments: Segments, buffers: tuple[np.ndarray, ...], lists: int, piece_docs: int) -> bool:
        """Whether the tables hold a question of these lists, cut in pieces of piece_docs (0: a
        piece a segment; larger pieces are fewer)."""
        return (
            segments is self.of
            and buffers is self.buffers
            and lists <= self.lists
            and (piece_docs <= 0 or piece_docs >= self.piece_docs > 0)
        )

    def lead(self, question: Question, piece_docs: int, k: int, number: int) -> tuple[np.ndarray, np.ndarray, int]:
        found, scores, added = self.lead_code(
            self.control, self.segments, self.tables, self.buffers, question.rows, question.weights, piece_docs, k,
            number,
        )  # fmt: skip
        return found, scores, int(added)

    def serve(self, rounds: int) -> None:
        assert self.serve_code is not None, "a job of one thread alone has no helper"
        self.serve_code(
            self.control, self.helper_seen, self.segments, self.tables, self.buffers, *self.helper_top, rounds
        )


def _parts(size: int, piece_docs: int) -> int:
    """How many pieces a segment of `size` documents is cut in (as _lay_out cuts it)."""
    return max(1, round(size / piece_docs)) if piece_docs > 0 else 1


def _typed_list(arrays: tuple[np.ndarray, ...]) -> Any:
    """The arrays as a numba typed list, made by compiled code numba keeps in its cache.

    `List(arrays)` from Python compiles the list's methods for the arrays' type in every process
    (~0.5 s a type): at a million articles the five lists of a job took 2.2-2.7 s of a start, and
    the first questions, past the 3 s a question waits for the compiled search, were scored over
    every posting. Made by these two cached functions: ~0.2 s for the five, once."""
    if not arrays:
        raise ValueError("a job needs a segment")
    items = _list_of(arrays[0])
    for array in arrays[1:]:
        _append(items, array)
    return items


@nb.njit(cache=True)
def _list_of(first):
    items = List()
    items.append(first)
    return items


@nb.njit(cache=True)
def _append(items, item):
    items.append(item)


def _machine_code(loops: Any, *args: object) -> Callable[..., Any]:
    """The loops compiled for these arguments' types (and the job's types stay), to call without
    numba's dispatcher: it works out the type of each tuple and typed list anew on every call,
    ~85 µs a question for _lead's arguments against ~5 µs for the call itself."""
    types = tuple(nb.typeof(arg) for arg in args)
    if types not in loops.overloads:
        loops.compile(types)  # from numba's cache when it has them
    return loops.overloads[types].entry_point


class _State:
    """The helper thread, its current job, and the lock one question at a time holds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job: _Job | None = None
        self.buffers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # every job's
        self.wake = threading.Event()
        self.question = 0
        self.rounds = 0  # spin rounds in SPIN_SECONDS, measured when the thread starts
        self.thread: threading.Thread | None = None

    def search(self, question: Question, piece_docs: int, size: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        buffers = self.buffers
        if buffers is None or len(buffers[0]) < size:
            buffers = self.buffers = scratch_buffers(size)
        job = self.job
        lists = question.rows.size
        if job is None or not job.fits(question.segments, buffers, lists, piece_docs):
            if job is not None:
                job.control[_STOP] = 1  # the helper leaves it for this one
            job = self.job = _Job(question.segments, buffers, lists, piece_docs)
        self._start()
        if not job.control[_AWAKE]:
            self.wake.set()
        self.question += 1
        return job.lead(question, piece_docs, k, self.question)

    def _start(self) -> None:
        if self.thread is None:
            self.rounds = _spin_rounds(_spin_seconds())
            self.thread = threading.Thread(target=self._run, name="topk-helper", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            job = self.job
            if job is not None:
                job.serve(self.rounds)


_STATE = _State()


def forget() -> None:
    """A forked child has none of the parent's threads (and maybe a lock a question held)."""
    global _STATE
    _STATE = _State()


os.register_at_fork(after_in_child=forget)


def helped() -> int:
    """Pieces the helper has searched on the current job."""
    job = _STATE.job
    return 0 if job is None else int(job.control[_HELPED])


def _spin_seconds() -> float:
    wanted = os.environ.get(SEARCH_SPIN_ENV, "").strip()
    return int(wanted) / 1000 if wanted.isdigit() else SPIN_SECONDS


def _spin_rounds(seconds: float) -> int:
    """How many rounds of the helper's idle loop take about `seconds` on this machine."""
    if seconds <= 0:
        return 0
    probe = np.zeros(8, dtype=np.int64)
    probe[_NEXT] = _CLOSED
    rounds = 1 << 14
    _idle(probe, 16)
    started = time.perf_counter()
    _idle(probe, rounds)
    elapsed = max(time.perf_counter() - started, 1e-6)
    return max(1, int(rounds * seconds / elapsed))


def warm_up(question: Question, piece_docs: int) -> None:
    """Compile (or load from numba's cache) the helper's loops: a question in pieces of piece_docs,
    shared, and one spin of no length."""
    with _STATE.lock:
        _STATE.search(question, piece_docs, 2, 1)
    _Job(question.segments, scratch_buffers(2), 4, piece_docs).serve(0)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _idle(control, rounds):
    """The helper's idle loop without work (for _spin_rounds)."""
    idle = 0
    while atomic_load(control, _STOP) == 0 and idle < rounds:
        if atomic_load(control, _NEXT) < atomic_load(control, _COUNT):
            break
        spin_pause()
        idle += 1
    return idle


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _take(control, seen, segments, tables, buffers, top_docs, top_scores):
    """Take pieces until none is left; returns how many this thread searched."""
    seg_docs, seg_tfs, seg_norms, seg_base = segments[:4]
    seg, first, end, list_lo, list_hi, starts, ends, weights, bounds, live, added = tables
    spare_scores, spare_docs, candidates, found_scores = buffers
    taken = 0
    while True:
        piece = atomic_add(control, _NEXT, 1)
        if piece >= atomic_load(control, _COUNT):
            return taken
        question = atomic_load(control, _QUESTION)  # stored before _NEXT opened: this piece's
        if question != seen[0]:  # a new question: its own k best
            seen[0] = question
            top_docs[:] = -1
            top_scores[:] = 0
        k = atomic_load(control, _K)
        s = seg[piece]
        lo = list_lo[s]
        hi = list_hi[s]
        live_end, piece_added = _segment_top_k(
            seg_docs[s], seg_tfs[s], seg_norms[s], starts[lo:hi], ends[lo:hi], weights[lo:hi], bounds[lo:hi],
            seg_base[s], spare_scores, spare_docs, candidates, found_scores, top_docs[:k], top_scores[:k], first[piece],
            end[piece],
        )  # fmt: skip
        live[piece] = live_end
        added[piece] = piece_added
        taken += 1
        atomic_add(control, _DONE, 1)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _serve(control, seen, segments, tables, buffers, top_docs, top_scores, rounds):
    """The helper: take the pieces of the questions that come, until none has for `rounds` spins
    or the job is stopped."""
    atomic_store(control, _AWAKE, 1)
    while True:
        idle = 0
        while atomic_load(control, _STOP) == 0 and idle < rounds:
            if atomic_load(control, _NEXT) < atomic_load(control, _COUNT):
                atomic_add(control, _HELPED, _take(control, seen, segments, tables, buffers, top_docs, top_scores))
                idle = 0
            else:
                spin_pause()
                idle += 1
        atomic_store(control, _AWAKE, 0)
        # A question published while this was deciding to sleep saw it awake and did not wake it:
        # look once more (both sides store, then load: one of them sees the other).
        if atomic_load(control, _STOP) != 0 or atomic_load(control, _NEXT) >= atomic_load(control, _COUNT):
            return
        atomic_store(control, _AWAKE, 1)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _lead(control, segments, tables, buffers, rows, weights, piece_docs, k, question):
    """The question's thread: lay out its lists and pieces, publish the pieces, take its share,
    wait for the helper's; then the k best of all the pieces' candidates, and how many postings
    were added."""
    count = _lay_out(segments, tables, rows, weights, piece_docs)
    atomic_store(control, _DONE, 0)
    atomic_store(control, _COUNT, count)
    atomic_store(control, _K, k)
    atomic_store(control, _QUESTION, question)
    atomic_store(control, _NEXT, 0)  # last: opens the pieces
    seen = np.full(1, question, dtype=np.int64)  # its k best are fresh already
    top_docs = np.full(k, -1, dtype=np.int64)
    top_scores = np.zeros(k, dtype=np.float32)
    _take(control, seen, segments, tables, buffers, top_docs, top_scores)
    while atomic_load(control, _DONE) < count:  # the pieces the helper took, being searched
        spin_pause()
    atomic_store(control, _NEXT, _CLOSED)
    seg_base = segments[3]
    seg, first, live, added = tables[0], tables[1], tables[9], tables[10]
    starts = np.empty(count, dtype=np.int64)
    total = 0
    for piece in range(count):
        starts[piece] = seg_base[seg[piece]] + first[piece]
        total += added[piece]
    found, scores = _k_best(buffers[2], buffers[3], starts, live[:count], k)
    return found, scores, total


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _lay_out(segments, tables, rows, weights, piece_docs):
    """Write the question's lists in every segment (its terms' rows, rarest first) and its pieces
    into the tables; returns how many pieces. A segment with lists is cut in pieces of about
    piece_docs documents (0: one piece), the one with most postings first, and the last piece in
    quarters: the two threads end together. _Job sizes the tables by this rule (_parts): the loops
    check no bounds, so the two change together."""
    seg_norms, seg_indptrs, seg_bounds, seg_scales = segments[2], segments[4], segments[5], segments[6]
    seg, first, end, list_lo, list_hi, starts, ends, list_weights, bounds = tables[:9]
    terms, count = rows.shape
    held = np.zeros(count, dtype=np.int64)
    at = 0
    for n in range(count):
        indptr = seg_indptrs[n]
        row_bounds = seg_bounds[n]
        list_lo[n] = at
        for t in range(terms):
            row = rows[t, n]
            if row < 0:
                continue
            starts[at] = indptr[row]
            ends[at] = indptr[row + 1]
            list_weights[at] = weights[t]
            bounds[at] = np.float64(row_bounds[row]) * seg_scales[n] * weights[t]  # in float64, in this order
            held[n] += ends[at] - starts[at]
            at += 1
        list_hi[n] = at
    order = np.arange(count)  # by postings held, most first; ties in segment order
    for i in range(1, count):
        n = order[i]
        j = i
        while j > 0 and held[order[j - 1]] < held[n]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = n
    pieces = 0
    for n in order:
        if list_hi[n] > list_lo[n]:
            size = seg_norms[n].shape[0]
            parts = max(1, int(np.rint(size / piece_docs))) if piece_docs > 0 else 1
            pieces = _cut_pieces(seg, first, end, pieces, n, 0, size, parts)
    if piece_docs > 0 and pieces > 1:
        pieces -= 1
        pieces = _cut_pieces(seg, first, end, pieces, seg[pieces], first[pieces], end[pieces], 4)
    return pieces


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _cut_pieces(seg, first, end, at, number, first_doc, end_doc, parts):
    """Segment `number`'s documents first_doc ≤ doc < end_doc as `parts` pieces of even size, from
    piece `at` on; returns where the pieces end."""
    for j in range(parts):
        seg[at + j] = number
        first[at + j] = first_doc + (end_doc - first_doc) * j // parts
        end[at + j] = first_doc + (end_doc - first_doc) * (j + 1) // parts
    return at + parts
