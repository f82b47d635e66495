"""A corpus path → an `Engine`, through the segment cache: one cached segment per corpus file.

Each file's segment is cached under a key of its content, the dictionaries and the code
version (bot/index.py `file_key`); only files without a valid cache entry are parsed and
segmented. Broken files are reported, never fatal: the rest of the corpus still loads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .article import Article, CorpusError
from .cache import clean_stale, file_key, load_cached, store_cached
from .config import EngineSettings
from .corpus import corpus_files, load_file
from .engine import Engine, warm_in_background
from .index import SearchIndex, Segment, build_segment, merge_segments
from .results import LoadReport
from .text import CONFIG_DIR, Analyzer, corpus_words, load_lexicon

Progress = Callable[[str, int], Callable[[int], None] | None]


@dataclass
class CachedFile:
    """What the cache keeps of one corpus file (pickled: renaming it invalidates old caches)."""

    articles: list[Article]
    segment: Segment
    words: list[str]


def config_fingerprint(config_dir: Path) -> str:
    """The dictionaries' part of every cache key: a changed alias or place rebuilds the index."""
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(config_dir.glob("*")):
        if path.suffix in (".yaml", ".txt") and path.name not in ("bot.yaml", "sources.yaml"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_engine(
    corpus: Path,
    *,
    config_dir: Path = CONFIG_DIR,
    cache_dir: Path | None = None,
    settings: EngineSettings | None = None,
    progress: Progress | None = None,
) -> Engine:
    """Load a corpus folder or file, reusing cached segments; broken files are reported."""
    started = time.perf_counter()
    lexicon = load_lexicon(config_dir)
    fingerprint = config_fingerprint(config_dir)
    report = LoadReport()
    clean_stale(corpus if corpus.is_dir() else None, cache_dir)  # what a killed ingest or cache write left
    files = corpus_files(corpus)
    report.files = len(files)
    # Each file is a cached segment, or freshly parsed articles with the words they teach.
    parsed: list[tuple[Path, str, CachedFile | tuple[list[Article], list[str]]]] = []
    for file in files:
        sidecar = file.with_suffix(".yaml")
        try:
            key = file_key(fingerprint, file, sidecar if sidecar.exists() else None, cache_dir)
        except OSError as exc:
            report.errors.append(f"{file}: cannot read: {exc.strerror}")
            continue
        cached = load_cached(cache_dir / f"{key}.seg") if cache_dir else None
        if isinstance(cached, CachedFile):
            parsed.append((file, key, cached))
            report.cached += 1
            continue
        try:
            fresh = load_file(file, lexicon.places, warnings=report.warnings)
        except CorpusError as exc:
            report.errors.append(str(exc))
            continue
        parsed.append((file, key, (fresh, corpus_words(t for a in fresh for t in (a.headline, a.body)))))
    words: set[str] = set()
    for _, _, item in parsed:
        words.update(item.words if isinstance(item, CachedFile) else item[1])
    analyzer = Analyzer(lexicon, sorted(words))
    articles: list[Article] = []
    segments: list[Segment] = []
    seen: set[str] = set()
    for file, key, item in parsed:
        if not isinstance(item, CachedFile):
            fresh, file_words = item
            callback = progress(file.name, len(fresh)) if progress else None
            item = CachedFile(fresh, build_segment(fresh, analyzer, callback), file_words)
            report.built += 1
            if cache_dir:
                store_cached(cache_dir / f"{key}.seg", item)
        if any(a.id in seen for a in item.articles):
            fresh = [a for a in item.articles if a.id not in seen]
            item = CachedFile(fresh, build_segment(fresh, analyzer), item.words)
        seen.update(a.id for a in item.articles)
        articles.extend(item.articles)
        segments.append(item.segment)
    segments = [merge_segments(segments)] if len(segments) > 1 else segments
    report.articles = len(articles)
    index = SearchIndex(segments)
    warm_in_background(index)
    report.seconds = time.perf_counter() - started
    return Engine(articles, index, analyzer, settings, report)
