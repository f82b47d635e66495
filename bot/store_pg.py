"""The state in PostgreSQL, for several workers or a database the operator already runs and backs
up (`DATABASE_URL=postgresql://…`).

Through psycopg 3, not an ORM: the statements are the ones the SQLite state runs (bot/store.py,
written in SQL both understand), so one migration history serves both and a reviewer reads the
SQL that runs. Here they only get psycopg's `%s` placeholders. SQLAlchemy Core + Alembic would add
two libraries and a second migration history to keep in step with SQLite's `user_version` for a
schema of ten small tables.

Connection: one per Store, serialised by the Store's lock like SQLite's (each call is a few
milliseconds at most); `autocommit` off and every call one `BEGIN … COMMIT`; `prepare_threshold=None`
so no server-side prepared statements, which PgBouncer's transaction pooling would break. A broken
connection (server restart) is replaced on the next call; the call that met it fails as any error.
Migrations run under an advisory lock, so workers starting together upgrade the schema once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .store_sql import StoreError

_MIGRATION_LOCK = 0x6E65_7773  # pg_advisory_xact_lock key of schema upgrades ("news")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgTx:
    """One transaction on the PostgreSQL connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Iterable = ()) -> psycopg.Cursor:
        return self._conn.execute(_pg(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Iterable]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            with self._conn.cursor() as cursor:
                cursor.executemany(_pg(sql), batch)

    def inserted(self, sql: str, rows: Iterable[Iterable]) -> list[bool]:
        """Run `sql` (ending in RETURNING) once per row, pipelined in one round trip; for each row,
        whether it wrote one."""
        batch = [tuple(r) for r in rows]
        if not batch:
            return []
        out = []
        with self._conn.cursor() as cursor:
            cursor.executemany(_pg(sql), batch, returning=True)
            while True:
                out.append(cursor.fetchone() is not None)
                if not cursor.nextset():
                    break
        return out

    def lock(self, table: str) -> None:
        """Writers of `table` wait for this transaction (what SQLite's BEGIN IMMEDIATE gives)."""
        self._conn.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def begin_migration(self) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        self._conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")

    def schema_version(self) -> int:
        row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def set_schema_version(self, version: int) -> None:
        self._conn.execute("DELETE FROM schema_version")
        self._conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))

    def reset_identity(self, table: str, column: str) -> None:
        """After rows were copied in with their ids: new rows are numbered after them."""
        self._conn.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
            (table, column),
        )


class PostgresBackend:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.where = redact(url)
        try:
            params: dict[str, Any] = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: not a valid PostgreSQL URL: {exc}") from exc
        params.setdefault("connect_timeout", 10)
        params.setdefault("application_name", "district-news-bot")
        self._params = params
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(**self._params, autocommit=False, prepare_threshold=None)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())  # libpq's message spans lines; the error is one
            raise StoreError(f"{self.where}: cannot connect to the state database: {reason}") from exc

    def _connection(self) -> psycopg.Connection:
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[PgTx]:
        """BEGIN … COMMIT (ROLLBACK on any error); the caller holds the store's lock."""
        conn = self._connection()
        with conn.transaction():
            yield PgTx(conn)

    def read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        conn = self._connection()
        with conn.transaction():
            return conn.execute(_pg(sql), tuple(params)).fetchall()

    def close(self) -> None:
        self._conn.close()
