"""Paths and small file helpers shared by the benchmark modules."""

from __future__ import annotations

import json
import os
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CMRC_CORPUS = SHARED / "bench" / "cmrc_trial.corpus.jsonl"
CMRC_QA = SHARED / "bench" / "cmrc_trial.qa.yaml"
RESIDENT_QA = SHARED / "qa" / "questions.yaml"
SEEDS_DIR = ROOT / "seeds"


def write_jsonl(path: Path, records: Iterable[dict], *, total: int = 0, quiet: bool = True) -> int:
    """Write records one by one (an iterator is never held whole); returns how many were written.

    With `total` and not `quiet`, a line of progress every 10% on stderr.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    step = max(1, total // 10) if total else 0
    started = time.perf_counter()
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
            if step and count % step == 0:
                log(f"  {path.name}: {count:,} of {total:,} written, {time.perf_counter() - started:.0f} s", quiet)
    os.replace(tmp, path)
    return count


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def iter_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


class JsonlRecords(Sequence[dict]):
    """A JSONL file as a read-only sequence of records, read by offset on demand.

    Holds 8 bytes an article (the line offsets), not the articles: question making picks a few
    hundred records of a corpus of a million.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offsets = array("q")
        position = 0
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    self._offsets.append(position)
                position += len(line)

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index: int | slice) -> dict | list[dict]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        with self.path.open("rb") as handle:
            handle.seek(self._offsets[index])
            return json.loads(handle.readline())


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)
