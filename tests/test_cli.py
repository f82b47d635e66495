"""The command-line contract that benchmarks and checks rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SHARED

# slow: every test runs `python -m bot` in a new process.
pytestmark = pytest.mark.slow


def run(*args: str, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_ask_json():
    result = run("ask", "皋寨村请的哪个剧团唱戏", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == "皋寨村请的哪个剧团唱戏"
    assert "诚亿豫剧团" in data["answer"]["snippet"]
    assert all(isinstance(h, list) and len(h) == 2 for h in data["answer"]["highlights"])
    assert isinstance(data["alternatives"], list)


def test_ask_batch_writes_one_json_line_per_question_in_order(tmp_path: Path):
    questions = ["清华附中什么时候投入使用", "asdfgh", "中原区义务植树是哪天"]
    batch = tmp_path / "q.txt"
    batch.write_text("\n".join(questions) + "\n", encoding="utf-8")
    result = run("ask", "--batch", str(batch))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == questions
    assert lines[1]["answer"] is None
    assert "3月12日" in lines[2]["answer"]["snippet"]


def test_answers_and_lists_carry_the_article_date(tmp_path: Path):
    """002's sidecar gives 2020 and the article says 3月12日: the card and the JSON show the day,
    and /latest lists the dated articles newest first."""
    batch = tmp_path / "q.txt"
    batch.write_text("中原区义务植树是哪天\n/latest 3\n", encoding="utf-8")
    result = run("ask", "--batch", str(batch), "--json")
    assert result.returncode == 0, result.stderr
    answer, latest = (json.loads(line) for line in result.stdout.splitlines())
    assert answer["answer"]["title"].startswith("中原区义务植树绿化忙") and answer["answer"]["date"] == "2020-03-12"
    assert [a["date"] for a in latest["articles"]] == ["2023-12-05", "2022-04-10", "2022-04-09"]
    card = run("ask", "中原区义务植树是哪天")
    assert card.returncode == 0, card.stderr
    assert "中原区 · 2020-03-12" in card.stdout


def test_articles_json_lists_every_article():
    result = run("articles", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 44
    assert set(rows[0]) >= {"id", "title", "district", "date", "url", "body"}


def test_jsonl_corpus_and_eval(tmp_path: Path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        json.dumps(
            {"id": "n1", "title": "惠济区新开一座图书馆", "body": "惠济区图书馆藏书12万册。"}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    qa = tmp_path / "qa.yaml"
    qa.write_text(
        "- id: q1\n  question: 惠济区图书馆藏书多少册\n  article_id: n1\n  answer: 12万册\n", encoding="utf-8"
    )
    result = run("eval", str(qa), "--corpus", str(corpus))
    assert result.returncode == 0, result.stderr
    assert "top-1 article              1.0" in result.stdout
    assert "answer in snippet          1.0" in result.stdout


@pytest.mark.skipif(not (SHARED / "qa" / "questions.yaml").exists(), reason="../shared not beside the repo")
def test_eval_on_the_residents_questions_prints_figures():
    result = run("eval", str(SHARED / "qa" / "questions.yaml"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "top-1 article" in result.stdout and "out-of-scope abstained" in result.stdout


def test_main_command_without_token_opens_the_terminal_chat():
    result = run(stdin="清华附中什么时候投入使用\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "终端版" in result.stdout
    shown = result.stdout.replace("【", "").replace("】", "")  # matched words are marked
    assert "预计今年9月投入使用" in shown


def test_bad_config_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bot.yaml"
    bad.write_text("engine:\n  abstain_below: lots\n", encoding="utf-8")
    result = run("--config", str(bad), "ask", "你好")
    assert result.returncode == 2
    assert "abstain_below" in result.stderr
