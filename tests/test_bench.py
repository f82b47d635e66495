"""The benchmark command runs end to end on a tiny corpus; the index's scale paths agree with the plain ones.

Never timed: the figures are what `python -m bot bench` prints, not what a test asserts.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from bot import bench, index
from bot.text import Analyzer, load_lexicon


@pytest.fixture(scope="module")
def sources() -> bench._Sources:
    return bench._Sources()


def test_synthetic_corpus_is_deterministic_and_news_like(sources: bench._Sources) -> None:
    first = bench.generate_articles(60, sources)
    again = bench.generate_articles(60, sources)
    assert first == again
    assert len({r["id"] for r in first}) == 60
    assert {r["district"] for r in first} <= set(bench.DISTRICTS)
    assert len({r["district"] for r in first}) >= 8
    for record in first:
        assert 200 <= len(record["body"]) <= 1500
        assert record["title"].strip()
        assert record["district"] in record["body"]
    questions = bench.make_questions(first, 20)
    assert len(questions) == 20
    assert questions == bench.make_questions(first, 20)


def _segments_equal(a: index.Segment, b: index.Segment) -> None:
    assert a.article_ids == b.article_ids
    assert set(a.terms) == set(b.terms)
    np.testing.assert_array_equal(a.doc_len, b.doc_len)
    for term, row in a.terms.items():
        other = b.terms[term]
        np.testing.assert_array_equal(a.docs[a.indptr[row] : a.indptr[row + 1]], b.docs[b.indptr[other] : b.indptr[other + 1]])
        np.testing.assert_array_equal(a.tfs[a.indptr[row] : a.indptr[row + 1]], b.tfs[b.indptr[other] : b.indptr[other + 1]])


def test_parallel_build_merge_and_cache_agree_with_one_process(sources, monkeypatch, tmp_path) -> None:
    from bot.corpus import Article

    articles = [Article(id=r["id"], title=r["title"], paragraphs=tuple(r["body"].split("\n")))
                for r in bench.generate_articles(150, sources)]
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
    index.store_cached(path, merged)
    loaded = index.load_cached(path)
    assert isinstance(loaded, index.Segment)
    _segments_equal(serial, loaded)
    terms = [index.Term(t) for t in analyzer.terms(articles[3].headline)]
    for a, b in ((index.SearchIndex([serial]), index.SearchIndex(pieces)),
                 (index.SearchIndex([serial]), index.SearchIndex([loaded]))):
        ha, hb = a.search(terms, k=5), b.search(terms, k=5)
        np.testing.assert_array_equal(ha.docs, hb.docs)
        np.testing.assert_array_equal(ha.scores, hb.scores)
    path.write_bytes(path.read_bytes()[:100])  # truncated: a miss, not a crash
    assert index.load_cached(path) is None


def test_bench_command_prints_the_table(tmp_path, capsys) -> None:
    args = argparse.Namespace(articles=[200], questions=8, json=False, accuracy=False, out=tmp_path, quiet=True,
                              cold_runs=1)
    assert bench.run_bench(args) == 0
    out = capsys.readouterr().out
    for column in ("corpus", "system", "build s", "cache MB", "cold s", "RSS MB", "p50 ms", "p99 ms"):
        assert column in out
    rows = [line.split() for line in out.splitlines()]
    systems = {row[1] if row[0] == "200" else row[0] for row in rows if row and ("ours" in row or "bm25s" in row
                                                                                   or "rapidfuzz" in row)}
    assert {"ours", "bm25s", "rapidfuzz"} <= systems
    assert "vs bm25s" in out and "Engine.add" in out


def test_bench_json_figures(tmp_path, capsys, monkeypatch) -> None:
    # The JSON report is built from the same dict as the table.
    report = {"machine": {"cpus": 2, "python": "3"}, "questions": 1, "sizes": [], "seed": bench.SEED}
    text = bench.format_report(report)
    assert "p50 ms" in text
    json.dumps(report)
