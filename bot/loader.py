"""A corpus path → an `Engine`, through the segment cache: cached segments per corpus file.

Each file's segment and article store are cached under a key of its content, the dictionaries
and the code version (bot/cache.py `file_key`); only files without a valid cache entry are parsed
and segmented. Broken files are reported, never fatal: the rest of the corpus still loads.

A large feed (a whole archive in one JSONL file) is built in parts of CHUNK_ARTICLES articles,
read straight from the file and cached one by one: the build never holds the archive in memory,
and a build that was interrupted resumes after the last part it finished. Small segments next to
each other are merged on load (cheap, and fewer look-ups per question); large ones stay as they
are, mapped from the cache and shared with every process that maps them.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .article import Article, CorpusError
from .article_store import ArticleShelf, ArticleStore, Records
from .cache import cache_key, clean_stale, file_key, load_cached, records_intact, store_cached
from .config import EngineSettings
from .corpus import corpus_files, jsonl_chunks, load_file
from .engine import Engine, warm_in_background
from .index import SMALL_SEGMENT, Segment, build_segment, merge_segments
from .results import LoadReport
from .search import EXHAUSTIVE_MAX_ARTICLES, SearchIndex, compiled_search
from .text import CONFIG_DIR, DICTIONARY_FILES, Analyzer, Lexicon, corpus_words, load_lexicon

Progress = Callable[[str, int], Callable[[int], None] | None]
_Chunk = tuple[list[Article], int, int, bool]  # a part of a large feed (corpus.jsonl_chunks)

LEXICON_FORMAT = "2"  # bump when the Lexicon's fields change: its cached copy is then rebuilt
# A feed file larger than this is built in parts of CHUNK_ARTICLES articles (see the docstring).
STREAM_MIN_BYTES = 64 << 20
CHUNK_ARTICLES = 100_000
GROUP_ARTICLES = 300_000  # parts merged into one segment of up to this many articles (see _grouped)


@dataclass
class CachedPart:
    """What the cache keeps of one corpus file, or of one part of a large feed (pickled: renaming
    it invalidates old caches)."""

    store: ArticleStore
    segment: Segment
    words: list[str]
    resume: int = 0  # a part of a large feed: the byte after its last line …
    line: int = 0  # … and that line's number, where the next part starts
    last: bool = True


def config_fingerprint(config_dir: Path) -> str:
    """The dictionaries' part of every cache key: a changed alias or place rebuilds the index
    (the bot's settings, sources and container settings do not)."""
    digest = hashlib.blake2b(digest_size=12)
    for name in sorted(DICTIONARY_FILES):
        path = config_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _lexicon(config_dir: Path, fingerprint: str, cache_dir: Path | None) -> Lexicon:
    """The dictionaries, from the cache when they have not changed: building their pinyin table
    imports pypinyin and spells every name (~0.9 s, most of a cold start at 100,000 articles)."""
    path = cache_dir / f"lexicon-{cache_key(fingerprint, LEXICON_FORMAT)}.lex" if cache_dir else None
    cached = load_cached(path) if path else None
    if isinstance(cached, Lexicon):
        return cached
    lexicon = load_lexicon(config_dir)
    if path:
        store_cached(path, lexicon)
    return lexicon


def _cached_parts(cache_dir: Path | None, key: str) -> list[CachedPart]:
    """The parts of a file the cache holds: the whole file, or the parts of a large feed built so far."""
    if cache_dir is None:
        return []
    whole = _load_part(cache_dir / f"{key}.seg")
    if whole is not None:
        return [whole]
    parts: list[CachedPart] = []
    while not parts or not parts[-1].last:
        part = _load_part(cache_dir / f"{key}.{len(parts)}.seg")
        if part is None:
            break
        parts.append(part)
    return parts


def _load_part(path: Path) -> CachedPart | None:
    part = load_cached(path)
    if not isinstance(part, CachedPart):
        return None
    records = getattr(part.store, "records", None)
    if not isinstance(records, Records):
        return None  # written by another version of the code
    if records.path is not None and not records_intact(records.path, records.size, records.crc):
        return None  # its records file is missing or damaged: build the part again
    return part


def _store_part(path: Path, part: CachedPart) -> None:
    """Cache a part: its article records in a file of their own (written first), then the rest."""
    try:
        part.store.records.spill(path.with_suffix(".records"))
    except OSError:
        return  # a read-only or full disk only costs speed: the part serves from memory
    store_cached(path, part)


@dataclass
class _File:
    path: Path
    key: str
    parts: list[CachedPart]  # cached (all of them, or the first parts of an interrupted build)
    fresh: list[Article] | None = None  # parsed now (a small file without a valid cache entry)
    words: list[str] | None = None

    @property
    def complete(self) -> bool:
        return bool(self.parts) and self.parts[-1].last

    @property
    def streamed(self) -> bool:
        return not self.complete and self.fresh is None


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
    fingerprint = config_fingerprint(config_dir)
    lexicon = _lexicon(config_dir, fingerprint, cache_dir)
    report = LoadReport()
    clean_stale(corpus if corpus.is_dir() else None, cache_dir)  # what a killed ingest or cache write left
    files = corpus_files(corpus)
    if _bytes(files) > LARGE_CORPUS_BYTES:  # numba loads on its thread while the cache is opened
        compiled_search(wait=False)
    report.files = len(files)
    found: list[_File] = []
    for path in files:
        sidecar = path.with_suffix(".yaml")
        try:
            key = file_key(fingerprint, path, sidecar if sidecar.exists() else None, cache_dir)
            item = _File(path, key, _cached_parts(cache_dir, key))
            if not item.complete and not (path.suffix == ".jsonl" and path.stat().st_size >= STREAM_MIN_BYTES):
                item.parts = []
                item.fresh = load_file(path, lexicon.places, warnings=report.warnings)
                item.words = corpus_words(t for a in item.fresh for t in (a.headline, a.body))
        except OSError as exc:
            report.errors.append(f"{path}: cannot read: {exc.strerror}")
            continue
        except CorpusError as exc:
            report.errors.append(str(exc))
            continue
        if item.complete:
            report.cached += 1
        found.append(item)
    if _large(found):
        compiled_search(wait=False)  # numba loads on its thread while the segments are built or mapped
    words: set[str] = set()
    for item in found:
        words.update(item.words or ())
        for part in item.parts:
            words.update(part.words)
    analyzer = Analyzer(lexicon, sorted(words))
    for item in found:
        if item.fresh is not None:
            callback = progress(item.path.name, len(item.fresh)) if progress else None
            part = CachedPart(
                ArticleStore.of(item.fresh), build_segment(item.fresh, analyzer, callback), item.words or []
            )
            report.built += 1
            if cache_dir:
                _store_part(cache_dir / f"{item.key}.seg", part)
            item.parts = [part]
        elif item.streamed:
            try:
                _build_streaming(item, analyzer, lexicon, cache_dir, progress, report)
            except CorpusError as exc:
                report.errors.append(str(exc))
                item.parts = []
    found = [item for item in found if item.parts]
    _drop_repeated(found, analyzer)
    units = [unit for item in found for unit in _grouped(item, cache_dir)]
    stores, segments = _merged_small(units)
    shelf = ArticleShelf(stores)
    report.articles = len(shelf)
    index = SearchIndex(segments)
    warm_in_background(index)
    report.seconds = time.perf_counter() - started
    return Engine(shelf, index, analyzer, settings, report)


def cache_uncached(
    files: list[Path], analyzer: Analyzer, *, config_dir: Path, cache_dir: Path
) -> tuple[int, int] | None:
    """Build and cache the segment of each corpus file the cache does not hold, as the next start
    would, with the analyzer of a library already open on the corpus (its words, then each new
    file's): what ingest needs after it adds files, without loading the archive to do it (~0.8 s
    of CPU at a million articles). Returns (built, already cached); None when a file to build is a
    large feed (built in parts: the caller loads the corpus for that). A file that cannot be read
    as news is left out, as a load leaves it out (and reports it)."""
    fingerprint = config_fingerprint(config_dir)
    todo: list[tuple[Path, str]] = []
    cached = 0
    for path in files:
        sidecar = path.with_suffix(".yaml")
        try:
            key = file_key(fingerprint, path, sidecar if sidecar.exists() else None, cache_dir)
            large = path.suffix == ".jsonl" and path.stat().st_size >= STREAM_MIN_BYTES
        except OSError:
            continue
        if (cache_dir / f"{key}.seg").exists() or (cache_dir / f"{key}.0.seg").exists():
            cached += 1
        elif large:
            return None
        else:
            todo.append((path, key))
    built = 0
    for path, key in todo:
        try:
            articles = load_file(path, analyzer.lexicon.places)
        except (CorpusError, OSError):
            continue
        built += 1
        words = corpus_words(t for a in articles for t in (a.headline, a.body))
        analyzer.add_words(words)
        _store_part(
            cache_dir / f"{key}.seg", CachedPart(ArticleStore.of(articles), build_segment(articles, analyzer), words)
        )
    return built, cached


def _build_streaming(
    item: _File,
    analyzer: Analyzer,
    lexicon: Lexicon,
    cache_dir: Path | None,
    progress: Progress | None,
    report: LoadReport,
) -> None:
    """Build a large feed part by part, after the parts already cached (an interrupted build)."""
    done = item.parts
    start, line = (done[-1].resume, done[-1].line) if done else (0, 0)
    total = sum(len(p.store) for p in done)
    callback = progress(item.path.name, _lines(item.path)) if progress else None
    if callback is not None and total:
        callback(total)
    chunks = jsonl_chunks(item.path, lexicon.places, CHUNK_ARTICLES, start=start, line=line, warnings=report.warnings)
    for articles, resume, last_line, last in _read_ahead(chunks):
        words = corpus_words(t for a in articles for t in (a.headline, a.body))
        analyzer.add_words(words)
        part = CachedPart(ArticleStore.of(articles), build_segment(articles, analyzer, callback), words,
                          resume, last_line, last)  # fmt: skip
        if cache_dir:
            _store_part(cache_dir / f"{item.key}.{len(done)}.seg", part)
        done.append(part)
        total += len(articles)
    if not total:
        raise CorpusError(f"{item.path}: no article found (no line of news text)")
    report.built += 1
    _return_freed_memory()  # the parts' articles are gone: give their pages back before the merges


# A corpus of more bytes than this is taken for a large archive from the start (~2 KB an article).
LARGE_CORPUS_BYTES = 400_000_000


def _bytes(files: list[Path]) -> int:
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def _large(found: list[_File]) -> bool:
    """Whether the cache and the files read so far hold more articles than the exhaustive search
    serves (a corpus of short articles, under LARGE_CORPUS_BYTES)."""
    articles = sum(len(part.store) for item in found for part in item.parts)
    return articles + sum(len(item.fresh or ()) for item in found) > EXHAUSTIVE_MAX_ARTICLES


def _return_freed_memory() -> None:
    """Ask the C allocator to hand memory freed by the build back to the system (glibc's
    malloc_trim): a million articles parsed part by part leave hundreds of MB of free heap
    that would otherwise stay in this process while its parts are merged."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _read_ahead(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """The next part read and parsed on a thread while this one is segmented on the workers:
    parsing runs in this process, segmenting on the others, so the two overlap."""
    ahead: queue.Queue[_Chunk | BaseException | None] = queue.Queue(maxsize=1)

    def read() -> None:
        try:
            for chunk in chunks:
                ahead.put(chunk)
            ahead.put(None)
        except BaseException as exc:  # handed to the builder, which raises it
            ahead.put(exc)

    threading.Thread(target=read, name="read ahead", daemon=True).start()
    while (item := ahead.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _lines(path: Path) -> int:
    """Lines in a file (~1 s for 2 GB): the progress bar's total for a feed built in parts."""
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(16 << 20):
            count += block.count(b"\n")
    return count


def _drop_repeated(found: list[_File], analyzer: Analyzer) -> None:
    """An article whose id an earlier file already has is left out (the first one stays).

    Ids are compared as arrays: the largest file's sorted once, the others looked up in it.
    """
    if len(found) < 2:
        return
    sizes = [sum(len(p.store) for p in item.parts) for item in found]
    largest = max(range(len(found)), key=sizes.__getitem__)
    big = np.sort(np.concatenate([p.store.ids for p in found[largest].parts]))
    seen: set[str] = set()
    for number, item in enumerate(found):
        ids = [i for p in item.parts for i in p.store.all_ids()] if number != largest else None
        if ids is None:
            raw = np.concatenate([p.store.ids for p in item.parts])
            repeated = {i.decode() for i in raw[np.isin(raw, np.array(sorted(seen), dtype=np.bytes_))].tolist()}
        else:
            repeated = {i for i in ids if i in seen}
            if number > largest and ids:
                keys = np.array([i.encode() for i in ids], dtype=np.bytes_)
                at = np.minimum(np.searchsorted(big, keys), max(len(big) - 1, 0))
                if len(big):
                    repeated.update(i for i, hit in zip(ids, big[at] == keys, strict=True) if hit)
            seen.update(ids)
        if repeated:
            kept = [a for p in item.parts for a in ArticleShelf([p.store]) if a.id not in repeated]
            item.parts = [
                CachedPart(
                    ArticleStore.of(kept), build_segment(kept, analyzer), [w for p in item.parts for w in p.words]
                )
            ]


@dataclass
class CachedGroup:
    """One segment for several consecutive parts of a large feed, merged once after they are
    built (pickled: renaming it invalidates old caches). Their stores stay as they are."""

    first: int  # the number of the first part it covers
    count: int
    sizes: list[int]  # each part's article count, to check it covers what is loaded
    segment: Segment


# A unit of the index: a segment and the stores of its articles, in order.
_Unit = tuple[list[ArticleStore], Segment]


def _grouped(item: _File, cache_dir: Path | None) -> list[_Unit]:
    """The parts of a file as index units: one a part, except that the parts of a large feed are
    merged into segments of up to GROUP_ARTICLES articles — a question costs a few look-ups a
    segment, and ten segments at a million articles cost it more than the reading itself. The
    merge is cached beside the parts (built once, after the last part)."""
    parts = item.parts
    if len(parts) < 2:
        return [([p.store], p.segment) for p in parts]
    runs: list[list[int]] = [[]]
    for number, part in enumerate(parts):
        if runs[-1] and sum(len(parts[i].store) for i in runs[-1]) + len(part.store) > GROUP_ARTICLES:
            runs.append([])
        runs[-1].append(number)
    units: list[_Unit] = []
    for run in runs:
        if len(run) == 1:
            units.append(([parts[run[0]].store], parts[run[0]].segment))
            continue
        sizes = [len(parts[i].store) for i in run]
        path = cache_dir / f"{item.key}.g{run[0]}-{len(run)}.seg" if cache_dir else None
        group = load_cached(path) if path else None
        if not (isinstance(group, CachedGroup) and group.sizes == sizes and group.segment.size == sum(sizes)):
            group = CachedGroup(run[0], len(run), sizes, merge_segments([parts[i].segment for i in run]))
            if path:
                store_cached(path, group)
                group = load_cached(path) or group  # mapped: the merge's memory is let go
                for i in run:  # mapped afresh: the pages the merge read leave this process
                    parts[i] = _load_part(path.with_name(f"{item.key}.{i}.seg")) or parts[i]
        assert isinstance(group, CachedGroup)
        units.append(([parts[i].store for i in run], group.segment))
    return units


def _merged_small(units: list[_Unit]) -> tuple[list[ArticleStore], list[Segment]]:
    """Runs of neighbouring small segments merged into one (with their stores)."""
    out_stores: list[ArticleStore] = []
    out_segments: list[Segment] = []
    run: list[_Unit] = []

    def flush() -> None:
        if run:
            out_stores.append(ArticleStore.joined([store for stores, _ in run for store in stores]))
            out_segments.append(merge_segments([segment for _, segment in run]))
            run.clear()

    for stores, segment in units:
        if not segment.size:
            continue
        if segment.size < SMALL_SEGMENT:
            run.append((stores, segment))
            if sum(s.size for _, s in run) >= SMALL_SEGMENT:
                flush()
        else:
            flush()
            out_stores.extend(stores)
            out_segments.append(segment)
    flush()
    return out_stores, out_segments
