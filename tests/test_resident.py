"""Mapped index arrays are made resident ahead of the questions that read them (bot/resident.py)."""

from __future__ import annotations

import mmap
import os
import struct
import threading
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from bot import resident
from bot.index import Segment
from bot.loader import load_engine
from bot.passages import Layouts

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
PAGE = mmap.PAGESIZE


def _pages_mapped(array: np.ndarray, first: int, stop: int) -> list[bool]:
    """Whether each page of array's bytes [first, stop) is mapped into this process
    (/proc/self/pagemap, bit 63: present; readable without privileges)."""
    start = array.ctypes.data + first
    pages = range(start // PAGE, (array.ctypes.data + stop - 1) // PAGE + 1)
    with open("/proc/self/pagemap", "rb") as pagemap:
        pagemap.seek(pages.start * 8)
        entries = struct.unpack(f"{len(pages)}Q", pagemap.read(len(pages) * 8))
    return [bool(entry >> 63) for entry in entries]


@pytest.fixture
def mapped_array(tmp_path: Path):
    """A 16 MB file of the cache's kind, mapped read-only and never read yet."""
    path = tmp_path / "postings"
    path.write_bytes(np.arange(2 << 20, dtype=np.int64).tobytes())
    with path.open("rb") as handle:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mapping, dtype=np.int64)  # the mapping goes with the array


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/pagemap"), reason="Linux page maps")


@pytest.mark.parametrize("madvise", ["kernel", "page by page"])
def test_a_mapped_array_is_made_resident_up_to_the_budget(mapped_array, madvise, monkeypatch) -> None:
    if madvise == "page by page":  # a kernel before 5.14, or another system: each page read once
        monkeypatch.setattr(resident, "_madvise", lambda: None)
    size = mapped_array.nbytes
    last_page = (size - PAGE, size)
    assert not any(_pages_mapped(mapped_array, *last_page))

    assert resident.make_resident([mapped_array], size // 4) == size // 4
    assert all(_pages_mapped(mapped_array, 0, size // 4))
    assert not any(_pages_mapped(mapped_array, *last_page))  # past the budget: left to come in by faults

    assert resident.make_resident([mapped_array], 2 * size) == size
    assert all(_pages_mapped(mapped_array, 0, size))
    assert int(mapped_array[-1]) == (2 << 20) - 1  # read, never written


def test_arrays_are_made_resident_in_their_order_until_the_budget_is_spent(mapped_array) -> None:
    in_memory = np.ones(1000, dtype=np.float32)  # a segment just built: resident already
    empty = np.zeros(0, dtype=np.int32)
    second_half = mapped_array[len(mapped_array) // 2 :]
    budget = in_memory.nbytes + second_half.nbytes

    assert resident.make_resident([empty, in_memory, second_half, mapped_array], budget) == budget
    assert all(_pages_mapped(second_half, 0, second_half.nbytes))
    assert not any(_pages_mapped(mapped_array, 0, PAGE))  # the budget was spent before it
    assert resident.make_resident([mapped_array], 0) == 0
    assert not any(_pages_mapped(mapped_array, 0, PAGE))


def test_pages_past_the_end_of_a_shrunk_file_are_left_alone(tmp_path: Path) -> None:
    """Reading a mapped page past the end of its file kills the process (SIGBUS): a file cut
    short under the mapping is left as it is, never read page by page."""
    path = tmp_path / "postings"
    path.write_bytes(bytes(16 << 20))
    with path.open("rb") as handle:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    array = np.frombuffer(mapping, dtype=np.uint8)
    os.truncate(path, 4 << 20)
    assert resident.make_resident([array[: 4 << 20], array], 32 << 20) == 4 << 20
    assert all(_pages_mapped(array, 0, 4 << 20))


def test_a_hint_that_fails_leaves_the_array_as_it_was(monkeypatch) -> None:
    def refused(array: np.ndarray, size: int) -> None:
        raise OSError("not supported here")

    monkeypatch.setattr(resident, "_populate", refused)
    array = np.arange(10)
    assert resident.make_resident([array, array], 1 << 20) == 0
    assert array.tolist() == list(range(10))


def test_the_budget_is_a_share_of_the_machines_memory() -> None:
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert resident.memory_budget() == int(physical * resident.RESIDENT_SHARE)
    assert 0 < resident.memory_budget() < physical


def test_an_index_makes_resident_every_array_questions_read_once_asked(tmp_path: Path, monkeypatch) -> None:
    """Every array of a segment but the document lengths (read once, into the norms, at load)
    is one a question reads at random: the first question has them all made resident, on a
    thread of their own, the per-word ones first; loading alone maps nothing in."""
    from bot import search

    load_engine(SEEDS, cache_dir=tmp_path)
    engine = load_engine(SEEDS, cache_dir=tmp_path)  # mapped from the cache this time
    index = engine.index
    handed: list[tuple[list[np.ndarray], int]] = []

    def recorded(arrays, budget: int) -> int:
        arrays = list(arrays)
        handed.append((arrays, budget))
        return resident.make_resident(arrays, budget)

    monkeypatch.setattr(search, "make_resident", recorded)
    index.warm()
    assert handed == []
    for question in ("清华附中什么时候投入使用？", "郑州", "二七区"):
        engine.answer(question)
    for thread in threading.enumerate():
        if thread.name == "index-resident":
            thread.join()
    assert len(handed) == 1
    arrays, budget = handed[0]
    assert budget == resident.memory_budget()
    for segment in index.segments:
        read = [getattr(segment, f.name) for f in fields(Segment) if f.name != "doc_len"]
        read += [getattr(segment.layouts, f.name) for f in fields(Layouts)]
        mapped = [a for a in read if isinstance(a, np.ndarray)]
        assert len(mapped) == 9
        assert all(any(a is b for b in arrays) for a in mapped)
    assert arrays[0] is index.segments[0].indptr and arrays[-1] is index.segments[-1].tfs
    for array in arrays:
        if array.nbytes:
            assert all(_pages_mapped(array, 0, array.nbytes))
