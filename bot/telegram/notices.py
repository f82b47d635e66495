"""What the bot says about subscriptions: notices, digests and the subscription commands' replies.

Kept apart from views.py (answers, browsing) because it is one feature's copy; everything from users
or the corpus is escaped here, like in views.py.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..corpus import Article
from ..subscriptions import Topic
from .views import article_link

MESSAGE_BUDGET = 3800  # Telegram's limit is 4096 characters; leave room for the tail line


def render_article_list(
    header: str, articles: Sequence[Article], bot_username: str | None, budget: int = MESSAGE_BUDGET
) -> str:
    """One HTML message: a header, then headline + link (or /read id) per article, all escaped.

    Lists as many as fit in one Telegram message and says how many more there are.
    """
    lines = [header]
    used = len(header)
    for number, article in enumerate(articles):
        item = article_line(article, bot_username)
        if used + len(item) + 1 > budget:
            lines.append(f"……另有 {len(articles) - number} 篇，可发送 /latest 查看。")
            break
        lines.append(item)
        used += len(item) + 1
    return "\n".join(lines)


def article_line(article: Article, bot_username: str | None) -> str:
    headline = html.escape(article.headline or article.title)
    link = article_link(article, bot_username)
    meta = " · ".join(p for p in (article.districts[0] if article.districts else "", article.date or "") if p)
    meta_html = f"（{html.escape(meta)}）" if meta else ""
    if link:
        return f'• <a href="{html.escape(link, quote=True)}">{headline}</a>{meta_html}'
    return f"• <b>{headline}</b>{meta_html} 全文：/read <code>{html.escape(article.id)}</code>"


# ------------------------------------------------------------------ notices and digests


def notice_header(count: int, topics: Sequence[Topic]) -> str:
    """Head of a new-articles notice; `topics` are the chat's subscriptions these articles match."""
    labels = "、".join(html.escape(t.label) for t in topics)
    return f"📰 <b>你订阅的新闻有更新</b>（{count} 篇）" + (f"\n订阅：{labels}" if labels else "")


def digest_header(day: str, count: int) -> str:
    return f"🗞 <b>每日新闻摘要</b> {day}（{count} 篇新文章）"
