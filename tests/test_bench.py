"""The benchmark command runs end to end on a tiny corpus; the index's scale paths agree with the plain ones.

Never timed: the figures are what `python -m benchmarks` prints, not what a test asserts.
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from benchmarks import synthetic
from benchmarks.bench import run_bench, turn_order
from benchmarks.report import format_report
from bot import cache, index, search
from bot.text import Analyzer, Term, load_lexicon

# slow: the bench command end to end, and parallel builds on worker processes.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sources() -> synthetic.Sources:
    return synthetic.Sources()


def test_synthetic_corpus_is_deterministic_and_news_like(sources: synthetic.Sources) -> None:
    first = synthetic.generate_articles(60, sources)
    again = synthetic.generate_articles(60, sources)
    assert first == again
    assert len({r["id"] for r in first}) == 60
    assert {r["district"] for r in first} <= set(synthetic.DISTRICTS)
    assert len({r["district"] for r in first}) >= 8
    for record in first:
        assert 200 <= len(record["body"]) <= 1500
        assert record["title"].strip()
        assert record["district"] in record["body"]
    questions = synthetic.make_questions(first, 20)
    assert len(questions) == 20
    assert questions == synthetic.make_questions(first, 20)


def _segments_equal(a: index.Segment, b: index.Segment) -> None:
    assert set(a.terms) == set(b.terms)
    np.testing.assert_array_equal(a.doc_len, b.doc_len)
    for term, row in a.terms.items():
        other = b.terms[term]
        np.testing.assert_array_equal(
            a.docs[a.indptr[row] : a.indptr[row + 1]], b.docs[b.indptr[other] : b.indptr[other + 1]]
        )
        np.testing.assert_array_equal(
            a.tfs[a.indptr[row] : a.indptr[row + 1]], b.tfs[b.indptr[other] : b.indptr[other + 1]]
        )
    assert len(a.layouts) == len(b.layouts) == a.size
    assert [a.layouts.get(i) for i in range(a.size)] == [b.layouts.get(i) for i in range(b.size)]


def test_parallel_build_merge_and_cache_agree_with_one_process(sources, monkeypatch, tmp_path) -> None:
    from bot.article import Article

    articles = [
        Article(id=r["id"], title=r["title"], paragraphs=tuple(r["body"].split("\n")))
        for r in synthetic.generate_articles(150, sources)
    ]
    analyzer = Analyzer(load_lexicon())
    monkeypatch.setattr(index, "PARALLEL_MIN_ARTICLES", 10**9)
    serial = index.build_segment(articles, analyzer)
    monkeypatch.setattr(index, "PARALLEL_MIN_ARTICLES", 100)
    monkeypatch.setattr(index, "CHUNK_ARTICLES", 40)
    monkeypatch.setenv("DISTRICT_NEWS_INDEX_WORKERS", "2")
    ticks: list[int] = []
    parallel = index.build_segment(articles, analyzer, ticks.append)
    assert sum(ticks) == len(articles)
    _segments_equal(serial, parallel)
    # A worker that dies: the batch is built in this process instead, the same.
    monkeypatch.setattr(index, "_WORKER_CODE", "import sys; sys.exit(3)")
    ticks.clear()
    fallback = index.build_segment(articles, analyzer, ticks.append)
    assert sum(ticks) == len(articles)
    _segments_equal(serial, fallback)
    # Merging pieces equals building the whole; the cache gives the same arrays back.
    pieces = [index.build_segment(articles[lo : lo + 60], analyzer) for lo in range(0, len(articles), 60)]
    merged = index.merge_segments(pieces)
    _segments_equal(serial, merged)
    path = tmp_path / "x.seg"
    cache.store_cached(path, merged)
    loaded = cache.load_cached(path)
    assert isinstance(loaded, index.Segment)
    _segments_equal(serial, loaded)
    terms = [Term(t) for t in analyzer.terms(articles[3].headline)]
    for a, b in (
        (search.SearchIndex([serial]), search.SearchIndex(pieces)),
        (search.SearchIndex([serial]), search.SearchIndex([loaded])),
    ):
        ha, hb = a.search(terms, k=5), b.search(terms, k=5)
        np.testing.assert_array_equal(ha.docs, hb.docs)
        np.testing.assert_array_equal(ha.scores, hb.scores)
    path.write_bytes(path.read_bytes()[:100])  # truncated: a miss, not a crash
    assert cache.load_cached(path) is None


def test_bench_command_prints_the_table(tmp_path, capsys) -> None:
    args = argparse.Namespace(
        articles=[200], questions=8, json=False, accuracy=False, out=tmp_path, quiet=True, cold_runs=1, latency_runs=2
    )
    assert run_bench(args) == 0
    out = capsys.readouterr().out
    for column in ("corpus", "system", "build s", "cache MB", "cold s", "RSS MB", "p50 ms", "p99 ms"):
        assert column in out
    rows = [line.split() for line in out.splitlines()]
    systems = {
        row[1] if row[0] == "200" else row[0]
        for row in rows
        if row and {"ours", "bm25s", "rapidfuzz", "tantivy"} & set(row)
    }
    assert {"ours", "bm25s", "rapidfuzz", "tantivy"} <= systems
    assert "vs bm25s" in out and "vs tantivy" in out and "Engine.with_articles" in out
    # Ours, tantivy and bm25s timed in three fresh processes each; the table has the medians.
    runs = re.search(r"200: ours ([\d., ]+?)\s+tantivy ([\d., ]+?)\s+bm25s ([\d., ]+)$", out, re.MULTILINE)
    assert runs, out
    ours_runs, tantivy_runs, bm25s_runs = ([float(v) for v in group.split(", ")] for group in runs.groups())
    assert len(ours_runs) == len(bm25s_runs) == len(tantivy_runs) == 3
    tantivy_row = next(row for row in rows if row and row[0] == "tantivy")
    assert float(tantivy_row[-3]) == pytest.approx(sorted(tantivy_runs)[1], abs=1e-3)
    assert int(tantivy_row[-1]) == 8
    ours_row = next(row for row in rows if row[:2] == ["200", "ours"])
    assert float(ours_row[-3]) == pytest.approx(sorted(ours_runs)[1], abs=1e-3)
    turns = re.search(r"200: ours (\d+\.\d+) / (\d+\.\d+)\s+bm25s (\d+\.\d+) / (\d+\.\d+)", out)
    assert turns and all(float(x) > 0 for x in turns.groups())
    # Half the questions are CMRC's: graded by the answer in the snippet and within its first
    # 100 characters, ours beside bm25s.
    graded = re.search(
        r"200: (\d+) questions\s+ours (\d\.\d+) / (\d\.\d+)\s+tantivy (\d\.\d+) / (\d\.\d+)"
        r"\s+bm25s (\d\.\d+) / (\d\.\d+)",
        out,
    )
    assert graded and int(graded.group(1)) >= 3
    ours, ours_first, tantivy, tantivy_first, base, base_first = (float(graded.group(k)) for k in range(2, 8))
    assert ours > 0.0 and 0.0 <= base <= 1.0 and 0.0 <= tantivy <= 1.0
    assert ours_first <= ours and base_first <= base and tantivy_first <= tantivy


def test_bench_json_figures(tmp_path, capsys, monkeypatch) -> None:
    # The JSON report is built from the same dict as the table.
    report = {"machine": {"cpus": 2, "python": "3"}, "questions": 1, "sizes": [], "seed": synthetic.SEED}
    text = format_report(report)
    assert "p50 ms" in text
    json.dumps(report)


def _bm25_by_brute_force(search_index: search.SearchIndex, terms: list[Term]) -> np.ndarray:
    """Every document's BM25, in float64, straight from the definition."""
    scores = np.zeros(search_index.size)
    avgdl = search_index.avgdl
    for term in terms:
        df = search_index.df(term.text)
        idf = np.log(1.0 + (search_index.size - df + 0.5) / (df + 0.5))
        for base, segment in zip(search_index.bases, search_index.segments, strict=True):
            row = segment.terms.get(term.text)
            if row is None:
                continue
            docs = segment.docs[segment.indptr[row] : segment.indptr[row + 1]]
            tf = segment.tfs[segment.indptr[row] : segment.indptr[row + 1]].astype(np.float64)
            norm = search.K1 * (1 - search.B + search.B * segment.doc_len[docs] / avgdl)
            scores[docs + base] += idf * term.weight * tf * (search.K1 + 1) / (tf + norm)
    return scores


def test_systems_take_turns_at_going_first() -> None:
    """The latency runs rotate who goes first (two systems alternate), every system runs in every
    run once, and none always runs right after the same one."""
    for names in (["ours", "tantivy"], ["ours", "bm25s", "tantivy"]):
        orders = [turn_order(names, run) for run in range(len(names) * 2)]
        assert all(sorted(order) == sorted(names) for order in orders)
        assert {order[0] for order in orders} == set(names)
        for name in names:
            before = {order[order.index(name) - 1] for order in orders if order.index(name) > 0}
            assert len(before) == len(names) - 1 or len(names) == 2
    assert [turn_order(["ours", "tantivy"], run)[0] for run in range(3)] == ["ours", "tantivy", "ours"]


@pytest.mark.parametrize("warm", [False, True])
def test_search_returns_the_brute_force_top_k(sources, monkeypatch, warm: bool) -> None:
    from bot.article import Article

    records = synthetic.generate_articles(400, sources)
    articles = [Article(id=r["id"], title=r["title"], paragraphs=tuple(r["body"].split("\n"))) for r in records]
    analyzer = Analyzer(load_lexicon())
    segments = [index.build_segment(articles[lo : lo + 150], analyzer) for lo in range(0, len(articles), 150)]
    questions = [*synthetic.make_questions(records, 60), "区", "郑州市二七区的工作情况", "不存在的词语组合"]
    # Two segments, then a third added (as a new page is): global statistics, doc numbers and
    # impacts worked out ahead must follow the new average length.
    search_index = search.SearchIndex(segments[:2])
    for segment in (None, segments[2]):
        if segment is not None:
            search_index.add(segment)
        if warm:
            search_index.warm()
        assert all(i is not None for i in search_index._impacts) is warm
        for question in questions:
            terms = [Term(t, w) for t, w in zip(analyzer.terms(question), [1.0, 0.8] * 50, strict=False)]
            want = _bm25_by_brute_force(search_index, terms)
            for k in (1, 3, 6, 50):
                hits = search_index.search(terms, k=k)
                best = np.sort(want[want > 0])[::-1][:k]
                np.testing.assert_allclose(hits.scores, best, rtol=1e-5)
                np.testing.assert_allclose(want[hits.docs], hits.scores, rtol=1e-5)

    # Impacts worked out ahead are the ones worked out per question, bit for bit.
    cold, warmed = search.SearchIndex(segments), search.SearchIndex(segments)
    warmed.warm()
    for question in questions[:20]:
        terms = [Term(t) for t in analyzer.terms(question)]
        np.testing.assert_array_equal(warmed.search(terms, k=5).scores, cold.search(terms, k=5).scores)
    # Past the memory budget a segment keeps no impacts: still the same answers.
    monkeypatch.setattr(search, "IMPACT_CACHE_MAX", len(segments[0].docs))
    partial = search.SearchIndex(segments)
    partial.warm()
    assert partial._impacts[0] is not None and partial._impacts[1] is None
    for question in questions[:20]:
        terms = [Term(t) for t in analyzer.terms(question)]
        np.testing.assert_array_equal(partial.search(terms, k=5).scores, cold.search(terms, k=5).scores)


def test_fetch_bench_fetches_a_local_edition_once() -> None:
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fetch", "--articles", "30"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "30 articles added, 0 failed" in result.stdout and "0 added (nothing new expected)" in result.stdout
