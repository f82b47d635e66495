"""The polite fetcher against a local website: 304, retries, timeouts, redirects, the size cap, robots."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from bot.web.decode import DecodeError, decode
from bot.web.fetch import Fetcher, FetchSettings
from tests.local_site import Page, Site

FAST = FetchSettings(connect_timeout=2, read_timeout=0.5, retries=2, backoff=0.01, max_bytes=5 * 1024 * 1024)


def run(coro):
    return asyncio.run(coro)


async def _fetch(site_urls: list[str], state: Path | None = None, settings: FetchSettings = FAST):
    async with Fetcher(settings, state=state) as fetcher:
        results = [await fetcher.fetch(u) for u in site_urls]
        for result in results:
            fetcher.remember(result)
        return results


def test_ok_then_not_modified_with_validators_kept_across_runs(tmp_path: Path) -> None:
    def page(handler) -> Page:
        if handler.headers.get("If-None-Match") == '"v1"':
            return Page(status=304)
        return Page("<p>你好</p>".encode(), headers={"ETag": '"v1"'})

    with Site() as site:
        site.routes["/a.htm"] = page
        state = tmp_path / "validators.json"
        (first,) = run(_fetch([site.url("/a.htm")], state))
        (second,) = run(_fetch([site.url("/a.htm")], state))
    assert first.status == "ok" and first.content == "<p>你好</p>".encode()
    assert second.status == "not_modified" and second.content == b""


def test_a_500_is_retried_then_succeeds() -> None:
    calls = {"n": 0}

    def flaky(handler) -> Page:
        calls["n"] += 1
        return Page(b"oops", 500) if calls["n"] == 1 else Page(b"<p>ok</p>")

    with Site() as site:
        site.routes["/f.htm"] = flaky
        (result,) = run(_fetch([site.url("/f.htm")]))
    assert result.ok and calls["n"] == 2


def test_a_timeout_is_an_error_with_a_reason() -> None:
    with Site() as site:
        site.routes["/slow.htm"] = Page(b"late", delay=1.5)
        (result,) = run(
            _fetch([site.url("/slow.htm")], settings=FetchSettings(read_timeout=0.3, retries=1, backoff=0.01))
        )
    assert result.status == "error" and result.reason == "timeout"


def test_a_redirect_loop_stops() -> None:
    with Site() as site:
        site.routes["/x"] = Page(status=302, headers={"Location": "/y"})
        site.routes["/y"] = Page(status=302, headers={"Location": "/x"})
        site.routes["/r1"] = Page(status=301, headers={"Location": "/r2"})
        site.routes["/r2"] = Page(b"<p>here</p>")
        loop, moved = run(_fetch([site.url("/x"), site.url("/r1")]))
    assert loop.status == "error" and loop.reason == "redirect loop"
    assert moved.ok and moved.final_url.endswith("/r2")


def test_a_20_mb_page_is_refused_by_the_cap() -> None:
    with Site() as site:
        site.routes["/big.htm"] = Page(b"x" * (20 * 1024 * 1024))
        site.routes["/big-unsized.htm"] = Page(b"x" * (20 * 1024 * 1024), no_length=True)
        sized, unsized = run(_fetch([site.url("/big.htm"), site.url("/big-unsized.htm")]))
    for result in (sized, unsized):  # refused by the header, or while streaming
        assert result.status == "error" and "cap" in result.reason and result.content == b""


def test_robots_txt_disallowing_a_path_is_respected_and_a_missing_one_allows() -> None:
    with Site() as site:
        site.routes["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.routes["/private/a.htm"] = Page(b"<p>secret</p>")
        site.routes["/public/a.htm"] = Page(b"<p>open</p>")
        private, public = run(_fetch([site.url("/private/a.htm"), site.url("/public/a.htm")]))
        assert site.hits.get("/private/a.htm") is None
        assert site.hits["/robots.txt"] == 1  # cached per host
        assert site.requests[0][1]["user-agent"].startswith("district-news-bot")
    assert private.status == "error" and "robots" in private.reason
    assert public.ok
    with Site() as bare:
        bare.routes["/a.htm"] = Page(b"<p>open</p>")
        (result,) = run(_fetch([bare.url("/a.htm")]))
    assert result.ok


def test_decode_gbk_by_meta_header_and_detection_and_refuses_mojibake() -> None:
    text = "郑州市二七区老旧小区改造工程全面启动，居民拍手称赞。"
    assert decode(f'<meta charset="gb2312"><p>{text}</p>'.encode("gbk")).encoding == "gb18030"
    assert text in decode(text.encode("gbk"), "text/html; charset=GBK").text
    assert decode(text.encode("gbk") * 3).text.startswith(text)
    assert decode(text.encode("utf-8")).encoding == "utf-8"
    bad = ("\ufffd" * 50 + text).encode("utf-8")
    with pytest.raises(DecodeError, match="mojibake"):
        decode(bad)
    assert decode(f'<meta charset="gbk"><p>{text}</p>'.encode("gbk"), "text/html; charset=ISO-8859-1").text.endswith(
        f"{text}</p>"
    )  # a server's default Latin-1 header does not override the page
    assert text in decode(text.encode("gbk") * 3, "text/html; charset=ISO-8859-1").text
    with pytest.raises(DecodeError, match="mojibake"):
        decode(text.encode("gbk").decode("latin-1").encode("utf-8"))  # GBK read as Latin-1, saved as UTF-8
    double = text.encode("utf-8").decode("latin-1").encode("utf-8")  # UTF-8 read as Latin-1, saved again
    with pytest.raises(DecodeError, match="mojibake"):
        decode(double)
    with pytest.raises(DecodeError):
        decode(b"   ")


def test_at_most_per_host_requests_at_once() -> None:
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def slow(handler) -> Page:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return Page(b"<p>ok</p>")

    async def many(urls: list[str]):
        async with Fetcher(FetchSettings(per_host=2, retries=0)) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(u) for u in urls))

    with Site() as site:
        for i in range(6):
            site.routes[f"/p{i}.htm"] = slow
        results = run(many([site.url(f"/p{i}.htm") for i in range(6)]))
    assert all(r.ok for r in results) and state["most"] == 2
