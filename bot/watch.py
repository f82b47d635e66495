"""Live reload of the corpus folder: compare it with what is loaded and bring the engine up to date.

No Telegram here: the bot's job queue calls `CorpusWatcher.reload` every few seconds (and /reload
calls it at once), then tells subscribers about `ReloadResult.articles`.

New files are parsed in a thread and added to the current engine (one small segment, atomic swap:
questions in flight keep the old index). A changed or removed file triggers a full rebuild in a
thread (cached segments are reused, only changed files are re-segmented), and the rebuilt engine
replaces the current one in one step. A file still being written is left alone until it settles.

Articles the bot did not know are recorded with the time they arrived (`Store.record_articles`):
subscriptions compare against that time, and it survives restarts, so a page that landed while
the bot was down is still news when it comes back (`record_loaded`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .article import Article, CorpusError
from .article_store import ArticleShelf
from .corpus import corpus_files, load_file
from .ingest import Known
from .library import Library

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0  # files are left alone until they stopped changing this long

Snapshot = dict[Path, tuple[int, int]]  # news file → (size, mtime_ns), its sidecar included


class ArrivalLog(Protocol):
    """Where arrival times are kept (`bot.store.Store`): returns the ids it did not know."""

    def record_articles(self, items: Iterable[tuple[str, str]], now: float | None = None) -> list[str]: ...

    def known_by_source(self) -> dict[str, int]: ...


@dataclass
class ReloadResult:
    new_files: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)  # articles the bot did not know
    errors: list[str] = field(default_factory=list)
    rebuilt: bool = False
    notified: int = 0  # chats told about `articles`; filled in by the front end that tells them
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.new_files or self.changed_files or self.removed_files)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def snapshot(corpus: Path) -> Snapshot:
    """Size and mtime of each news file (and its sidecar, which changes what the page says)."""
    out: Snapshot = {}
    try:
        files = corpus_files(corpus)
    except CorpusError:
        return out
    for path in files:
        try:
            size, mtime = _signature(path)
            sidecar = path.with_suffix(".yaml")
            if sidecar.exists():
                extra = _signature(sidecar)
                size, mtime = size + extra[0], max(mtime, extra[1])
        except OSError:
            continue
        out[path] = (size, mtime)
    return out


class CorpusWatcher:
    """Keeps `library.engine` in step with the files in `corpus`; one reload at a time."""

    def __init__(
        self,
        library: Library,
        corpus: Path,
        *,
        arrivals: ArrivalLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.library = library
        self.corpus = corpus
        self.arrivals = arrivals
        self.clock = clock
        self.settle_seconds = SETTLE_SECONDS  # what the periodic job passes as `settle`
        # A page that landed between the engine's load and now is not in the engine: leave it out
        # so the first reload loads it (loading a known file again would add nothing anyway).
        sources = library.engine.articles.sources()
        self._files = {p: sig for p, sig in snapshot(corpus).items() if p.suffix != ".txt" or p.name in sources}
        self._lock = asyncio.Lock()
        self._failing: str | None = None  # the last failed rebuild, told once, not every tick

    def known(self) -> Known:
        """The library and the corpus files it holds (an ingest reads only the others)."""
        return Known(self.library, frozenset(path.name for path in self._files))

    async def record_loaded(self) -> list[str]:
        """Record the corpus the bot starts with; the ids returned arrived while it was down."""
        if self.arrivals is None:
            return []
        async with self._lock:
            fresh = await asyncio.to_thread(self._record_loaded, self.arrivals, self.library.engine.articles)
        if fresh:
            log.info("%d article(s) arrived while the bot was down", len(fresh))
        return fresh

    def _record_loaded(self, arrivals: ArrivalLog, articles: ArticleShelf) -> list[str]:
        """Record the articles of the sources whose count the log does not have: recording all of a
        million articles at every start took seconds (and the event loop with it). New files and
        files that grew or shrank are read; a file edited by hand while the bot was down that
        kept its count is not (ingest and fetch only ever add files under new names)."""
        known = arrivals.known_by_source()
        if not known:  # the first start: the whole corpus is the baseline
            return arrivals.record_articles(articles.id_sources(), self.clock())
        changed = {source for source, count in articles.source_counts().items() if known.get(source) != count}
        return arrivals.record_articles(articles.id_sources(changed), self.clock()) if changed else []

    async def reload(self, *, settle: float = 0.0) -> ReloadResult:
        """Pick up new, changed and removed files; files younger than `settle` seconds wait."""
        started = time.perf_counter()
        result = ReloadResult()
        async with self._lock:
            current = await asyncio.to_thread(snapshot, self.corpus)
            if settle:
                self._hold_back_unsettled(current, settle)
            previous = self._files
            new = [p for p in current if p not in previous]
            changed = [p for p in current if p in previous and current[p] != previous[p]]
            removed = [p for p in previous if p not in current]
            result.new_files = [p.name for p in new]
            result.changed_files = [p.name for p in changed]
            result.removed_files = [p.name for p in removed]
            if changed or removed:
                fresh = await self._rebuild(result)
                if fresh is None:  # keep serving the old index, and try again next time
                    failure = result.errors[-1]
                    log.log(logging.DEBUG if failure == self._failing else logging.WARNING, "reload: %s", failure)
                    self._failing = failure
                    return result
            elif new:
                fresh = await self._add(new, result)
            else:
                fresh = []
            if self._failing is not None:
                log.info("reload: the corpus folder is readable again")
                self._failing = None
            self._files = current
            if fresh and self.arrivals is not None:
                known = set(self.arrivals.record_articles(((a.id, a.source) for a in fresh), self.clock()))
                result.articles = [a for a in fresh if a.id in known]
            else:
                result.articles = fresh
        for error in result.errors:
            log.warning("reload: %s", error)
        if result.changed:
            log.info(
                "reload: %d new, %d changed, %d removed file(s); %d new article(s)%s",
                len(new),
                len(changed),
                len(removed),
                len(result.articles),
                " (full rebuild)" if result.rebuilt else "",
            )
        result.seconds = time.perf_counter() - started
        return result

    def _hold_back_unsettled(self, current: Snapshot, settle: float) -> None:
        """Not yet: a file written in the last `settle` seconds keeps what we had for it."""
        cutoff = time.time_ns() - int(settle * 1e9)
        for path in [p for p, (_, mtime) in current.items() if mtime > cutoff]:
            if path in self._files:
                current[path] = self._files[path]
            else:
                del current[path]

    async def _rebuild(self, result: ReloadResult) -> list[Article] | None:
        """A full rebuild in a thread, then the swap; returns the articles the old engine lacked."""
        old = self.library.engine
        try:
            engine = await asyncio.to_thread(self.library.rebuild)
        except (CorpusError, OSError) as exc:
            result.errors.append(f"{self.corpus}: rebuild failed, still serving the previous index: {exc}")
            return None
        result.errors.extend(engine.report.errors)
        self.library.replace(engine)
        result.rebuilt = True
        return [engine.articles[n] for n in engine.articles.numbers_not_in(old.articles)]

    async def _add(self, paths: list[Path], result: ReloadResult) -> list[Article]:
        """Parse new files in a thread and add their articles to the current engine."""
        places = self.library.engine.analyzer.lexicon.places
        loaded: list[Article] = []
        for path in paths:
            try:
                loaded.extend(await asyncio.to_thread(load_file, path, places))
            except CorpusError as exc:  # reported once; fixing the file counts as a change
                result.errors.append(str(exc))
        return await asyncio.to_thread(self.library.add, loaded) if loaded else []
