"""The corpus watcher on its own (no Telegram): new files are added, changed ones rebuild, files
still being written wait, and arrivals are recorded once."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from bot.library import Library
from bot.store import Store
from bot.watch import CorpusWatcher

from .conftest import copy_corpus
from .test_subscriptions_e2e import PAGE_ONE, PAGE_TWO, add_page

pytestmark = pytest.mark.asyncio


async def test_new_changed_removed_and_unsettled_files(tmp_path: Path, warm_cache: Path):
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    library = Library.open(corpus, cache_dir=cache)
    store = Store(tmp_path / "bot.sqlite3")
    watcher = CorpusWatcher(library, corpus, arrivals=store, clock=lambda: 1000.0)
    assert await watcher.record_loaded() == []  # the first corpus is the baseline, news to nobody
    assert not (await watcher.reload()).changed

    add_page(corpus, "105_new.txt", PAGE_ONE)
    held = await watcher.reload(settle=60)  # just written: left alone until it settles
    assert not held.changed and library.engine.articles[-1].source != "105_new.txt"
    first = library.engine
    added = await watcher.reload()
    assert added.new_files == ["105_new.txt"] and len(added.articles) == 2 and not added.rebuilt
    # added as one new segment (a new snapshot sharing the old one's index), no rebuild
    assert (
        len(library.engine.articles) == len(first.articles) + 2
        and library.engine.index.segments[:1] == first.index.segments[:1]
    )
    assert {a.article_id for a in store.new_articles(since=0)} == {a.id for a in added.articles}

    path = corpus / "105_new.txt"
    path.write_text(PAGE_ONE + "\n" + PAGE_TWO, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a visible change on any fs
    changed = await watcher.reload()
    assert changed.rebuilt and changed.changed_files == ["105_new.txt"]
    assert library.engine is not first and [a.headline for a in changed.articles] == ["二七区樱桃沟迎来赏花季"]

    path.unlink()
    removed = await watcher.reload()
    assert removed.removed_files == ["105_new.txt"] and removed.articles == []
    assert all(a.source != "105_new.txt" for a in library.engine.articles)
    store.close()


async def test_a_restart_records_what_arrived_meanwhile_and_reads_only_the_sources_that_changed(
    tmp_path: Path, warm_cache: Path
):
    # At each start the arrival log learns what came while the bot was down; a source file whose
    # count of articles it already has is not read again (a million articles took seconds).
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    store = Store(tmp_path / "bot.sqlite3")

    async def start() -> tuple[Library, list[str]]:
        library = Library.open(corpus, cache_dir=cache)
        return library, await CorpusWatcher(library, corpus, arrivals=store, clock=lambda: 1000.0).record_loaded()

    library, fresh = await start()
    assert fresh == [] and store.known_by_source() == library.engine.articles.source_counts()
    add_page(corpus, "105_new.txt", PAGE_ONE)  # while the bot is down
    library, fresh = await start()
    assert sorted(fresh) == sorted(a.id for a in library.engine.articles if a.source == "105_new.txt") != []
    assert (await start())[1] == []

    unchanged = library.engine.articles[0]
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:  # one article forgotten, its count kept
        db.execute("DELETE FROM articles WHERE article_id = ?", (unchanged.id,))
        db.execute("INSERT INTO articles (article_id, first_seen, source) VALUES ('x', 1, ?)", (unchanged.source,))
    assert (await start())[1] == []  # its source was not read again
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        db.execute("DELETE FROM articles WHERE article_id = 'x'")
    assert (await start())[1] == [unchanged.id]  # a count that differs: the source is read again
    store.close()
