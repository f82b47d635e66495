"""A newspaper page → its `Article`s, in printed order.

A page is what a scanner or a copy-paste of a printed page gives: several articles one after
another, headlines with kicker lines above and sub-headlines below, `本报讯(记者 …)` bylines
at the start or a `记者 …` line at the end, paragraphs broken mid-sentence by the columns,
photo captions credited `本报记者 … 摄` with no headline, and text that jumps. The parser
classifies lines, groups them into articles, then repairs paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from .article import Article, Byline, PageMeta, find_districts, has_text, make_id
from .dates import article_date
from .text import is_sentence_end

_NAME = r"[\u4e00-\u9fff·]{2,4}"
_NAMES = rf"{_NAME}(?:[ \u3000、,，]+{_NAME})*"
# 本报讯(记者 刘伟平 通讯员 郭佳星) / 本报讯 3月12日… / 本报讯（记者 王红）
_LEAD_RE = re.compile(r"^本报讯\s*(?:[(（]([^()（）]{0,60})[)）])?\s*")
# A line that is only a byline: 记者 张改华 / 本报记者 党贺喜 通讯员 郭岩岩 文图 / 航空港时报 曾碧娟
_ROLE = r"(?:本报记者|本报通讯员|记者|通讯员|实习生|[\u4e00-\u9fff]{2,6}(?:时报|日报|晚报|报))"
_BYLINE_LINE_RE = re.compile(rf"^(?:{_ROLE}[ \u3000]*{_NAMES}[ \u3000]*)+(?:文/图|文图|图/文|文|图|摄)?$")
_PAREN_BYLINE_RE = re.compile(rf"^[(（]{_NAMES}[)）]$")
# 本报记者 刘伟平 摄 at the end of a photo caption (alone or after the caption's last sentence)
_CREDIT_TAIL_RE = re.compile(rf"(?:本报记者|记者|通讯员)[ \u3000]*{_NAMES}[ \u3000]*摄$")
# …等工作。记者 王军方  (a byline run into the last sentence of a paragraph)
_BYLINE_TAIL_RE = re.compile(
    rf"(?<=[。！？”])[ \u3000]*((?:本报记者|记者)[ \u3000]*{_NAMES}(?:[ \u3000]*通讯员[ \u3000]*{_NAMES})*)$"
)
_ROLE_SPLIT_RE = re.compile(r"(本报记者|本报通讯员|记者|通讯员|实习生)")
_TIME_OPENER_RE = re.compile(r"^(?:近日|日前|昨日|今日|连日来|\d{1,2}月\d{1,2}日|\d{4}年)")
HEADLINE_MAX = 48


# ---------------------------------------------------------------- line classification

HEAD, LEAD, BODY, BYLINE, CREDIT = "head", "lead", "body", "byline", "credit"


@dataclass
class _Line:
    kind: str
    text: str
    number: int
    level: int = 0  # markdown heading level (#, ##) when the page marks it
    byline: str = ""  # for LEAD: the bracketed byline; for BYLINE/CREDIT: the line itself
    credit: str = ""  # a caption credit cut off the end of a BODY line


def _classify(raw: str, number: int) -> _Line:
    text = raw.strip().replace("\u3000", " ")
    hashes = re.match(r"^(#{1,6})\s*", text)
    if hashes:
        return _Line(HEAD, text[hashes.end() :].strip(), number, level=len(hashes.group(1)))
    lead = _LEAD_RE.match(text)
    if lead:
        return _Line(LEAD, text[lead.end() :].strip(), number, byline=(lead.group(1) or "").strip())
    if len(text) <= 40 and (_BYLINE_LINE_RE.match(text) or _PAREN_BYLINE_RE.match(text)):
        kind = CREDIT if text.endswith("摄") else BYLINE
        return _Line(kind, "", number, byline=text.strip("()（）"))
    credit = _CREDIT_TAIL_RE.search(text)
    if credit and credit.start() > 0:
        return _Line(BODY, text[: credit.start()].rstrip(), number, credit=credit.group(0))
    if _looks_like_heading(text):
        return _Line(HEAD, text, number)
    return _Line(BODY, text, number)


def _looks_like_heading(text: str) -> bool:
    if len(text) > HEADLINE_MAX or is_sentence_end(text):
        return False
    # A line ending in a comma or an enumeration mark was cut mid-sentence; a headline holds
    # no full stop and at most one short comma clause (今年,郑港办事处为民办这些实事).
    if text[-1] in ',，、(（“"-—+' or re.search(r"[。！？；;]", text):
        return False
    commas = len(re.findall(r"[,，]", text))
    return commas == 0 or (commas == 1 and len(text) <= 24)


# ---------------------------------------------------------------- grouping


@dataclass
class _Draft:
    heads: list[_Line] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)  # LEAD, BODY, sub-heading HEAD, BYLINE
    bylines: list[str] = field(default_factory=list)
    closed: bool = False  # an end byline or a caption credit was met
    caption: bool = False


def _group(lines: list[_Line]) -> list[_Draft]:
    """Split classified lines into articles (see module doc for the page conventions)."""
    strong = _strong_heading_starts(lines)
    drafts: list[_Draft] = []
    current: _Draft | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.kind == HEAD:
            run_end = i
            while run_end + 1 < len(lines) and lines[run_end + 1].kind == HEAD:
                run_end += 1
            run = lines[i : run_end + 1]
            if i in strong or current is None or current.closed or _has_own_byline(lines, run_end + 1, strong):
                current = _Draft(heads=list(run))
                drafts.append(current)
            else:  # sub-headings inside the running article
                current.lines.extend(run)
            i = run_end + 1
            continue
        if line.kind == LEAD:
            if current is None or current.lines or current.closed:
                current = _Draft()
                drafts.append(current)
            if line.byline:
                current.bylines.append(line.byline)
            current.lines.append(line)
        elif line.kind == BYLINE:
            if current is None:
                current = _Draft()
                drafts.append(current)
            current.bylines.append(line.byline)
            current.lines.append(line)  # kept as a marker: text may jump across it
            if _next_kind(lines, i) in (HEAD, LEAD, CREDIT, None) or _is_end_byline(lines, i):
                current.closed = True
        elif line.kind == CREDIT:
            caption = _split_caption(current, drafts)
            caption.bylines.append(line.byline)
            current = caption
        else:  # BODY
            if current is None or current.closed:
                current = _Draft()
                drafts.append(current)
            current.lines.append(line)
            if line.credit:
                caption = _split_caption(current, drafts)
                caption.bylines.append(line.credit)
                current = caption
        i += 1
    return [d for d in drafts if any(x.kind in (LEAD, BODY) for x in d.lines)]


def _strong_heading_starts(lines: list[_Line]) -> set[int]:
    """Indexes of heading runs that certainly start an article (followed by a byline/lead, or #)."""
    starts: set[int] = set()
    i = 0
    while i < len(lines):
        if lines[i].kind != HEAD:
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and lines[j + 1].kind == HEAD:
            j += 1
        after = lines[j + 1].kind if j + 1 < len(lines) else None
        if after in (LEAD, BYLINE) or any(x.level for x in lines[i : j + 1]) or i == 0:
            starts.add(i)
        i = j + 1
    return starts


def _has_own_byline(lines: list[_Line], start: int, strong: set[int]) -> bool:
    """Does the stretch from `start` to the next certain article carry a byline of its own?"""
    for k in range(start, len(lines)):
        if k in strong:
            return False
        if lines[k].kind in (BYLINE, LEAD):
            return True
        if lines[k].kind == CREDIT or lines[k].credit:
            return False
    return False


def _next_kind(lines: list[_Line], i: int) -> str | None:
    return lines[i + 1].kind if i + 1 < len(lines) else None


def _is_end_byline(lines: list[_Line], i: int) -> bool:
    """A byline followed only by more byline lines and then a new article or the page end."""
    k = i + 1
    while k < len(lines) and lines[k].kind == BYLINE:
        k += 1
    return k >= len(lines) or lines[k].kind in (HEAD, LEAD, CREDIT)


def _split_caption(current: _Draft | None, drafts: list[_Draft]) -> _Draft:
    """Move the paragraphs of a photo caption out of the running article into their own item.

    A caption is the body since the last closed article; inside an open article it is the last
    paragraph, or the last few back to one that opens like a caption (近日, 日前, 12月5日).
    """
    caption = _Draft(caption=True, closed=True)
    if current is None:
        drafts.append(caption)
        return caption
    body_idx = [k for k, x in enumerate(current.lines) if x.kind == BODY]
    if not current.heads and not current.bylines:
        take_from = body_idx[0] if body_idx else len(current.lines)
    else:
        take_from = body_idx[-1] if body_idx else len(current.lines)
        for k in reversed(body_idx[-3:]):
            if _TIME_OPENER_RE.match(current.lines[k].text):
                take_from = k
                break
    caption.lines = current.lines[take_from:]
    del current.lines[take_from:]
    current.closed = True
    if current.lines or current.heads:
        drafts.append(caption)
    else:  # the running draft was the caption all along
        drafts[drafts.index(current)] = caption
    return caption


# ---------------------------------------------------------------- paragraphs


def _paragraphs(draft: _Draft) -> list[str]:
    """Body paragraphs with layout breaks repaired and text jumps across a byline put back.

    When a byline stands in the middle and the text after it ends mid-sentence, the page
    printed the story's continuation first: the part after the byline is the beginning.
    """
    segments: list[list[_Line]] = [[]]
    for line in draft.lines:
        if line.kind == BYLINE:
            segments.append([])
        else:
            segments[-1].append(line)
    segments = [s for s in segments if s]
    if len(segments) == 2 and segments[1] and not _ends_sentence(segments[1][-1]):
        segments = [segments[1], segments[0]]
    paragraphs: list[str] = []
    dangling = False
    for line in (x for seg in segments for x in seg):
        text = line.text
        if _BYLINE_TAIL_RE.search(text) and line.kind in (BODY, LEAD):
            text = _BYLINE_TAIL_RE.sub("", text).rstrip()
        if not text:
            continue
        if dangling and paragraphs and line.kind != HEAD:
            paragraphs[-1] += text
        else:
            paragraphs.append(text)
        dangling = line.kind != HEAD and not is_sentence_end(text)
    return paragraphs


def _ends_sentence(line: _Line) -> bool:
    return line.kind == HEAD or is_sentence_end(line.text)


def _parse_byline(parts: Iterable[str]) -> Byline:
    reporters: list[str] = []
    correspondents: list[str] = []
    raw_parts = [p.strip() for p in parts if p and p.strip()]
    for raw in raw_parts:
        role = "记者"
        pieces = _ROLE_SPLIT_RE.split(raw)
        if len(pieces) == 1:  # (党贺喜 王海荣 高晓东): names only
            pieces = ["", "记者", raw]
        for k in range(1, len(pieces), 2):
            role = pieces[k]
            names = re.sub(r"(文/图|文图|图/文|摄)$", "", pieces[k + 1].strip()).strip()
            names = re.sub(r"^[\u4e00-\u9fff]{2,6}(?:时报|日报|晚报)\s*", "", names)
            for name in re.split(r"[ 、,，]+", names):
                if re.fullmatch(_NAME, name):
                    (correspondents if "通讯员" in role else reporters).append(name)
    return Byline(tuple(dict.fromkeys(reporters)), tuple(dict.fromkeys(correspondents)), " ".join(raw_parts))


def _split_heads(heads: list[_Line]) -> tuple[str, str, str]:
    """(kicker, title, subtitle) of a headline block.

    A marked (#) line is the title, lines above it kickers. Unmarked: the line next to the
    byline is the title; a line above it that reads like a kicker (a few short slogans
    separated by spaces, as 抓项目 扩投资 强招商) is the kicker, any other line above is the
    main headline with the last line as its sub-headline.
    """
    texts = [h.text for h in heads]
    if not texts:
        return "", "", ""
    marked = [k for k, h in enumerate(heads) if h.level]
    if marked:
        k = marked[0]
        return " ".join(texts[:k]), texts[k], " ".join(texts[k + 1 :])
    if len(texts) == 1:
        return "", texts[0], ""
    first, rest = texts[0], texts[1:]
    slogans = first.split()
    if len(slogans) >= 2 and all(len(s) <= 6 for s in slogans):
        return first, " ".join(rest), ""
    return "", first, " ".join(rest)


def _caption_title(paragraphs: list[str]) -> str:
    """A title for a photo caption: its first clause, without the time opener.

    A long clause is cut to what follows its last 的 (…主办的2023金水区“区长杯”青少年校园
    足球联赛收官), which is where a caption names its subject, or else shortened with an ellipsis.
    """
    text = paragraphs[0] if paragraphs else ""
    text = re.sub(r"^(?:近日|日前|昨日|今日|连日来|\d{1,2}月\d{1,2}日(?:上午|下午|晚上?)?)[,，]?", "", text)
    clause = re.split(r"[,，。；;！？]", text)[0] or text
    if len(clause) <= 26:
        return clause
    tail = clause.rsplit("的", 1)[-1]
    if 8 <= len(tail) <= 26:
        return tail
    return clause[:24] + "…"


# ---------------------------------------------------------------- the page


def parse_page(
    text: str, source: str, meta: PageMeta | None = None, places: dict[str, str] | None = None
) -> list[Article]:
    """All articles of one newspaper page, in printed order.

    An article's date is the page's (`meta.date`), else one its text gives (bot/dates.py), its
    month-days read in the year `meta.year` gives when the text does not say.
    """
    meta = meta or PageMeta()
    today = date.today()
    # Rules and separators (=====, ——, * * *) carry no text: they are not headlines or paragraphs.
    lines = [_classify(raw, n) for n, raw in enumerate(text.splitlines(), 1) if has_text(raw)]
    articles: list[Article] = []
    seen: set[str] = set()
    for order, draft in enumerate(_group(lines)):
        paragraphs = _paragraphs(draft)
        if not paragraphs:
            continue
        kicker, title, subtitle = _split_heads(draft.heads)
        kind = "caption" if draft.caption else "article"
        if not title:
            title = _caption_title(paragraphs)
        byline = _parse_byline(
            draft.bylines
            + [
                m.group(1)
                for p in (x.text for x in draft.lines if x.kind in (BODY, LEAD))
                if (m := _BYLINE_TAIL_RE.search(p))
            ]
        )
        body = "\n".join(paragraphs)
        headline = " ".join(p for p in (kicker, title, subtitle) if p)
        article_id = make_id(source, title, body)
        if article_id in seen:
            continue
        seen.add(article_id)
        articles.append(
            Article(
                id=article_id,
                title=title,
                kicker=kicker,
                subtitle=subtitle,
                paragraphs=tuple(paragraphs),
                byline=byline,
                districts=find_districts(f"{kicker}{title}{subtitle}\n{body}", places or {}),
                date=article_date(f"{headline}\n{body}", today=today, given=meta.date, year=meta.year, url=meta.url),
                url=meta.url,
                source=source,
                kind=kind,
                order=order,
            )
        )
    return articles
