"""`python -m bot stats`: the operator's figures, with no chat ids or user names in them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.config import Config
from bot.stats import mask, run_stats
from bot.store import Store
from bot.store_sql import is_url

from .conftest import SEEDS

PRIVATE_CHAT = 987654321
GROUP_CHAT = -1001234567890


@pytest.fixture
def config(tmp_path: Path, state_target: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The seed corpus and a used state: the SQLite file state_db, or PostgreSQL by DATABASE_URL."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    config = Config(corpus=corpus, cache_dir=tmp_path / "cache", state_db=tmp_path / "state" / "bot.sqlite3")
    if is_url(state_target):
        monkeypatch.setenv("DATABASE_URL", state_target)
    else:
        config.state_db = Path(state_target)
    with Store(state_target) as store:
        store.log_question("private", "清华附中什么时候投入使用？", True, "a233582cec2f")
        for _ in range(3):
            store.log_question("private", "火星上有几个区？", False, None)
        store.log_question("group", "火星上有几个区", False, None)
        store.log_question("group", "@zhang_san_88 你好 我电话13812345678 https://t.me/joinchat/abc", False, None)
        store.log_feedback("a233582cec2f", "清华附中什么时候投入使用？", True)
        store.log_feedback("a233582cec2f", None, False)
        store.subscribe(PRIVATE_CHAT, "district", "二七区")
        store.subscribe(GROUP_CHAT, "district", "二七区")
        store.subscribe(GROUP_CHAT, "keyword", "清华附中")
        store.set_digest(GROUP_CHAT, True, "08:00")
        store.claim(PRIVATE_CHAT, ["a233582cec2f"])
        store.source_failed(
            "晚报\x1b[31m", now=1_700_000_000.0, next_due=1_700_000_120.0, error="HTTP 500", pause_after=1
        )
    return config


def no_ids(text: str) -> None:
    for chat in (PRIVATE_CHAT, GROUP_CHAT):
        assert str(abs(chat)) not in text
    assert "zhang_san" not in text and "13812345678" not in text and "joinchat" not in text


def test_text_report(config: Config, capsys: pytest.CaptureFixture):
    assert run_stats(config) == 0
    out = capsys.readouterr().out
    no_ids(out)
    assert "corpus: 44 articles in 5 files" in out
    assert re.search(r"郑东新区\s+\d+", out)
    assert "questions: 6 asked, 1 answered, 5 unanswered (abstention rate 83.3%)" in out
    unanswered = out.split("most frequent unanswered questions:")[1]
    first = unanswered.strip().splitlines()[0]
    assert "4×" in first and "火星上有几个区" in first  # the same question, punctuation aside
    assert "feedback: 1 👍  1 👎" in out
    assert "subscriptions: 2 chats, 1 daily digests; articles delivered: 1 by notify" in out
    assert re.search(r"district 二七区\s+2 chats", out)
    by_source = out.split("articles by source:")[1]
    assert re.search(r"003_025b878e24418e70\.txt\s+12 articles\n", by_source)
    assert re.search(r"晚报\s+0 articles; polled: PAUSED, last fetch 2023-11-14 22:13 UTC, last new article never", out)
    assert "1 failures in a row (HTTP 500)" in out and "\x1b" not in out


def test_json_report(config: Config, capsys: pytest.CaptureFixture):
    assert run_stats(config, as_json=True) == 0
    out = capsys.readouterr().out
    no_ids(out)
    data = json.loads(out)
    assert data["corpus"]["articles"] == 44
    assert sum(data["corpus"]["by_district"].values()) == 44
    by_date = data["corpus"]["by_date"]  # which seed articles have a day: tests/test_corpus.py SEED_DATES
    assert sum(by_date.values()) == 44 and by_date["(无日期)"] < 44 and by_date["2023-12-05"] == 1
    usage = data["usage"]
    assert data["sources"]["003_025b878e24418e70.txt"] == {"articles": 12}
    health = data["sources"]["晚报"]["health"]
    assert health["paused"] and health["consecutive_failures"] == 1 and health["last_error"] == "HTTP 500"
    assert usage["abstention_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert usage["top_unanswered"][0] == {"question": "火星上有几个区？", "count": 4}
    assert usage["feedback_by_article"][0]["article"].startswith("二七区培育壮大六大动力源")
    assert usage["by_chat_type"] == {
        "private": {"questions": 4, "answered": 1},
        "group": {"questions": 2, "answered": 0},
    }


def test_without_a_database_yet(config: Config, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config.state_db = config.state_db.parent / "missing.sqlite3"
    assert run_stats(config) == 0
    out = capsys.readouterr().out
    assert "corpus: 44 articles" in out and "the bot has not run" in out
    assert not config.state_db.exists()  # stats never creates the database


def test_mask():
    assert mask("@somebody 13812345678 https://x.example/a") == "@… 138… <link>"
    assert mask("2024年3月1日有几所学校") == "2024年3月1日有几所学校"
