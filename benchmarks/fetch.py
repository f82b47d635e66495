"""How long `python -m bot fetch` takes for a day's e-paper of N articles served on 127.0.0.1.

    python -m benchmarks.fetch [--articles 1000]

A local site serves the day's Founder edition as pages (node_1.htm …) of PER_PAGE articles each,
N article pages in all (GBK, navigation around, as the papers print them); the fetch runs against a copy of the seed corpus with a warm cache, and
the figures are: the first fetch (every page fetched, extracted, de-duplicated, ingested), and the
second (nothing new). With `--polls P`, the same source is then polled P more times in one
process (an hour of polls at a 10 s interval is 360), the way the running bot polls it, and the
process's memory is reported before and after: it must stay flat. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bot.config import Config
from bot.library import Library
from bot.web.fetch import FetchSettings
from bot.web.run import fetch_sources, fetch_urls

from .common import SEEDS_DIR

DISTRICTS = ["二七区", "金水区", "中原区", "管城回族区", "惠济区", "郑东新区", "荥阳市", "新郑市"]
THINGS = ["老旧小区改造", "口袋公园", "冬季供暖", "道路提升", "社区食堂", "学校扩建", "义诊活动", "招聘会"]
PER_PAGE = 100  # articles on one page of the edition (a printed page has far fewer; the fetcher follows 200)


def _pages(count: int) -> tuple[dict[str, bytes], list[str]]:
    """The article pages, and the edition's pages (node_N.htm) that link them."""
    pages: dict[str, bytes] = {}
    links: dict[str, list[str]] = {}
    for number in range(count):
        district, thing = DISTRICTS[number % len(DISTRICTS)], THINGS[(number // len(DISTRICTS)) % len(THINGS)]
        title = f"{district}{thing}第{number + 1}期推进"
        body = "".join(
            f"<P>　　{district}{thing}项目第{number + 1}期第{p}阶段已完成{(number * 7 + p) % 100}%，惠及居民{number + p * 13}户。</P>"
            for p in range(1, 6)
        )
        html = (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
            '<a href="node_1.htm">上一版</a><a href="node_3.htm">下一版</a>'
            f'<table><tr><td class="font01">{title}</td></tr></table>'
            f'<div id="ozoom"><founder-content>{body}</founder-content></div>'
            "<div>版权声明：本网站所刊登的各种新闻均为版权所有</div></body></html>"
        )
        pages[f"/html/2026-11/22/content_{100000 + number}.htm"] = html.encode("gb18030")
        node = f"/html/2026-11/22/node_{number // PER_PAGE + 1}.htm"
        links.setdefault(node, []).append(f'<li><a href="content_{100000 + number}.htm">{title}</a></li>')
    for node, items in links.items():
        edition = f'<html><head><meta charset="gb2312"></head><body><ul>{"".join(items)}</ul></body></html>'
        pages[node] = edition.encode("gb18030")
    return pages, list(links)


def _serve(pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _poll(polls: int, editions: list[str], config: Config, settings: FetchSettings) -> tuple[float, float]:
    """Poll the edition `polls` times in one event loop, as the bot's job does; RSS after the
    first tenth (warmed up) and at the end."""

    async def run() -> tuple[float, float]:
        targets: list[tuple[str, None]] = [(url, None) for url in editions]
        before = 0.0
        for number in range(polls):
            await fetch_sources(targets, config, settings=settings)
            if number == max(0, polls // 10 - 1):
                before = _rss_mb()
        return before, _rss_mb()

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fetch", description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=0, help="then poll the source this many more times")
    args = parser.parse_args()
    pages, nodes = _pages(args.articles)
    server = _serve(pages)
    editions = [f"http://127.0.0.1:{server.server_address[1]}{node}" for node in nodes]
    with tempfile.TemporaryDirectory() as tmp:
        corpus, cache = Path(tmp) / "corpus", Path(tmp) / "cache"
        shutil.copytree(SEEDS_DIR, corpus)
        Library.open(corpus, cache_dir=cache)  # the seeds' cache, as a running deployment has it
        config = Config(corpus=corpus, cache_dir=cache, state_db=Path(tmp) / "state.sqlite3")
        settings = FetchSettings(read_timeout=10, retries=1, backoff=0.1)
        started = time.perf_counter()
        first = fetch_urls(editions, config, settings=settings)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = fetch_urls(editions, config, settings=settings)
        second_s = time.perf_counter() - started
        memory = _poll(args.polls, editions, config, settings) if args.polls else None
    server.shutdown()
    added = first.ingest.new_articles if first.ingest else 0
    print(f"fetch of a local edition: {len(editions)} pages, {args.articles} articles (2 CPUs, 127.0.0.1):")
    print(f"  first fetch  {first_s:6.1f} s   {added} articles added, {len(first.failed)} failed")
    print(f"  second fetch {second_s:6.1f} s   {len(second.records)} added (nothing new expected)")
    flat = True
    if memory is not None:
        before, after = memory
        flat = after - before < 20
        print(f"  {args.polls} more polls: RSS {before:.0f} → {after:.0f} MB (flat: {'yes' if flat else 'NO'})")
    bar = "ok" if first_s < 60 and added == args.articles and not second.records and flat else "MISSED"
    print(f"  bar: {args.articles} articles in under 60 s, nothing twice: {bar}")
    return 0 if bar == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
