"""`python -m bot ingest PATH…`: what the command prints (progress, what it added, skipped and
why) and its exit code; the ingest itself is bot/ingest.py.

Exit codes: 0 done (also when everything was a duplicate), 1 a file was rejected (nothing
written), 2 usage error (no such path, unsupported file type, corpus is not a folder).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from .config import Config
from .ingest import IngestResult, IngestUsageError, ingest

PROGRESS_FROM = 20  # files; smaller batches get no progress bar
TITLES_SHOWN = 8


def _tqdm_files(files: list[Path]) -> Iterable[Path]:
    if len(files) < PROGRESS_FROM:
        return files
    from tqdm import tqdm

    return tqdm(files, desc="checking", unit="file", file=sys.stderr, disable=None)


def _tqdm_segments(name: str, total: int):
    if total < 2000:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"indexing {name}", unit="art", file=sys.stderr, leave=False, disable=None)
    return bar.update


def report(result: IngestResult, corpus: Path, out: TextIO, err: TextIO) -> None:
    if result.errors:
        for error in result.errors:
            print(f"error: {error}", file=err)
        print(f"nothing was added to {corpus}: fix the file(s) above and run again", file=err)
        return
    if result.added:
        files = len(result.added)
        print(f"added {files} file{'s' if files != 1 else ''} ({result.new_articles} articles) to {corpus}:", file=out)
        for item in result.added:
            extra = " + sidecar" if item.sidecar is not None else ""
            print(f"  {item.name}{extra}: {len(item.articles)} articles", file=out)
            for article in item.articles[:TITLES_SHOWN]:
                district = f" [{article.districts[0]}]" if article.districts else ""
                print(f"    · {article.headline}{district}", file=out)
            if len(item.articles) > TITLES_SHOWN:
                print(f"    … and {len(item.articles) - TITLES_SHOWN} more", file=out)
    else:
        print(f"nothing new for {corpus}", file=out)
    for name, why in result.skipped:
        print(f"skipped {name}: {why}", file=out)
    if result.added and (result.built or result.cached):
        print(
            f"index: built {result.built} new segment{'s' if result.built != 1 else ''}, "
            f"reused {result.cached} from the cache ({result.index_seconds:.2f} s)",
            file=out,
        )
    print(f"done in {result.seconds:.2f} s", file=out)


def run_ingest(paths: list[Path], config: Config, corpus: Path | None = None) -> int:
    corpus = Path(corpus) if corpus is not None else Path(config.corpus)
    try:
        result = ingest(
            paths,
            corpus,
            config,
            progress=_tqdm_files,
            engine_progress=_tqdm_segments,
            waiting=lambda: print(
                f"another ingest is adding files to {corpus}; waiting for it…", file=sys.stderr, flush=True
            ),
        )
    except IngestUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report(result, corpus, sys.stdout, sys.stderr)
    return 0 if result.ok else 1
