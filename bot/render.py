"""Answer → text for a front end: Telegram HTML, or plain/ANSI text for the terminal.

Everything that comes from users or from the corpus is escaped here, in one place.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .answer import Answer, Snippet
from .corpus import Article

TELEGRAM_LIMIT = 4096
PAGE_BUDGET = 3500  # characters of article text per /read page, leaving room for markup


def _marked(snippet: Snippet, open_tag: str, close_tag: str, escape) -> str:
    out: list[str] = []
    position = 0
    text = snippet.text
    for start, end in snippet.highlights:
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue
        out.append(escape(text[position:start]))
        out.append(open_tag + escape(text[start:end]) + close_tag)
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def meta_line(article: Article) -> str:
    parts = []
    if article.districts:
        parts.append(article.districts[0])
    if article.date:
        parts.append(article.date)
    if article.kind == "caption":
        parts.append("图片新闻")
    return " · ".join(parts)


def headline_html(article: Article) -> list[str]:
    """Kicker (italic), headline (bold) and sub-headline, one line each, escaped."""
    lines = []
    if article.kicker:
        lines.append(f"<i>{html.escape(article.kicker)}</i>")
    lines.append(f"<b>{html.escape(article.title)}</b>")
    if article.subtitle:
        lines.append(html.escape(article.subtitle))
    return lines


def answer_html(answer: Answer, *, read_command: bool = True) -> str:
    """The answer card: headline, district/date, the marked snippet and the source link."""
    if not answer.found or answer.article is None or answer.snippet is None:
        return html.escape(answer.message or "没有找到相关新闻。")
    article = answer.article
    lines = headline_html(article)
    meta = meta_line(article)
    if meta:
        lines.append(f"<i>{html.escape(meta)}</i>")
    lines.append("")
    lines.append(_marked(answer.snippet, "<b><u>", "</u></b>", html.escape))
    lines.append("")
    if answer.link:
        lines.append(f'<a href="{html.escape(answer.link, quote=True)}">阅读原文</a>')
    elif read_command:
        lines.append(f"全文：/read {html.escape(article.id)}")
    return "\n".join(lines)


def answer_plain(answer: Answer, *, ansi: bool = False) -> str:
    """The answer card for a terminal; highlights in bold when the terminal shows ANSI."""
    if not answer.found or answer.article is None or answer.snippet is None:
        return answer.message or "没有找到相关新闻。"
    article = answer.article
    open_tag, close_tag = ("\x1b[1;33m", "\x1b[0m") if ansi else ("【", "】")
    lines = [article.headline]
    meta = meta_line(article)
    if meta:
        lines.append(meta)
    lines.append("")
    lines.append(_marked(answer.snippet, open_tag, close_tag, lambda s: s))
    lines.append("")
    if answer.link:
        lines.append(f"原文：{answer.link}")
    lines.append(f"全文：read {article.id}")
    if answer.alternatives:
        lines.append("其他相关：" + "；".join(f"{c.article.title}（{c.article.id}）" for c in answer.alternatives[:3]))
    return "\n".join(lines)


def article_pages(article: Article, budget: int = PAGE_BUDGET) -> list[str]:
    """The full article as HTML pages that each fit in one Telegram message."""
    head = headline_html(article)
    meta = meta_line(article)
    byline = article.byline.raw
    if meta or byline:
        head.append("<i>" + html.escape(" · ".join(p for p in (meta, byline) if p)) + "</i>")
    pages: list[list[str]] = [["\n".join(head), ""]]
    used = sum(len(x) for x in pages[0])
    for paragraph in article.paragraphs:
        for piece in _chunks(paragraph, budget):
            escaped = html.escape(piece)
            if used + len(escaped) + 2 > budget and any(pages[-1]):
                pages.append([])
                used = 0
            pages[-1].append(escaped)
            used += len(escaped) + 2
    if article.url:
        link = f'<a href="{html.escape(article.url, quote=True)}">原文链接</a>'
        if used + len(link) > budget:
            pages.append([])
        pages[-1].append(link)
    return ["\n\n".join(p for p in page if p is not None).strip() for page in pages if any(page)]


def _chunks(text: str, size: int) -> Sequence[str]:
    # html.escape can grow text up to 6x (&quot;); keep raw chunks well under the budget.
    step = max(200, size // 6)
    return [text[i : i + step] for i in range(0, len(text), step)] if len(text) > size // 2 else [text]


def article_plain(article: Article) -> str:
    lines = [article.headline]
    meta = " · ".join(p for p in (meta_line(article), article.byline.raw) if p)
    if meta:
        lines.append(meta)
    lines.append("")
    lines.extend(article.paragraphs)
    if article.url:
        lines.append(f"\n原文：{article.url}")
    return "\n".join(lines)
