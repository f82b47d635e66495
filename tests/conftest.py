"""Shared fixtures: one engine over the seed pages for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import Engine, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    cache = tmp_path_factory.mktemp("cache")
    return Engine.from_path(SEEDS, settings=Settings(cache_dir=cache))
