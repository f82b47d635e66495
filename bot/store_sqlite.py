"""The state in one SQLite file (the default): connection, transactions, and the refusal of an
empty or damaged file.

Every write is one `BEGIN IMMEDIATE … COMMIT` with `synchronous=FULL`, so what the bot confirmed
is on disk before the confirmation is sent; the schema version is `PRAGMA user_version`.

A state file that exists but is empty (0 bytes) or is not an SQLite database is refused with a
`StoreError`: opening it would silently start a new database, losing every subscription and
making the whole corpus the new baseline. To start afresh on purpose, pass `fresh_ok=True` or set
DISTRICT_NEWS_FRESH_STATE=1: the damaged file is set aside as `NAME.damaged-YYYYmmdd-HHMMSS`
(an empty one is just replaced) and a new database is created, with a WARNING in the log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .store_sql import FRESH_ENV, StoreError

_SQLITE_HEADER = b"SQLite format 3\x00"

log = logging.getLogger("bot.store")


class SQLiteTx:
    """One transaction on the SQLite file (statements as written, `?` placeholders)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Iterable]) -> None:
        self._db.executemany(sql, [tuple(r) for r in rows])

    def inserted(self, sql: str, rows: Iterable[Iterable]) -> list[bool]:
        """Run `sql` (ending in RETURNING) once per row; for each, whether it wrote a row."""
        return [self._db.execute(sql, tuple(row)).fetchone() is not None for row in rows]

    def lock(self, table: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already holds the database's write lock."""

    def begin_migration(self) -> None:
        """Nothing to do: no other writer runs while this transaction holds the write lock."""

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version = {int(version)}")

    def reset_identity(self, table: str, column: str) -> None:
        """Nothing to do: SQLite numbers a new row after the largest id there is."""


class SQLiteBackend:
    dialect = "sqlite"

    def __init__(self, path: str, fresh_ok: bool | None) -> None:
        self.where = path
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            if fresh_ok is None:
                fresh_ok = os.environ.get(FRESH_ENV, "").strip().lower() in ("1", "true", "yes", "on")
            _check_file(Path(path).expanduser(), fresh_ok)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTx]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on any error); the caller holds the store's lock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield SQLiteTx(self._db)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        self._db.close()


def _check_file(path: Path, fresh_ok: bool) -> None:
    """Refuse an existing state file that is empty or not an SQLite database (see module doc).

    Checked before SQLite opens the file: SQLite takes a 0-byte file for a new database (and
    drops a write-ahead log beside it), and a new database means every subscription is gone.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        log.info("no state database at %s yet: creating a new one", path)
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the state database: {exc.strerror}") from exc
    if size and head == _SQLITE_HEADER:
        return
    what = "is empty (0 bytes)" if not size else "is not an SQLite database"
    if not fresh_ok:
        message = (
            f"{path}: the state file {what}. Opening it would start a new database and lose every "
            f"subscription, digest and delivered mark. Restore it from a backup; or, to start afresh "
            f"with an empty database, set {FRESH_ENV}=1 (the file is set aside as "
            f"{path.name}.damaged-<time>, not deleted)."
        )
        log.error("%s", message)
        raise StoreError(message)
    aside = _set_aside(path)
    log.warning(
        "%s: the state file %s; starting a NEW, empty state database as asked (%s): all subscriptions, "
        "digests and delivered marks start over, and the corpus becomes the new baseline%s",
        path,
        what,
        FRESH_ENV,
        f"; the old file is kept as {', '.join(str(p) for p in aside)}" if aside else "",
    )


def _set_aside(path: Path) -> list[Path]:
    """Move a damaged state file and its write-ahead log out of the way (an empty file, an empty
    log and the shared-memory index are removed); returns where they went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            if part.stat().st_size == 0:
                part.unlink()
                continue
        except FileNotFoundError:
            continue
        target = part.with_name(f"{part.name}.damaged-{stamp}")
        os.replace(part, target)
        moved.append(target)
    path.with_name(path.name + "-shm").unlink(missing_ok=True)
    return moved
