"""`python -m bot fetch`: URLs (or the configured sources) → articles → the corpus, via ingest.

Each URL is sniffed: a feed (content type or `<rss`/`<feed`), an e-paper edition page (links to
`content_ID.htm`, no article of its own) or an article page. A feed's items are taken as they are
when the feed carries their full text, else their pages are fetched; an edition's articles are
fetched. Articles are de-duplicated by canonical URL, by the paper's own article id and by
content (normalized title + body), within the run and against the corpus, then written as one
JSONL file and added through `bot.ingest.ingest` (validated, atomic, under the corpus lock).
A second run over the same pages adds nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from .. import metrics
from ..article import safe_url
from ..article_store import ArticleShelf
from ..config import Config
from ..corpus import corpus_files
from ..ingest import IngestResult, Known, ingest
from ..library import Library
from ..normalize import normalize
from .decode import DecodeError, decode
from .extract import (
    EDITION_RE,
    Extracted,
    ExtractError,
    canonical_url,
    edition_links,
    founder_article,
    generic_article,
    is_founder_article,
    looks_like_feed,
    parse_feed,
    scan,
)
from .fetch import Fetcher, FetchResult, FetchSettings
from .sources import Source, SourceError, load_sources

MAX_LINKS = 200  # articles followed from one edition page or feed


@dataclass
class Record:
    title: str
    body: str
    url: str
    source: str
    date: str | None = None
    district: str | None = None
    paper_id: str | None = None  # host + the e-paper's content_ID

    @property
    def id(self) -> str:
        return "w" + hashlib.blake2b(self.url.encode(), digest_size=8).hexdigest()[:15]

    @property
    def content_key(self) -> str:
        text = normalize(f"{self.title}\n{self.body}")
        return hashlib.blake2b("".join(text.split()).encode(), digest_size=16).hexdigest()

    def to_json(self) -> dict:
        row: dict = {"id": self.id, "title": self.title, "body": self.body, "url": self.url, "source": self.source}
        if self.date:
            row["date"] = self.date
        if self.district:
            row["district"] = self.district
        return row


@dataclass
class FetchReport:
    found: dict[str, int] = field(default_factory=dict)  # URL asked -> articles extracted
    kinds: dict[str, str] = field(default_factory=dict)  # URL asked -> feed / edition / article
    records: list[Record] = field(default_factory=list)  # new, in order
    not_modified: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (URL or title, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (URL, reason)
    ingest: IngestResult | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and (self.ingest is None or self.ingest.ok)


class _Run:
    def __init__(self, fetcher: Fetcher, report: FetchReport, today: date) -> None:
        self.fetcher = fetcher
        self.report = report
        self.today = today
        self.fetched: dict[str, FetchResult] = {}  # top URL -> its response, remembered once stored
        self.broken: set[str] = set()  # top URLs with a failure: fetched in full next time

    async def top(self, url: str, source: Source | None) -> list[Record]:
        result = await self.fetcher.fetch(url)
        self.fetched[url] = result
        if result.status == "not_modified":
            self.report.not_modified.append(url)
            metrics.record_source_fetch("not_modified")
            return []
        if not result.ok:
            self.report.failed.append((url, result.reason))
            metrics.record_source_fetch("failed")
            return []
        name = source.name if source else urlsplit(result.final_url).netloc
        district = source.districts[0] if source and len(source.districts) == 1 else None
        kind = source.kind if source else "auto"
        try:
            if kind == "feed" or (kind == "auto" and looks_like_feed(result.content, result.content_type)):
                self.report.kinds[url] = "feed"
                records = await self._feed(result.content, result.final_url, result.content_type, source, url)
            else:
                text = decode(result.content, result.content_type).text
                page = scan(text, result.final_url)
                links = edition_links(page, result.final_url)
                edition = kind == "epaper" or (
                    kind == "auto"
                    and links
                    and (EDITION_RE.search(urlsplit(result.final_url).path) or not is_founder_article(page))
                )
                if edition:
                    self.report.kinds[url] = "edition"
                    if not links:
                        raise ExtractError("an edition page without content_ID.htm links")
                    got = await asyncio.gather(*(self._article(link, name, url) for link in links[:MAX_LINKS]))
                    records = [r for r in got if r is not None]
                else:
                    self.report.kinds[url] = "article"
                    records = [self._record(self._extract(text, page, result.final_url), name)]
        except (DecodeError, ExtractError) as exc:
            self.report.failed.append((url, str(exc)))
            self.broken.add(url)
            metrics.record_source_fetch("failed")
            return []
        for record in records:
            record.district = record.district or district
        self.report.found[url] = len(records)
        metrics.record_source_fetch("ok")
        return records

    async def _feed(self, data: bytes, url: str, content_type: str, source: Source | None, top: str) -> list[Record]:
        title, items = parse_feed(data, url, content_type)
        name = source.name if source else (title or urlsplit(url).netloc)
        records: list[Record] = []
        for item in items[:MAX_LINKS]:
            if item.full:
                body = "\n".join(line for line in item.text.split("\n") if line.strip())
                records.append(Record(item.title, body, item.link, name, item.date))
                continue
            record = await self._article(item.link, name, top)  # a summary only: the page has the text
            if record is not None:
                record.date = record.date or item.date
                records.append(record)
        return records

    async def _article(self, url: str, source: str, top: str) -> Record | None:
        result = await self.fetcher.fetch(url, conditional=False)
        if not result.ok:
            self.report.failed.append((url, result.reason))
            self.broken.add(top)
            return None
        try:
            text = decode(result.content, result.content_type).text
            return self._record(self._extract(text, scan(text, result.final_url), result.final_url), source)
        except (DecodeError, ExtractError) as exc:
            self.report.failed.append((url, str(exc)))
            self.broken.add(top)
            return None

    def _extract(self, text: str, page, final_url: str) -> Extracted:
        url = canonical_url(page, final_url)
        if is_founder_article(page):
            return founder_article(page, url, self.today)
        return generic_article(text, page, url, self.today)

    def _record(self, article: Extracted, source: str) -> Record:
        paper = f"{urlsplit(article.url).netloc.lower()}/{article.paper_id}" if article.paper_id else None
        return Record(article.title, article.body, article.url, source, article.date, paper_id=paper)


def dedupe(records: list[Record], corpus: ArticleShelf, report: FetchReport) -> list[Record]:
    """The records not seen before: not in the corpus, nor earlier in this run (by canonical URL,
    the paper's article id, or the same title and body). The corpus is asked about each record
    through its columns (ids, URL and title keys): the few articles that match are read."""
    urls: set[str] = set()
    papers: set[str] = set()
    contents: set[str] = set()
    fresh: list[Record] = []
    for record in records:
        if corpus.number_of(record.id) is not None or corpus.with_url(record.url):
            report.skipped.append((record.url, "already in the corpus"))
            continue
        if record.url in urls:
            report.skipped.append((record.url, "same URL earlier in this run"))
            continue
        if record.paper_id and record.paper_id in papers:
            report.skipped.append((record.url, "same e-paper article id earlier in this run"))
            continue
        key = record.content_key
        if key in contents or any(
            Record(a.title, a.body, "", "").content_key == key for a in corpus.titled(record.title)
        ):
            report.skipped.append(
                (record.url, "same headline and text as an article already in the corpus or this run")
            )
            continue
        urls.add(record.url)
        contents.add(key)
        if record.paper_id:
            papers.add(record.paper_id)
        fresh.append(record)
    return fresh


async def fetch_sources(
    targets: list[tuple[str, Source | None]],
    config: Config,
    *,
    corpus: Path | None = None,
    settings: FetchSettings | None = None,
    today: date | None = None,
    known: Known | None = None,
) -> FetchReport:
    """Fetch, extract, de-duplicate and ingest (URL, source) pairs, awaitable from a running
    event loop (the bot's polling jobs); the parsing of the corpus and ingest run in a thread.
    `known`: the running bot's library of the corpus and its files (else the corpus is loaded)."""
    started = time.perf_counter()
    corpus = Path(corpus) if corpus is not None else Path(config.corpus)
    today = today or date.today()
    report = FetchReport()
    state = config.cache_dir / "web" / "validators.json" if config.cache_dir is not None else None
    async with Fetcher(settings, state=state) as fetcher:
        run = _Run(fetcher, report, today)
        got = await asyncio.gather(*(run.top(url, source) for url, source in targets))
        records = [record for records in got for record in records]
        await asyncio.to_thread(_store, records, corpus, config, report, known)
        if report.ingest is None or report.ingest.ok:  # stored: unchanged pages may cost a 304 next time
            for url, result in run.fetched.items():
                if url not in run.broken:
                    fetcher.remember(result)
    report.found = {url: report.found[url] for url, _source in targets if url in report.found}  # as asked
    report.seconds = time.perf_counter() - started
    return report


def fetch_urls(
    urls: list[str] | list[tuple[str, Source | None]],
    config: Config,
    *,
    corpus: Path | None = None,
    settings: FetchSettings | None = None,
    today: date | None = None,
) -> FetchReport:
    """Fetch, extract, de-duplicate and ingest; the report says what was found, added, skipped.
    For the CLI: runs its own event loop (the bot awaits `fetch_sources`)."""
    targets = [(u, None) if isinstance(u, str) else u for u in urls]
    return asyncio.run(fetch_sources(targets, config, corpus=corpus, settings=settings, today=today))


def _store(records: list[Record], corpus: Path, config: Config, report: FetchReport, known: Known | None) -> None:
    """The records not in the corpus yet, written as one JSONL file and added through ingest.
    The corpus is loaded once (unless the caller's library stands for it), for both."""
    if known is None and records and corpus.is_dir() and (files := corpus_files(corpus)):
        library = Library.open(corpus, config_dir=config.config_dir, cache_dir=config.cache_dir)
        known = Known(library, frozenset(p.name for p in files))
    report.records = dedupe(records, known.library.articles if known is not None else ArticleShelf(), report)
    if not report.records:
        return
    with tempfile.TemporaryDirectory(prefix="fetch-") as folder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in report.records)
        # Named by its content: an article corrected within the same second (same URL and id,
        # other text) is another file, not a clash with the one fetched before it.
        digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
        path = Path(folder) / f"web-{stamp}-{digest}.jsonl"
        path.write_text(text, encoding="utf-8")
        report.ingest = ingest([path], corpus, config, known=known)


def print_report(report: FetchReport, corpus: Path, out: TextIO, err: TextIO) -> None:
    for url, count in report.found.items():
        print(f"found {count} article{'s' if count != 1 else ''} at {url} ({report.kinds.get(url, '?')})", file=out)
    for url in report.not_modified:
        print(f"not modified since the last fetch: {url}", file=out)
    for url, reason in report.failed:
        print(f"failed {url}: {reason}", file=err)
    for what, why in report.skipped:
        print(f"skipped {what}: {why}", file=out)
    result = report.ingest
    if result is not None and result.errors:
        for error in result.errors:
            print(f"error: {error}", file=err)
        print(f"nothing was added to {corpus}", file=err)
    elif result is not None and result.added:
        print(f"added {result.new_articles} article{'s' if result.new_articles != 1 else ''} to {corpus}:", file=out)
        for record in report.records:
            print(f"  · {record.title} ({record.date or 'no date'}) {record.url}", file=out)
    else:
        print(f"nothing new for {corpus}", file=out)
    print(f"done in {report.seconds:.2f} s", file=out)


def run_fetch(urls: list[str], config: Config, corpus: Path | None = None) -> int:
    """The `fetch` command: 0 nothing failed, 1 some URL failed, 2 usage error."""
    corpus = Path(corpus) if corpus is not None else Path(config.corpus)
    if corpus.exists() and not corpus.is_dir():
        print(f"error: {corpus}: the corpus is a single file; fetch needs a corpus folder", file=sys.stderr)
        return 2
    path = config.config_dir / "sources.yaml"
    try:
        sources = load_sources(path)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    today = date.today()
    configured = {s.url_for(today): s for s in sources}
    if urls:
        bad = [u for u in urls if safe_url(u) is None]
        if bad:
            print(f"error: not an http(s) URL: {', '.join(bad)}", file=sys.stderr)
            return 2
        targets = [(u, configured.get(u)) for u in urls]  # a configured source's URL keeps its name
    elif not sources:
        print(f"error: no URL given and no source in {path}", file=sys.stderr)
        return 2
    else:
        targets = list(configured.items())
    report = fetch_urls(targets, config, corpus=corpus)
    print_report(report, corpus, sys.stdout, sys.stderr)
    return 0 if report.ok else 1
