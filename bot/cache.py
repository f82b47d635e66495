"""The segment cache on disk: a checksummed file format whose arrays are memory-mapped on load,
the cache keys of corpus files, and the clean-up of what killed processes leave behind.

A cache file keeps its numpy arrays outside the pickle and maps them from disk, so a restart
unpickles only a few small objects and the arrays (postings, sentence layouts, the article store)
stay shared with the page cache.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import logging
import mmap
import os
import pickle
import queue
import shutil
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from .index import INDEX_VERSION
from .passages import LAYOUT_VERSION

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: stale files are recognised by their age alone
    fcntl = None

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- cache
# A cache file: MAGIC, a header (pickle length, buffer count, offset of the buffer table,
# checksum), the pickle, the pickle's numpy buffers (each 64-byte aligned), then the table (offset
# and length of each buffer). Loading maps the file and hands the buffers to pickle: the posting
# arrays are views of the page cache (read only, shared between processes), not copies. Writing
# streams the pickle: no second copy of the corpus in memory.
#
# The checksum is a CRC-32 of everything after the header (pickle, buffers, table) and of the
# header's three numbers. A file damaged on disk whose structure still parses (a flipped byte in
# the posting offsets or doc numbers) would otherwise crash every start in merge_segments, or
# answer differently; with it, it is a cache miss: the segment is rebuilt and the file replaced.
# CRC-32, not BLAKE2b: it only has to catch damage, not an adversary who can write the cache
# anyway, and over the 490 MB segment of 100,000 articles zlib's takes ~0.2 s, BLAKE2b ~1.0 s.
# It is read with plain reads, not through the mapping (see _file_checksum), so checking a file
# does not make its arrays resident in the process: only the pages a question reads are.

MAGIC = b"DNB-INDEX-CACHE\x01"  # \x00: version 5 and older, without checksum
_HEADER = struct.Struct("<QQQQ")  # pickle length, buffer count, table offset, CRC-32
_SUMMED = struct.Struct("<QQQ")  # the header's numbers as they enter the checksum
_BUFFER = struct.Struct("<QQ")
_ALIGN = 64
FREEZE_ABOVE_BYTES = 32 << 20
VERIFY_NOW_MAX = 64 << 20  # cache files up to this size are checked before use; larger ones just after
_READ_CHUNK = 4 << 20


def cache_key(*parts: bytes | str) -> str:
    # SHA-1 runs ~2x faster than BLAKE2b here (hardware SHA); a cache key needs no more.
    digest = hashlib.sha1()
    digest.update(INDEX_VERSION.encode())
    digest.update(LAYOUT_VERSION.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def file_key(fingerprint: str, page: Path, sidecar: Path | None, cache_dir: Path | None) -> str:
    """The cache key of a corpus file: its content and its sidecar's, the dictionaries, the code.

    Reading and hashing a 100,000-article file costs 0.2-0.5 s a start. A stamp kept in the
    cache (size, mtime, inode of the file and of its sidecar, and the versions) says when the
    content cannot have changed since the key was worked out, so it is reused unread.
    """

    def work() -> str:
        content = page.read_bytes()
        if sidecar is not None:
            content += b"\0sidecar\0" + sidecar.read_bytes()
        return cache_key(fingerprint, page.name, content)

    stamp = [cache_key(fingerprint), page.name, stat_of(page), stat_of(sidecar) if sidecar else None]
    return noted(note_path(cache_dir, page, "stamp"), stamp, work)


def noted(note: Path | None, stamp: list, work: Callable[[], str]) -> str:
    """`work()`, kept in the JSON file `note` under `stamp` (the sizes, mtimes and inodes of the
    files it reads, with whatever else it depends on) and reused unread while the stamp holds."""
    if note is not None:
        try:
            saved = json.loads(note.read_text(encoding="utf-8"))
            if saved.get("stamp") == stamp:
                return str(saved["key"])
        except (OSError, ValueError, KeyError, AttributeError):  # none yet, or unreadable: work it out
            pass
    key = work()
    if note is not None:
        with contextlib.suppress(OSError), replaced_atomically(note, "w") as handle:
            json.dump({"stamp": stamp, "key": key}, handle)
    return key


def note_path(cache_dir: Path | None, path: Path, kind: str) -> Path | None:
    """Where `noted` keeps a value of this kind worked out from the file `path`."""
    if cache_dir is None:
        return None
    return cache_dir / f"{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:24]}.{kind}"


def stat_of(path: Path) -> list[int]:
    """What changes whenever a file's content may have: its size, mtime, inode and device."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev]


class CacheDamaged(ValueError):
    """A cache file that is not what was written (its checksum or its structure is wrong)."""


def load_cached(path: Path) -> object | None:
    """A cached object, or None when it is missing or unreadable (then it is rebuilt).

    A damaged file (checksum mismatch, broken structure) is logged as a warning; the caller
    rebuilds the segment and store_cached() replaces the file. A file over VERIFY_NOW_MAX is
    checked on a background thread instead (see _verify_later).
    """
    try:
        with path.open("rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                return None  # an older format or a foreign file: rebuilt and replaced, quietly
            try:
                mapped: mmap.mmap | bytes = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system without mmap: read it instead
                handle.seek(0)
                mapped = handle.read()
            view = memoryview(mapped)
            pickle_len, count, table, checksum = _header(view)
            if len(view) <= VERIFY_NOW_MAX:
                if _file_checksum(handle, pickle_len, count, table) != checksum:
                    raise CacheDamaged("checksum mismatch")
            else:
                _verify_later(path, checksum, (pickle_len, count, table))
        return _unpack(view, pickle_len, count, table)
    except FileNotFoundError:
        return None
    except CacheDamaged as exc:
        log.warning("index cache %s is damaged (%s): rebuilding that segment", path, exc)
        return None
    except Exception as exc:  # a truncated or foreign file is a cache miss, never a crash
        log.warning("index cache %s is unreadable (%s): rebuilding that segment", path, exc)
        return None


def _header(view: memoryview) -> tuple[int, int, int, int]:
    offset = len(MAGIC)
    if len(view) < offset + _HEADER.size:
        raise CacheDamaged("truncated header")
    pickle_len, count, table, checksum = _HEADER.unpack_from(view, offset)
    end = table + count * _BUFFER.size
    if not pickle_len:
        raise CacheDamaged("never finished writing")
    if offset + _HEADER.size + pickle_len > table or end != len(view):
        raise CacheDamaged(f"{len(view)} bytes where the header says {end}")
    return pickle_len, count, table, checksum


def _unpack(view: memoryview, pickle_len: int, count: int, table: int) -> object:
    offset = len(MAGIC) + _HEADER.size
    buffers = []
    for number in range(count):
        start, length = _BUFFER.unpack_from(view, table + number * _BUFFER.size)
        if start < offset + pickle_len or start + length > table:
            raise CacheDamaged("buffer table out of range")
        buffers.append(view[start : start + length])
    # Unpickling many small objects with the cyclic collector on costs twice as long: every
    # allocation burst triggers a collection that finds nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        value = pickle.loads(view[offset : offset + pickle_len], buffers=buffers)
    finally:
        if enabled:
            gc.enable()
    if pickle_len >= FREEZE_ABOVE_BYTES:
        # A large index lives as long as the process: move it out of the collector's sight, or
        # every full collection walks its objects (a start-up cost and latency spikes).
        gc.freeze()
    return value


def _file_checksum(handle: io.BufferedReader, pickle_len: int, count: int, table: int) -> int:
    """CRC-32 of a cache file's payload (pickle, buffers, table) and of its header's numbers.

    Read with plain reads, not through the mapping: the pages go to the page cache, shared, and
    not into this process's resident memory (a mapped array is only paged in where a question
    reads it: a million articles' postings are not all resident).
    """
    return zlib.crc32(_SUMMED.pack(pickle_len, count, table), _crc_from(handle, len(MAGIC) + _HEADER.size))


def records_intact(path: Path, size: int, crc: int) -> bool:
    """Is a file of article records (bot/article_store.py) as written? Checked now up to
    VERIFY_NOW_MAX bytes; a larger one is checked on a background thread and removed if damaged."""
    try:
        if path.stat().st_size != size:
            return False
        if size > VERIFY_NOW_MAX:
            _verify_later(path, crc, None)
            return True
        with path.open("rb") as handle:
            return _crc_from(handle, 0) == crc
    except OSError:
        return False


def _crc_from(handle: io.BufferedReader, offset: int) -> int:
    handle.seek(offset)
    crc = 0
    chunk = bytearray(_READ_CHUNK)
    while read := handle.readinto(chunk):
        crc = zlib.crc32(memoryview(chunk)[:read], crc)
    return crc


def _verify_later(path: Path, checksum: int, header: tuple[int, int, int] | None) -> None:
    """Check a large cache file in the background (a few seconds of reading at a million articles,
    not at start-up). A damaged one is reported and removed, so the next start rebuilds it."""
    _VERIFIER.check(path, checksum, header)


def wait_for_checks() -> None:
    """Until every cache file handed to the background check has been checked."""
    _VERIFIER.queue.join()


class _Verifier:
    """One thread that checks large cache files one after another, on CPU time nothing else wants.

    A thread a file, at full priority, had two dozen threads reading 6 GB beside the start-up of a
    million-article archive and its first questions: the start took 3.5 s instead of 1.8, and the
    compiled search, still loading after its 3 s, left a dozen questions to the slow path."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Path, int, tuple[int, int, int] | None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._taken: set[tuple[str, int]] = set()  # (path, checksum) checked or waiting: once a process

    def check(self, path: Path, checksum: int, header: tuple[int, int, int] | None) -> None:
        with self._lock:
            if (str(path), checksum) in self._taken:
                return  # the archive opened again (a page added): its files are checked already
            self._taken.add((str(path), checksum))
            self.queue.put((path, checksum, header))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="verify cache", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        _lowest_priority()
        while True:
            path, checksum, header = self.queue.get()
            try:
                _check_file(path, checksum, header)
            finally:
                self.queue.task_done()


def _check_file(path: Path, checksum: int, header: tuple[int, int, int] | None) -> None:
    try:
        with path.open("rb") as handle:
            actual = _crc_from(handle, 0) if header is None else _file_checksum(handle, *header)
            if actual == checksum:
                return
        log.error("index cache %s is damaged (checksum mismatch): removed; restart to rebuild it", path)
        path.unlink()
    except OSError as exc:
        log.warning("index cache %s could not be checked: %s", path, exc)


def _lowest_priority() -> None:
    """Run the calling thread only when a core is otherwise idle (Linux SCHED_IDLE), or at least
    at the lowest nice value."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread, on Linux
        return
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


_VERIFIER = _Verifier()


def _new_verifier() -> None:
    global _VERIFIER
    _VERIFIER = _Verifier()  # a forked child has none of the parent's threads; the parent checks


os.register_at_fork(after_in_child=_new_verifier)


class _Summing:
    """A write-only file that keeps the CRC-32 of what passes through it."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.crc = 0

    def write(self, data) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return self.handle.write(data)


@contextlib.contextmanager
def replaced_atomically(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A temporary file beside `path` that replaces it once fully written, and is removed if
    writing fails: a crash mid-write never leaves a half file under the real name (a kill -9
    leaves the temporary file, held by no one: clean_stale() removes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # in use: clean_stale() leaves it alone
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def store_cached(path: Path, value: object) -> None:
    """Write atomically: a crash mid-write must not leave a half file that looks valid.

    Replaces whatever was at `path`, a damaged file included.
    """
    try:
        with replaced_atomically(path) as handle:
            handle.write(MAGIC)
            handle.write(_HEADER.pack(0, 0, 0, 0))  # filled in last: a half-written file reads as a miss
            summing = _Summing(handle)
            buffers: list[pickle.PickleBuffer] = []
            pickle.Pickler(summing, protocol=5, buffer_callback=buffers.append).dump(value)
            pickle_len = handle.tell() - len(MAGIC) - _HEADER.size
            places = []
            for buffer in buffers:
                raw = buffer.raw()
                summing.write(b"\0" * (-handle.tell() % _ALIGN))
                places.append((handle.tell(), raw.nbytes))
                summing.write(raw)
            table = handle.tell()
            for place in places:
                summing.write(_BUFFER.pack(*place))
            checksum = zlib.crc32(_SUMMED.pack(pickle_len, len(places), table), summing.crc)
            handle.seek(len(MAGIC))
            handle.write(_HEADER.pack(pickle_len, len(places), table, checksum))
    except (OSError, pickle.PicklingError, BufferError):
        pass  # a read-only or full disk only costs speed; the index still works from memory


# ---------------------------------------------------------------- stale files of killed processes
# An ingest stages files in a hidden folder inside the corpus (STAGING_PREFIX…) and a cache write
# goes through a `*.tmp` file beside its target; a process killed with -9 leaves them behind.
# While in use, each is held with an flock (released by the kernel when its process dies, however
# it dies), so a stale one is one nobody holds. Something just created may not be held yet (a few
# microseconds between creating and locking it): anything younger than STALE_GRACE_SECONDS stays.

STAGING_PREFIX = ".ingest-"
STALE_GRACE_SECONDS = 10.0
STALE_UNLOCKED_SECONDS = 3600.0  # without flock (not POSIX): stale only when this old


@contextlib.contextmanager
def holding(path: Path) -> Iterator[None]:
    """Hold `path` (a staging folder, a file being written) as in use, for clean_stale()."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _stale(path: Path, now: float) -> bool:
    """Left by a process that died: older than the grace period and held by no one."""
    try:
        age = now - path.stat().st_mtime
        if age < STALE_GRACE_SECONDS:
            return False
        if fcntl is None:  # pragma: no cover
            return age > STALE_UNLOCKED_SECONDS
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: a live ingest or cache write
        return False
    else:
        return True
    finally:
        os.close(fd)


def clean_stale(corpus: Path | None, cache_dir: Path | None) -> list[Path]:
    """Remove what killed ingests and cache writes left: `.ingest-*` staging folders in the corpus
    folder and `*.tmp` files in the cache folder, unless a live process holds them.

    Call where the corpus is first opened (the loader, an ingest): cheap, one listing of each
    folder. Returns what was removed; each removal is logged.
    """
    now = time.time()
    removed: list[Path] = []
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        if corpus is not None and corpus.is_dir():
            candidates += [p for p in corpus.glob(STAGING_PREFIX + "*") if p.is_dir() and not p.is_symlink()]
    with contextlib.suppress(OSError):
        if cache_dir is not None and cache_dir.is_dir():
            candidates += [p for p in cache_dir.glob("*.tmp") if p.is_file() and not p.is_symlink()]
    for path in candidates:
        if not _stale(path, now):
            continue
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("cannot remove %s, left by a process that was killed: %s", path, exc)
            continue
        log.info("removed %s, left by a process that was killed", path)
        removed.append(path)
    return removed
