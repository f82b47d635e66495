"""Hardening of the Telegram front end: replies within Telegram's limits, invisible characters in
what users type, secrets and noise kept out of the log, PTB deprecations, a refused state file."""

from __future__ import annotations

import datetime as dtm
import html
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import RetryAfter

import bot.telegram  # noqa: F401  (opts in to PTB's timedelta time periods)
from bot.library import Library
from bot.normalize import strip_invisible
from bot.store import FRESH_ENV
from bot.subscriptions import Matcher, Topic, parse_topic, split_topics
from bot.telegram.app import _Redact
from bot.telegram.notices import ECHO_ITEMS, echo_list
from bot.telegram.notifier import _retry_seconds
from bot.telegram.sending import CUT_MARK, fit_html, fit_plain, plain, utf16_len
from bot.watch import CorpusWatcher

from .botapi_emulator import parse_formatted_text
from .conftest import ROOT, copy_corpus

# ---------------------------------------------------------------- 15. PTB's retry_after deprecation


def test_retry_after_is_a_timedelta_and_reading_it_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exc = RetryAfter(3)  # PTB reads retry_after in the constructor already
        assert exc.retry_after == dtm.timedelta(seconds=3)
        assert _retry_seconds(exc) == 3.0
        assert _retry_seconds(RetryAfter(dtm.timedelta(seconds=2.5))) == 2.5


# ---------------------------------------------------------------- a refused state file


@pytest.mark.slow
def test_run_on_an_empty_state_file_says_what_to_do_without_a_traceback(tmp_path: Path) -> None:
    state = tmp_path / "state" / "bot.sqlite3"
    state.parent.mkdir()
    state.write_bytes(b"")
    settings = tmp_path / "bot.yaml"
    settings.write_text(json.dumps({"corpus": str(ROOT / "seeds"), "state_db": str(state)}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PORT")) and k != FRESH_ENV}
    env.update(TELEGRAM_BOT_TOKEN="987654:never-used", DISTRICT_NEWS_CONFIG=str(settings))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # (the store also logged it, for the log's reader)
    assert last.startswith("error: ") and "empty (0 bytes)" in last and FRESH_ENV in last
    assert "never-used" not in result.stderr
    assert state.stat().st_size == 0


# ---------------------------------------------------------------- 13. the corpus watcher's log


@pytest.mark.asyncio
async def test_a_rebuild_that_keeps_failing_is_logged_once(
    tmp_path: Path, warm_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    library = Library.open(corpus, cache_dir=cache)
    watcher = CorpusWatcher(library, corpus)
    corpus.rename(tmp_path / "moved")  # the operator moved the folder: every tick fails to rebuild
    with caplog.at_level(logging.DEBUG, logger="bot.watch"):
        results = [await watcher.reload() for _ in range(4)]
    assert all(r.errors and not r.rebuilt for r in results)
    assert [r.levelno for r in caplog.records] == [logging.WARNING] + [logging.DEBUG] * 3
    caplog.clear()
    (tmp_path / "moved").rename(corpus)
    with caplog.at_level(logging.INFO, logger="bot.watch"):
        assert not (await watcher.reload()).errors  # back as it was: nothing to rebuild
        assert not (await watcher.reload()).errors
    assert [r.getMessage() for r in caplog.records] == ["reload: the corpus folder is readable again"]


# ---------------------------------------------------------------- 11. the webhook path is a secret


def test_the_webhook_path_and_url_are_redacted_where_they_name_the_webhook() -> None:
    redact = _Redact("123:token", "https://bot.example/telegram", paths=["/telegram/"])
    record = logging.LogRecord(
        "telegram.Bot", logging.DEBUG, __file__, 1, "Calling `%s` with `%s`", ("setWebhook", {}), None
    )
    record.args = ("setWebhook", {"url": "https://bot.example/telegram", "secret_token": "x"})
    assert redact.filter(record)
    assert record.getMessage() == "Calling `setWebhook` with `{'url': '<secret>', 'secret_token': 'x'}`"
    clean = redact._clean
    assert clean("POST /telegram (127.0.0.1)") == "POST /<secret> (127.0.0.1)"
    assert clean("http://0.0.0.0:8443/telegram?x=1") == "http://0.0.0.0:8443/<secret>?x=1"
    assert clean('File "/venv/site-packages/telegram/_bot.py"') == 'File "/venv/site-packages/telegram/_bot.py"'
    assert clean("/telegram_bot and /telegram.ext") == "/telegram_bot and /telegram.ext"


# ---------------------------------------------------------------- 3. invisible characters in what users type

ZW = "\u200b"  # zero-width space; also U+200C/D joiners, U+2060 word joiner, U+FEFF, U+00AD, bidi marks


def test_strip_invisible_drops_format_characters_only() -> None:
    assert strip_invisible(f"{ZW}樱\u00ad桃\u2060沟\ufeff\u200e") == "樱桃沟"
    assert strip_invisible("郑州 ６０００ ＡＢＣ！") == "郑州 ６０００ ＡＢＣ！"  # normalize's business, not this
    assert strip_invisible("plain ascii") == "plain ascii"


@pytest.mark.parametrize(
    "typed,expected",
    [
        (f"{ZW}樱桃沟{ZW}", Topic("keyword", "樱桃沟")),
        ("樱\u200d桃沟", Topic("keyword", "樱桃沟")),
        (f"二七{ZW}区", Topic("district", "二七区")),
        ("\ufeff清华附中\u2060", Topic("keyword", "清华附中")),
        (f"{ZW}{ZW}", None),
    ],
)
def test_parse_topic_stores_no_invisible_characters(library: Library, typed: str, expected: Topic | None) -> None:
    assert parse_topic(library.engine.analyzer, typed) == expected


def test_split_topics_drops_invisible_characters() -> None:
    assert split_topics(f"{ZW}樱桃沟{ZW} 二七\u2060区、{ZW}") == ["樱桃沟", "二七区"]


def test_a_keyword_stored_with_invisible_characters_still_matches(library: Library) -> None:
    matcher = Matcher(library.engine.analyzer)
    article = next(a for a in library.articles if "樱桃沟" in a.body)
    assert matcher.matches(article, Topic("keyword", f"{ZW}樱桃沟{ZW}"))


def test_questions_with_invisible_characters_are_answered_like_without(library: Library) -> None:
    plain = library.ask("清华附中什么时候投入使用")
    assert plain.found
    for typed in (f"清华{ZW}附中什么时候投入使用", f"\ufeff清华附中\u2060什么时候\u00ad投入使用{ZW}"):
        reply = library.ask(typed)
        assert reply.intent.text == plain.intent.text
        assert reply.answer is not None and plain.answer is not None
        assert reply.answer.article == plain.answer.article
    assert library.ask(f"/district 二七{ZW}区").intent.district == "二七区"


# ---------------------------------------------------------------- 2. replies within Telegram's limit


def test_echo_list_names_a_few_shortened_items_and_counts_them_all() -> None:
    assert echo_list(["a<b", "甲"]) == "a&lt;b、甲"
    long = echo_list([str(n) * 100 for n in range(2000)])
    assert long.endswith(" 等 2000 项") and long.count("、") == ECHO_ITEMS - 1 and len(long) < 600


def _visible(html_text: str) -> str:
    text, _ = parse_formatted_text(html_text, "HTML")
    return text


def test_fit_html_leaves_a_message_that_fits_as_it_is() -> None:
    text = "<b>标题</b>\n" + "正文&amp;" * 100
    assert fit_html(text) is text


def test_fit_html_cuts_between_characters_and_closes_open_tags() -> None:
    text = '<b>头</b><a href="https://example.com/?a=1&amp;b=2">' + "&lt;😀" * 10 + "</a>尾"
    cut = fit_html(text, limit=9)  # 头 + three of "<😀" (3 units each) do not fit; two do
    assert cut == '<b>头</b><a href="https://example.com/?a=1&amp;b=2">&lt;😀&lt;😀&lt;…</a>'
    assert _visible(cut) == "头<😀<😀<…" and utf16_len(_visible(cut)) == 9
    assert fit_plain("ab😀cd", limit=4) == "ab…"


# Telegram HTML as the views write it: nested known tags around escaped text (emoji included).
_TEXT = st.text(alphabet=st.sampled_from([*"ab 郑州\n<>&\"'", "😀", "é"]), max_size=40).map(html.escape)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    tags = st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler", 'a href="https://t.me/x?start=a&amp;b"'])
    return st.builds(lambda tag, inner: f"<{tag}>{inner}</{tag.split()[0]}>", tags, children)


_HTML = st.recursive(_TEXT, lambda inner: _element(st.lists(inner, max_size=4).map("".join)), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(_HTML, min_size=1, max_size=8).map("".join), st.integers(min_value=1, max_value=120))
def test_fit_html_always_parses_within_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    visible = _visible(text)
    cut = fit_html(text, limit)
    shown = _visible(cut)  # raises EntityParseError where Telegram would refuse the markup
    assert utf16_len(shown) <= limit
    if cut is text:
        assert utf16_len(plain(text)) <= limit
    else:
        assert shown.endswith(CUT_MARK)
        assert visible.startswith(shown[: -len(CUT_MARK)].rstrip()) or not shown[: -len(CUT_MARK)].strip()
