"""Extraction: the Founder e-paper layout, feeds, any news page; no navigation in a body; broken input."""

from __future__ import annotations

from datetime import date

import pytest

from bot.web.decode import decode
from bot.web.extract import (
    ExtractError,
    edition_links,
    founder_article,
    generic_article,
    is_founder_article,
    looks_like_feed,
    parse_feed,
    scan,
)
from tests.web_pages import ARTICLES, ATOM_PAGE_PARAGRAPHS, atom_feed, content_page, edition_page, news_page, rss_feed

TODAY = date(2026, 11, 29)
NAVIGATION = ("上一版", "下一版", "返回主页", "版权声明", "分享到", "首页", "新闻中心", "版权所有", "备案号")
BASE = "http://paper.test/html/2026-11/22/"


def test_an_epaper_edition_lists_its_articles_once_in_order() -> None:
    page = scan(decode(edition_page().encode("gbk"), "text/html").text, BASE + "node_2.htm")
    assert edition_links(page, BASE + "node_2.htm") == [BASE + "content_1001.htm", BASE + "content_1002.htm"]


@pytest.mark.parametrize("article_id", list(ARTICLES))
def test_an_epaper_article_has_its_exact_headline_body_and_day_without_navigation(article_id: str) -> None:
    url = BASE + f"content_{article_id}.htm"
    decoded = decode(content_page(article_id).encode("gbk"), "text/html")
    assert decoded.encoding == "gb18030"
    page = scan(decoded.text, url)
    assert is_founder_article(page)
    article = founder_article(page, url, TODAY)
    _district, title, kicker, subtitle, paragraphs = ARTICLES[article_id]
    assert article.title == title
    assert (article.kicker, article.subtitle) == (kicker, subtitle)
    assert article.paragraphs == paragraphs
    assert article.date == "2026-11-22" and article.paper_id == article_id
    assert not any(word in article.body for word in NAVIGATION)


def test_any_news_page_through_trafilatura_without_navigation_share_or_footer() -> None:
    html = news_page("管城回族区商城遗址公园扩建", ATOM_PAGE_PARAGRAPHS)
    url = "http://gov.test/a/1.html"
    article = generic_article(html, scan(html, url), url, TODAY)
    assert article.title == "管城回族区商城遗址公园扩建"
    assert article.paragraphs == ATOM_PAGE_PARAGRAPHS
    assert article.date == "2026-11-22"  # 发布时间：2026-11-22 09:30
    assert not any(word in article.body for word in NAVIGATION)


def test_feeds_rss_with_full_text_and_atom_with_summaries() -> None:
    data = rss_feed("http://site.test").encode()
    assert looks_like_feed(data, "application/rss+xml") and looks_like_feed(data, "text/xml")
    title, items = parse_feed(data, "http://site.test/rss.xml")
    assert title == "中原区新闻"
    (item,) = items
    assert item.title == "中原区启动冬季供暖" and item.full and item.date == "2026-11-21"
    assert item.link == "http://site.test/news/2026/11/21/heat.html"
    _title, (entry,) = parse_feed(atom_feed("http://site.test").encode(), "http://site.test/atom.xml")
    assert not entry.full and entry.text == "商城遗址公园扩建工程开工。" and entry.date == "2026-11-22"


def test_malformed_html_and_xml_give_a_reason_not_a_crash() -> None:
    broken = "<html><td class=font01>标题<div id=ozoom><P>正文没有结束</td></div></b></i><<>>&#xZZ;"
    page = scan(broken, BASE + "content_9.htm")
    try:
        founder_article(page, BASE + "content_9.htm", TODAY)
    except ExtractError as exc:
        assert str(exc)
    with pytest.raises(ExtractError, match=r"no article text|no headline"):
        generic_article("<html><body><a href=x>x</a></body>", scan("<html>", "http://x.test/"), "http://x.test/", TODAY)
    with pytest.raises(ExtractError, match=r"not a feed|no item"):
        parse_feed(b"<?xml version='1.0'?><rss><channel><item><title>broken", "http://x.test/rss.xml")
    with pytest.raises(ExtractError):
        parse_feed(b"\x00\x01 not xml at all", "http://x.test/rss.xml")


def test_the_canonical_link_counts_only_on_the_same_host() -> None:
    from bot.web.extract import canonical_url

    same = news_page("标题", ATOM_PAGE_PARAGRAPHS, canonical="/a/1.html")
    other = news_page("标题", ATOM_PAGE_PARAGRAPHS, canonical="http://elsewhere.test/a/1.html")
    url = "http://gov.test/print/1.html?from=rss"
    assert canonical_url(scan(same, url), url) == "http://gov.test/a/1.html"
    assert canonical_url(scan(other, url), url) == url
