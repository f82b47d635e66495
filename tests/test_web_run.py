"""`fetch` end to end against local websites: e-paper edition, feeds, de-duplication, the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Config
from bot.ingest import Known
from bot.library import Catalog, Library
from bot.web.fetch import FetchSettings
from bot.web.run import fetch_sources, fetch_urls
from bot.web.sources import Source
from tests.conftest import copy_corpus
from tests.local_site import Page, Site
from tests.web_pages import ARTICLES, ATOM_PAGE_PARAGRAPHS, EDITION_DIR, news_page, rss_feed, serve_epaper, serve_feeds

ROOT = Path(__file__).resolve().parent.parent
NAVIGATION = ("上一版", "下一版", "返回主页", "版权声明", "分享到", "版权所有")
FAST = FetchSettings(read_timeout=2, retries=1, backoff=0.01)


@pytest.fixture
def config(tmp_path: Path, warm_cache: Path) -> Config:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    return Config(corpus=corpus, cache_dir=cache, state_db=tmp_path / "state.sqlite3")


def test_an_edition_and_two_feeds_are_added_once(config: Config) -> None:
    with Site() as site:
        edition = serve_epaper(site)
        rss, atom = serve_feeds(site)
        report = fetch_urls([edition, rss, atom], config, settings=FAST)
        assert report.ok, report.failed
        assert report.kinds == {edition: "edition", rss: "feed", atom: "feed"}
        by_title = {r.title: r for r in report.records}
        assert set(by_title) == {
            ARTICLES["1001"][1],
            ARTICLES["1002"][1],
            "中原区启动冬季供暖",
            "管城回族区商城遗址公园扩建",
        }
        paper = by_title[ARTICLES["1001"][1]]
        assert paper.url == site.url(f"{EDITION_DIR}/content_1001.htm") and paper.date == "2026-11-22"
        assert paper.source == "127.0.0.1:" + site.base.rsplit(":", 1)[1]
        assert paper.body == "\n".join(ARTICLES["1001"][4])
        assert by_title["管城回族区商城遗址公园扩建"].body == "\n".join(ATOM_PAGE_PARAGRAPHS)  # fetched from the page
        assert by_title["管城回族区商城遗址公园扩建"].source == "管城回族区动态"
        assert site.hits[f"{EDITION_DIR}/content_1001.htm"] == 1  # linked twice, fetched once
        assert report.ingest is not None and report.ingest.new_articles == 4
        assert not any(word in r.body for r in report.records for word in NAVIGATION)

        again = fetch_urls([edition, rss, atom], config, settings=FAST)
        assert again.ok and again.records == [] and again.ingest is None
        assert {why for _url, why in again.skipped} == {"already in the corpus"}


def test_the_same_article_at_another_url_is_added_once_and_a_304_costs_nothing(config: Config) -> None:
    html = news_page("管城回族区商城遗址公园扩建", ATOM_PAGE_PARAGRAPHS).encode("utf-8")

    def with_etag(handler) -> Page:
        if handler.headers.get("If-None-Match") == '"1"':
            return Page(status=304)
        return Page(html, content_type="text/html; charset=utf-8", headers={"ETag": '"1"'})

    with Site() as site:
        site.routes["/a.html"] = with_etag
        site.routes["/print/a.html"] = Page(html, content_type="text/html; charset=utf-8")
        report = fetch_urls([site.url("/a.html"), site.url("/print/a.html")], config, settings=FAST)
        assert len(report.records) == 1
        assert any("same headline and text" in why for _url, why in report.skipped)
        second = fetch_urls([site.url("/a.html")], config, settings=FAST)
        assert second.not_modified == [site.url("/a.html")] and second.records == []


def test_an_article_already_in_the_corpus_is_known_at_another_url_however_its_title_is_written(
    config: Config,
) -> None:
    # The corpus answers through its URL and title columns: the same headline (here in Traditional
    # characters and spaced) and text at a new URL is the article it has; another text is news.
    with Site() as site:
        site.routes["/a.html"] = Page(news_page("管城回族区商城遗址公园扩建", ATOM_PAGE_PARAGRAPHS).encode("utf-8"))
        first = fetch_urls([site.url("/a.html")], config, settings=FAST)
        assert len(first.records) == 1 and first.ingest is not None and first.ingest.new_articles == 1
        site.routes["/print/a.html"] = Page(
            news_page("管城回族區 商城遺址公園擴建", ATOM_PAGE_PARAGRAPHS).encode("utf-8")
        )
        other_text = [*ATOM_PAGE_PARAGRAPHS[:-1], "扩建工程将于明年春天完工，届时公园面积增加一倍。"]
        site.routes["/b.html"] = Page(news_page("管城回族区商城遗址公园扩建", other_text).encode("utf-8"))
        again = fetch_urls([site.url("/a.html"), site.url("/print/a.html"), site.url("/b.html")], config, settings=FAST)
        skipped = dict(again.skipped)
        assert skipped[site.url("/a.html")] == "already in the corpus"
        assert "same headline and text" in skipped[site.url("/print/a.html")]
        assert [r.url for r in again.records] == [site.url("/b.html")]


def test_failures_are_reported_and_the_rest_is_added(config: Config) -> None:
    with Site() as site:
        edition = serve_epaper(site)
        site.routes["/broken.xml"] = Page(
            b"<?xml version='1.0'?><rss><channel><item>", content_type="application/rss+xml"
        )
        site.routes["/gone.htm"] = Page(b"no", 404)
        site.routes["/empty.htm"] = Page(b"<html><body><a href='/'>home</a></body></html>")
        report = fetch_urls(
            [edition, site.url("/broken.xml"), site.url("/gone.htm"), site.url("/empty.htm")], config, settings=FAST
        )
    reasons = dict(report.failed)
    assert set(reasons) == {site.url("/broken.xml"), site.url("/gone.htm"), site.url("/empty.htm")}
    assert reasons[site.url("/gone.htm")] == "HTTP 404"
    assert not report.ok and len(report.records) == 2


def _cli(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(settings), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # runs `python -m bot` in new processes
def test_cli_fetch_then_articles_and_ask_then_nothing_new(config: Config, tmp_path: Path) -> None:
    settings = tmp_path / "bot.yaml"
    settings.write_text(
        f"corpus: {config.corpus}\ncache_dir: {config.cache_dir}\nstate_db: {config.state_db}\n", encoding="utf-8"
    )
    with Site() as site:
        edition = serve_epaper(site)
        first = _cli(settings, "fetch", edition)
        assert first.returncode == 0, first.stderr
        assert "found 2 articles" in first.stdout and "added 2 articles" in first.stdout

        listed = _cli(settings, "articles", "--json")
        rows = {row["title"]: row for row in map(json.loads, listed.stdout.splitlines())}
        for article_id, (_district, title, _kicker, _subtitle, paragraphs) in ARTICLES.items():
            row = rows[title]
            assert row["url"] == site.url(f"{EDITION_DIR}/content_{article_id}.htm")
            assert row["date"] == "2026-11-22" and row["body"] == "\n".join(paragraphs)
            assert not any(word in row["body"] for word in NAVIGATION)

        asked = _cli(settings, "ask", "金水区口袋公园什么时候开放", "--json")
        answer = json.loads(asked.stdout)["answer"]
        assert answer["title"] == ARTICLES["1002"][1]
        assert answer["link"] == site.url(f"{EDITION_DIR}/content_1002.htm")

        second = _cli(settings, "fetch", edition)
        assert second.returncode == 0, second.stderr
        assert "nothing new" in second.stdout and "added" not in second.stdout

        failed = _cli(settings, "fetch", site.url("/missing.htm"))
        assert failed.returncode == 1 and "HTTP 404" in failed.stderr
    assert _cli(settings, "fetch", "javascript:alert(1)").returncode == 2
    no_sources = _cli(settings, "fetch")  # config/sources.yaml lists none by default
    assert no_sources.returncode == 2 and "no source" in no_sources.stderr


def test_sources_yaml_default_is_empty_and_entries_are_checked(tmp_path: Path) -> None:
    from datetime import date

    from bot.web.sources import SourceError, load_sources

    assert load_sources(ROOT / "config" / "sources.yaml") == []
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: 郑州晚报\n    kind: epaper\n    url: https://zzwb.zynews.cn/html/{date:%Y-%m/%d}/node_2.htm\n"
        "    districts: 二七区\n",
        encoding="utf-8",
    )
    (source,) = load_sources(path)
    assert source.url_for(date(2026, 11, 22)) == "https://zzwb.zynews.cn/html/2026-11/22/node_2.htm"
    assert source.districts == ("二七区",) and source.interval == 3600
    path.write_text("sources:\n  - name: x\n    kind: video\n    url: https://a.test/\n", encoding="utf-8")
    with pytest.raises(SourceError, match="kind"):
        load_sources(path)
    path.write_text("sources:\n  - name: x\n", encoding="utf-8")
    with pytest.raises(SourceError, match="url"):
        load_sources(path)
    path.write_text("sources:\n  - name: x\n    url: https://a.test/\n    interval: -5\n", encoding="utf-8")
    with pytest.raises(SourceError, match="interval"):
        load_sources(path)
    path.write_text("sources:\n  - name: x\n    url: https://a.test/\n  - name: x\n    url: https://b.test/\n")
    with pytest.raises(SourceError, match="another source is named"):
        load_sources(path)


def test_a_page_that_failed_is_fetched_again_not_hidden_behind_a_304(config: Config) -> None:
    with Site() as site:
        edition = serve_epaper(site)
        inner = site.routes[f"{EDITION_DIR}/node_2.htm"]
        assert isinstance(inner, Page)

        def edition_with_etag(handler) -> Page:
            if handler.headers.get("If-None-Match") == '"e1"':
                return Page(status=304)
            return Page(inner.body, content_type=inner.content_type, headers={"ETag": '"e1"'})

        site.routes[f"{EDITION_DIR}/node_2.htm"] = edition_with_etag
        good = site.routes[f"{EDITION_DIR}/content_1002.htm"]
        site.routes[f"{EDITION_DIR}/content_1002.htm"] = Page(b"down", 503)
        first = fetch_urls([edition], config, settings=FAST)
        assert not first.ok and [r.title for r in first.records] == [ARTICLES["1001"][1]]
        site.routes[f"{EDITION_DIR}/content_1002.htm"] = good
        second = fetch_urls([edition], config, settings=FAST)
        assert second.ok and [r.title for r in second.records] == [ARTICLES["1002"][1]]
        third = fetch_urls([edition], config, settings=FAST)
        assert third.not_modified == [edition] and third.records == []


def test_a_configured_source_names_its_articles_and_gives_its_one_district(config: Config) -> None:
    from bot.web.sources import Source

    with Site() as site:
        rss, _atom = serve_feeds(site)
        source = Source("中原区融媒体", rss, kind="feed", districts=("中原区",))
        report = fetch_urls([(rss, source)], config, settings=FAST)
    (record,) = report.records
    assert record.source == "中原区融媒体" and record.district == "中原区"
    assert record.to_json()["source"] == "中原区融媒体"


def test_fetch_sources_is_awaited_inside_a_running_event_loop(config: Config) -> None:
    with Site() as site:
        edition = serve_epaper(site)
        source = Source("郑州晚报 第2版", edition, "epaper", 60, ("二七区",))

        async def poll() -> tuple:
            first = await fetch_sources([(edition, source)], config, settings=FAST)
            second = await fetch_sources([(edition, source)], config, settings=FAST)
            return first, second

        first, second = asyncio.run(poll())
        assert first.ok and first.ingest is not None and first.ingest.new_articles == len(first.records) > 0
        assert {r.source for r in first.records} == {"郑州晚报 第2版"}
        assert {r.district for r in first.records} == {"二七区"}
        assert second.ok and second.records == []


def test_a_feed_whose_guids_change_while_its_articles_do_not_adds_nothing_twice(config: Config) -> None:
    with Site() as site:
        feed = rss_feed(site.base)
        first_guids = feed.replace("</title><link>", "</title><guid>urn:a:1</guid><link>")
        site.routes["/rss.xml"] = Page(first_guids.encode("utf-8"), content_type="application/rss+xml")
        first = fetch_urls([site.url("/rss.xml")], config, settings=FAST)
        assert [r.title for r in first.records] == ["中原区启动冬季供暖"]
        # the site republishes the feed: new GUIDs and a retouched link, the same article
        moved = first_guids.replace("urn:a:1", "urn:b:9").replace("heat.html", "heat.html?from=rss")
        site.routes["/rss.xml"] = Page(moved.encode("utf-8"), content_type="application/rss+xml")
        again = fetch_urls([site.url("/rss.xml")], config, settings=FAST)
        assert again.ok and again.records == [] and again.ingest is None


def test_a_fetch_loads_the_corpus_once_and_the_bots_fetch_not_at_all(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At a million articles each load of the corpus is a second of CPU, and in the running bot a
    # stall of its questions: the CLI loads it once (to de-duplicate, then ingest with it), the
    # bot's polls hand over the library it serves from.
    loads: list[Path] = []
    real_open = Library.open.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Library], corpus: Path, **kwargs: object) -> Library:
        loads.append(corpus)
        return real_open(cls, corpus, **kwargs)

    monkeypatch.setattr(Library, "open", classmethod(counted))
    views: list[int] = []  # nor are its browsing views worked out (~0.2-0.6 s at a million)
    monkeypatch.setattr(Catalog, "of", classmethod(lambda _cls, *_args: views.append(1)))
    with Site() as site:
        edition = serve_epaper(site)
        rss, _atom = serve_feeds(site)
        first = fetch_urls([edition], config, settings=FAST)
        assert first.ingest is not None and first.ingest.new_articles == 2
        assert len(loads) == 1 and views == []
        assert (first.ingest.built, first.ingest.cached) == (1, 5)  # the new file's segment, cached

        library = Library.open(config.corpus, cache_dir=config.cache_dir)
        assert library.engine.report.built == 0  # the fetched file came from the cache
        known = Known(library, frozenset(p.name for p in config.corpus.iterdir() if p.suffix in (".txt", ".jsonl")))
        del loads[:]
        monkeypatch.setattr(time, "strftime", lambda _format: "20261129-120000")
        added = asyncio.run(fetch_sources([(rss, None)], config, settings=FAST, known=known))
        assert added.ingest is not None and added.ingest.new_articles == 1 and loads == []
        # The paper corrects the article (same URL, other bytes), within the same second. The
        # library does not have it (no watcher here): ingest reads the file fetched since the
        # library was loaded, adds nothing, and the file's name is no clash with the first one's.
        corrected = rss_feed(site.base).replace("900万平方米", "910万平方米").encode("utf-8")
        site.routes["/rss.xml"] = Page(corrected, content_type="application/rss+xml")
        again = asyncio.run(fetch_sources([(rss, None)], config, settings=FAST, known=known))
        assert again.ingest is not None and again.ingest.ok and again.ingest.added == [] and loads == []
        assert [why for _name, why in again.ingest.skipped] == ["all 1 article(s) already in the corpus"]
