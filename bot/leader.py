"""Which one process runs the jobs (`run --workers N`): a lock that only one process holds.

Every worker tries to take it every second or two; the one that holds it runs the digests,
source polling and the corpus watcher's notices (bot/telegram/jobs.py). The lock dies with its
process, so when the leader dies another worker takes it within seconds. Nothing here knows
Telegram.

* PostgreSQL (`DATABASE_URL=postgresql://…`): a session advisory lock (`pg_try_advisory_lock`)
  held on a connection of its own, opened for nothing else (a pooled connection could hand the
  lock to whoever uses it next). PostgreSQL drops it when that connection ends; `healthy()`
  notices a lost connection, so a leader cut off from the database stops leading.
* SQLite: an `flock` on a file beside the state database. The kernel drops it when the process
  dies. The holder writes its pid into the file (for operators and tests: who leads).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from .store_sql import is_url

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any bigint that the bot alone uses on its database.
ADVISORY_KEY = 0x4E_45_57_53_4A_4F_42  # "NEWSJOB"
APPLICATION_NAME = "district-news-jobs"  # the lock's connection, with the holder's pid after a colon


class Leadership(Protocol):
    """A lock at most one process holds."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (now or already)."""
        ...

    def healthy(self) -> bool:
        """Still holding it (False: the lock may have gone to another process; stop leading)."""
        ...

    def release(self) -> None: ...


class FileLeadership:
    """An exclusive `flock` on `path` (beside the SQLite state)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def healthy(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the lock
            self._fd = None


class PostgresLeadership:
    """`pg_try_advisory_lock` on a dedicated connection (psycopg 3)."""

    def __init__(self, url: str, key: int = ADVISORY_KEY) -> None:
        self.url = url
        self.key = key
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        # autocommit: no transaction stays open; prepare_threshold=None: PgBouncer-safe (but the lock
        # needs a session: point DATABASE_URL past a transaction-mode pooler, or at the server);
        # application_name: pg_stat_activity shows which process runs the jobs
        return psycopg.connect(
            self.url,
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=5,
            application_name=f"{APPLICATION_NAME}:{os.getpid()}",
        )

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.healthy()
        try:
            conn = self._connect()
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except Exception as exc:  # the database is down: nobody can lead through it; try again
            log.warning("leader election: PostgreSQL unavailable: %s", type(exc).__name__)
            return False
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def healthy(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            return False
        return not self._conn.closed

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()  # the session ends, and the advisory lock with it
            self._conn = None


def leadership_for(state_db: Path, database_url: str | None) -> Leadership:
    """The advisory lock when the state is in PostgreSQL (`database_url`, as `store.state_target`
    gives it), else the lock file beside `state_db`."""
    if database_url and is_url(database_url):
        return PostgresLeadership(database_url)
    return FileLeadership(lock_path(state_db))


def lock_path(state_db: Path) -> Path:
    return state_db.with_name(state_db.name + ".leader")
