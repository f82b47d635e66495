"""Shared fixtures: one library over the seed pages for the whole session; the state on SQLite and
on a PostgreSQL server the tests start themselves (tests/pg.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.library import Library

from .pg import PgServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    return Library.open(SEEDS, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def engine(library: Library) -> Engine:
    return library.engine


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Segments of the seed pages, built once (cache keys do not depend on the folder)."""
    cache = tmp_path_factory.mktemp("warm-cache")
    Library.open(SEEDS, cache_dir=cache)
    return cache


def copy_corpus(tmp_path: Path, warm_cache: Path) -> tuple[Path, Path]:
    """A writable copy of the seed corpus and of its warm cache, as in production."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    for path in corpus.iterdir():
        path.chmod(0o644)
    shutil.copytree(warm_cache, tmp_path / "cache")
    return corpus, tmp_path / "cache"


@pytest.fixture(autouse=True)
def _state_from_the_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DATABASE_URL in the developer's environment must not send tests (or the `python -m bot`
    processes they start) to a real database: a test that wants PostgreSQL sets it itself."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the session. Without one: the test fails in CI (CI set), and is
    skipped, saying why, elsewhere."""
    try:
        server = PgServer.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server for the state tests and none started: {exc}")
        pytest.skip(f"no PostgreSQL server for the state tests: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's state lives: an SQLite file, then (the same test again) a new PostgreSQL
    database. `Store(state_target)` opens either."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "bot.sqlite3")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.database()
