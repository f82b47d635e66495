"""`python -m bot migrate` and `copy-state`: either backend upgraded, an SQLite state moved into
PostgreSQL whole (every table, its ids and order), never over a state that is already there."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from bot.store import SCHEMA_VERSION, Store
from bot.store_admin import run_copy_state, run_migrate
from bot.store_sql import TABLES, is_url

from .conftest import ROOT
from .test_store import V1_ROWS, make_version


def configured(state_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A config whose state is `state_target`: DATABASE_URL for PostgreSQL, state_db for SQLite."""
    if is_url(state_target):
        monkeypatch.setenv("DATABASE_URL", state_target)
        return Config(state_db=tmp_path / "unused.sqlite3")
    return Config(state_db=Path(state_target))


def fill(store: Store) -> None:
    """A row or more in every table, as a bot that ran for a while leaves them."""
    store.subscribe(-1001234567890, "district", "二七区", now=10.0)
    store.subscribe(42, "keyword", "清华附中", now=11.0)
    store.log_question("private", "清华附中什么时候投入使用", True, "a1")
    store.log_question("group", "火星上有几个区", False, None)
    store.log_feedback("a1", "清华附中什么时候投入使用", True)
    store.set_digest(42, True, "08:00", now=12.0)
    store.record_articles([("a1", "p1.txt"), ("a2", "p1.txt")], now=100.0)  # the baseline
    store.record_articles([("a4", "p2.txt"), ("a3", "p2.txt")], now=200.0)  # arrivals, in this order
    store.claim(42, ["a4"], now=201.0)
    store.set_thread(-1001234567890, 7)
    store.source_failed("晚报", now=300.0, next_due=360.0, error="HTTP 500", pause_after=5)
    store.claim_update(555, "w1", now=400.0)
    store.finish_update(555, now=401.0)
    store.claim_digest_run(42, "2025-03-30")


def contents(store: Store) -> dict[str, list[tuple]]:
    return {
        table: [tuple(row) for row in store._read(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}")]
        for table, columns in TABLES.items()
    }


def test_the_copied_tables_are_the_whole_schema(state_target: str):
    """TABLES (what copy-state copies) names every table and column a migration made."""
    with Store(state_target) as store:
        if is_url(state_target):
            rows = store._read(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name <> 'schema_version'"
            )
        else:
            names = [r[0] for r in store._read("SELECT name FROM sqlite_master WHERE type = 'table'")]
            rows = [(t, r[1]) for t in names for r in store._read(f"PRAGMA table_info({t})")]
            rows.append(("articles", "rowid"))  # SQLite's implicit one, explicit in PostgreSQL
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    assert found == {table: set(columns) for table, columns in TABLES.items()}


def test_migrate_upgrades_either_backend_and_says_from_what(state_target, tmp_path, monkeypatch, capsys):
    make_version(state_target, 3, V1_ROWS)
    config = configured(state_target, tmp_path, monkeypatch)
    assert run_migrate(config) == 0
    out = capsys.readouterr().out
    dialect = "postgresql" if is_url(state_target) else "sqlite"
    assert f"({dialect}): schema version 3 → {SCHEMA_VERSION}" in out
    assert "secret" not in out
    assert run_migrate(config) == 0
    assert f"schema version {SCHEMA_VERSION}, already current" in capsys.readouterr().out
    with Store(state_target) as store:
        assert [s.value for s in store.subscriptions(42)] == ["二七区"]  # the data came along


def test_migrate_refuses_a_database_url_that_is_not_postgresql(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://bot:pw@db/state")
    assert run_migrate(Config(state_db=tmp_path / "bot.sqlite3")) == 1
    err = capsys.readouterr().err
    assert "not a postgresql:// URL" in err and ":pw@" not in err
    assert not (tmp_path / "bot.sqlite3").exists()


@pytest.mark.postgres
def test_copy_state_moves_everything_into_postgresql_once(pg_server, tmp_path, capsys):
    sqlite_path = tmp_path / "state" / "bot.sqlite3"
    with Store(sqlite_path) as old:
        fill(old)
        expected = contents(old)
    url = pg_server.database()
    settings = tmp_path / "bot.yaml"
    settings.write_text(json.dumps({"state_db": str(sqlite_path)}), encoding="utf-8")
    assert main(["--config", str(settings), "copy-state", "--to", url]) == 0
    out = capsys.readouterr().out
    assert "copied the state from" in out
    for table, rows in expected.items():
        assert f"  {table:<14} {len(rows)}" in out
    with Store(url) as new:
        assert contents(new) == expected
        # and the copy carries on where the SQLite state stopped
        assert [a.article_id for a in new.new_articles(since=0)] == ["a4", "a3"]
        assert new.claim(42, ["a4", "a5"]) == ["a5"]
        new.log_question("private", "二七区有什么新闻", True, "a2")
        assert [r[0] for r in new._read("SELECT id FROM questions ORDER BY id")] == [1, 2, 3]
        assert not new.claim_update(555, "w2", now=10_000.0) and not new.claim_digest_run(42, "2025-03-30")
        after_use = contents(new)
    # A second copy is refused and writes nothing; --replace gives the copy again, not doubled rows.
    assert run_copy_state(Config(state_db=sqlite_path), None, url) == 1
    assert "already holds state" in capsys.readouterr().err
    with Store(url) as new:
        assert contents(new) == after_use
    assert run_copy_state(Config(state_db=sqlite_path), str(sqlite_path), url, replace=True) == 0
    with Store(url) as new:
        assert contents(new) == expected


def test_copy_state_usage_errors(tmp_path, capsys):
    config = Config(state_db=tmp_path / "bot.sqlite3")
    assert run_copy_state(config, None, None) == 2  # no --to, no DATABASE_URL
    assert "DATABASE_URL" in capsys.readouterr().err
    assert run_copy_state(config, None, str(tmp_path / "other.sqlite3")) == 2  # no state to copy
    assert "no such state file" in capsys.readouterr().err
    assert not (tmp_path / "bot.sqlite3").exists()  # nothing created on the way


def test_copy_state_between_sqlite_files_too(tmp_path, capsys):
    source, target = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    with Store(source) as old:
        fill(old)
        expected = contents(old)
    assert run_copy_state(Config(state_db=source), None, str(target)) == 0
    with Store(target) as new:
        assert contents(new) == expected
    same = tmp_path / "x" / ".." / "a.sqlite3"
    assert run_copy_state(Config(state_db=source), None, str(same)) == 1  # onto itself: refused
    assert "same database" in capsys.readouterr().err
    with sqlite3.connect(source) as db:
        assert db.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 2


@pytest.mark.slow
def test_run_with_an_unreachable_database_url_says_so_without_the_password(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PORT"))}
    env.update(
        TELEGRAM_BOT_TOKEN="987654:never-used",
        DATABASE_URL=f"postgresql://bot:hunter2-pw@127.0.0.1:{port}/state?connect_timeout=3",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "hunter2-pw" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "cannot connect" in last and f"bot:***@127.0.0.1:{port}" in last
