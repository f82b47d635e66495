"""Operator commands on the state: `python -m bot migrate` and `python -m bot copy-state`.

`copy-state` moves an SQLite state into PostgreSQL (or any state into any other: both ends are a
path or a postgresql:// URL). It copies every table with its ids in one transaction on the target,
so a failure leaves the target as it was. A target that already holds any state is refused (exit
1, nothing written): copying over a live database would mix two histories of delivered marks.
`--replace` empties the target's tables first, in the same transaction, so running the copy again
gives the same target, never doubled rows. Stop the bot while copying: writes to the source during
the copy may be missed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .config import Config
from .store import DATABASE_URL_ENV, Store, StoreError, state_target
from .store_sql import IDENTITY_COLUMNS, SCHEMA_VERSION, TABLES, is_url


def copy_state(source: Store, target: Store, *, replace: bool = False) -> dict[str, int]:
    """Copy every table of `source` into `target`; returns the rows copied per table.

    Raises StoreError, writing nothing, when the target holds any row and `replace` is False.
    """
    if _same(source.where, target.where):
        raise StoreError(f"{source.where}: source and target are the same database")
    counts: dict[str, int] = {}
    with target._tx() as tx:
        filled = [t for t in TABLES if tx.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]]
        if filled and not replace:
            raise StoreError(
                f"{target.where} already holds state ({', '.join(filled)}); nothing was copied. "
                "Pass --replace to empty it first and copy again."
            )
        for table in filled:
            tx.execute(f"DELETE FROM {table}")
        for table, columns in TABLES.items():
            names = ", ".join(columns)
            rows = source._read(f"SELECT {names} FROM {table} ORDER BY {columns[0]}")
            tx.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
            counts[table] = len(rows)
        for table, column in IDENTITY_COLUMNS.items():
            tx.reset_identity(table, column)
    return counts


def _same(a: str, b: str) -> bool:
    if is_url(a) or is_url(b) or ":memory:" in (a, b):
        return a == b != ":memory:"
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def run_migrate(config: Config) -> int:
    """Upgrade the configured state (DATABASE_URL, else state_db); print the versions."""
    try:
        with Store(state_target(config)) as store:
            before, where, dialect = store.migrated_from, store.where, store.dialect
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if before == SCHEMA_VERSION:
        print(f"{where} ({dialect}): schema version {SCHEMA_VERSION}, already current")
    else:
        print(f"{where} ({dialect}): schema version {before} → {SCHEMA_VERSION}")
    return 0


def run_copy_state(config: Config, source: str | None, target: str | None, *, replace: bool = False) -> int:
    """`copy-state`: 0 copied, 1 refused or failed, 2 usage (no target, no source file). The source
    is brought to the current schema first, as the bot itself would on start."""
    source = source or str(config.state_db)
    target = target or os.environ.get(DATABASE_URL_ENV, "").strip()
    if not target:
        print(f"error: say where to copy the state: --to postgresql://… or {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    if not is_url(source) and not Path(source).expanduser().exists():
        print(f"error: {source}: no such state file", file=sys.stderr)
        return 2
    try:
        with Store(source) as old, Store(target) as new:
            counts = copy_state(old, new, replace=replace)
            where_from, where_to = old.where, new.where
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"copied the state from {where_from} to {where_to} (schema version {SCHEMA_VERSION}):")
    for table, count in counts.items():
        print(f"  {table:<14} {count}")
    return 0
