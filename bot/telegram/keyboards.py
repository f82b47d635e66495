"""Inline keyboards and the callback data behind their buttons.

Callback data is plain text of at most 64 bytes, so buttons keep working after a restart
(no server-side state): article ids are short ASCII, district names a few CJK characters.

    r:<id>            open the full article (new message)
    p:<id>:<n>        show page n of the article (edit in place)
    m:<id>,<id>,...   「更多结果」: add the alternatives as buttons (edit the keyboard)
    f:1:<id> f:0:<id> 👍 / 👎 feedback on the answer card
    d:<district>:<n>  page n of a district's articles (edit in place; d:<district>|<when>:<n> of those days)
    w:<when>:<n>      page n of the articles of the days a time phrase names (今年, 2020年3月)
    t:<topic>:<n>     page n of the articles about a topic (t:<district>|<topic>:<n> within one)
    do                the district overview (edit in place)
    ds / l            the district overview / the latest articles (new message)
    n                 does nothing (the page counter between ◀ and ▶)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from ..article import Article
from ..results import Answer
from .views import short

MAX_DATA = 64
PER_ROW = 3


@dataclass(frozen=True)
class Action:
    kind: (
        str  # read | page | more | feedback | district | topic | when | overview | districts | latest | noop | unknown
    )
    article_id: str = ""
    number: int = 0
    ids: tuple[str, ...] = ()
    positive: bool = False
    district: str = ""
    topic: str = ""
    when: str = ""  # the time phrase a list is limited to


def fits(data: str) -> bool:
    return 0 < len(data.encode("utf-8")) <= MAX_DATA


def parse(data: str | None) -> Action:
    """Callback data → what to do; anything malformed is `unknown` (never an exception)."""
    if not data:
        return Action("unknown")
    head, _, rest = data.partition(":")
    try:
        if head == "r" and rest:
            return Action("read", article_id=rest)
        if head == "p":
            article_id, _, number = rest.rpartition(":")
            return Action("page", article_id=article_id, number=int(number))
        if head == "m" and rest:
            return Action("more", ids=tuple(i for i in rest.split(",") if i))
        if head == "f":
            sign, _, article_id = rest.partition(":")
            if sign in ("0", "1") and article_id:
                return Action("feedback", article_id=article_id, positive=sign == "1")
        if head == "d":
            scoped, _, number = rest.rpartition(":")
            district, _, when = scoped.partition("|")
            if district:
                return Action("district", district=district, when=when, number=int(number))
        if head == "w":
            when, _, number = rest.rpartition(":")
            if when:
                return Action("when", when=when, number=int(number))
        if head == "t":
            scoped, _, number = rest.rpartition(":")
            district, _, topic = scoped.rpartition("|")
            if topic:
                return Action("topic", district=district, topic=topic, number=int(number))
        if data == "do":
            return Action("overview")
        if data == "ds":
            return Action("districts")
        if data == "l":
            return Action("latest")
        if data == "n":
            return Action("noop")
    except ValueError:
        pass
    return Action("unknown")


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def more_data(ids: Sequence[str]) -> str | None:
    """`m:` data with as many alternative ids as fit in 64 bytes (None if not even one)."""
    data = "m:"
    for article_id in ids:
        candidate = data + ("," if data != "m:" else "") + article_id
        if not fits(candidate):
            break
        data = candidate
    return data if data != "m:" else None


def answer_keyboard(answer: Answer) -> InlineKeyboardMarkup | None:
    """Under an answer card: 全文 · 更多结果, then 👍 👎."""
    if not answer.found or answer.article is None:
        return None
    article_id = answer.article.id
    first = [_button("📖 全文", f"r:{article_id}")]
    more = more_data([c.article.id for c in answer.alternatives])
    if more:
        first.append(_button("🔎 更多结果", more))
    feedback = [_button("👍 有帮助", f"f:1:{article_id}"), _button("👎 没帮助", f"f:0:{article_id}")]
    return InlineKeyboardMarkup([first, feedback])


def abstain_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("🆕 最新新闻", "l"), _button("🗺 按区县浏览", "ds")]])


def article_buttons(articles: Sequence[Article], start: int = 1) -> list[list[InlineKeyboardButton]]:
    """One button per article that opens its full text."""
    return [
        [_button(f"{start + i}. {short(a.title or a.headline, 28)}", f"r:{a.id}")]
        for i, a in enumerate(articles)
        if fits(f"r:{a.id}")
    ]


def with_alternatives(
    markup: InlineKeyboardMarkup | None, alternatives: Sequence[Article]
) -> InlineKeyboardMarkup | None:
    """The card's keyboard after 「更多结果」: that button gone, one button per alternative added."""
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith("m:")]
        for row in (markup.inline_keyboard if markup else ())
    ]
    rows = [row for row in rows if row]
    extra = [
        [_button(f"📄 {short(a.title or a.headline, 30)}", f"r:{a.id}")] for a in alternatives if fits(f"r:{a.id}")
    ]
    # alternatives go between 全文 and the feedback row
    feedback_at = next(
        (i for i, row in enumerate(rows) if any(str(b.callback_data or "").startswith("f:") for b in row)), len(rows)
    )
    rows = rows[:feedback_at] + extra + rows[feedback_at:]
    return InlineKeyboardMarkup(rows) if rows else None


def without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The keyboard after a 👍/👎: the feedback row removed, so one card gets one vote."""
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith("f:")]
        for row in (markup.inline_keyboard if markup else ())
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def pager(prefix: str, number: int, total: int) -> list[InlineKeyboardButton]:
    """◀ n/N ▶ for `prefix:<n>` data; empty for a single page."""
    if total <= 1:
        return []
    row = []
    if number > 0:
        row.append(_button("◀ 上一页", f"{prefix}:{number - 1}"))
    row.append(_button(f"{number + 1}/{total}", "n"))
    if number < total - 1:
        row.append(_button("下一页 ▶", f"{prefix}:{number + 1}"))
    return row


def article_keyboard(article_id: str, number: int, total: int) -> InlineKeyboardMarkup | None:
    row = pager(f"p:{article_id}", number, total)
    return InlineKeyboardMarkup([row]) if row else None


def districts_keyboard(counts: Sequence[tuple[str, int]]) -> InlineKeyboardMarkup | None:
    buttons = [_button(f"{d}（{n}）", f"d:{d}:0") for d, n in counts if fits(f"d:{d}:0")]
    rows = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    return InlineKeyboardMarkup(rows) if rows else None


def district_keyboard(
    district: str, articles: Sequence[Article], number: int, total: int, start: int, when: str | None = None
) -> InlineKeyboardMarkup:
    rows = article_buttons(articles, start)
    prefix = f"d:{district}|{when}" if when else f"d:{district}"
    nav = pager(prefix, number, total) if fits(f"{prefix}:{total}") else []
    if nav:
        rows.append(nav)
    rows.append([_button("↩ 全部区县", "do")])
    return InlineKeyboardMarkup(rows)


def when_keyboard(
    when: str, articles: Sequence[Article], number: int, total: int, start: int
) -> InlineKeyboardMarkup | None:
    """A time-limited list's page: article buttons, and ◀ ▶ when the phrase fits the button data."""
    rows = article_buttons(articles, start)
    prefix = f"w:{when}"
    nav = pager(prefix, number, total) if fits(f"{prefix}:{total}") else []
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows) if rows else None


def topic_data(topic: str, district: str | None) -> str:
    """The pager prefix of a topic list (`t:<district>|<topic>`)."""
    return f"t:{district}|{topic}" if district else f"t:{topic}"


def topic_keyboard(
    topic: str, district: str | None, articles: Sequence[Article], number: int, total: int, start: int
) -> InlineKeyboardMarkup | None:
    """Article buttons, and ◀ ▶ when the topic is short enough to ride in the button data."""
    rows = article_buttons(articles, start)
    prefix = topic_data(topic, district)
    if fits(f"{prefix}:{total}"):
        nav = pager(prefix, number, total)
        if nav:
            rows.append(nav)
    return InlineKeyboardMarkup(rows) if rows else None


def latest_keyboard(articles: Sequence[Article]) -> InlineKeyboardMarkup | None:
    rows = article_buttons(articles)
    return InlineKeyboardMarkup(rows) if rows else None
