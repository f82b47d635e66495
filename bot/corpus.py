"""Corpus files → `Article`s: newspaper pages (`NAME.txt`, with an optional sidecar `NAME.yaml`
giving its paper, page, date — or only its `year` — and URL) and JSONL feeds (an article a line).

Loading is lenient (a bad feed line is skipped with a warning naming it, a broken file is
reported and the rest load); `strict=True` is for ingest, which refuses a batch with any fault.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from .article import ID_RE, Article, CorpusError, PageMeta, find_districts, has_text, make_id, safe_url
from .dates import article_date, parse_date, parse_year
from .page import parse_page

LINE_WARNINGS_MAX = 20  # bad lines of one feed reported one by one; the rest are counted

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    articles: list[Article]
    errors: list[str]  # files that gave nothing (each skipped whole)
    files: list[Path]
    warnings: list[str] = field(default_factory=list)  # lines of a feed that were skipped


def _checked_url(value: object, where: str, notes: list[str]) -> str | None:
    """The URL of a sidecar or a feed line, or None when it is not a safe one (noted in `notes`)."""
    text = _opt_str(value)
    if text is None:
        return None
    url = safe_url(text)
    if url is None:
        shown = text if len(text) <= 80 else text[:77] + "…"
        notes.append(f"{where}: url {shown!r} dropped: only http(s) URLs with a host are linked")
    return url


def _warn(path: Path, notes: list[str], warnings: list[str] | None) -> None:
    """Log a file's warnings (the first LINE_WARNINGS_MAX, then a count) and pass them on."""
    shown = notes[:LINE_WARNINGS_MAX]
    if len(notes) > LINE_WARNINGS_MAX:
        shown.append(f"{path}: {len(notes) - LINE_WARNINGS_MAX} more warnings")
    for warning in shown:
        log.warning("%s", warning)
    if warnings is not None:
        warnings.extend(shown)


def _checked_date(value: object, where: str, notes: list[str]) -> tuple[str | None, int | None]:
    """(day, year) of a sidecar's or a feed line's `date`: a day (2020-03-30, 2020年3月30日, …) or a
    year alone (2020); anything else is dropped, noted in `notes`."""
    if value in (None, ""):
        return None, None
    day, year = parse_date(value), parse_year(value)
    if day is None and year is None:
        shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "…"
        notes.append(f"{where}: date {shown!r} dropped: not a day (YYYY-MM-DD) nor a year")
    return day, year


def read_sidecar(path: Path, warnings: list[str] | None = None) -> PageMeta:
    """What a page's sidecar says; a `url` that is not http(s), or a `date` or `year` that names
    no day or year, is dropped with a warning."""
    sidecar = path.with_suffix(".yaml")
    if not sidecar.exists():
        return PageMeta()
    try:
        data = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{sidecar}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{sidecar}: expected a mapping of paper/page/date/url")
    notes: list[str] = []
    day, year = _checked_date(data.get("date"), str(sidecar), notes)
    stated = data.get("year")
    if stated not in (None, ""):
        if parse_year(stated) is None:
            notes.append(f"{sidecar}: year {stated!r} dropped: not a year such as 2020")
        else:
            year = parse_year(stated)
    meta = PageMeta(
        paper=_opt_str(data.get("paper")),
        page=_opt_str(data.get("page")),
        date=day,
        url=_checked_url(data.get("url"), str(sidecar), notes),
        year=year,
    )
    _warn(sidecar, notes, warnings)
    return meta


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc.strerror}") from exc
    if b"\x00" in data[:4096]:
        raise CorpusError(f"{path}: binary file, not UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from exc
    if not text.strip():
        raise CorpusError(f"{path}: empty file")
    return text


def load_page(path: Path, places: dict[str, str] | None = None, *, warnings: list[str] | None = None) -> list[Article]:
    text = _read_text(path)
    articles = parse_page(text, path.name, read_sidecar(path, warnings), places)
    if not articles:
        raise CorpusError(f"{path}: no article found (no paragraph of news text)")
    return articles


def load_jsonl(
    path: Path, places: dict[str, str] | None = None, *, strict: bool = False, warnings: list[str] | None = None
) -> list[Article]:
    """Ready articles, one JSON object a line: {"id","title","body","district"?,"date"?,"url"?}.

    A bad line (not JSON, not an object, no string title and body, no text in either) is skipped
    with a warning naming the file and line (logged, and added to `warnings` when given); the
    other lines load. A `url` that is not http(s), or a `date` that is no day nor year, is dropped
    from its article, with a warning; without a `date` the article's own text may give one.
    `strict` (ingest) raises a CorpusError at the first bad line instead. A feed with no good
    line at all is a CorpusError either way.
    """
    text = _read_text(path)
    articles: list[Article] = []
    bad: list[str] = []
    notes: list[str] = []  # in line order: skipped lines and dropped URLs
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            articles.append(_record_article(path, number, line, places, notes))
        except CorpusError as exc:
            if strict:
                raise
            bad.append(str(exc))
            notes.append(f"{exc} (line skipped)")
    _warn(path, notes, warnings)
    if not articles:
        raise CorpusError(f"{path}: no article found ({bad[0] if bad else 'no line of news text'})")
    return articles


def jsonl_chunks(
    path: Path,
    places: dict[str, str] | None,
    size: int,
    *,
    start: int = 0,
    line: int = 0,
    warnings: list[str] | None = None,
) -> Iterator[tuple[list[Article], int, int, bool]]:
    """A large feed read `size` articles at a time from byte `start` (after line `line`):
    (articles, the byte after the chunk's last line, that line's number, whether it is the last
    chunk). Lenient like load_jsonl: a bad line is skipped with a warning. Never the whole file
    in memory."""
    notes: list[str] = []
    chunk: list[Article] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        handle.seek(start)
        offset = start
        for raw in handle:
            offset += len(raw)
            line += 1
            try:
                text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                notes.append(f"{path}:{line}: not UTF-8 text ({exc.reason}) (line skipped)")
                continue
            if not text.strip():
                continue
            try:
                chunk.append(_record_article(path, line, text, places, notes))
            except CorpusError as exc:
                notes.append(f"{exc} (line skipped)")
            if len(chunk) >= size:
                yield chunk, offset, line, False
                chunk = []
        _warn(path, notes, warnings)
        yield chunk, offset, line, True


def _record_article(path: Path, number: int, line: str, places: dict[str, str] | None, notes: list[str]) -> Article:
    """The article of line `number` of a feed; a CorpusError naming file and line if it has none."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise CorpusError(f"{path}:{number}: expected a JSON object")
    title = record.get("title")
    body = record.get("body")
    if not isinstance(title, str) or not isinstance(body, str) or not (title.strip() or body.strip()):
        raise CorpusError(f'{path}:{number}: needs string fields "title" and "body"')
    if not has_text(title) and not has_text(body):
        raise CorpusError(f"{path}:{number}: no text in the title or the body (no letter, digit or CJK character)")
    paragraphs = tuple(p.strip() for p in body.splitlines() if p.strip())
    given_id = str(record.get("id") or "")
    article_id = given_id if ID_RE.match(given_id) else make_id(path.name, title, body)
    district = record.get("district")
    districts: tuple[str, ...] = (district,) if isinstance(district, str) and district else ()
    districts += tuple(d for d in find_districts(f"{title}\n{body}", places or {}) if d not in districts)
    if not has_text(title):  # a rule like ===== is no headline: the first paragraph stands in
        title = next((p[:30] for p in paragraphs if has_text(p)), article_id)
    where = f"{path}:{number}"
    day, year = _checked_date(record.get("date"), where, notes)
    url = _checked_url(record.get("url"), where, notes)
    return Article(
        id=article_id,
        title=title.strip(),
        paragraphs=paragraphs,
        districts=districts,
        date=article_date(f"{title}\n{body}", today=date.today(), given=day, year=year, url=url),
        url=url,
        source=_opt_str(record.get("source")) or path.name,
        order=number,
    )


def corpus_files(path: Path) -> list[Path]:
    """The news files of a corpus folder (or the one file given), in a stable order."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    return sorted(p for p in path.iterdir() if p.suffix in (".txt", ".jsonl") and p.is_file())


def load_file(
    path: Path, places: dict[str, str] | None = None, *, strict: bool = False, warnings: list[str] | None = None
) -> list[Article]:
    """The articles of one corpus file (see load_jsonl for `strict` and `warnings`)."""
    if path.suffix == ".jsonl":
        return load_jsonl(path, places, strict=strict, warnings=warnings)
    return load_page(path, places, warnings=warnings)


def load_corpus(path: Path, places: dict[str, str] | None = None) -> LoadResult:
    """Every article under `path`; a broken file is reported and skipped, the rest load (and a
    bad line of a feed is reported in `warnings` and skipped, the feed's other lines load)."""
    files = corpus_files(path)
    articles: list[Article] = []
    errors: list[str] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for file in files:
        try:
            loaded = load_file(file, places, warnings=warnings)
        except CorpusError as exc:
            errors.append(str(exc))
            continue
        for article in loaded:
            if article.id in seen:
                continue
            seen.add(article.id)
            articles.append(article)
    return LoadResult(articles, errors, files, warnings)
