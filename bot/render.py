"""Replies → text: the plain/ANSI terminal chat, `ask --json` rows, and the HTML pieces the
Telegram views build on (the answer card, article pages).

Everything that comes from users or from the corpus is escaped here, in one place.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .article import Article
from .intent import Act
from .reply import Kind, Listing, Reply
from .results import Answer, Snippet

TELEGRAM_LIMIT = 4096
PAGE_BUDGET = 3500  # characters of article text per /read page, leaving room for markup

NO_MATCH = "没有找到相关新闻"
HINT = (
    "可以问问各区县新闻里的事，比如「清华附中什么时候投入使用？」，或发送 /latest 看最新新闻、/districts 按区县浏览。"
)


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


def answer_html(answer: Answer, link: str | None, *, read_command: bool = True) -> str:
    """The answer card: headline, district/date, the marked snippet and the source link."""
    if not answer.found or answer.article is None or answer.snippet is None:
        return html.escape(NO_MATCH + "。")
    article = answer.article
    lines = headline_html(article)
    meta = meta_line(article)
    if meta:
        lines.append(f"<i>{html.escape(meta)}</i>")
    lines.append("")
    lines.append(_marked(answer.snippet, "<b><u>", "</u></b>", html.escape))
    lines.append("")
    if link:
        lines.append(f'<a href="{html.escape(link, quote=True)}">阅读原文</a>')
    elif read_command:
        lines.append(f"全文：/read {html.escape(article.id)}")
    return "\n".join(lines)


def answer_plain(answer: Answer, *, ansi: bool = False) -> str:
    """The answer card for a terminal; highlights in bold when the terminal shows ANSI."""
    if not answer.found or answer.article is None or answer.snippet is None:
        return f"{NO_MATCH}。{HINT}"
    article = answer.article
    open_tag, close_tag = ("\x1b[1;33m", "\x1b[0m") if ansi else ("【", "】")
    lines = [article.headline]
    meta = meta_line(article)
    if meta:
        lines.append(meta)
    lines.append("")
    lines.append(_marked(answer.snippet, open_tag, close_tag, lambda s: s))
    lines.append("")
    if article.url:
        lines.append(f"原文：{article.url}")
    lines.append(f"全文：/read {article.id}")
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


# ---------------------------------------------------------------- the terminal and the CLI

EMPTY_TEXT = "请发一个问题，比如「清华附中什么时候投入使用？」"
GREETING_TEXT = "你好！我是郑州区县新闻助手。" + HINT
LIST_LINES = 20  # a district's list in the terminal: the newest this many
TERMINAL_HELP = """我是郑州区县新闻助手，从本地报纸的新闻里找答案。直接输入问题，例如：清华附中什么时候投入使用？
命令：
  /latest [n]       最新新闻（也可以问「最近有什么新闻」）
  /districts        有新闻的区县
  /district 名称    某个区县的新闻（也可以问「二七区有什么新闻」）
  /read 编号        阅读全文
  /about            资料来源
  quit              退出"""


def _article_row(article: Article) -> str:
    meta = meta_line(article)
    return f"{article.id}  {article.headline}" + (f"（{meta}）" if meta else "")


def _counts_line(counts: Sequence[tuple[str, int]]) -> str:
    return "、".join(f"{district}（{count}）" for district, count in counts)


def listing_plain(reply: Reply, listing: Listing) -> str:
    intent = reply.intent
    if intent.act is Act.DISTRICTS:
        if not listing.counts:
            return "资料库里还没有标明区县的新闻。"
        return "有新闻的区县：" + _counts_line(listing.counts) + "\n发送 /district 名称 查看某个区县的新闻。"
    when = listing.when or ""
    if listing.topic is not None:
        about = f"{when}{listing.district or ''}关于「{_short(listing.topic)}」的新闻"
        if not listing.total:
            return f"没有找到{about}。可以换个说法，或发送 /latest 看最新新闻。"
        rows = [_article_row(a) for a in listing.page(0, LIST_LINES)]
        more = f"\n……另有 {listing.total - len(rows)} 篇" if listing.total > len(rows) else ""
        return f"{about}（{listing.total} 篇）：\n" + "\n".join(rows) + more
    if intent.act is Act.DISTRICT:
        if listing.district is None:
            head = f"没有找到叫「{_short(intent.text)}」的区县。"
            return head + ("有新闻的区县：" + _counts_line(listing.counts) if listing.counts else "")
        if not listing.total:
            return f"暂时没有{when}{listing.district}的新闻。" + (
                "有新闻的区县：" + _counts_line(listing.counts) if listing.counts else ""
            )
        rows = [_article_row(a) for a in listing.page(0, LIST_LINES)]
        more = f"\n……另有 {listing.total - len(rows)} 篇" if listing.total > len(rows) else ""
        return f"{when}{listing.district}的新闻（{listing.total} 篇）：\n" + "\n".join(rows) + more
    if listing.when is not None:
        if not listing.total:
            return f"资料库里没有{listing.when}的新闻。发送 /latest 看最新新闻。"
        rows = [_article_row(a) for a in listing.page(0, LIST_LINES)]
        more = f"\n……另有 {listing.total - len(rows)} 篇" if listing.total > len(rows) else ""
        return f"{listing.when}的新闻（{listing.total} 篇）：\n" + "\n".join(rows) + more
    if not listing.total:
        return "资料库里还没有新闻。"
    rows = [_article_row(a) for a in listing.articles]
    return f"最新 {len(rows)} 篇新闻（共 {listing.total} 篇）：\n" + "\n".join(rows) + "\n发送 /read 编号 阅读全文。"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def about_plain(reply: Reply) -> str:
    return f"郑州区县新闻助手：资料库里有 {reply.articles_total} 篇郑州各区县的新闻，回答全部取自报道原文并附出处。"


def reply_plain(reply: Reply, *, ansi: bool = False) -> str:
    """What the terminal chat prints (and `ask` without --json)."""
    kind, act = reply.kind, reply.intent.act
    if kind is Kind.ANSWER and reply.answer is not None:
        return answer_plain(reply.answer, ansi=ansi)
    if kind is Kind.LIST and reply.listing is not None:
        return listing_plain(reply, reply.listing)
    if kind is Kind.ARTICLE:
        if reply.article is None:
            return f"没有编号为「{_short(reply.intent.text)}」的新闻。发送 /latest 看最新新闻的编号。"
        return article_plain(reply.article)
    if kind is Kind.EMPTY:
        return EMPTY_TEXT
    if kind is Kind.GREETING:
        return GREETING_TEXT
    if act is Act.ABOUT:
        return about_plain(reply)
    if act is Act.ASK_USAGE:
        return "请在 /ask 后面写上问题，例如：/ask 清华附中什么时候投入使用"
    if act is Act.UNKNOWN_COMMAND:
        return "我不认识这个命令。发送 /help 查看我能做什么。"
    if kind is Kind.HELP:
        return TERMINAL_HELP
    return f"{NO_MATCH}。{HINT}"


def article_json(article: Article) -> dict:
    return {
        "article_id": article.id,
        "title": article.headline,
        "district": article.districts[0] if article.districts else None,
        "districts": list(article.districts),
        "date": article.date,
        "url": article.url,
    }


def reply_json(reply: Reply) -> dict:
    """One `ask --json` row: the contract benchmarks and checks read (see bot/cli.py)."""
    answer = reply.answer
    data: dict = {"question": reply.text, "kind": reply.kind.value, "answer": None, "alternatives": []}
    if answer is not None:
        if answer.found and answer.article is not None and answer.snippet is not None:
            data["answer"] = {
                "article_id": answer.article.id,
                "title": answer.article.headline,
                "snippet": answer.snippet.text,
                "highlights": [list(h) for h in answer.snippet.highlights],
                "link": answer.article.url,
                "score": round(answer.confidence, 4),
                "district": answer.article.districts[0] if answer.article.districts else None,
                "date": answer.article.date,
            }
        data["alternatives"] = [
            {"article_id": c.article.id, "title": c.article.headline, "score": round(c.score, 4)}
            for c in answer.alternatives
        ]
    if reply.listing is not None:
        listing = reply.listing
        data["articles"] = [article_json(a) for a in listing.articles]
        data["total"] = listing.total
        data["district"] = listing.district
        if listing.topic is not None:
            data["topic"] = listing.topic
        if listing.when is not None:
            data["when"] = listing.when
        if listing.counts:
            data["district_counts"] = [{"district": d, "count": n} for d, n in listing.counts]
    if reply.kind is Kind.ARTICLE and reply.article is not None:
        data["articles"] = [article_json(reply.article)]
    if reply.kind not in (Kind.ANSWER, Kind.LIST):
        data["message"] = reply_plain(reply)
    return data
