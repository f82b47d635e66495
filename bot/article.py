"""An article, the unit of everything downstream, and what identifies and places it: its id, the
districts it is about, a link that is safe to show (its date: bot/dates.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .normalize import normalize

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class CorpusError(ValueError):
    """A file that cannot be read as news; the message names the file and line."""


@dataclass(frozen=True)
class Byline:
    reporters: tuple[str, ...] = ()
    correspondents: tuple[str, ...] = ()
    raw: str = ""

    def __bool__(self) -> bool:
        return bool(self.raw)


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    paragraphs: tuple[str, ...]
    kicker: str = ""
    subtitle: str = ""
    byline: Byline = field(default_factory=Byline)
    districts: tuple[str, ...] = ()
    date: str | None = None  # YYYY-MM-DD, or None when nothing says which day (bot/dates.py)
    url: str | None = None
    source: str = ""
    kind: str = "article"  # "article" or "caption"
    order: int = 0  # position in its source, to list articles as printed

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def headline(self) -> str:
        """Kicker, headline and sub-headline joined: how the page shows the title block."""
        return " ".join(p for p in (self.kicker, self.title, self.subtitle) if p)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.headline,
            "district": self.districts[0] if self.districts else None,
            "districts": list(self.districts),
            "date": self.date,
            "url": self.url,
            "source": self.source,
            "kind": self.kind,
            "byline": self.byline.raw or None,
            "body": self.body,
        }


@dataclass(frozen=True)
class PageMeta:
    """What a sidecar `NAME.yaml` says of a page: paper, page, date (YYYY-MM-DD), or only the
    year its articles' month-days are in, url."""

    paper: str | None = None
    page: str | None = None
    date: str | None = None
    url: str | None = None
    year: int | None = None


def safe_url(value: object) -> str | None:
    """`value` if it is an http(s) URL with a host and no spaces or control characters, else None.

    A page's or an article's URL becomes a link in the bot's answers: `javascript:`, `file:`,
    `tg:` or a bare path must never get there.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None


def has_text(text: str) -> bool:
    """Does `text` hold any word character (a CJK character, a letter or a digit)? A line of
    `=====` or `——` is layout, not news."""
    return any(ch.isalnum() for ch in text)


def find_districts(text: str, places: dict[str, str]) -> tuple[str, ...]:
    """Districts an article is about, most mentioned first (names and places inside them)."""
    normalized = normalize(text)
    chars = set(normalized)
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for name, district, letters in _place_letters(places):
        if not letters <= chars:
            continue  # a character of it is not in the text: set look-ups instead of a scan
        pos = normalized.find(name)
        if pos < 0:
            continue
        hits = normalized.count(name)
        counts[district] = counts.get(district, 0) + hits * len(name)
        first_seen[district] = min(first_seen.get(district, pos), pos)
    return tuple(sorted(counts, key=lambda d: (-counts[d], first_seen[d])))


_LETTERS: dict[int, tuple[dict[str, str], list[tuple[str, str, frozenset[str]]]]] = {}


def _place_letters(places: dict[str, str]) -> list[tuple[str, str, frozenset[str]]]:
    """(name, district, its characters) of each place, worked out once per gazetteer: finding
    districts runs for every article of a million-article build."""
    known = _LETTERS.get(id(places))
    if known is None or known[0] is not places or len(known[1]) != len(places):
        known = (places, [(name, district, frozenset(name)) for name, district in places.items()])
        _LETTERS[id(places)] = known
    return known[1]


def make_id(source: str, title: str, body: str) -> str:
    """Short ASCII id, stable across rebuilds and additions: a hash of what the article says."""
    digest = hashlib.blake2b(f"{Path(source).stem[:40]}\n{title}\n{body[:400]}".encode(), digest_size=8).hexdigest()
    return f"a{digest[:11]}"
