"""What the bot says about subscriptions: notices, digests and the subscription commands' replies.

Kept apart from views.py (answers, browsing) because it is one feature's copy; everything from users
or the corpus is escaped here, like in views.py.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..article import Article
from ..subscriptions import Topic
from .views import ECHO_CHARS, article_link, short

if TYPE_CHECKING:
    from ..store import DigestSetting, SourceHealth, Subscription
    from ..watch import ReloadResult

MESSAGE_BUDGET = 3800  # Telegram's limit is 4096 characters; leave room for the tail line
ECHO_ITEMS = 10  # what a command did not understand: at most this many named back, each shortened


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


# ------------------------------------------------------------------ the subscription commands

NOT_GROUP_ADMIN = "抱歉，只有群管理员可以修改本群的订阅和摘要设置。发送 /subscriptions 可以查看当前订阅。"
NOT_BOT_ADMIN = "抱歉，只有机器人管理员可以使用 /reload。"
NOT_BOT_ADMIN_SOURCES = "抱歉，只有机器人管理员可以使用 /sources。"
SUBSCRIBE_USAGE = (
    "用法：/subscribe 区县或关键词\n例如 /subscribe 二七区 或 /subscribe 清华附中；可以一次写几个，用空格或顿号隔开。"
)
TOO_MANY = "每个聊天最多订阅 {limit} 项，请先用 /unsubscribe 取消一些。"
UNSUBSCRIBE_USAGE = "用法：/unsubscribe 区县或关键词，或 /unsubscribe 全部"
DIGEST_OFF = "已关闭每日摘要。订阅的新文章会逐条通知。"
DIGEST_BAD_TIME = "时间格式应为 HH:MM，例如 /digest on 08:00"


def tz_label(timezone: str) -> str:
    return "北京时间" if timezone in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else timezone


def describe(topic: Topic) -> str:
    kind = "区县" if topic.kind == "district" else "关键词"
    return f"{html.escape(topic.label)}（{kind}）"


def echo_list(typed: Sequence[str]) -> str:
    """What the user typed and we could not use, quoted back within a message: the first few,
    each cut to ECHO_CHARS, escaped, and how many there were when not all are shown."""
    shown = "、".join(html.escape(short(item, ECHO_CHARS)) for item in typed[:ECHO_ITEMS])
    return shown + (f" 等 {len(typed)} 项" if len(typed) > ECHO_ITEMS else "")


def thread_note(in_topic: bool, what: str = "新文章通知") -> str:
    """Where a forum group's notices go from now on."""
    return f"{what}会发到本话题。" if in_topic else f"{what}会发到 General 话题。"


def subscribed_html(
    added: Sequence[Topic],
    already: Sequence[Topic],
    unknown: Sequence[str],
    digest: DigestSetting | None,
    timezone: str,
    where: str | None,
) -> str:
    lines: list[str] = []
    if added:
        lines.append("已订阅：" + "、".join(describe(t) for t in added))
        if digest is not None and digest.enabled:
            lines.append(f"相关的新文章会收进每日摘要（每天 {digest.time}，{tz_label(timezone)}）。")
        else:
            lines.append("有相关的新文章时我会发消息通知。")
    if where:
        lines.append(where)
    if already:
        lines.append("已经订阅过：" + "、".join(html.escape(t.label) for t in already))
    if unknown:
        lines.append("无法识别：" + echo_list(unknown) + "（关键词至少两个字，最多三十个字）")
    return "\n".join(lines)


def unsubscribed_all_html(count: int) -> str:
    return f"已取消全部订阅（{count} 项）。" if count else "本聊天没有订阅。"


def unsubscribed_html(removed: Sequence[Topic], missing: Sequence[str], listing: str) -> str:
    lines = []
    if removed:
        lines.append("已取消订阅：" + "、".join(html.escape(t.label) for t in removed))
    if missing:
        lines.append("没有这项订阅：" + echo_list(missing))
    lines.append("")
    lines.append(listing)
    return "\n".join(lines).strip()


def digest_state(digest: DigestSetting | None, timezone: str) -> str:
    if digest is not None and digest.enabled:
        return f"每日摘要：已开启，每天 {digest.time}（{tz_label(timezone)}）。"
    return "每日摘要：未开启。"


def subscriptions_html(subs: Sequence[Subscription], digest: DigestSetting | None, timezone: str) -> str:
    """What /subscriptions shows: the chat's topics and its digest setting."""
    lines = []
    if subs:
        lines.append(f"<b>当前订阅</b>（{len(subs)} 项）：")
        lines.extend(f"• {describe(Topic(s.kind, s.value))}" for s in subs)
    else:
        lines.append("还没有订阅。发送 /subscribe 二七区 或 /subscribe 清华附中 试试。")
    if digest is not None and digest.enabled:
        lines.append(digest_state(digest, timezone))
    else:
        lines.append("每日摘要：未开启（/digest on 08:00）。")
    return "\n".join(lines)


def digest_usage(timezone: str) -> str:
    return (
        "用法：/digest on 08:00 开启每日摘要（时间为" + tz_label(timezone) + "），/digest off 关闭。\n"
        "开启后，订阅的新文章不再逐条通知，而是每天汇总成一条；没有新文章的日子不发送。"
    )


def digest_on_html(at: str, timezone: str, where: str | None, has_subscriptions: bool) -> str:
    lines = [f"已开启每日摘要：每天 {at}（{tz_label(timezone)}）发送新文章汇总；没有新文章的日子不发送。"]
    if where:
        lines.append(where)
    if not has_subscriptions:
        lines.append("本聊天还没有订阅，摘要会包含所有新文章；用 /subscribe 二七区 可以只看关心的区县或关键词。")
    return "\n".join(lines)


def reload_html(result: ReloadResult, total: int) -> str:
    """The operator's /reload report: files, new articles, chats told, unreadable files."""
    if not result.changed:
        return f"语料没有变化（共 {total} 篇文章）。"
    parts = []
    if result.new_files:
        parts.append(f"新文件 {len(result.new_files)} 个")
    if result.changed_files:
        parts.append(f"修改 {len(result.changed_files)} 个")
    if result.removed_files:
        parts.append(f"删除 {len(result.removed_files)} 个")
    lines = [
        f"已重新加载：{'，'.join(parts)}；新增 {len(result.articles)} 篇文章，共 {total} 篇"
        f"（{'完整重建' if result.rebuilt else '增量添加'}，{result.seconds:.1f} 秒）。"
    ]
    for article in result.articles[:10]:
        lines.append(f"• {html.escape(article.headline)}")
    if len(result.articles) > 10:
        lines.append(f"……另有 {len(result.articles) - 10} 篇")
    if result.notified:
        lines.append(f"已通知 {result.notified} 个订阅的聊天。")
    if result.errors:
        lines.append(f"有 {len(result.errors)} 个文件无法读取：")
        lines.extend(f"<code>{html.escape(e[:300])}</code>" for e in result.errors[:5])
    return "\n".join(lines)


# ------------------------------------------------------------------ polled sources (operators)

SOURCES_USAGE = "用法：/sources 查看新闻来源；/sources resume 来源名称 恢复已暂停的来源。"
NO_SOURCES = "没有配置新闻来源（config/sources.yaml）。"


def _when(at: float | None, timezone: str) -> str:
    if at is None:
        return "从未"
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).strftime("%m-%d %H:%M")


def source_paused_html(health: SourceHealth) -> str:
    """The one notice an operator gets when a source is paused."""
    name = html.escape(health.name)
    error = html.escape(short(health.last_error or "", 300))
    return (
        f"⚠️ 新闻来源「{name}」连续 {health.consecutive_failures} 次抓取失败，已暂停。\n"
        f"最近的错误：{error}\n修好后发送 /sources resume {name} 恢复。"
    )


def sources_html(sources: Sequence[tuple[str, int, SourceHealth]], timezone: str) -> str:
    """/sources: (name, interval, health) per configured source."""
    if not sources:
        return NO_SOURCES
    lines = ["<b>新闻来源</b>"]
    for name, interval, health in sources:
        state = "⏸ 已暂停" if health.paused else ("⚠️ 出错" if health.consecutive_failures else "✅ 正常")
        line = (
            f"{state} <b>{html.escape(name)}</b>（每 {interval} 秒）\n"
            f"  上次抓取：{_when(health.last_fetch, timezone)}；上次有新文章：{_when(health.last_new_article, timezone)}；"
            f"连续失败：{health.consecutive_failures}"
        )
        if health.last_error and health.consecutive_failures:
            line += f"\n  错误：{html.escape(short(health.last_error, 200))}"
        lines.append(line)
    return "\n".join(lines)


def source_resumed(name: str, resumed: bool) -> str:
    if resumed:
        return f"已恢复新闻来源「{html.escape(name)}」，稍后会再次抓取。"
    return f"新闻来源「{html.escape(name)}」没有暂停。"


def unknown_source(name: str) -> str:
    return f"没有名为「{html.escape(short(name, ECHO_CHARS))}」的新闻来源；发送 /sources 查看。"
