"""The live corpus has one owner: the `Library`.

It opens a corpus path through the segment cache, adds articles and files, rebuilds, and swaps
each new state in with one assignment, so a question in flight keeps the snapshot it started
with. Each snapshot carries the views a front end browses — newest first, by district, counts —
kept up to date on add instead of sorted per click. `ask()` serves every front end: the intent
layer says what a message is, the library answers it with a `Reply`.
"""

from __future__ import annotations

import datetime as dtm
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .article import Article, CorpusError
from .article_store import CAPTION, NO_DATE, ArticleShelf, ArticleStore, date_number, date_text
from .config import Config, EngineSettings
from .corpus import load_file
from .dates import time_range
from .engine import Engine
from .intent import Act, Intent, classify
from .loader import Progress, load_engine
from .normalize import normalize
from .reply import Kind, Listing, Reply, key_dates, newness_keys
from .text import CONFIG_DIR
from .topics import articles_about

LATEST_MAX = 20  # /latest n is clamped to this
DEFINED = 1.0  # Engine.define's confidence when a sentence defines the term (a mention: less)
_NONE = np.zeros(0, np.int64)  # an empty list of newness keys


@dataclass(frozen=True)
class Facts:
    """What the about text says of the library."""

    articles: int
    captions: int
    sources: int
    first_date: str | None
    last_date: str | None


def _insert(keys: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Sorted keys with sorted new ones put in place (a copy: the old array stays valid)."""
    return np.insert(keys, np.searchsorted(keys, new), new)


@dataclass(frozen=True)
class Catalog:
    """Browsing views over one snapshot, as arrays of newness keys (reply.newness_keys): every
    article oldest first, each district's, and each article's date. A million articles cost a few
    MB and a sort at start, not an object each."""

    order: np.ndarray  # int64 keys, ascending
    by_district: dict[str, np.ndarray]
    known_districts: tuple[str, ...]  # the gazetteer's order, for the overview
    dates: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # by article number
    captions: int = 0
    sources: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, articles: Sequence[Article], known_districts: Iterable[str]) -> Catalog:
        shelf = articles if isinstance(articles, ArticleShelf) else ArticleShelf([ArticleStore.of(articles)])
        empty = cls(np.zeros(0, np.int64), {}, tuple(known_districts))
        return empty.extended(shelf, 0)

    def extended(self, articles: ArticleShelf, first: int) -> Catalog:
        """The views with articles[first:] added; arrays are copied, the old catalog stays valid."""
        stores = [(b, s) for b, s in zip(articles.bases, articles.stores, strict=True) if b + len(s) > first]
        dates = np.concatenate([self.dates[:first], *(s.dates[max(first - b, 0) :] for b, s in stores)])
        numbers = np.arange(first, len(articles), dtype=np.int64)
        order = _insert(self.order, np.sort(newness_keys(dates[first:], numbers)))
        by_district = dict(self.by_district)
        named: dict[str, list[np.ndarray]] = {}
        for base, store in stores:
            start = max(first - base, 0)
            counts = np.diff(store.district_offsets[start:])
            owners = np.repeat(np.arange(start, len(store), dtype=np.int64) + base, counts)
            codes = store.district_codes[store.district_offsets[start] :]
            for code, name in enumerate(store.district_names):
                hits = owners[codes == code]
                if len(hits):
                    named.setdefault(name, []).append(hits)
        for name, parts in named.items():
            hits = np.concatenate(parts)
            by_district[name] = _insert(
                by_district.get(name, np.zeros(0, np.int64)), np.sort(newness_keys(dates[hits], hits))
            )
        captions = self.captions + sum(int((s.kinds[max(first - b, 0) :] == CAPTION).sum()) for b, s in stores)
        sources = self.sources | {name for _, s in stores for name in s.source_names}
        return Catalog(order, by_district, self.known_districts, dates, captions, frozenset(sources))

    def counts(self) -> tuple[tuple[str, int], ...]:
        """(district, articles about it), the gazetteer's order first, districts with news only."""
        known = [d for d in self.known_districts if len(self.by_district.get(d, ()))]
        others = sorted(d for d in self.by_district if d not in self.known_districts)
        return tuple((d, len(self.by_district[d])) for d in known + others)


class Snapshot:
    """An engine and the views browsed over its articles. The views are worked out on first use
    (~0.2–0.6 s at a million articles): a fetch, an ingest or a batch of questions that never
    browses never pays for them, and a front end that browses has them built off its start
    (Library.warm_views)."""

    __slots__ = ("_catalog", "_lock", "engine")

    def __init__(self, engine: Engine, catalog: Catalog | None = None) -> None:
        self.engine = engine
        self._catalog = catalog
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        catalog = self._catalog
        if catalog is None:
            with self._lock:  # two first browses build it once
                catalog = self._catalog
                if catalog is None:
                    engine = self.engine
                    catalog = self._catalog = Catalog.of(engine.articles, engine.analyzer.lexicon.districts)
        return catalog

    @property
    def built_catalog(self) -> Catalog | None:
        """The views if worked out already (a later snapshot extends them), else None."""
        return self._catalog


@dataclass
class Conversation:
    """One chat's (or one reply thread's) context, kept by the front end: the last answer."""

    last_article_id: str | None = None
    last_snippet: str | None = None
    updated: float = 0.0


class Library:
    """The one owner of the live corpus; safe to read from many threads, one writer at a time."""

    def __init__(self, engine: Engine, *, corpus: Path | None = None, config_dir: Path = CONFIG_DIR,
                 cache_dir: Path | None = None, latest_default: int = 5,
                 today: Callable[[], dtm.date] = dtm.date.today) -> None:  # fmt: skip
        self.corpus = corpus
        self.today = today  # what 今天 / 这周 / 3月 mean
        self.config_dir = config_dir
        self.cache_dir = cache_dir
        self.latest_default = latest_default
        self._write = threading.Lock()
        self._merging = threading.Lock()
        self._snapshot = Snapshot(engine)

    @classmethod
    def open(cls, corpus: Path, *, config_dir: Path = CONFIG_DIR, cache_dir: Path | None = None,
             settings: EngineSettings | None = None, progress: Progress | None = None,
             latest_default: int = 5, today: Callable[[], dtm.date] = dtm.date.today) -> Library:  # fmt: skip
        """Load a corpus folder or `.jsonl` file through the cache (see bot/loader.py)."""
        engine = load_engine(corpus, config_dir=config_dir, cache_dir=cache_dir, settings=settings, progress=progress)
        return cls(engine, corpus=corpus, config_dir=config_dir, cache_dir=cache_dir, latest_default=latest_default,
                   today=today)  # fmt: skip

    @classmethod
    def from_config(cls, config: Config, corpus: Path | None = None, *, progress: Progress | None = None) -> Library:
        return cls.open(
            corpus or config.corpus,
            config_dir=config.config_dir,
            cache_dir=config.cache_dir,
            settings=config.engine,
            progress=progress,
            latest_default=config.telegram.latest_default,
            today=lambda: dtm.datetime.now(ZoneInfo(config.timezone)).date(),
        )

    def warm_views(self) -> None:
        """Work out the browsing views on a thread of their own, for a front end that browses:
        its first 最新 / district list does not wait for them, and its start does not either."""
        threading.Thread(target=lambda: self._snapshot.catalog, name="library-views", daemon=True).start()

    # ------------------------------------------------------------ reading

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def engine(self) -> Engine:
        return self._snapshot.engine

    @property
    def articles(self) -> ArticleShelf:
        return self._snapshot.engine.articles

    def get(self, article_id: str) -> Article | None:
        return self._snapshot.engine.get(article_id)

    def latest(self, limit: int | None = None) -> list[Article]:
        snapshot = self._snapshot
        return Listing(snapshot.catalog.order, snapshot.engine.articles, limit=limit).articles

    def in_district(self, district: str) -> list[Article]:
        snapshot = self._snapshot
        return Listing(snapshot.catalog.by_district.get(district, _NONE), snapshot.engine.articles).articles

    def district_counts(self) -> tuple[tuple[str, int], ...]:
        return self._snapshot.catalog.counts()

    def facts(self) -> Facts:
        snapshot = self._snapshot
        catalog = snapshot.catalog
        dated = catalog.dates[catalog.dates != NO_DATE]
        first, last = (date_text(int(dated.min())), date_text(int(dated.max()))) if len(dated) else (None, None)
        return Facts(len(snapshot.engine.articles), catalog.captions, len(catalog.sources), first, last)

    # ------------------------------------------------------------ changing

    def add(self, articles: Sequence[Article]) -> list[Article]:
        """Index the articles the library does not have; returns those. Readers see all or none."""
        with self._write:
            snapshot = self._snapshot
            engine, fresh = snapshot.engine.with_articles(articles)
            if fresh:
                built = snapshot.built_catalog  # extended if worked out, else left for first use
                catalog = None if built is None else built.extended(engine.articles, len(snapshot.engine.articles))
                self._snapshot = Snapshot(engine, catalog)
        if fresh:
            self._merge_in_background(engine)
        return fresh

    def _merge_in_background(self, engine: Engine) -> None:
        """Merge the small segments pages leave, off the caller's thread; swapped in only if the
        snapshot is still the one merged (else merged again with the pages that came meanwhile).
        Same article numbers, so the catalog stays."""
        if not self._merging.acquire(blocking=False):
            return

        def merge() -> None:
            current = engine
            try:
                while (merged := current.merged()) is not None:
                    with self._write:
                        if self._snapshot.engine is current:
                            self._snapshot = Snapshot(merged, self._snapshot.built_catalog)
                            return
                        current = self._snapshot.engine  # pages came meanwhile: merge them too
            finally:
                self._merging.release()

        threading.Thread(target=merge, name="merge segments", daemon=True).start()

    def add_files(self, paths: Iterable[Path]) -> tuple[list[Article], list[str]]:
        """Parse corpus files and add their new articles; a broken file is reported, not fatal."""
        places = self.engine.analyzer.lexicon.places
        articles: list[Article] = []
        errors: list[str] = []
        for path in paths:
            try:
                articles.extend(load_file(path, places))
            except CorpusError as exc:
                errors.append(str(exc))
            except OSError as exc:
                errors.append(f"{path}: cannot read: {exc.strerror}")
        return self.add(articles), errors

    def rebuild(self) -> Engine:
        """Load the whole corpus again (cached segments reused) and swap it in.

        For changed or removed files; raises if the corpus cannot be loaded, and then the old
        snapshot keeps serving.
        """
        if self.corpus is None:
            raise CorpusError("this library was not opened from a corpus path")
        engine = load_engine(self.corpus, config_dir=self.config_dir, cache_dir=self.cache_dir,
                             settings=self.engine.settings)  # fmt: skip
        self.replace(engine)
        return engine

    def replace(self, engine: Engine) -> None:
        with self._write:
            self._snapshot = Snapshot(engine)

    # ------------------------------------------------------------ answering

    def ask(self, text: str, conversation: Conversation | None = None) -> Reply:
        """What to say to a message, for any front end."""
        snapshot = self._snapshot
        engine = snapshot.engine
        intent = classify(text, engine.analyzer)
        last = self._followed(intent, conversation, engine)
        if last is not None and conversation is not None:  # about the article of the last answer
            followed = engine.answer(intent.text, article_id=last.id, exclude=conversation.last_snippet)
            reply = Reply(text, intent, Kind.ANSWER if followed.found else Kind.ABSTAIN, answer=followed)
        else:
            reply = self.reply_to(intent, text, snapshot)
        answer = reply.answer
        if conversation is not None and reply.found and answer is not None and answer.article and answer.snippet:
            conversation.last_article_id = answer.article.id
            conversation.last_snippet = answer.snippet.text
            conversation.updated = time.time()
        return reply

    @staticmethod
    def _followed(intent: Intent, conversation: Conversation | None, engine: Engine) -> Article | None:
        """The article a follow-up is about: the last answer's, when the message leans on it
        (它 / 那 / 还有呢 / a bare 在哪) and names no place the article does not."""
        if intent.act is not Act.QUESTION or not intent.leans or conversation is None:
            return None
        article = engine.get(conversation.last_article_id or "")
        if article is None:
            return None
        text = normalize(f"{article.headline}\n{article.body}")
        places = engine.analyzer.lexicon.places
        _, terms = engine.analyzer.question_terms(intent.text)
        if any(t.text in places and t.text not in text for t in terms):
            return None  # a new subject: 那二七区呢 after an answer about 郑东新区
        return article

    def _limited(self, intent: Intent, keys: np.ndarray) -> np.ndarray | None:
        """The keys of a list within the days its time phrase names (今年, 3月, 这周), or None when
        no phrase limits it (最近 limits nothing: lists are newest first anyway). An undated article
        is in no span."""
        span = time_range(intent.when, self.today()) if intent.when else None
        if span is None or span.recent:
            return None
        dates = key_dates(keys)
        return keys[(dates >= date_number(span.start.isoformat())) & (dates <= date_number(span.end.isoformat()))]

    def _within(self, intent: Intent, keys: np.ndarray) -> np.ndarray:
        limited = self._limited(intent, keys)
        return keys if limited is None else limited

    def reply_to(self, intent: Intent, text: str = "", snapshot: Snapshot | None = None) -> Reply:
        """The reply to an intent already known (a button: this district's list, the latest)."""
        snapshot = snapshot or self._snapshot
        engine = snapshot.engine  # its views (snapshot.catalog) only for the lists that need them
        total = len(engine.articles)
        act = intent.act
        if act is Act.QUESTION:
            answer = engine.answer(intent.text)
            return Reply(text, intent, Kind.ANSWER if answer.found else Kind.ABSTAIN, answer=answer)
        if act is Act.LATEST:
            limit = min(max(intent.count or self.latest_default, 1), LATEST_MAX)
            order = snapshot.catalog.order
            limited = self._limited(intent, order)
            if limited is None:
                listing = Listing(order, engine.articles, limit=limit)
            else:  # a time-limited list is every article of those days, paged
                listing = Listing(limited, engine.articles, when=intent.when)
            return Reply(text, intent, Kind.LIST, listing=listing, articles_total=total)
        if act is Act.TOPIC and intent.topic:
            found = articles_about(engine, intent.topic, district=intent.district)
            numbers = np.array(found, dtype=np.int64)
            keys = self._within(intent, np.sort(newness_keys(snapshot.catalog.dates[numbers], numbers)))
            listing = Listing(keys, engine.articles, district=intent.district, topic=intent.topic, when=intent.when)
            return Reply(text, intent, Kind.LIST, listing=listing, articles_total=total)
        if act is Act.DEFINE:
            answer = engine.define(intent.topic or "")
            if answer.confidence < DEFINED:  # no sentence defines it, at most one names it: ask as a question
                asked = engine.answer(intent.text)
                answer = asked if asked.found or not answer.found else answer
            return Reply(text, intent, Kind.ANSWER if answer.found else Kind.ABSTAIN, answer=answer)
        if act is Act.DISTRICT:
            district = intent.district
            catalog = snapshot.catalog
            keys = self._within(intent, catalog.by_district.get(district, _NONE) if district else _NONE)
            listing = Listing(keys, engine.articles, district=district, counts=catalog.counts(), when=intent.when)
            return Reply(text, intent, Kind.LIST, listing=listing, articles_total=total)
        if act is Act.DISTRICTS:
            listing = Listing(_NONE, engine.articles, counts=snapshot.catalog.counts())
            return Reply(text, intent, Kind.LIST, listing=listing, articles_total=total)
        if act is Act.READ:
            article = engine.get(intent.article_id or "")
            return Reply(text, intent, Kind.ARTICLE, article=article, articles_total=total)
        kinds = {Act.EMPTY: Kind.EMPTY, Act.GREETING: Kind.GREETING, Act.START: Kind.GREETING}
        return Reply(text, intent, kinds.get(act, Kind.HELP), articles_total=total)
