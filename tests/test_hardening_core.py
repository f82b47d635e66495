"""Hardening of the core: damaged cache files, damaged state files, bad feed lines, stale files,
unsafe URLs and control characters in what the operator is shown."""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot import cache as disk
from bot import index
from bot.article import CorpusError, has_text, safe_url
from bot.config import Config
from bot.corpus import load_corpus, load_jsonl, load_page
from bot.engine import Engine
from bot.ingest import ingest
from bot.library import Library
from bot.render import reply_json
from bot.stats import printable, run_stats
from bot.store import FRESH_ENV, SCHEMA_VERSION, Store, StoreError

from .conftest import ROOT, copy_corpus

DEV_QUESTIONS = [q["question"] for q in yaml.safe_load((ROOT / "tests/data/dev_questions.yaml").read_text())][:25]


def _answers(engine: Engine) -> list[dict]:
    library = Library(engine)
    return [reply_json(library.ask(q)) for q in DEV_QUESTIONS]


# ---------------------------------------------------------------- 5. damaged cache arrays


def _buffer_places(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each array stored outside the pickle of a cache file."""
    data = path.read_bytes()
    _, count, table = struct.unpack_from("<QQQ", data, len(disk.MAGIC))
    return [struct.unpack_from("<QQ", data, table + 16 * n) for n in range(count)]


def _flip_posting_arrays(path: Path) -> None:
    """XOR bytes in the middle of a cached segment's posting offsets and doc numbers: the file
    still parses (header, pickle and table intact), only the arrays say something else."""
    loaded = disk.load_cached(path)
    assert loaded is not None
    segment = loaded.segment
    data = bytearray(path.read_bytes())
    flipped = 0
    for start, length in _buffer_places(path):
        chunk = bytes(data[start : start + length])
        if chunk in (segment.indptr.tobytes(), segment.docs.tobytes()):
            for at in range(start + length // 2, start + length // 2 + 8):
                data[at] ^= 0xFF
            flipped += 1
    assert flipped == 2
    path.write_bytes(bytes(data))


def test_damaged_cache_arrays_are_rebuilt_and_answer_as_fresh(tmp_path, warm_cache, caplog) -> None:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    fresh = Library.open(corpus, cache_dir=tmp_path / "fresh-cache").engine
    segments = sorted(cache.glob("*.seg"))
    assert len(segments) == fresh.report.files
    for path in segments[:2]:
        _flip_posting_arrays(path)
    with caplog.at_level(logging.WARNING, logger="bot.cache"):
        damaged = Library.open(corpus, cache_dir=cache).engine
    assert (damaged.report.built, damaged.report.cached) == (2, len(segments) - 2)
    assert [a.id for a in damaged.articles] == [a.id for a in fresh.articles]
    assert _answers(damaged) == _answers(fresh)
    for path in segments[:2]:
        assert any(str(path) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    # The bad files were replaced: the next start reads every segment from the cache.
    again = Library.open(corpus, cache_dir=cache).engine
    assert (again.report.built, again.report.cached) == (0, len(segments))
    assert _answers(again) == _answers(fresh)


def test_large_cache_files_are_checked_after_the_start_on_one_idle_thread(
    tmp_path, warm_cache, caplog, monkeypatch
) -> None:
    """Files over VERIFY_NOW_MAX (here: all) are used at once and checked in the background, one
    after another on a single thread that only gets CPU time nothing else wants (not a thread a
    file beside the start-up); a damaged one is logged and removed, so the next start rebuilds it."""
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    segments = sorted(cache.glob("*.seg"))
    for path in segments[:2]:  # a term frequency changed: the file still loads (and is used, until checked)
        segment = disk.load_cached(path).segment
        data = bytearray(path.read_bytes())
        [(start, _)] = [(s, n) for s, n in _buffer_places(path) if data[s : s + n] == segment.tfs.tobytes()]
        data[start] ^= 0x01
        path.write_bytes(bytes(data))
    monkeypatch.setattr(disk, "VERIFY_NOW_MAX", 0)
    before = {t.ident for t in threading.enumerate()}
    with caplog.at_level(logging.WARNING, logger="bot.cache"):
        Library.open(corpus, cache_dir=cache)
        checkers = [t for t in threading.enumerate() if t.name == "verify cache"]
        disk.wait_for_checks()
    assert len(checkers) == 1 and len({t.ident for t in threading.enumerate()} - before) <= 2  # + the warm-up
    if hasattr(os, "SCHED_IDLE"):
        assert os.sched_getscheduler(checkers[0].native_id) == os.SCHED_IDLE
    assert [path.exists() for path in segments] == [False, False] + [True] * (len(segments) - 2)
    for path in segments[:2]:
        assert any(str(path) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    again = Library.open(corpus, cache_dir=cache).engine
    assert (again.report.built, again.report.cached) == (2, len(segments) - 2)
    Library.open(corpus, cache_dir=cache)  # the rebuilt files are read, and checked, for the first time
    disk.wait_for_checks()
    checked: list[Path] = []
    real_check = disk._check_file
    monkeypatch.setattr(disk, "_check_file", lambda path, *rest: (checked.append(path), real_check(path, *rest)))
    Library.open(corpus, cache_dir=cache)  # opened again (a page added): its files were checked already
    disk.wait_for_checks()
    assert checked == []


def test_cache_checksum_covers_every_byte_after_the_magic(tmp_path) -> None:
    segment = index.merge_segments([])
    value = {"arrays": [np.arange(5000, dtype=np.int32), np.ones(300, dtype=np.float32)], "words": ["郑州"]}
    path = tmp_path / "x.seg"
    disk.store_cached(path, value)
    good = path.read_bytes()
    loaded = disk.load_cached(path)
    np.testing.assert_array_equal(loaded["arrays"][0], value["arrays"][0])
    for at in range(len(disk.MAGIC), len(good), 97):  # the header, the pickle, arrays, table
        damaged = bytearray(good)
        damaged[at] ^= 0x01
        path.write_bytes(bytes(damaged))
        assert disk.load_cached(path) is None, at
    path.write_bytes(good + b"\0")  # trailing bytes: not what was written either
    assert disk.load_cached(path) is None
    disk.store_cached(path, segment)  # a damaged file is replaced by the next store
    assert isinstance(disk.load_cached(path), index.Segment)


# ---------------------------------------------------------------- 6. empty or damaged state file


def test_empty_state_file_is_refused_unless_asked_to_start_afresh(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(FRESH_ENV, raising=False)
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(StoreError, match=rf"empty \(0 bytes\).*{FRESH_ENV}=1"):
        Store(path)
    assert path.stat().st_size == 0  # refused before SQLite touched it
    caplog.clear()
    monkeypatch.setenv(FRESH_ENV, "1")
    with caplog.at_level(logging.INFO, logger="bot.store"), Store(path) as store:
        assert store.version == SCHEMA_VERSION
        store.subscribe(1, "district", "二七区")
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning.getMessage() and "NEW" in warning.getMessage()
    monkeypatch.delenv(FRESH_ENV)
    with Store(path) as again:  # the new database is an ordinary one from now on
        assert len(again.subscriptions(1)) == 1


def test_empty_state_file_beside_a_write_ahead_log_keeps_the_log(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(FRESH_ENV, raising=False)
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"")
    wal = tmp_path / "bot.sqlite3-wal"
    wal.write_bytes(b"frames of the last transactions" * 10)
    with pytest.raises(StoreError, match="empty"):
        Store(path)
    assert wal.stat().st_size == 310  # SQLite would have dropped it
    with Store(path, fresh_ok=True) as store:
        assert store.version == SCHEMA_VERSION
    [kept] = tmp_path.glob("bot.sqlite3-wal.damaged-*")
    assert kept.read_bytes().startswith(b"frames")


def test_state_file_that_is_not_a_database_is_refused_then_set_aside(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(FRESH_ENV, raising=False)
    path = tmp_path / "bot.sqlite3"
    junk = b"restored from the wrong backup\n" * 50
    path.write_bytes(junk)
    with pytest.raises(StoreError, match=rf"not an SQLite database.*{FRESH_ENV}=1"):
        Store(path)
    path.write_bytes(b"SQL")  # shorter than the header
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store(path)
    path.write_bytes(junk)
    with caplog.at_level(logging.WARNING, logger="bot.store"), Store(path, fresh_ok=True) as store:
        assert store.version == SCHEMA_VERSION
    [aside] = tmp_path.glob("bot.sqlite3.damaged-*")
    assert aside.read_bytes() == junk
    assert any(str(aside) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_first_run_creates_the_state_database_with_an_info_line(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(FRESH_ENV, raising=False)
    path = tmp_path / "state" / "bot.sqlite3"
    with caplog.at_level(logging.INFO, logger="bot.store"), Store(path) as store:
        assert store.version == SCHEMA_VERSION
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "creating a new one" in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.store"), Store(path):
        pass
    assert not caplog.records  # an ordinary start says nothing


# ---------------------------------------------------------------- 8. bad feed lines, pages of no text

FEED_LINES = [
    {"id": "good-1", "title": "二七区新建三所中小学", "body": "新增学位4500个。"},
    "{broken json",
    ["not", "an", "object"],
    {"title": 7, "body": "标题不是字符串"},
    {"title": "=====", "body": "——————"},
    {"id": "good-2", "title": "=====", "body": "====\n金水区贾鲁河步道全线贯通，全长12公里。"},
]


def _write_feed(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in FEED_LINES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_bad_feed_line_is_skipped_with_a_warning_and_the_rest_load(tmp_path, caplog) -> None:
    feed = _write_feed(tmp_path / "corpus" / "feed.jsonl")
    warnings: list[str] = []
    with caplog.at_level(logging.WARNING, logger="bot.corpus"):
        articles = load_jsonl(feed, warnings=warnings)
    assert [a.id for a in articles] == ["good-1", "good-2"]
    assert articles[1].title == "金水区贾鲁河步道全线贯通，全长12公里。"[:30]  # not 「=====」
    assert [w.split(": ")[0] for w in warnings] == [f"{feed}:{n}" for n in (2, 3, 4, 5)]
    assert "no text" in warnings[3]
    assert [r.getMessage() for r in caplog.records] == warnings
    with pytest.raises(CorpusError, match=r"feed\.jsonl:2: not valid JSON"):
        load_jsonl(feed, strict=True)  # ingest stays strict
    result = load_corpus(feed.parent)
    assert [a.id for a in result.articles] == ["good-1", "good-2"]
    assert result.errors == [] and result.warnings == warnings


def test_a_feed_with_no_good_line_is_an_error_naming_it(tmp_path) -> None:
    feed = tmp_path / "junk.jsonl"
    feed.write_text('{"title": "=====", "body": "====="}\n{oops\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"junk\.jsonl: no article found \(.*junk\.jsonl:1: no text"):
        load_jsonl(feed)


def test_the_engine_keeps_the_good_lines_of_a_feed(tmp_path, caplog) -> None:
    feed = _write_feed(tmp_path / "corpus" / "feed.jsonl")
    with caplog.at_level(logging.WARNING, logger="bot.corpus"):
        engine = Library.open(feed.parent, cache_dir=tmp_path / "cache").engine
    assert [a.id for a in engine.articles] == ["good-1", "good-2"] and not engine.report.errors
    assert any(f"{feed}:2" in r.getMessage() for r in caplog.records)
    assert engine.answer("二七区新建的中小学新增多少学位").article.id == "good-1"


def test_a_page_of_rules_is_refused_and_rules_are_never_headlines(tmp_path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("=" * 3000 + "\n\n" + "—" * 40 + "\n* * *\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"rules\.txt: no article found"):
        load_page(rules)
    page = tmp_path / "page.txt"
    page.write_text(
        "==========\n二七区新建三所中小学\n\n本报讯(记者 张明)今年二七区新建的三所中小学将在秋季开学时投入使用。\n"
        "==========\n——————\n金水区贾鲁河步道全线贯通\n\n本报讯(记者 王强)日前，金水区贾鲁河沿岸步道全线贯通。\n",
        encoding="utf-8",
    )
    articles = load_page(page)
    assert [a.title for a in articles] == ["二七区新建三所中小学", "金水区贾鲁河步道全线贯通"]
    assert all(has_text(a.headline) and all(has_text(p) for p in a.paragraphs) for a in articles)
    result = load_corpus(tmp_path)
    assert [a.source for a in result.articles] == ["page.txt", "page.txt"]
    assert len(result.errors) == 1 and "rules.txt" in result.errors[0]


# ---------------------------------------------------------------- 9. files left by kill -9

_HOLDER = """
import sys, time
from pathlib import Path
from bot.cache import holding
with holding(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(60)
"""


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_clean_stale_removes_what_killed_processes_left_and_nothing_in_use(tmp_path, caplog) -> None:
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    corpus.mkdir()
    (corpus / "page.txt").write_text("标题\n\n正文。\n", encoding="utf-8")
    cache.mkdir()
    (cache / "a.seg").write_bytes(b"segment")
    killed = corpus / ".ingest-killed"
    killed.mkdir()
    (killed / "staged.txt").write_text("half staged", encoding="utf-8")
    live = corpus / ".ingest-live"
    live.mkdir()
    young = corpus / ".ingest-young"  # created this instant, perhaps not locked yet
    young.mkdir()
    half = cache / "b.seg12345.tmp"
    half.write_bytes(b"half a segment")
    writing = cache / "c.seg67890.tmp"
    writing.write_bytes(b"being written")
    for path in (killed, live, half, writing):
        _age(path, 300)  # five minutes: the old rule (an hour) kept them
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(live)], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with disk.holding(writing), caplog.at_level(logging.INFO, logger="bot.cache"):
            removed = disk.clean_stale(corpus, cache)
        assert sorted(removed) == sorted([killed, half])
        assert live.exists() and young.exists() and writing.exists()
        assert (corpus / "page.txt").exists() and (cache / "a.seg").exists()
        assert sum("left by a process that was killed" in r.getMessage() for r in caplog.records) == 2
        holder.kill()  # kill -9 of the ingest that held `live`: the kernel drops its lock
        holder.wait()
        # and the cache write that held `writing` is over without replacing its file: stale too
        assert sorted(disk.clean_stale(corpus, cache)) == sorted([live, writing])
        assert young.exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert disk.clean_stale(tmp_path / "missing", None) == []
    assert disk.clean_stale(corpus / "page.txt", tmp_path / "nowhere") == []  # a one-file corpus


def test_a_cache_write_in_progress_is_held(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "STALE_GRACE_SECONDS", 0.0)
    with disk.replaced_atomically(tmp_path / "x.seg") as handle:
        handle.write(b"partial")
        [tmp] = tmp_path.glob("*.tmp")
        assert disk.clean_stale(None, tmp_path) == []
    assert (tmp_path / "x.seg").read_bytes() == b"partial" and not tmp.exists()


def test_ingest_cleans_what_a_killed_ingest_left(tmp_path, warm_cache) -> None:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    staging = corpus / ".ingest-k1ll3d"
    staging.mkdir()
    (staging / "105_new.txt").write_text("half staged", encoding="utf-8")
    tmp = cache / "deadbeef.seg0xyz.tmp"
    tmp.write_bytes(b"half a segment")
    _age(staging, 300)
    _age(tmp, 300)
    page = tmp_path / "incoming" / "106_new.txt"
    page.parent.mkdir()
    page.write_text(
        "二七区新建三所中小学\n\n本报讯(记者 张明)今年二七区新建的三所中小学将在秋季开学时投入使用。\n",
        encoding="utf-8",
    )
    config = Config(corpus=corpus, cache_dir=cache, state_db=tmp_path / "state.sqlite3")
    assert ingest([page], corpus, config).ok
    assert not staging.exists() and not tmp.exists()
    assert not list(corpus.glob(".ingest-*")) and not list(cache.glob("*.tmp"))


# ---------------------------------------------------------------- 10. only http(s) links

BAD_URLS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "tg://resolve?domain=somebot",
    "/zzrb/05.html",
    "//example.com/zzrb",
    "https://",
    "http:///path-without-host",
    "https://exa mple.com/",
    "https://example.com/\u202eevil",
    "https://[::1",
    "ftp://example.com/page",
]


def test_safe_url_accepts_only_http_urls_with_a_host() -> None:
    for url in BAD_URLS:
        assert safe_url(url) is None, url
    for url in ("https://example.com/zzrb/05", "http://zzrb.zynews.cn/html/2024-03/01/content_1.htm", "HTTPS://Ex.org"):
        assert safe_url(url) == url
    assert safe_url("  https://example.com/a  ") == "https://example.com/a"
    assert safe_url(123) is None and safe_url(None) is None


def test_a_javascript_url_in_a_sidecar_is_dropped_with_a_warning(tmp_path, caplog) -> None:
    page = tmp_path / "p.txt"
    page.write_text("标题\n\n本报讯 一条正常的新闻。\n", encoding="utf-8")
    page.with_suffix(".yaml").write_text(
        "paper: 郑州日报\ndate: 2024-03-01\nurl: javascript:alert(1)\n", encoding="utf-8"
    )
    warnings: list[str] = []
    with caplog.at_level(logging.WARNING, logger="bot.corpus"):
        [article] = load_page(page, warnings=warnings)
    assert article.url is None and article.date == "2024-03-01"  # the rest of the sidecar holds
    assert len(warnings) == 1 and f"{page.with_suffix('.yaml')}: url 'javascript:alert(1)' dropped" in warnings[0]
    assert caplog.records[0].getMessage() == warnings[0]
    engine = Library.open(tmp_path, cache_dir=tmp_path / "cache").engine
    [loaded] = engine.articles
    from bot.telegram.views import article_link

    assert article_link(loaded, "DistrictNewsBot") == f"https://t.me/DistrictNewsBot?start={article.id}"  # deep link


def test_a_non_http_url_in_a_feed_is_dropped_with_a_warning(tmp_path) -> None:
    feed = tmp_path / "feed.jsonl"
    records = [
        {"id": "a1", "title": "标题一", "body": "正文一。", "url": "https://example.com/1"},
        {"id": "a2", "title": "标题二", "body": "正文二。", "url": "javascript:alert(1)"},
        {"id": "a3", "title": "标题三", "body": "正文三。", "url": 42},
    ]
    feed.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    result = load_corpus(feed)
    assert [(a.id, a.url) for a in result.articles] == [("a1", "https://example.com/1"), ("a2", None), ("a3", None)]
    assert [w.split(": url")[0] for w in result.warnings] == [f"{feed}:2", f"{feed}:3"]


# ---------------------------------------------------------------- 14. control characters in stats

HOSTILE = "\x1b[2J\x1b[31m清场了\x1b]0;pwned\x07\x9b31m\u202e反了\u2066x\u2069\n第二行\t\x00完\x7f\x1b[0m"
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def stats_config(tmp_path) -> Config:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "page.txt").write_text(
        "# 二七区新建三所中小学\u202e\n\n本报讯(记者 张明)今年二七区新建的三所中小学将在秋季开学时投入使用。\n",
        encoding="utf-8",
    )
    (corpus / "broken\x1b[31m.txt").write_bytes(b"")  # its error names the file
    config = Config(corpus=corpus, cache_dir=tmp_path / "cache", state_db=tmp_path / "state" / "bot.sqlite3")
    engine = Library.open(corpus, cache_dir=config.cache_dir).engine
    [article] = engine.articles
    with Store(config.state_db) as store:
        for _ in range(2):
            store.log_question("private", HOSTILE, False, None)
        store.log_question("group\x1b[5m", "二七区新建学校", True, article.id)
        store.log_feedback(article.id, HOSTILE, False)
        store.subscribe(1, "keyword", "学校\x1b[2J\u202e")
        store.claim(1, [article.id], via="notify\x9b")
    return config


def test_stats_text_has_no_control_characters(stats_config, capsys) -> None:
    assert run_stats(stats_config) == 0
    out = capsys.readouterr().out
    assert not _FORBIDDEN.findall(out)
    assert "2× 清场了反了x 第二行 完" in out.replace("  ", " ")
    assert "[31m" not in out and "pwned" not in out  # whole escape sequences go, not just ESC
    assert "broken.txt" in out and "学校" in out and "二七区新建三所中小学" in out


def test_stats_json_has_no_control_characters(stats_config, capsys) -> None:
    assert run_stats(stats_config, as_json=True) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    texts = json.dumps(data, ensure_ascii=False)  # what a consumer decodes, escapes resolved
    assert not _FORBIDDEN.findall(texts) and "\\u001b" not in out
    assert data["usage"]["top_unanswered"] == [{"question": "清场了反了x 第二行 完", "count": 2}]
    assert data["usage"]["by_chat_type"].keys() == {"private", "group"}
    assert data["usage"]["subscriptions"]["topics"][0]["value"] == "学校"
    assert data["usage"]["subscriptions"]["delivered"] == {"notify": 1}


def test_printable_keeps_ordinary_text() -> None:
    text = "二七区 Zhengzhou 2024年3月 「清华附中」？ 👍 é"
    assert printable(text) == text
