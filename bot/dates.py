"""Dates, pure: what day an article is from, and what span of days a resident's words name.

An article's date (`article_date`) is an ISO day (YYYY-MM-DD) or None, never a guess. In order
of trust: the date its page's sidecar or its feed line gives; a date in its URL (`/2024-11/21/`,
`/20241121/`, `2024-11-21`); a full date in its text (2020年3月30日, 2020-03-30, 2020.3.30,
发布时间：2024-11-21 09:30); a month and day in its text (3月30日; 「27日上午」 names no month) when
the year is known — given by the sidecar or feed (`year: 2020`), or stated by the article itself,
once and unambiguously (「2023金水区…」, 「2020年度」: one plausible year, 2000 to this year).

`time_range(text, today)` reads 今天, 上周, 3月, 2023年, 最近… in a message as a `DateRange`.
Neither reads the clock: `today` is always an argument.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

RECENT_DAYS = 30  # 最近 / 近期: the last this many days, today included
FIRST_YEAR = 2000  # a year an article states counts from here (1958双创园 is a name, not a year)

_CN_DIGITS = {c: str(n) for n, c in enumerate("〇一二三四五六七八九")} | {"零": "0", "两": "2"}
_CN_YEAR_RE = re.compile(r"[〇零一二三四五六七八九]{4}(?=年)")  # 二〇二〇年 → 2020年

# A whole value (a sidecar's or a feed's `date`): 2024-11-21, 2024/11/21 09:30, 2024.3.5,
# 2024-11-21T09:30:00+08:00, 20241121, 2020年3月30日.
_VALUE_RE = re.compile(
    r"^((?:19|20)\d\d)(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d\d)(\d\d)|年(\d{1,2})月(\d{1,2})[日号]?)(?![\d])"
)
_YEAR_VALUE_RE = re.compile(r"^((?:19|20)\d\d)年?$")
# In a URL: /2024-11/21/, /2024/11/21/, /20241121/, t20241121_123.html, 2024-11-21
_URL_SEP_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-/_.](\d{1,2})[-/_.](\d{1,2})(?!\d)")
_URL_YM_D_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)[-/_.](\d\d)(?!\d)")  # /202411/21/
_URL_COMPACT_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)(\d\d)(?!\d)")
# In a text: 2020年3月30日, 2020-03-30, 2020/3/30, 2020.3.30 (not 2020.3.30.5 or 554.1)
_TEXT_FULL_RE = re.compile(
    r"(?<![\d.])((?:19|20)\d\d)\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]|([-/.])(\d{1,2})\4(\d{1,2})(?![\d]|\.\d))"
)
_LABEL_RE = re.compile(r"(?:发布|发表|更新|刊发|出版|稿件)?(?:时间|日期)\s*[:：]\s*")
# 3月30日 / 3月30号, and not 2020年3月30日's tail (a full date is read before) nor 13月
_MONTH_DAY_RE = re.compile(r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_RELATIVE_YEAR = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
# A year an article states: 2020年, 2020年度 (not 2020年代), or 2023 before a name (2023金水区…);
# 2020 of 2020—2022年; not a count (2000余份, 2000多人, 2000万元) nor a class or model (2020届).
_STATED_YEAR_RE = re.compile(
    r"(?<![\d.])(20\d\d)(?:\s*年(?!代)|(?=\s*[-—–~～至到]\s*20\d\d\s*年)|(?=[\u4e00-\u9fff])(?![年余多万亿千百十个元人名家户件次平米座条项吨斤份台辆套所只张株棵间栋亩场天位支批本篇首部处块盒瓶袋箱字种类届款版期号路]))"
)


@dataclass(frozen=True)
class DateRange:
    """A span of days, both ends included, that a message names (「3月的新闻」, 「去年」).

    `recent` marks 最近 / 近期: the last RECENT_DAYS days, better used to put recent articles
    first than to drop the others. `phrase` is the words that named the span, as written.
    """

    start: date
    end: date
    recent: bool = False
    phrase: str = ""

    def contains(self, iso: str | None) -> bool:
        """Is the day `iso` (YYYY-MM-DD; None = undated) inside the span?"""
        day = _iso_day(iso)
        return day is not None and self.start <= day <= self.end


def _iso_day(iso: str | None) -> date | None:
    if not iso:
        return None
    try:
        return date.fromisoformat(iso[:10])
    except ValueError:
        return None


def _clean(text: str) -> str:
    """Full-width digits and colons made plain (NFKC), 二〇二〇年 made 2020年."""
    text = unicodedata.normalize("NFKC", text)
    return _CN_YEAR_RE.sub(lambda m: "".join(_CN_DIGITS[c] for c in m.group(0)), text)


def _day(year: int | str, month: int | str, day: int | str) -> date | None:
    """The calendar day, or None when there is none (2月30日, 13月)."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# ---------------------------------------------------------------- reading dates


def parse_date(value: object) -> str | None:
    """A whole given value as an ISO day: '2024-11-21', '2024-11-21 09:30', '2024/3/5',
    '2024.3.5', '20241121', '2024-11-21T09:30:00+08:00', '2020年3月30日', or a date/datetime
    (YAML reads `date: 2024-03-01` as one). None when it names no whole day (a year alone too)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    match = _VALUE_RE.match(_clean(value).strip())
    if not match:
        return None
    year, _, *parts = match.groups()
    month, day = next((a, b) for a, b in zip(parts[::2], parts[1::2], strict=True) if a)
    return _iso(_day(year, month, day))


def parse_year(value: object) -> int | None:
    """A year given alone: 2020, '2020', '2020年'; None for anything else (a bool, a full date)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1900 <= value <= 2099 else None
    if isinstance(value, str):
        match = _YEAR_VALUE_RE.match(_clean(value).strip())
        return int(match.group(1)) if match else None
    return None


def date_in_url(url: str | None, today: date) -> str | None:
    """The day a news URL's path names (`/2024-11/21/`, `/2024/11/21/`, `/20241121/`,
    `t20241121_1.html`), from 1990 to `today`'s year; None when it names none."""
    if not url:
        return None
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", url, flags=re.I)  # not the host (a 20241121.cn)
    for pattern in (_URL_SEP_RE, _URL_YM_D_RE, _URL_COMPACT_RE):
        for match in pattern.finditer(path):
            day = _day(*match.groups())
            if day is not None and 1990 <= day.year <= today.year:
                return day.isoformat()
    return None


def full_date_in_text(text: str) -> str | None:
    """The first whole date a text writes (2020年3月30日, 2020-03-30, 2020/3/30, 2020.3.30);
    one labelled 发布时间/日期： comes before any other."""
    text = _clean(text)
    for label in _LABEL_RE.finditer(text):
        match = _TEXT_FULL_RE.match(text, label.end())
        if match and (day := _full_day(match)):
            return day.isoformat()
    for match in _TEXT_FULL_RE.finditer(text):
        if day := _full_day(match):
            return day.isoformat()
    return None


def _full_day(match: re.Match[str]) -> date | None:
    year, month, day, _, month2, day2 = match.groups()
    return _day(year, month or month2, day or day2)


def month_day_in_text(text: str, year: int) -> str | None:
    """The first month and day a text writes (3月30日; of 3月30日至4月2日 the first), in `year`
    (去年3月 in the year before); 2月30日 is no day and is passed over."""
    text = _clean(text)
    for match in _MONTH_DAY_RE.finditer(text):
        before = text[max(0, match.start() - 2) : match.start()]
        if re.search(r"\d\s*年\s*$", text[max(0, match.start() - 6) : match.start()]):
            continue  # the tail of a full date that was no day (2020年2月30日)
        day = _day(year + _RELATIVE_YEAR.get(before, 0), *match.groups())
        if day is not None:
            return day.isoformat()
    return None


def stated_years(text: str, today: date) -> set[int]:
    """The years from FIRST_YEAR to `today`'s that a text states (2020年, 2020年度, 2023金水区)."""
    found = {int(m.group(1)) for m in _STATED_YEAR_RE.finditer(_clean(text))}
    return {y for y in found if FIRST_YEAR <= y <= today.year}


def article_date(
    text: str, *, today: date, given: object = None, year: object = None, url: str | None = None
) -> str | None:
    """An article's day, in order of trust (see the module doc), or None.

    `given` is the date of its page's sidecar or its feed line (a year alone counts as `year`);
    `year` the year a sidecar gives; `url` its link; `text` its headline and body.
    """
    if day := parse_date(given):
        return day
    if day := date_in_url(url, today):
        return day
    if day := full_date_in_text(text):
        return day
    known = parse_year(year) or parse_year(given)
    if known is None:
        years = stated_years(text, today)
        known = next(iter(years)) if len(years) == 1 else None
    return month_day_in_text(text, known) if known is not None else None


# ---------------------------------------------------------------- a message's time words

_CN_MONTH = r"(?:十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])"
_CN_DAY = r"(?:三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九]|3[01]|[12]\d|0?[1-9])"
_WHEN_RE = re.compile(
    "|".join(
        [
            rf"(?<!\d)(?P<year>(?:19|20)\d\d|[〇零一二三四五六七八九]{{4}})\s*年(?:\s*(?P<ym>{_CN_MONTH})\s*月(?:份)?"
            rf"(?:\s*(?P<ymd>{_CN_DAY})\s*[日号])?)?",
            rf"(?P<rel>今年|去年|前年|本年)(?:\s*(?P<rm>{_CN_MONTH})\s*月(?:份)?(?:\s*(?P<rmd>{_CN_DAY})\s*[日号])?)?",
            rf"(?<![\d年])(?P<month>{_CN_MONTH})\s*月(?:份)?(?:\s*(?P<day>{_CN_DAY})\s*[日号])?",
            r"(?P<today>今天|今日)",
            r"(?P<yesterday>昨天|昨日)",
            r"(?P<before>前天)",
            r"(?P<week>这周|本周|这星期|这个星期|本星期|这礼拜|这个礼拜)",
            r"(?P<lastweek>上周|上星期|上个星期|上礼拜|上个礼拜)",
            r"(?P<thismonth>这个月|本月|这月)",
            r"(?P<lastmonth>上个月|上月)",
            r"(?P<recent>最近|近期|近来|这几天|这两天)",
        ]
    )
)


def _number(text: str | None) -> int | None:
    """12, 03 or 十二, 三十一 as an int."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    tens, _, ones = text.partition("十")
    if "十" not in text:
        return int(_CN_DIGITS[text])
    return (int(_CN_DIGITS[tens]) if tens else 1) * 10 + (int(_CN_DIGITS[ones]) if ones else 0)


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def time_words(text: str) -> re.Match[str] | None:
    """The first words of `text` that name a span of days (its `recent` group set for 最近 / 近期),
    without working the span out: what the intent layer reads off a request for a list."""
    return _WHEN_RE.search(text or "")


def time_range(text: str, today: date) -> DateRange | None:
    """The span of days a message names, or None when it names none.

    今天, 昨天, 前天; 这周/本周 and 上周 (Monday to Sunday); 这个月/本月, 上个月; 今年, 去年,
    2023年, 2023年3月; 3月 / 三月 (the latest March not after today), 3月30日 (likewise), 去年3月;
    最近 / 近期 (the last RECENT_DAYS days, `recent` set). The first time words of the message
    count; a year after `today`'s, or a day that does not exist (2月30日), names none.
    """
    match = time_words(unicodedata.normalize("NFKC", text or ""))
    if match is None:
        return None
    span = _span(match, today)
    if span is None:
        return None
    start, end = span
    return DateRange(start, end, recent=bool(match.group("recent")), phrase=match.group(0))


def _span(match: re.Match[str], today: date) -> tuple[date, date] | None:
    groups = match.groupdict()
    kind = next(k for k in ("year", "rel", "month", *_SIMPLE) if groups.get(k))
    if kind in _SIMPLE:
        return _SIMPLE[kind](today)
    if kind == "month":
        month, day = _number(groups["month"]), _number(groups["day"])
        assert month is not None
        year = today.year if (month, day or 1) <= (today.month, today.day) else today.year - 1
        if day is not None and month == 2 and day == 29:  # the latest 2月29日 there was
            year = next((y for y in range(year, year - 8, -1) if calendar.isleap(y)), year)
    else:
        if kind == "year":
            year = int(_clean(groups["year"] + "年")[:4])
            month, day = _number(groups["ym"]), _number(groups["ymd"])
        else:
            year = today.year + _RELATIVE_YEAR.get(groups["rel"], 0)
            month, day = _number(groups["rm"]), _number(groups["rmd"])
        if year > today.year:
            return None
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    if not 1 <= month <= 12:
        return None
    if day is None:
        return _month_span(year, month)
    single = _day(year, month, day)
    return (single, single) if single else None


def _week(today: date, back: int = 0) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday() + 7 * back)
    return monday, monday + timedelta(days=6)


def _last_month(today: date) -> tuple[date, date]:
    first = today.replace(day=1) - timedelta(days=1)
    return _month_span(first.year, first.month)


def _days_ago(today: date, days: int) -> tuple[date, date]:
    day = today - timedelta(days=days)
    return day, day


_SIMPLE: dict[str, Callable[[date], tuple[date, date]]] = {
    "today": lambda t: (t, t),
    "yesterday": lambda t: _days_ago(t, 1),
    "before": lambda t: _days_ago(t, 2),
    "week": _week,
    "lastweek": lambda t: _week(t, 1),
    "thismonth": lambda t: _month_span(t.year, t.month),
    "lastmonth": _last_month,
    "recent": lambda t: (t - timedelta(days=RECENT_DAYS - 1), t),
}
