"""bot/dates.py: an article's day from what gives one, and the span of days a message names."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.dates import (
    DateRange,
    article_date,
    date_in_url,
    full_date_in_text,
    month_day_in_text,
    parse_date,
    parse_year,
    stated_years,
    time_range,
)

TODAY = date(2025, 6, 15)  # a Sunday


# ---------------------------------------------------------------- given values


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2024-11-21", "2024-11-21"),
        ("2024-11-21 09:30", "2024-11-21"),
        ("2024-11-21T09:30:00+08:00", "2024-11-21"),
        ("2024/3/5", "2024-03-05"),
        ("2024.3.5", "2024-03-05"),
        ("20241121", "2024-11-21"),
        ("2020年3月30日", "2020-03-30"),
        ("２０２０年３月３０日", "2020-03-30"),
        (date(2024, 3, 1), "2024-03-01"),  # YAML reads `date: 2024-03-01` as a date
        (datetime(2024, 3, 1, 9, 30), "2024-03-01"),
        ("2020-02-30", None),  # no such day
        ("2020-13-01", None),
        ("2020", None),  # a year is no day
        ("昨天", None),
        (None, None),
        (20241121, None),
    ],
)
def test_parse_date(value: object, day: str | None) -> None:
    assert parse_date(value) == day


@pytest.mark.parametrize(
    ("value", "year"),
    [(2020, 2020), ("2020", 2020), ("2020年", 2020), (" 2023 ", 2023), ("2020-03-30", None), (True, None), (20, None)],
)
def test_parse_year(value: object, year: int | None) -> None:
    assert parse_year(value) == year


@pytest.mark.parametrize(
    ("url", "day"),
    [
        ("http://newpaper.dahe.cn/zzrb/html/2024-11/21/content_1.htm", "2024-11-21"),
        ("https://example.cn/html/202411/21/node_2.htm", "2024-11-21"),
        ("https://example.cn/news/20241121/a.html", "2024-11-21"),
        ("https://example.cn/zw/202411/t20241121_123.html", "2024-11-21"),
        ("https://example.cn/a/2024/11/21/b.html", "2024-11-21"),
        ("https://example.cn/a?date=2024-11-21", "2024-11-21"),
        ("https://20241121.example.cn/a", None),  # the host is no date
        ("https://example.cn/a/20240230/b", None),  # no such day
        ("https://example.cn/a/2099/11/21/b", None),  # after today
        ("https://example.cn/a/123456789012/b", None),
        (None, None),
    ],
)
def test_date_in_url(url: str | None, day: str | None) -> None:
    assert date_in_url(url, TODAY) == day


# ---------------------------------------------------------------- dates in a text


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("记者从2020年3月30日召开的会议上获悉", "2020-03-30"),
        ("2020 年 3 月 30 日", "2020-03-30"),
        ("会议于2020-03-30召开", "2020-03-30"),
        ("会议于2020/3/30召开", "2020-03-30"),
        ("会议于2020.3.30召开", "2020-03-30"),
        ("二〇二〇年三月", None),  # a month is no day
        ("增长554.1亿元,2020.3.30.5", None),
        ("2020年2月30日", None),
        ("芝麻街1958双创园", None),
        ("回顾2019年12月5日的工作。发布时间：2024-11-21 09:30", "2024-11-21"),  # the labelled one first
        ("发布日期: 2024/11/21", "2024-11-21"),
        ("3月30日,记者获悉", None),  # no year: not a full date
    ],
)
def test_full_date_in_text(text: str, day: str | None) -> None:
    assert full_date_in_text(text) == day


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("3月30日,记者从项目指挥部获悉", "2020-03-30"),
        ("3月30日至4月2日举办", "2020-03-30"),  # a range: its first day
        ("活动时间为3月30号", "2020-03-30"),
        ("27日上午,签约活动举办", None),  # a day with no month
        ("4月是全国第34个爱国卫生月", None),  # a month with no day
        ("2月30日有误,3月1日开幕", "2020-03-01"),  # no such day: the next one
        ("去年12月5日", "2019-12-05"),
        ("截至４月15日", "2020-04-15"),
    ],
)
def test_month_day_in_text(text: str, day: str | None) -> None:
    assert month_day_in_text(text, 2020) == day


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("2020年荥阳市“春满中原”活动", {2020}),
        ("主办的2023金水区“区长杯”青少年校园足球联赛收官", {2023}),
        ("召开2020年度工作会议,回顾总结2019年工作", {2019, 2020}),
        ("北庆里1926、芝麻街1958双创园", set()),  # names, and before 2000
        ("印制了2000余份,2000多人,2020届毕业生,5000万元", set()),  # counts and a class
        ("2020—2022年", {2020, 2022}),
        ("2030年远景目标", set()),  # after today
        ("上世纪90年代、2020年代", set()),
    ],
)
def test_stated_years(text: str, years: set[int]) -> None:
    assert stated_years(text, TODAY) == years


# ---------------------------------------------------------------- an article's day, in order of trust


def test_article_date_order_of_trust() -> None:
    text = "2019年12月5日的会议上,3月30日……"
    url = "https://example.cn/html/2024-11/21/content_1.htm"
    assert article_date(text, today=TODAY, given="2020-04-01", url=url) == "2020-04-01"  # the page's date
    assert article_date(text, today=TODAY, url=url) == "2024-11-21"  # then the URL's
    assert article_date(text, today=TODAY) == "2019-12-05"  # then a full date in the text
    assert article_date("3月30日,记者获悉", today=TODAY, year=2020) == "2020-03-30"  # a month-day in a given year
    assert article_date("3月30日,记者获悉", today=TODAY, given="2020") == "2020-03-30"  # a feed's year alone


def test_article_date_month_day_needs_a_year() -> None:
    assert article_date("3月30日,记者获悉", today=TODAY) is None  # never guessed
    assert article_date("12月5日,2023金水区“区长杯”收官", today=TODAY) == "2023-12-05"  # the one year it states
    ambiguous = "4月26日,召开2020年度工作会议,回顾总结2019年工作"
    assert article_date(ambiguous, today=TODAY) is None
    assert article_date(ambiguous, today=TODAY, year=2020) == "2020-04-26"  # the page's year decides
    assert article_date("27日上午,2020年荥阳市活动举办", today=TODAY) is None  # a year, but no month-day
    assert article_date("2020年,中原区计划完成绿化任务", today=TODAY, year=2020) is None  # no day: no date
    assert article_date("", today=TODAY) is None


# ---------------------------------------------------------------- a message's time words


def _span(text: str, today: date = TODAY) -> tuple[str, str] | None:
    found = time_range(text, today)
    return (found.start.isoformat(), found.end.isoformat()) if found else None


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("今天有什么新闻", ("2025-06-15", "2025-06-15")),
        ("昨天的新闻", ("2025-06-14", "2025-06-14")),
        ("前天", ("2025-06-13", "2025-06-13")),
        ("这周有啥事", ("2025-06-09", "2025-06-15")),
        ("本周新闻", ("2025-06-09", "2025-06-15")),
        ("上周的新闻", ("2025-06-02", "2025-06-08")),
        ("这个月的新闻", ("2025-06-01", "2025-06-30")),
        ("本月", ("2025-06-01", "2025-06-30")),
        ("上个月", ("2025-05-01", "2025-05-31")),
        ("今年有什么新闻", ("2025-01-01", "2025-12-31")),
        ("去年", ("2024-01-01", "2024-12-31")),
        ("2023年的新闻", ("2023-01-01", "2023-12-31")),
        ("二〇二三年", ("2023-01-01", "2023-12-31")),
        ("2023年3月", ("2023-03-01", "2023-03-31")),
        ("2023年3月30日", ("2023-03-30", "2023-03-30")),
        ("3月的新闻", ("2025-03-01", "2025-03-31")),
        ("三月份", ("2025-03-01", "2025-03-31")),
        ("7月", ("2024-07-01", "2024-07-31")),  # the latest July not after today
        ("十二月", ("2024-12-01", "2024-12-31")),
        ("3月30日的新闻", ("2025-03-30", "2025-03-30")),
        ("6月16号", ("2024-06-16", "2024-06-16")),
        ("去年3月", ("2024-03-01", "2024-03-31")),
        ("今年9月", ("2025-09-01", "2025-09-30")),  # asked for: this year's, if later
        ("2月29日", ("2024-02-29", "2024-02-29")),
        ("２０２３年", ("2023-01-01", "2023-12-31")),
    ],
)
def test_time_range(text: str, span: tuple[str, str]) -> None:
    assert _span(text) == span


@pytest.mark.parametrize(
    "text", ["清华附中什么时候投入使用", "二七区有什么新闻", "2月30日", "13月", "2030年", "", "三个月"]
)
def test_time_range_none(text: str) -> None:
    assert time_range(text, TODAY) is None


def test_time_range_across_year_ends() -> None:
    assert _span("上个月", date(2025, 1, 10)) == ("2024-12-01", "2024-12-31")
    assert _span("上周", date(2025, 1, 1)) == ("2024-12-23", "2024-12-29")
    assert _span("昨天", date(2025, 1, 1)) == ("2024-12-31", "2024-12-31")


def test_recent_is_a_marker_over_the_last_30_days() -> None:
    found = time_range("港区最近有什么事", TODAY)
    assert found is not None and found.recent and found.phrase == "最近"
    assert (found.start, found.end) == (date(2025, 5, 17), TODAY)
    assert time_range("近期", TODAY) == DateRange(date(2025, 5, 17), TODAY, recent=True, phrase="近期")
    march = time_range("3月", TODAY)
    assert march is not None and not march.recent


def test_phrase_is_the_words_that_named_it() -> None:
    found = time_range("金水区3月30日有什么新闻", TODAY)
    assert found is not None and found.phrase == "3月30日"


def test_contains() -> None:
    march = DateRange(date(2025, 3, 1), date(2025, 3, 31))
    assert march.contains("2025-03-01") and march.contains("2025-03-31")
    assert not march.contains("2025-04-01") and not march.contains("2024-03-15")
    assert not march.contains(None) and not march.contains("") and not march.contains("2025-3-5")
