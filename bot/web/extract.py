"""Articles out of fetched pages: RSS/Atom feeds, the Founder (方正) e-paper layout, any other page.

- Feeds (feedparser): each item's link, title, summary or full content, and published day.
- Founder e-paper: an edition page `…/html/YYYY-MM/DD/node_N.htm` links its articles
  `content_ID.htm`; an article page has the headline in `td.font01`, kicker and sub-headline in
  `td.font02`, and the body in `div#ozoom` > `founder-content` > `P`; the day is in the URL.
- Any other article page: trafilatura's main text (navigation, share bars and footers left out);
  the title from `<meta name="ArticleTitle">`, `<h1>` or trafilatura; the day from the URL, a
  「发布时间：2026-11-22 09:30」 line, or trafilatura's metadata.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser
import trafilatura

from ..dates import date_in_url, full_date_in_text, parse_date

EDITION_RE = re.compile(r"/node_\d+\.html?$", re.I)
CONTENT_RE = re.compile(r"(?:^|/)content_(\d+)\.html?$", re.I)
_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "td", "section", "article"}
_SKIP_TAGS = {"script", "style", "noscript", "template"}


class ExtractError(ValueError):
    """Nothing usable on the page; the message says why."""


@dataclass
class Extracted:
    url: str
    title: str
    paragraphs: list[str]
    date: str | None = None
    kicker: str = ""
    subtitle: str = ""
    paper_id: str | None = None  # the e-paper's own article id (content_ID)

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass
class FeedItem:
    link: str
    title: str
    text: str  # the content when the feed carries it, else the summary
    full: bool  # the text is the article's, not a summary
    date: str | None = None


@dataclass
class Scan:
    """What one pass over a page finds."""

    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    meta_title: str = ""
    h1: str = ""
    headline: str = ""  # td.font01
    kickers: list[tuple[int, str]] = field(default_factory=list)  # (order, td.font02 text)
    headline_order: int = -1
    paragraphs: list[str] = field(default_factory=list)  # <P> inside div#ozoom
    has_ozoom: bool = False
    text: str = ""  # all visible text, for a 发布时间 line


class _Scanner(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.scan = Scan()
        self.stack: list[str] = []
        self.ozoom_depth: int | None = None
        self.capture: str | None = None  # "font01", "font02", "h1" or "p"
        self.capture_depth = 0
        self.buffer: list[str] = []
        self.order = 0
        self.skip = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in _SKIP_TAGS:
            self.skip += 1
        if tag in _BLOCK_TAGS:
            self.text.append("\n")
        if tag == "a" and a.get("href"):
            self.scan.links.append(urljoin(self.base, a["href"].strip()))
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.scan.canonical = urljoin(self.base, a["href"].strip())
        elif tag == "meta" and a.get("name", "").lower() == "articletitle":
            self.scan.meta_title = a.get("content", "").strip()
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            if tag == "br" and self.capture:
                self.buffer.append("\n")
            return
        self.stack.append(tag)
        if tag == "div" and a.get("id", "").lower() == "ozoom":
            self.ozoom_depth = len(self.stack)
            self.scan.has_ozoom = True
        if self.capture is None:
            classes = a.get("class", "").lower().split()
            kind = None
            if tag == "td" and "font01" in classes:
                kind = "font01"
            elif tag == "td" and "font02" in classes:
                kind = "font02"
            elif tag == "h1" and not self.scan.h1:
                kind = "h1"
            elif tag == "p" and self.ozoom_depth is not None:
                kind = "p"
            if kind:
                self.capture, self.capture_depth, self.buffer = kind, len(self.stack), []

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self.skip:
            self.skip -= 1
        if tag in _BLOCK_TAGS:
            self.text.append("\n")
        if tag not in self.stack:
            return  # a stray end tag in broken HTML
        while self.stack:
            depth = len(self.stack)
            if self.capture is not None and depth == self.capture_depth:
                self._close_capture()
            if self.ozoom_depth is not None and depth == self.ozoom_depth:
                self.ozoom_depth = None
            if self.stack.pop() == tag:
                break

    def _close_capture(self) -> None:
        text = _clean("".join(self.buffer))
        kind, self.capture = self.capture, None
        self.order += 1
        if not text:
            return
        if kind == "font01" and not self.scan.headline:
            self.scan.headline, self.scan.headline_order = text, self.order
        elif kind == "font02":
            self.scan.kickers.append((self.order, text))
        elif kind == "h1":
            self.scan.h1 = text
        elif kind == "p":
            self.scan.paragraphs.extend(line for line in (_clean(x) for x in text.split("\n")) if line)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.text.append(data)
        if self.capture is not None:
            self.buffer.append(data)

    def finish(self) -> Scan:
        self.close()
        while self.capture is not None and self.stack:
            self.handle_endtag(self.stack[-1])
        self.scan.text = "\n".join(_clean(x) for x in "".join(self.text).split("\n") if _clean(x))
        return self.scan


def _clean(text: str) -> str:
    text = text.replace("\u3000", " ").replace("\xa0", " ")
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def scan(html: str, base: str) -> Scan:
    scanner = _Scanner(base)
    try:
        scanner.feed(html)
    except Exception as exc:  # html.parser is lenient; anything it still raises is a broken page
        raise ExtractError(f"unreadable HTML: {type(exc).__name__}") from exc
    return scanner.finish()


def canonical_url(page: Scan, final_url: str) -> str:
    """The page's `<link rel=canonical>` when it is on the same host, else the URL it came from."""
    if page.canonical and urlsplit(page.canonical).netloc.lower() == urlsplit(final_url).netloc.lower():
        return page.canonical
    return final_url


def edition_links(page: Scan, url: str) -> list[str]:
    """The `content_ID.htm` articles an e-paper edition page links, in page order, on its host."""
    host = urlsplit(url).netloc.lower()
    found = [
        link.split("#")[0]
        for link in page.links
        if CONTENT_RE.search(urlsplit(link).path) and urlsplit(link).netloc.lower() == host
    ]
    return list(dict.fromkeys(found))


def paper_id(url: str) -> str | None:
    match = CONTENT_RE.search(urlsplit(url).path)
    return match.group(1) if match else None


def is_founder_article(page: Scan) -> bool:
    return page.has_ozoom and bool(page.headline)


def founder_article(page: Scan, url: str, today: date) -> Extracted:
    if not page.headline:
        raise ExtractError("no headline (td.font01) on the e-paper page")
    if not page.paragraphs:
        raise ExtractError("no body text (div#ozoom) on the e-paper page")
    before = [t for order, t in page.kickers if order < page.headline_order]
    after = [t for order, t in page.kickers if order > page.headline_order]
    return Extracted(
        url=url,
        title=page.headline,
        paragraphs=page.paragraphs,
        date=date_in_url(url, today),
        kicker=before[-1] if before else "",
        subtitle=after[0] if after else "",
        paper_id=paper_id(url),
    )


def generic_article(html: str, page: Scan, url: str, today: date) -> Extracted:
    """Any news page through trafilatura's main-text extraction."""
    try:
        raw = trafilatura.extract(
            html, url=url, output_format="json", with_metadata=True, include_comments=False, include_tables=False
        )
    except Exception as exc:  # trafilatura on broken markup
        raise ExtractError(f"no article text: {type(exc).__name__}") from exc
    if not raw:
        raise ExtractError("no article text found on the page")
    data = json.loads(raw)
    text = str(data.get("text") or data.get("raw_text") or "")
    paragraphs = [p for p in (_clean(x) for x in text.split("\n")) if p]
    title = page.meta_title or page.h1 or _clean(str(data.get("title") or ""))
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    if not title or not paragraphs:
        raise ExtractError("no headline or no body text on the page")
    day = date_in_url(url, today) or labelled_date(page.text) or parse_date(data.get("date"))
    return Extracted(url=url, title=title, paragraphs=paragraphs, date=day)


_LABELLED_RE = re.compile(r"(?:发布时间|发布日期|时间|日期)\s*[:：]\s*[^\n]{6,24}")


def labelled_date(text: str) -> str | None:
    """The day of a 「发布时间：2026-11-22 09:30」 line."""
    match = _LABELLED_RE.search(text)
    return full_date_in_text(match.group(0)) if match else None


def parse_feed(data: bytes, url: str, content_type: str = "") -> tuple[str, list[FeedItem]]:
    """The feed's title and items; ExtractError when it is no feed at all."""
    parsed = feedparser.parse(data, response_headers={"content-type": content_type or "application/xml"})
    entries = parsed.get("entries") or []
    if not entries:
        reason = parsed.get("bozo_exception")
        raise ExtractError(f"not a feed or no items{f': {reason}' if reason else ''}"[:200])
    items: list[FeedItem] = []
    for entry in entries:
        link = urljoin(url, str(entry.get("link") or "").strip())
        title = _clean(_strip_tags(str(entry.get("title") or "")))
        content = entry.get("content") or []
        body = " ".join(str(c.get("value") or "") for c in content if isinstance(c, dict))
        summary = str(entry.get("summary") or "")
        text = _html_text(body or summary)
        full = bool(body) and len(text) >= max(100, 2 * len(_html_text(summary)))
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        day = date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday).isoformat() if stamp else None
        if link and title:
            items.append(FeedItem(link, title, text, full, day))
    if not items:
        raise ExtractError("the feed has no item with a link and a title")
    return _clean(str(parsed.get("feed", {}).get("title") or "")), items


def _strip_tags(text: str) -> str:
    return _html_text(text).replace("\n", " ")


def _html_text(html: str) -> str:
    if "<" not in html:
        return _clean(html)
    scanner = _Scanner("")
    scanner.feed(html)
    return scanner.finish().text


def looks_like_feed(data: bytes, content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
        return True
    head = data[:1024].lstrip().lower()
    return (kind.endswith("xml") or head.startswith(b"<?xml")) and (
        b"<rss" in head or b"<feed" in head or b"<rdf" in head
    )
