"""The page parser, checked against the five seed pages read by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.article import CorpusError
from bot.corpus import load_corpus, load_file, load_jsonl, load_page
from bot.page import parse_page
from bot.text import load_lexicon

from .conftest import SEEDS

PLACES = load_lexicon().places

# Articles per page, counted by reading the pages (captions included).
EXPECTED_COUNTS = {
    "000_068ad4a585ea7835.txt": 10,
    "001_a6d616cd7f86b238.txt": 11,
    "002_2b01c980be82a8c7.txt": 5,
    "003_025b878e24418e70.txt": 12,
    "004_ebf3f8854f9f44c2.txt": 6,
}


def page(name: str):
    return load_page(SEEDS / name, PLACES)


def by_title(articles, fragment):
    found = [a for a in articles if fragment in a.headline]
    assert len(found) == 1, [a.headline for a in articles]
    return found[0]


@pytest.mark.parametrize("name,count", EXPECTED_COUNTS.items())
def test_every_article_of_every_page_is_its_own_item(name, count):
    assert len(page(name)) == count


def test_seed_files_are_verbatim_copies():
    shared = SEEDS.parent.parent / "shared" / "seeds"
    if not shared.exists():
        pytest.skip("../shared not beside the repository")
    for name in EXPECTED_COUNTS:
        assert (SEEDS / name).read_bytes() == (shared / name).read_bytes()


def test_lead_byline_is_split_from_the_body():
    article = by_title(page("000_068ad4a585ea7835.txt"), "清华附中")
    assert article.byline.reporters == ("王红",)
    assert article.byline.correspondents == ("吕哲",)
    assert not article.paragraphs[0].startswith("本报讯")
    assert article.paragraphs[0].startswith("3月30日")
    assert article.districts[0] == "郑东新区"


def test_end_byline_lines_close_the_article():
    article = by_title(page("002_2b01c980be82a8c7.txt"), "义务植树")
    assert article.byline.reporters == ("张改华",)
    assert article.byline.correspondents == ("张笑歌",)
    assert "记者" not in article.body.splitlines()[-1]


def test_broken_lines_are_joined():
    article = by_title(page("000_068ad4a585ea7835.txt"), "六大动力源")
    assert "坚持“园中国”模式" in article.body
    assert "产城融合示范区" in article.body
    trees = by_title(page("002_2b01c980be82a8c7.txt"), "义务植树")
    assert "已复工绿化项目20余个" in trees.body
    assert "区长李晓雷" in trees.body


def test_kicker_and_headline_are_kept_apart():
    articles = page("003_025b878e24418e70.txt")
    guancheng = by_title(articles, "跑出“加速度”")
    assert guancheng.kicker == "抓项目 扩投资 强招商 促发展"
    assert guancheng.title == "管城区：跑出“加速度”确保“全年红”"
    assert "#" not in guancheng.headline + guancheng.body
    visit = by_title(page("002_2b01c980be82a8c7.txt"), "暗访")
    assert visit.title == "中原区领导暗访疫情防控工作"
    assert visit.subtitle == "补强薄弱环节 堵住防控漏洞"


def test_photo_captions_are_items_with_a_made_up_title():
    captions = [a for a in page("003_025b878e24418e70.txt") if a.kind == "caption"]
    assert len(captions) == 3
    football = [c for c in captions if "区长杯" in c.title]
    assert football and "12月5日" in football[0].body
    cabbage = next(c for c in captions if "爱心白菜" in c.body)
    assert "白菜均来自中牟" in cabbage.body  # the caption's second paragraph stays with it
    assert cabbage.byline.reporters == ("刘伟平",)
    assert all("摄" not in c.body for c in captions)


def test_byline_in_the_middle_and_text_jump_are_repaired():
    drill = by_title(page("001_a6d616cd7f86b238.txt"), "应急考")
    assert drill.paragraphs[0].startswith("8日下午3点")
    assert "从接收上级部门发布指令,启动应急预案进入战时状态" in drill.body
    assert drill.byline.reporters == ("党贺喜",)


def test_headline_without_byline_starts_an_article_when_a_byline_follows_later():
    spring = by_title(page("001_a6d616cd7f86b238.txt"), "春好植绿时")
    assert spring.byline.reporters == ("史治国",)
    assert spring.districts[0] == "荥阳市"


def test_ids_are_short_ascii_and_stable(tmp_path: Path):
    first = page("000_068ad4a585ea7835.txt")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,32}", a.id) for a in first)
    assert len({a.id for a in first}) == len(first)
    # The same page beside other pages keeps its ids.
    (tmp_path / "000_068ad4a585ea7835.txt").write_bytes((SEEDS / "000_068ad4a585ea7835.txt").read_bytes())
    (tmp_path / "zzz.txt").write_text("新标题\n\n本报讯 这是一篇新的新闻。\n", encoding="utf-8")
    again = load_corpus(tmp_path, PLACES).articles
    assert [a.id for a in again if a.source.startswith("000")] == [a.id for a in first]


def test_sidecar_adds_metadata(tmp_path: Path):
    (tmp_path / "p.txt").write_text("标题一\n\n本报讯(记者 王红)今天有新闻。\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        "paper: 郑州日报\ndate: 2020-03-31\nurl: https://example.org/p\n", encoding="utf-8"
    )
    [article] = load_page(tmp_path / "p.txt")
    assert article.date == "2020-03-31"
    assert article.url == "https://example.org/p"


PAGE_WITH_DAYS = (
    "会议召开\n\n本报讯(记者 王红)3月30日,记者从会议上获悉,项目已复工。\n\n"
    "活动举办\n\n本报讯(记者 王红)27日上午,签约活动成功举办。\n"
)


def test_a_sidecar_year_dates_the_month_days_of_its_page(tmp_path: Path):
    (tmp_path / "p.txt").write_text(PAGE_WITH_DAYS, encoding="utf-8")
    assert [a.date for a in load_page(tmp_path / "p.txt")] == [None, None]  # no year: never guessed
    (tmp_path / "p.yaml").write_text("year: 2020\n", encoding="utf-8")
    assert [a.date for a in load_page(tmp_path / "p.txt")] == ["2020-03-30", None]  # 27日 names no month
    (tmp_path / "p.yaml").write_text("date: 2020-3-31\n", encoding="utf-8")  # the page's date first
    assert [a.date for a in load_page(tmp_path / "p.txt")] == ["2020-03-31", "2020-03-31"]
    (tmp_path / "p.yaml").write_text("url: https://example.org/html/2020-04/01/node_2.htm\n", encoding="utf-8")
    assert [a.date for a in load_page(tmp_path / "p.txt")] == ["2020-04-01", "2020-04-01"]


# The seed articles that get a date, each checked by reading its text; every other one has none
# (a day alone like 27日上午, a month alone, or no year the page or the article states).
SEED_DATES = {
    ("001_a6d616cd7f86b238.txt", "关心群众身边事"): "2022-04-09",  # 4月9日上午; sidecar year 2022
    ("001_a6d616cd7f86b238.txt", "招募社区“小主任”"): "2022-04-10",  # 记者4月10日获悉
    ("002_2b01c980be82a8c7.txt", "中原区义务植树绿化忙"): "2020-03-12",  # 3月12日…植树节; sidecar year 2020
    ("002_2b01c980be82a8c7.txt", "中原区领导到企业"): "2020-03-12",
    ("002_2b01c980be82a8c7.txt", "走访重点企业听诉求"): "2020-03-12",
    ("002_2b01c980be82a8c7.txt", "中原区领导暗访"): "2020-03-14",
    ("002_2b01c980be82a8c7.txt", "结对帮扶工作推进会"): "2020-03-11",
    ("003_025b878e24418e70.txt", "区长杯"): "2023-12-05",  # 12月5日…2023金水区: the one year it states
    ("004_ebf3f8854f9f44c2.txt", "今年,郑港办事处"): "2020-04-26",  # sidecar year 2020
    ("004_ebf3f8854f9f44c2.txt", "观摩学习党建"): "2020-04-26",
    ("004_ebf3f8854f9f44c2.txt", "线上配送8万多单"): "2020-04-15",  # 截至4月15日
    ("004_ebf3f8854f9f44c2.txt", "戴口罩抓经济"): "2020-04-13",
    ("004_ebf3f8854f9f44c2.txt", "合法用工"): "2020-04-22",
}


def test_seed_articles_are_dated_only_by_what_their_pages_say():
    for name in EXPECTED_COUNTS:
        articles = page(name)
        want = {
            by_title(articles, fragment).id: day for (source, fragment), day in SEED_DATES.items() if source == name
        }
        assert {a.id: a.date for a in articles if a.date} == want, name


def test_a_sidecar_date_that_is_no_day_is_dropped_with_a_warning(tmp_path: Path):
    (tmp_path / "p.txt").write_text(PAGE_WITH_DAYS, encoding="utf-8")
    (tmp_path / "p.yaml").write_text("date: 上周三\nyear: twenty\n", encoding="utf-8")
    warnings: list[str] = []
    assert [a.date for a in load_page(tmp_path / "p.txt", warnings=warnings)] == [None, None]
    assert len(warnings) == 2 and all("p.yaml" in w and "dropped" in w for w in warnings)


def test_a_feed_line_is_dated_by_its_date_its_url_or_its_text(tmp_path: Path):
    lines = [
        {"title": "一", "body": "正文。", "date": "2024-11-21 09:30"},
        {"title": "二", "body": "正文。", "url": "https://example.org/zw/202411/t20241122_1.html"},
        {"title": "三", "body": "发布时间：2024-11-23 10:00\n正文。"},
        {"title": "四", "body": "3月30日,项目复工。", "date": "2020"},  # a year alone dates the month-day
        {"title": "五", "body": "3月30日,项目复工。"},  # nothing gives the year
        {"title": "六", "body": "正文。", "date": "next week"},
    ]
    feed = tmp_path / "f.jsonl"
    feed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    warnings: list[str] = []
    dates = [a.date for a in load_jsonl(feed, warnings=warnings)]
    assert dates == ["2024-11-21", "2024-11-22", "2024-11-23", "2020-03-30", None, None]
    assert len(warnings) == 1 and "f.jsonl:6" in warnings[0] and "next week" in warnings[0]


def test_jsonl_articles_load_and_errors_name_the_line(tmp_path: Path):
    good = tmp_path / "a.jsonl"
    good.write_text(
        json.dumps({"id": "x-1", "title": "标题", "body": "正文。\n第二段。", "district": "二七区"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    [article] = load_jsonl(good)
    assert (article.id, article.districts[0], article.paragraphs) == ("x-1", "二七区", ("正文。", "第二段。"))
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": "1", "title": "t", "body": "b"}\n{broken\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"b\.jsonl:2"):
        load_jsonl(bad, strict=True)  # ingest's check; loading skips the line (test_hardening_core)
    warnings: list[str] = []
    assert [a.id for a in load_jsonl(bad, warnings=warnings)] == ["1"]
    assert len(warnings) == 1 and "b.jsonl:2" in warnings[0]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"\xff\xfe\x00\x00binary", "binary|UTF-8"),
        ("标题\n\n正文".encode("gbk"), "UTF-8"),
    ],
)
def test_broken_page_files_are_reported_and_the_rest_still_load(tmp_path: Path, content, message):
    (tmp_path / "bad.txt").write_bytes(content)
    (tmp_path / "good.txt").write_text("好标题\n\n本报讯 一条正常的新闻。\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_file(tmp_path / "bad.txt")
    result = load_corpus(tmp_path)
    assert [a.title for a in result.articles] == ["好标题"]
    assert len(result.errors) == 1 and "bad.txt" in result.errors[0]


def test_parse_page_never_leaks_markers():
    for name in EXPECTED_COUNTS:
        for article in page(name):
            assert not article.body.startswith("本报讯")
            assert "#" not in article.body
            assert article.title and article.paragraphs


def test_empty_text_gives_no_articles():
    assert parse_page("\n\n  \n", "x.txt") == []
