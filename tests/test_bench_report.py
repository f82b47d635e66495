"""The benchmark's pieces that need no measuring process: streamed corpus, report, bars, growth.

Fast (no bench run): `tests/test_bench.py` runs the command end to end (slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from benchmarks import synthetic
from benchmarks.children import tree_rss
from benchmarks.common import JsonlRecords, read_jsonl, write_jsonl
from benchmarks.report import add_checks, format_report, growth


def test_streamed_corpus_is_the_listed_one_and_any_prefix_is_the_smaller_corpus(tmp_path) -> None:
    sources = synthetic.Sources()
    path = tmp_path / "articles.jsonl"
    assert write_jsonl(path, synthetic.iter_articles(120, sources)) == 120
    listed = synthetic.generate_articles(120, sources)
    assert read_jsonl(path) == listed
    assert synthetic.generate_articles(40, sources) == listed[:40]  # the 100k corpus opens the 1M one
    records = JsonlRecords(path)
    assert len(records) == 120 and records[7] == listed[7] and records[-1] == listed[-1]
    assert records[3:6] == listed[3:6]
    assert synthetic.make_questions(records, 25) == synthetic.make_questions(listed, 25)


def _system(build_s: float, rss_mb: float, cache_mb: float, p50: float, cold: float, n: int | None = None) -> dict:
    return {
        "build_s": build_s,
        "build_rss_mb": rss_mb * 1.5,
        "cache_mb": cache_mb,
        "cold_s": cold,
        "rss_mb": rss_mb,
        "p50_ms": p50,
        "p99_ms": p50 * 5,
        "timed": 300,
        "n": n,
    }


def _add(seconds: float) -> dict:
    return {"add": {"seconds": seconds, "articles": 10, "found_after_add": True, "latency_after_add": {"p50_ms": 1.0}}}


def _report() -> dict:
    small = {
        "label": "100,000",
        "n": 100_000,
        "articles": 100_000,
        "systems": {
            "ours": _system(70, 500, 400, 1.0, 1.2),
            "tantivy": _system(30, 300, 70, 2.0, 0.5),
            "bm25s": _system(200, 450, 200, 1.4, 1.3),
        },
        "incremental": _add(0.01),
    }
    big = {
        "label": "1,000,000",
        "n": 1_000_000,
        "articles": 1_000_000,
        "systems": {
            "ours": _system(800, 2500, 4000, 1.8, 6.0),
            "tantivy": _system(300, 1200, 700, 4.0, 0.6),
            "bm25s": _system(200, 450, 200, 1.4, 1.3, n=100_000),
        },
        "incremental": _add(0.1),
    }
    report = {
        "machine": {"cpus": 2, "python": "3.11"},
        "questions": 300,
        "seed": synthetic.SEED,
        "sizes": [small, big],
    }
    report["growth"] = growth(report)
    add_checks(report)
    return report


def test_report_has_tantivy_bm25s_at_100k_growth_and_issue_14_bars() -> None:
    report = _report()
    text = format_report(report)
    rows = [line.split() for line in text.splitlines()]
    assert sum(row[:1] == ["tantivy"] for row in rows) == 2
    assert any(row[:1] == ["bm25s@100k"] for row in rows), text
    assert "cannot index a million" in text
    # Growth: per added article between 100k and 1M (ours: (4000 - 400) MB over 900,000 articles).
    step = next(s for s in report["growth"]["steps"] if s["system"] == "ours")
    assert step["cache_kb_per_article"] == 3600 * 1024 / 900_000
    assert step["p50_ratio"] == 1.8
    assert not any(s["system"] == "bm25s" for s in report["growth"]["steps"])  # not measured at 1M
    assert "100,000 → 1,000,000 ours" in text
    # Issue 14's bars, checked: 1M cold start 6.0 > 5 s misses, the rest holds.
    checks = {c["key"]: c["ok"] for c in report["sizes"][1]["checks"]["issue14"]}
    assert checks == {
        "p50_ms": True,
        "p99_ms": True,
        "rss_mb": True,
        "cold_s": False,
        "build_s": True,
        "build_rss_mb": True,
        "add_page_s": True,
    }
    assert [c["key"] for c in report["sizes"][0]["checks"]["issue14"]] == ["rss_mb", "cold_s"]
    assert "✗ 1,000,000 cold_s" in text and "✓ 1,000,000 p50_ms" in text and "✓   100,000 rss_mb" in text
    json.dumps(report)  # --json carries all of it


@pytest.mark.slow  # spawns processes
def test_tree_rss_counts_the_workers() -> None:
    code = (
        "import subprocess, sys; b = b'x' * (200 * 2**20); "
        "subprocess.run([sys.executable, '-c', 'import time; b = b\"x\" * (150 * 2**20); time.sleep(3)'])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        seen = 0
        while time.monotonic() < deadline and seen < 340 * 2**20:
            seen = max(seen, tree_rss(proc.pid))
            time.sleep(0.1)
        assert seen >= 340 * 2**20  # parent 200 MB + child 150 MB, both counted
        assert tree_rss(os.getpid()) > 0
    finally:
        proc.kill()
        proc.wait()
