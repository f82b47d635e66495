"""bot/metrics.py: the families /metrics shows after real work (a bot answering over the Bot API
emulator, notices, source fetches, Telegram faults), several processes added up through one
PROMETHEUS_MULTIPROC_DIR, and the one-process /metrics and /healthz server."""

from __future__ import annotations

import asyncio
import datetime as dtm
import os
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot import metrics
from bot.config import Config
from bot.ops_http import OpsServer
from bot.store import Store
from bot.telegram.notifier import reload_and_notify
from bot.telegram.polling import SourcePoller
from bot.telegram.retry import RetryingRateLimiter
from bot.web.fetch import FetchSettings
from bot.web.run import fetch_urls
from bot.web.sources import Source
from tests.conftest import copy_corpus
from tests.local_site import Page, Site
from tests.web_pages import EDITION_DIR, serve_epaper

from .botapi_emulator import Fault
from .test_subscriptions_delivery import ALICE, GROUP, bot_app  # noqa: F401 - fixture
from .test_subscriptions_e2e import PAGE_ONE, add_page
from .test_telegram_e2e import QUESTION, running_bot, seed_library

ROOT = Path(__file__).resolve().parent.parent
EDITION = f"{EDITION_DIR}/node_2.htm"
FAST = FetchSettings(read_timeout=2, retries=1, backoff=0.01)
FAMILIES = {
    "district_news_answers",
    "district_news_abstentions",
    "district_news_answer_seconds",
    "district_news_telegram_errors",
    "district_news_telegram_retries",
    "district_news_handler_errors",
    "district_news_deliveries",
    "district_news_source_fetches",
    "district_news_source_polls",
    "district_news_articles",
}


def value(name: str, **labels: str) -> float:
    """A sample of the default registry (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Samples before and after: the registry is the process's, shared by every test."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [value(name, **labels) - old for (name, labels), old in zip(self.samples, self.before, strict=True)]


def families(body: bytes) -> dict[str, dict[tuple, float]]:
    """Prometheus text → {family: {(sample name, sorted labels): value}}; parsing proves the format."""
    parsed: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        parsed[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return parsed


# --------------------------------------------------------------------------- exposition


def test_exposition_is_prometheus_text_with_every_family() -> None:
    metrics.record_reply("answer", "chat", 0.0008)
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert set(families(body)) >= FAMILIES
    text = body.decode()
    assert "# TYPE district_news_answer_seconds histogram" in text
    assert 'district_news_answer_seconds_bucket{front="chat",le="0.001"}' in text  # ~1 ms answers have a bucket


def test_record_reply_counts_kinds_abstentions_and_latency() -> None:
    delta = Delta(
        ("district_news_answers_total", {"kind": "abstain", "front": "inline"}),
        ("district_news_abstentions_total", {"front": "inline"}),
        ("district_news_answer_seconds_count", {"front": "inline"}),
        ("district_news_answer_seconds_bucket", {"front": "inline", "le": "0.002"}),
        ("district_news_answer_seconds_bucket", {"front": "inline", "le": "1.0"}),
    )
    metrics.record_reply("abstain", "inline", 0.0015)
    metrics.record_reply("list", "inline", 0.5)
    assert delta() == [1, 1, 2, 1, 2]


# --------------------------------------------------------------------------- where they are recorded


@pytest.mark.asyncio
async def test_retries_and_errors_of_bot_api_requests_are_counted() -> None:
    limiter = RetryingRateLimiter(max_retries=1, backoff=0.0)
    faults: list[Exception] = [RetryAfter(dtm.timedelta(0)), NetworkError("Bad Gateway")]

    async def request(*_args: object, **_kwargs: object) -> bool:
        if faults:
            raise faults.pop(0)
        return True

    delta = Delta(
        ("district_news_telegram_errors_total", {"type": "RetryAfter"}),
        ("district_news_telegram_retries_total", {"type": "RetryAfter"}),
        ("district_news_telegram_errors_total", {"type": "NetworkError"}),
        ("district_news_telegram_retries_total", {"type": "NetworkError"}),
        ("district_news_telegram_errors_total", {"type": "TimedOut"}),
        ("district_news_telegram_retries_total", {"type": "TimedOut"}),
    )
    assert await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": 1}, None) is True
    assert delta() == [1, 1, 1, 1, 0, 0]

    faults[:] = [RetryAfter(dtm.timedelta(0)), RetryAfter(dtm.timedelta(0))]  # one wait allowed: the second is final
    with pytest.raises(RetryAfter):
        await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert delta()[:2] == [3, 2]

    faults[:] = [TimedOut()]  # may have arrived: never retried, but counted
    with pytest.raises(TimedOut):
        await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert delta()[4:] == [1, 0]


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_running_bot_counts_its_answers_abstentions_inline_and_retries(tmp_path: Path) -> None:
    delta = Delta(
        ("district_news_answers_total", {"kind": "answer", "front": "chat"}),
        ("district_news_answers_total", {"kind": "abstain", "front": "chat"}),
        ("district_news_abstentions_total", {"front": "chat"}),
        ("district_news_answers_total", {"kind": "answer", "front": "inline"}),
        ("district_news_answer_seconds_count", {"front": "chat"}),
        ("district_news_telegram_errors_total", {"type": "NetworkError"}),
        ("district_news_telegram_retries_total", {"type": "NetworkError"}),
    )
    async with running_bot(seed_library(tmp_path / "cache")) as bot:
        bot.app.bot.rate_limiter.backoff = 0.01
        user, chat = bot.private()
        await bot.say(chat, user, QUESTION)
        await bot.say(chat, user, "火星上有外星人吗")
        mark = bot.emu.mark()
        bot.emu.inline_query(user, "清华附中什么时候投入使用")
        await bot.emu.wait_for_call("answerInlineQuery", since=mark, ok=True)
        bot.emu.fail_next("sendMessage", Fault.server_error(502))
        await bot.say(chat, user, QUESTION)
    assert delta() == [2, 1, 1, 1, 3, 1, 1]


@pytest.mark.asyncio
async def test_notices_are_counted_by_outcome(bot_app) -> None:  # noqa: F811
    emu, app, data, config = bot_app
    delta = Delta(
        ("district_news_deliveries_total", {"via": "notify", "outcome": "sent"}),
        ("district_news_deliveries_total", {"via": "notify", "outcome": "failed"}),
    )
    data.store.subscribe(ALICE, "district", "二七区")
    data.store.subscribe(GROUP, "district", "二七区")
    emu.fail_next("sendMessage", Fault.server_error(502))  # one of the two chats: outcome unknown
    add_page(config.corpus, "105_new.txt", PAGE_ONE)
    await reload_and_notify(data, app.bot)
    assert delta() == [1, 1]
    assert value("district_news_articles") == len(data.library.articles)  # the reload set the gauge


def test_source_fetches_and_polls_are_counted_by_outcome(tmp_path: Path, warm_cache: Path) -> None:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    config = Config(corpus=corpus, cache_dir=cache, state_db=tmp_path / "state.sqlite3")
    delta = Delta(
        ("district_news_source_fetches_total", {"outcome": "ok"}),
        ("district_news_source_fetches_total", {"outcome": "not_modified"}),
        ("district_news_source_fetches_total", {"outcome": "failed"}),
        ("district_news_source_polls_total", {"source": "坏来源", "outcome": "failed"}),
    )
    with Site() as site, Store() as store:
        edition = serve_epaper(site)
        page = site.routes[EDITION]
        assert isinstance(page, Page)

        def with_etag(handler: BaseHTTPRequestHandler) -> Page:
            if handler.headers.get("If-None-Match") == '"e1"':
                return Page(status=304)
            return replace(page, headers={"ETag": '"e1"'})

        site.routes[EDITION] = with_etag
        site.routes["/down.xml"] = Page(b"oops", status=500)
        assert fetch_urls([edition], config, settings=FAST).ok
        assert fetch_urls([edition], config, settings=FAST).not_modified == [edition]
        poller = SourcePoller([Source("坏来源", site.url("/down.xml"), "feed", 60)], config, store, settings=FAST)
        assert asyncio.run(poller.poll("坏来源")).error
    assert delta() == [1, 1, 1, 1]


# --------------------------------------------------------------------------- several processes

WORKER = textwrap.dedent(
    """
    import sys
    from bot import metrics
    for _ in range(int(sys.argv[1])):
        metrics.record_reply("answer", "chat", 0.001)
    metrics.record_delivery("digest", "sent")
    metrics.set_articles(int(sys.argv[2]))
    print(__import__("os").getpid())
    """
)


@pytest.mark.slow
def test_two_processes_add_up_through_one_multiprocess_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "prom"
    (folder / "stale.db").parent.mkdir()
    (folder / "stale.db").write_bytes(b"left by an earlier run")
    metrics.clear_multiprocess_dir(folder)  # what the supervisor does first
    assert list(folder.iterdir()) == []
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    pids = []
    for answers, articles in ((3, 44), (2, 45)):
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(answers), str(articles)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        pids.append(int(done.stdout))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    body, _ = metrics.exposition()
    parsed = families(body)
    assert (
        parsed["district_news_answers"][("district_news_answers_total", (("front", "chat"), ("kind", "answer")))] == 5
    )
    seconds = parsed["district_news_answer_seconds"]
    assert seconds[("district_news_answer_seconds_count", (("front", "chat"),))] == 5
    deliveries = parsed["district_news_deliveries"]
    assert deliveries[("district_news_deliveries_total", (("outcome", "sent"), ("via", "digest")))] == 2
    assert parsed["district_news_articles"][("district_news_articles", ())] == 45  # the most any live process has

    metrics.process_died(pids[1])  # the worker with 45 is gone: its gauge no longer counts, its counters do
    parsed = families(metrics.exposition()[0])
    assert parsed["district_news_articles"][("district_news_articles", ())] == 44
    assert (
        parsed["district_news_answers"][("district_news_answers_total", (("front", "chat"), ("kind", "answer")))] == 5
    )


# --------------------------------------------------------------------------- the one-process server


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_ops_server_serves_metrics_and_health_once_loaded() -> None:
    loaded = threading.Event()
    server = OpsServer("127.0.0.1", 0, loaded.is_set).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert _get(base + "/healthz")[0] == 503  # the index is still loading
        loaded.set()
        assert _get(base + "/healthz")[:2] == (200, "text/plain; charset=utf-8")
        status, content_type, body = _get(base + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        assert "district_news_answers" in families(body)
        assert _get(base + "/other")[0] == 404
    finally:
        server.stop()
