"""Shared fixtures: one library over the seed pages for the whole session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.library import Library

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
