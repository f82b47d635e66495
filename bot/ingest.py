"""Ingest: add newspaper pages (.txt + optional .yaml sidecar) or .jsonl article files to the
corpus folder, all or nothing, and update the index cache incrementally (the command that runs
it, `python -m bot ingest PATH…`, is bot/ingest_cli.py; `fetch` ingests what it fetched).

Steps:
1. Every file is copied into a hidden staging folder inside the corpus folder (same file system,
   so the final move is a rename) under the name it will have in the corpus, and parsed there:
   article ids depend on the file name, so they are exactly the ids the bot will see.
2. Any broken file (not UTF-8, no article, bad JSON line, bad sidecar, name clash) stops the run
   (stricter than loading, which skips a feed's bad line with a warning and keeps the rest):
   the errors name file and line, the staging folder is removed, the corpus is untouched.
3. Exact duplicates are skipped: a file byte-identical to one in the corpus (or earlier in the
   batch), or one whose article ids are all in the corpus already. What the corpus holds comes
   from a library opened on it: the caller's (`Known`: the running bot's, or the one `fetch`
   opened to de-duplicate), plus the corpus files added since it was loaded; else it is loaded.
4. The rest are moved in with `os.replace` (sidecar first, so a watching bot never sees a page
   without its sidecar), then the segments of the new files only are built, with that library's
   analyzer, and cached; the others are in the cache already.

Two ingests at once take turns on steps 2-4 (a lock on the corpus folder): each decides
against what the other has moved in, so a name is never taken twice and nothing is overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from .article import Article, CorpusError
from .article_store import ArticleShelf
from .cache import STAGING_PREFIX, clean_stale, holding, note_path, noted, stat_of
from .config import Config
from .corpus import corpus_files, load_file
from .library import Library
from .loader import cache_uncached
from .text import load_lexicon

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: ingests are not serialised
    fcntl = None

NEWS_SUFFIXES = (".txt", ".jsonl")


class IngestUsageError(ValueError):
    """Wrong arguments: nothing to ingest, unknown file type, corpus not a folder."""


@dataclass
class Incoming:
    source: Path
    name: str
    data: bytes
    sidecar: bytes | None = None
    articles: list[Article] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return _digest(self.data, self.sidecar)


@dataclass(frozen=True)
class Known:
    """A library a caller has open on the corpus (the running bot's; the one `fetch` opened to
    de-duplicate) and the names of the corpus files it was loaded from. Ingest checks new files
    against its articles and reads only corpus files added since, and builds the new files'
    segments with its analyzer: no load of the whole archive (a second of CPU each at a million
    articles, with the answering process's questions waiting on it)."""

    library: Library
    files: frozenset[str]


@dataclass
class IngestResult:
    added: list[Incoming] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    errors: list[str] = field(default_factory=list)
    new_articles: int = 0
    built: int = 0  # index segments built by the cache update
    cached: int = 0  # segments reused from the cache
    index_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


def _digest(data: bytes, sidecar: bytes | None) -> str:
    digest = hashlib.blake2b(data, digest_size=16)
    if sidecar is not None:
        digest.update(b"\0sidecar\0" + sidecar)
    return digest.hexdigest()


# (file, its and its sidecar's size, mtime and inode) -> _digest of them: the bot polls and adds
# pages for weeks in one process, and a large feed (2.2 GB at a million articles) is read once.
_DIGESTS: dict[str, str] = {}


def _file_digest(path: Path, cache_dir: Path | None) -> str:
    """_digest of a corpus file and its sidecar, read in blocks: never a whole large feed in memory.
    Remembered by size, mtime and inode in this process and, beside the index, in the cache
    folder: a large feed (~8 s to read at a million articles) is read again only once it changed."""
    sidecar = path.with_suffix(".yaml")
    has_sidecar = sidecar.exists()
    stamp = [str(path.resolve()), stat_of(path), stat_of(sidecar) if has_sidecar else None]

    def work() -> str:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16))
        if has_sidecar:
            digest.update(b"\0sidecar\0" + sidecar.read_bytes())
        return digest.hexdigest()

    memo = json.dumps(stamp)
    known = _DIGESTS.get(memo)
    if known is None:
        known = _DIGESTS[memo] = noted(note_path(cache_dir, path, "digest"), stamp, work)
    return known


def collect(paths: list[Path]) -> list[Path]:
    """The news files named on the command line (folders give their .txt/.jsonl files)."""
    if not paths:
        raise IngestUsageError("nothing to ingest: give page .txt or .jsonl files, or folders of them")
    files: list[Path] = []
    sidecars: list[Path] = []
    for path in paths:
        if not path.exists():
            raise IngestUsageError(f"{path}: no such file or folder")
        if path.is_dir():
            files.extend(corpus_files(path))
        elif path.suffix in NEWS_SUFFIXES:
            files.append(path)
        elif path.suffix in (".yaml", ".yml"):
            sidecars.append(path)
        else:
            raise IngestUsageError(f"{path}: not a news file (expected a page .txt or an article .jsonl)")
    for sidecar in sidecars:  # `ingest page.*` names the sidecar too; alone it means nothing
        if sidecar.with_suffix(".txt") not in files:
            raise IngestUsageError(f"{sidecar}: a .yaml sidecar goes with a page; give {sidecar.stem}.txt")
    return list(dict.fromkeys(files))


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def corpus_lock(corpus: Path, waiting: Callable[[], object] | None = None) -> Iterator[None]:
    """Exclusive use of the corpus folder among ingests; `waiting` is called if another holds it.

    The lock is the kernel's flock on the folder itself: no file is left behind, and a killed
    process releases it, so it is never stale.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    folder = os.open(corpus, os.O_RDONLY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # releases the lock


def ingest(
    paths: list[Path],
    corpus: Path,
    config: Config,
    *,
    progress: Callable[[list[Path]], Iterable[Path]] | None = None,
    engine_progress: Callable[[str, int], Callable[[int], None]] | None = None,
    waiting: Callable[[], object] | None = None,
    known: Known | None = None,
) -> IngestResult:
    """Validate, de-duplicate and add files to the corpus folder; update the segment cache.
    Without `known`, the corpus is loaded (through the cache) to learn what it holds."""
    started = time.perf_counter()
    result = IngestResult()
    files = collect(paths)
    if corpus.exists() and not corpus.is_dir():
        raise IngestUsageError(f"{corpus}: the corpus is a single file; ingest needs a corpus folder")
    corpus.mkdir(parents=True, exist_ok=True)
    clean_stale(corpus, config.cache_dir)  # staging folders and cache files of runs that were killed
    places = load_lexicon(config.config_dir).places
    staging = Path(tempfile.mkdtemp(dir=corpus, prefix=STAGING_PREFIX))
    in_use = contextlib.ExitStack()
    in_use.enter_context(holding(staging))  # until it is removed: another run's clean_stale leaves it
    try:
        # 1. stage and parse every file under its corpus name
        incoming: list[Incoming] = []
        names: dict[str, Path] = {}
        for source in progress(files) if progress else files:
            if source.name in names:
                result.errors.append(f"{source}: same file name as {names[source.name]}; rename one of them")
                continue
            names[source.name] = source
            try:
                item = Incoming(source, source.name, source.read_bytes())
                sidecar = source.with_suffix(".yaml")
                if source.suffix == ".txt" and sidecar.exists():
                    item.sidecar = sidecar.read_bytes()
            except OSError as exc:
                result.errors.append(f"{source}: cannot read: {exc.strerror}")
                continue
            staged = staging / item.name
            if item.sidecar is not None:
                _write(staged.with_suffix(".yaml"), item.sidecar)
            _write(staged, item.data)
            try:
                item.articles = load_file(staged, places, strict=True)  # the bot skips a bad line; ingest refuses it
            except CorpusError as exc:  # name the file the user gave, not the staged copy
                result.errors.append(
                    str(exc)
                    .replace(str(staged.with_suffix(".yaml")), str(source.with_suffix(".yaml")))
                    .replace(str(staged), str(source))
                )
                continue
            incoming.append(item)
        if result.errors:
            return _finish(result, started)

        # 2-4 with the corpus to ourselves: another ingest's files are either all in or not yet
        with corpus_lock(corpus, waiting):
            # 2. what the corpus has already
            existing_files = corpus_files(corpus)
            existing = {_file_digest(path, config.cache_dir): path.name for path in existing_files}  # digest → name
            existing_names = {p.name for p in existing_files}
            if known is None and existing_files:
                library = Library.open(corpus, config_dir=config.config_dir, cache_dir=config.cache_dir)
                known = Known(library, frozenset(p.name for p in existing_files))
            held = known.library.articles if known is not None else ArticleShelf()
            # Files another run added since the library was loaded: read (a few pages), not loaded.
            added_ids = {
                a.id
                for path in existing_files
                if known is not None and path.name not in known.files
                for a in _articles_of(path, places)
            }

            # 3. decide
            accepted: list[Incoming] = []
            for item in incoming:
                twin = existing.get(item.digest)
                if twin is not None:
                    result.skipped.append((item.name, f"identical to {twin} already in the corpus"))
                    continue
                if item.name in existing_names:
                    result.errors.append(
                        f"{item.source}: the corpus already has a different {item.name}; "
                        f"rename the new file (article ids depend on the name)"
                    )
                    continue
                if item.sidecar is None and (corpus / item.name).with_suffix(".yaml").exists():
                    result.errors.append(
                        f"{item.source}: the corpus has a sidecar {Path(item.name).stem}.yaml "
                        f"without a page; remove it or give this page another name"
                    )
                    continue
                ids = {a.id for a in item.articles}
                if all(i in added_ids or held.number_of(i) is not None for i in ids):
                    result.skipped.append((item.name, f"all {len(ids)} article(s) already in the corpus"))
                    continue
                existing[item.digest] = item.name
                added_ids |= ids
                accepted.append(item)
            if result.errors:
                return _finish(result, started)

            # 4. move in: sidecar first, then the page; undo on failure
            moved: list[Path] = []
            try:
                for item in accepted:
                    staged = staging / item.name
                    if item.sidecar is not None:
                        os.replace(staged.with_suffix(".yaml"), corpus / Path(item.name).with_suffix(".yaml"))
                        moved.append(corpus / Path(item.name).with_suffix(".yaml"))
                    os.replace(staged, corpus / item.name)
                    moved.append(corpus / item.name)
            except OSError as exc:
                for path in moved:
                    path.unlink(missing_ok=True)
                result.errors.append(f"{corpus}: cannot write: {exc.strerror}; nothing was added")
                return _finish(result, started)
            _fsync_dir(corpus)
            result.added = accepted
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        in_use.close()

    # 5. the index cache: only the new files' segments are built
    if result.added:
        result.new_articles = sum(len(item.articles) for item in result.added)
        if config.cache_dir is not None:
            _update_cache(corpus, config, known, engine_progress, result)
    return _finish(result, started)


def _articles_of(path: Path, places: dict[str, str]) -> list[Article]:
    try:
        return load_file(path, places)
    except (CorpusError, OSError):  # a broken file holds no article to compare with
        return []


def _update_cache(
    corpus: Path,
    config: Config,
    known: Known | None,
    progress: Callable[[str, int], Callable[[int], None]] | None,
    result: IngestResult,
) -> None:
    """Cache the new files' segments with the known library's analyzer; load the corpus instead
    when there is none (the corpus was empty) or a new file is a large feed (built in parts)."""
    assert config.cache_dir is not None
    started = time.perf_counter()
    counts = None
    if known is not None:
        analyzer = known.library.engine.analyzer
        counts = cache_uncached(
            corpus_files(corpus), analyzer, config_dir=config.config_dir, cache_dir=config.cache_dir
        )
    if counts is None:
        report = Library.open(
            corpus, config_dir=config.config_dir, cache_dir=config.cache_dir, progress=progress
        ).engine.report
        counts = report.built, report.cached
    result.built, result.cached = counts
    result.index_seconds = time.perf_counter() - started


def _finish(result: IngestResult, started: float) -> IngestResult:
    if result.errors:
        result.added = []
    result.seconds = time.perf_counter() - started
    return result
