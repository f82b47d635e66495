"""Mapped arrays made resident ahead of the questions that read them.

An index cache is mapped (bot/cache.py): a page of it enters the process when a question first
reads it, by a page fault. A fresh process at a million articles took ~100 of them a question
over its first few hundred questions (term offsets, postings, sentence layouts), on the path of
every answer. Asking the kernel to map those pages in at once, on a thread the index's first
question starts (SearchIndex._map_in_background), costs a few tens of milliseconds for ~2 GB
already in the page cache; the pages are the page cache's, shared with every worker over the same
cache, and the kernel may still reclaim them. It only counts in the resident size, hence a budget.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import mmap
import os
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

PAGE = mmap.PAGESIZE
MADV_POPULATE_READ = 22  # Linux ≥ 5.14: map the pages in, reading them in if need be
# At most this share of the machine's memory is made resident (what is mapped beyond it comes
# in page by page, as before): on a small machine the budget keeps room for everything else.
RESIDENT_SHARE = 0.25


def memory_budget() -> int:
    """Bytes of mapped index a process makes resident: RESIDENT_SHARE of physical memory."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * RESIDENT_SHARE)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 0


def make_resident(arrays: Iterable[np.ndarray], budget: int) -> int:
    """Map in the pages of `arrays`, in their order, until `budget` bytes; the bytes covered.

    Arrays in memory already (a segment just built) cost nothing; the caller orders the
    arrays by how many questions read them at random. Never raises: this is an optimisation.
    """
    done = 0
    for array in arrays:
        if done >= budget:
            break
        size = min(array.nbytes, budget - done)
        if not size:
            continue
        try:
            _populate(array, size)
        except Exception:  # a failed hint: the pages come in by faults, as without it
            log.debug("could not make %d bytes resident", size, exc_info=True)
            return done
        done += size
    return done


def _populate(array: np.ndarray, size: int) -> None:
    """The first `size` bytes of a contiguous array's pages mapped into this process."""
    if not array.flags.c_contiguous:
        raise ValueError("only contiguous arrays are made resident")
    start = array.ctypes.data
    first = start - start % PAGE
    madvise = _madvise()
    # ctypes releases the GIL for the call: questions go on answering meanwhile.
    if madvise is not None:
        if madvise(first, start + size - first, MADV_POPULATE_READ) == 0:
            return
        error = ctypes.get_errno()
        if error not in (errno.EINVAL, errno.ENOSYS):  # EFAULT: a page reading it would fault on
            raise OSError(error, os.strerror(error))
    # An older kernel or another system: one read a page faults each in (and its neighbours).
    raw = array.reshape(-1).view(np.uint8)[:size]
    int(raw[::PAGE].sum(dtype=np.uint64))


@lru_cache(maxsize=1)
def _madvise():
    """libc's madvise, or None where there is none to call."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        return madvise
    return None
