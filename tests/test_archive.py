"""The archive at scale, on small corpora: articles kept as arrays read one at a time, search that
prunes long lists, large feeds built in parts that resume, and small segments merged — each the
same answers as the plain path it stands in for."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks import synthetic
from bot import index, loader, search
from bot.article import Article, Byline
from bot.article_store import ArticleShelf, ArticleStore
from bot.engine import MERGE_AFTER
from bot.library import Library
from bot.loader import load_engine
from bot.text import Term

from .conftest import SEEDS

pytestmark = pytest.mark.slow  # synthetic corpora built several ways: seconds each


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return synthetic.generate_articles(1500, synthetic.Sources())


def _feed(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_store_gives_back_every_field_and_finds_ids() -> None:
    articles = [
        Article(id="x1", title="标题", paragraphs=("第一段", "第二段"), kicker="引题", subtitle="副题",
                byline=Byline(("张三",), ("李四",), "记者 张三 通讯员 李四"), districts=("二七区", "中原区"),
                date="2024-03-01", url="https://example.com/a", source="p.txt", kind="caption", order=3),
        Article(id="a0", title="另一篇", paragraphs=("正文",)),
    ]  # fmt: skip
    store = ArticleStore.of(articles)
    assert [store.article(i) for i in range(2)] == articles
    assert store.number_of("a0") == 1 and store.number_of("x1") == 0 and store.number_of("zz") is None
    assert store.districts_of(0) == ("二七区", "中原区") and store.districts_of(1) == ()
    joined = ArticleStore.joined(
        [store, ArticleStore.of([Article(id="b", title="t", paragraphs=("p",), districts=("中原区",))])]
    )
    shelf = ArticleShelf([joined])
    assert list(shelf) == [*articles, Article(id="b", title="t", paragraphs=("p",), districts=("中原区",))]
    assert shelf.number_of("b") == 2 and shelf.districts_of(2) == ("中原区",) and shelf[-1].id == "b"
    # Ids of another width: an id as long as the store's widest is found, a longer one is not
    # there (and is answered without searching), whichever store of the shelf holds it.
    wide = ArticleStore.of([Article(id="web-000123", title="t2", paragraphs=("p2",))])
    shelf = ArticleShelf([store, wide])
    assert store.number_of("x1") == 0 and store.number_of("x1a") is None and wide.number_of("web-00012") is None
    assert shelf.number_of("web-000123") == 2 and shelf.number_of("x1") == 0 and shelf.number_of("web-0001234") is None


def test_a_shelf_finds_articles_by_url_and_title_through_its_columns() -> None:
    # What `fetch` asks of a million articles for each page it finds, reading only the matches.
    at_a = Article(id="f1", title="郑州 金水区 新闻", paragraphs=("一",), url="https://x.cn/a")
    also_a = Article(id="f2", title="别的", paragraphs=("二",), url="https://x.cn/a")
    elsewhere = Article(id="f3", title="鄭州金水區新聞", paragraphs=("三",), url="https://x.cn/b")
    no_url = Article(id="f4", title="无链接", paragraphs=("四",))
    first = ArticleStore.of([at_a, no_url])
    shelf = ArticleShelf([first, ArticleStore.of([also_a, elsewhere])])
    for found in (shelf, ArticleShelf([ArticleStore.joined(shelf.stores)])):
        assert found.with_url("https://x.cn/a") == [at_a, also_a]
        assert found.with_url("https://x.cn/c") == [] and found.with_url("") == []
        assert found.titled("郑州金水区新闻") == [at_a, elsewhere]  # spacing and script aside
        assert found.titled("郑州二七区新闻") == [] and found.titled("无链接") == [no_url]


def test_the_archives_tally_is_what_counting_its_articles_gives(records: list[dict], tmp_path: Path) -> None:
    """`stats` counts districts, dates, captions and sources from the columns, never reading a
    record (minutes at a million articles): the same counts, ties in the same order, as counting
    the articles one by one — across stores, with captions and articles without any of them."""
    engine = load_engine(SEEDS)
    seeds = list(engine.articles)
    bare = [Article(id=f"b{i}", title="无区县", paragraphs=("正文",)) for i in range(3)]
    caption = Article(id="c1", title="图片新闻", paragraphs=("说明",), kind="caption", districts=("中原区", "二七区"))
    articles = [*bare[:1], *seeds[:20], caption, *bare[1:], *seeds[20:]]
    shelf = ArticleShelf([ArticleStore.of(articles[:12]), ArticleStore.of(articles[12:])])
    tally = shelf.tally()
    by_district = Counter(a.districts[0] if a.districts else None for a in articles)
    assert list(tally.by_district.items()) == list(by_district.items())
    assert list(tally.mentions.items()) == list(Counter(d for a in articles for d in a.districts).items())
    assert list(tally.by_date.items()) == list(Counter(a.date for a in articles).items())
    assert list(tally.by_source.items()) == list(Counter(a.source or None for a in articles).items())
    assert tally.captions == sum(a.kind == "caption" for a in articles) > 1  # the seeds' and the one added
    assert None in tally.by_district and None in tally.by_source and len(tally.by_date) > 2


def test_cached_records_are_read_from_their_own_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = load_engine(SEEDS, cache_dir=cache)
    again = load_engine(SEEDS, cache_dir=cache)
    assert again.report.cached == again.report.files and list(again.articles) == list(first.articles)
    files = sorted(cache.glob("*.records"))
    assert len(files) == again.report.files
    files[0].write_bytes(files[0].read_bytes()[:-5])  # damaged: that file is built again, the corpus still loads
    third = load_engine(SEEDS, cache_dir=cache)
    assert third.report.built == 1 and list(third.articles) == list(first.articles)


def _exhaustive_and_pruned(segments: list[index.Segment], terms: list[Term], k: int, monkeypatch) -> tuple:
    assert search.compiled_search(wait=None) is not None
    searcher = search.SearchIndex(segments)
    monkeypatch.setattr(search, "EXHAUSTIVE_MAX_ARTICLES", 10**12)
    full = searcher.search(terms, k=k)
    monkeypatch.setattr(search, "EXHAUSTIVE_MAX_ARTICLES", 0)
    pruned = searcher.search(terms, k=k)
    return full, pruned


def test_the_compiled_search_scores_as_the_index_does() -> None:
    from bot import topk_loops

    assert np.float32(search.K1 + 1.0) == topk_loops._K1_PLUS_1


def test_a_large_archive_search_finds_the_exhaustive_top_k(records: list[dict], tmp_path: Path, monkeypatch) -> None:
    """The compiled MaxScore search (bot/topk.py) returns the top k that scoring every posting
    returns, over one segment and over two (shared threshold, or one thread each; two threads
    taking pieces of a few hundred documents, one segment cut in pieces too), for k small and
    large — and gets there adding up fewer postings than the lists hold."""
    from bot import topk

    engine = load_engine(_feed(tmp_path / "feed.jsonl", records))
    segments = engine.index.segments
    halves = [index.build_segment(list(engine.articles)[:700], engine.analyzer),
              index.build_segment(list(engine.articles)[700:], engine.analyzer)]  # fmt: skip
    skipped = compared = 0
    for question in synthetic.make_questions(records, 120):
        _, terms = engine.analyzer.question_terms(question)
        for parts, threads in ((segments, 1), (segments, 2), (halves, 1), (halves, 2)):
            monkeypatch.setattr(topk, "PARALLEL_MIN_POSTINGS", 0 if threads == 2 else 10**12)
            monkeypatch.setattr(topk, "PIECE_DOCS", 300)
            for k in (1, 3, 12):
                full, pruned = _exhaustive_and_pruned(parts, terms, k, monkeypatch)
                assert len(full.docs) == len(pruned.docs), question
                np.testing.assert_allclose(pruned.scores, full.scores, rtol=1e-5)
                ties = full.scores[-1] if len(full.scores) else 0
                assert set(full.docs[full.scores > ties].tolist()) <= set(pruned.docs.tolist()), question
                held = sum(engine.index.df(term.text) for term in terms)
                skipped += pruned.postings_scored < held
                compared += 1
    assert skipped > compared // 2  # most questions skipped postings: lists probed, not all scored


def test_a_terms_plan_is_kept_by_its_index_until_the_index_changes(
    records: list[dict], tmp_path: Path, monkeypatch
) -> None:
    """An index looks up a term's rows and idf once and keeps them (residents' questions share
    their words), a bounded number of them; a segment added makes it look them up anew: the hits
    and idf are always those of an index built fresh."""
    engine = load_engine(_feed(tmp_path / "feed.jsonl", records[:900]))
    articles = list(engine.articles)
    first, second = (index.build_segment(articles[:450], engine.analyzer),
                     index.build_segment(articles[450:], engine.analyzer))  # fmt: skip
    questions = [engine.analyzer.question_terms(q)[1] for q in synthetic.make_questions(records[:900], 12)]
    monkeypatch.setattr(search, "PLANS_KEPT", 50)
    for largest_exhaustive in (10**12, 0):  # numpy's path and the compiled one
        monkeypatch.setattr(search, "EXHAUSTIVE_MAX_ARTICLES", largest_exhaustive)
        growing, fresh = search.SearchIndex([first]), search.SearchIndex([first])
        for stage in (1, 2):
            for terms in questions * 2 if stage == 1 else questions[::-1]:  # the last one first again
                kept, new = growing.search(terms, k=4), fresh.search(terms, k=4)
                assert kept.idf == new.idf and kept.docs.tolist() == new.docs.tolist()
                assert 0 < len(growing._plans) <= 50
                fresh = search.SearchIndex(fresh.segments)  # nothing kept
            if stage == 1:
                growing.add(second)
                fresh = search.SearchIndex([first, second])


def test_copies_of_one_text_rank_in_the_order_they_were_indexed(
    records: list[dict], tmp_path: Path, monkeypatch
) -> None:
    """Equal scores go to the lower doc number, on either path and however two threads split the
    work: the same hits every time, not whichever thread reported its copy first."""
    from bot import topk

    engine = load_engine(_feed(tmp_path / "feed.jsonl", records[:1200]))
    articles = list(engine.articles)
    original = articles[11]  # its title finds it first by far
    copies = [replace(original, id=f"copy{n}") for n in range(5)]  # what dedupe would drop: kept here
    ordered = [*articles[:3], *copies[:2], *articles[3:600], *copies[2:], *articles[600:]]
    parts = [index.build_segment(ordered[i : i + 400], engine.analyzer) for i in range(0, len(ordered), 400)]
    monkeypatch.setattr(topk, "PARALLEL_MIN_POSTINGS", 0)
    monkeypatch.setattr(topk, "PIECE_DOCS", 100)
    _, terms = engine.analyzer.question_terms(original.title)
    seen = set()
    for _ in range(5):
        full, pruned = _exhaustive_and_pruned(parts, terms, 4, monkeypatch)
        seen.add(tuple(pruned.docs.tolist()))
        assert pruned.docs.tolist() == full.docs.tolist()
    assert len(seen) == 1
    (docs,) = seen
    assert [ordered[d].id for d in docs] == ["copy0", "copy1", original.id, "copy2"]  # copies 3, 4 tie, later
    _, unknown = engine.analyzer.question_terms("彁彁")  # no segment holds it: no lists, no hits
    assert not len(_exhaustive_and_pruned(parts, unknown, 4, monkeypatch)[1].docs)


def test_a_search_never_waits_for_a_helper_that_does_not_come(records: list[dict], tmp_path: Path, monkeypatch) -> None:
    """The segments are shared with a helper thread; one that sleeps and is not woken (an idle
    virtual core can take milliseconds), or is busy with another thread's question, leaves every
    piece to the question's own thread, which does not wait for it."""
    from bot import topk, topk_helper

    engine = load_engine(_feed(tmp_path / "feed.jsonl", records))
    articles = list(engine.articles)
    parts = [index.build_segment(articles[i : i + 500], engine.analyzer) for i in range(0, 1500, 500)]
    monkeypatch.setattr(topk, "PARALLEL_MIN_POSTINGS", 0)
    monkeypatch.setattr(topk, "PIECE_DOCS", 100)
    _, terms = engine.analyzer.question_terms(synthetic.make_questions(records, 1)[0])
    expected, _ = _exhaustive_and_pruned(parts, terms, 3, monkeypatch)
    searcher = search.SearchIndex(parts)

    def asked_on_a_thread() -> search.Hits:
        found: list[search.Hits] = []
        question = threading.Thread(target=lambda: found.append(searcher.search(terms, k=3)))
        question.start()
        question.join(timeout=60)
        assert found, "the search waited for the helper"
        return found[0]

    state = topk_helper._STATE
    searcher.search(terms, k=3)  # the helper has this index's job; now it is put to sleep, unwoken
    assert state.job is not None
    state.job.control[topk_helper._STOP] = 1
    time.sleep(0.1)
    monkeypatch.setattr(state, "wake", threading.Event())  # what the question sets wakes no one
    helped = topk_helper.helped()
    assert asked_on_a_thread().docs.tolist() == expected.docs.tolist()
    assert topk_helper.helped() == helped  # every piece searched by the question's thread
    with state.lock:  # busy with another thread's question
        assert asked_on_a_thread().docs.tolist() == expected.docs.tolist()


def test_questions_in_a_row_share_their_pieces_with_the_helper(
    records: list[dict], tmp_path: Path, monkeypatch
) -> None:
    """The helper, awake between questions that come one after another, takes pieces of them; the
    hits are the exhaustive ones, from questions asked on two threads at once too (one of them
    searches alone), and after the index changes (a new job)."""
    from bot import topk, topk_helper

    engine = load_engine(_feed(tmp_path / "feed.jsonl", records))
    articles = list(engine.articles)
    parts = [index.build_segment(articles[i : i + 500], engine.analyzer) for i in range(0, 1500, 500)]
    monkeypatch.setattr(topk, "PARALLEL_MIN_POSTINGS", 0)
    monkeypatch.setattr(topk, "PIECE_DOCS", 20)  # 75 pieces a question: long enough to be shared
    questions = [engine.analyzer.question_terms(q)[1] for q in synthetic.make_questions(records, 40)]
    expected = [_exhaustive_and_pruned(parts, terms, 3, monkeypatch)[0].docs.tolist() for terms in questions]
    searcher = search.SearchIndex(parts)
    helped = topk_helper.helped()
    for _ in range(3):
        assert [searcher.search(terms, k=3).docs.tolist() for terms in questions] == expected
    assert topk_helper.helped() > helped

    answers: dict[int, list[list[int]]] = {0: [], 1: []}

    def ask_all(thread: int) -> None:
        answers[thread] = [searcher.search(terms, k=3).docs.tolist() for terms in questions]

    askers = [threading.Thread(target=ask_all, args=(n,)) for n in (0, 1)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=120)
    assert answers[0] == expected and answers[1] == expected
    grown = search.SearchIndex([*parts, index.build_segment(articles[:200], engine.analyzer)])
    for terms in questions[:10]:  # the same articles twice: the exhaustive hits of the grown index
        full, pruned = _exhaustive_and_pruned(grown.segments, terms, 3, monkeypatch)
        assert pruned.docs.tolist() == full.docs.tolist()


def test_a_job_calls_its_loops_without_numbas_dispatcher(records: list[dict], tmp_path: Path, monkeypatch) -> None:
    """numba's dispatcher works out the types of the loops' tuples and typed lists on every call
    (~85 µs a question at a million articles); a job finds its compiled loops once and calls them
    directly, the question's thread and the helper both."""
    from bot import topk, topk_helper

    engine = load_engine(_feed(tmp_path / "feed.jsonl", records))
    articles = list(engine.articles)
    parts = [index.build_segment(articles[i : i + 500], engine.analyzer) for i in range(0, 1500, 500)]
    monkeypatch.setattr(topk, "PARALLEL_MIN_POSTINGS", 0)
    monkeypatch.setattr(topk, "PIECE_DOCS", 20)
    questions = [engine.analyzer.question_terms(q)[1] for q in synthetic.make_questions(records, 20)]
    expected = [_exhaustive_and_pruned(parts, terms, 3, monkeypatch)[0].docs.tolist() for terms in questions]
    searcher = search.SearchIndex(parts)
    searcher.search(questions[0], k=3)  # the job for this index

    def through_the_dispatcher(*args: object) -> None:
        raise AssertionError("called through numba's dispatcher")

    monkeypatch.setattr(topk_helper, "_lead", through_the_dispatcher)
    monkeypatch.setattr(topk_helper, "_serve", through_the_dispatcher)
    helped = topk_helper.helped()
    for _ in range(3):
        assert [searcher.search(terms, k=3).docs.tolist() for terms in questions] == expected
    assert topk_helper.helped() > helped


def test_a_jobs_typed_lists_are_made_by_compiled_code_as_python_would_make_them() -> None:
    """A job's typed lists come from two compiled functions numba caches (List(...) from Python
    compiles the list's methods in every process: 2.2-2.7 s of a start at a million articles);
    their type is the one the cached loops were compiled for."""
    import numba
    from numba.typed import List

    from bot import topk_helper

    mapped = tuple(np.arange(n, dtype=np.int32) for n in (3, 0, 5))
    for array in mapped:
        array.flags.writeable = False  # as cached segments are mapped
    norms = (np.ones(4, dtype=np.float32), np.zeros(2, dtype=np.float32))
    for arrays in (mapped, norms):
        made = topk_helper._typed_list(arrays)
        assert numba.typeof(made) == numba.typeof(List(arrays))
        assert [item.tolist() for item in made] == [array.tolist() for array in arrays]
    assert topk_helper._list_of._cache.__class__.__name__ == "FunctionCache"
    assert topk_helper._append._cache.__class__.__name__ == "FunctionCache"
    with pytest.raises(ValueError):
        topk_helper._typed_list(())


def test_the_helpers_spin_is_the_operators_to_set(monkeypatch) -> None:
    """20 ms by default; `run --workers` sets 0 for its workers (the helper sleeps after each
    question, leaving the core to another worker's)."""
    from bot import topk_helper

    monkeypatch.delenv("DISTRICT_NEWS_SEARCH_SPIN_MS", raising=False)
    assert topk_helper._spin_seconds() == 0.02
    assert topk_helper._spin_rounds(0.002) > 0
    monkeypatch.setenv("DISTRICT_NEWS_SEARCH_SPIN_MS", "0")
    assert topk_helper._spin_rounds(topk_helper._spin_seconds()) == 0
    monkeypatch.setenv("DISTRICT_NEWS_SEARCH_SPIN_MS", "5")
    assert topk_helper._spin_seconds() == 0.005


def _row_max(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    full = indptr[:-1] < indptr[1:]
    out[full] = np.maximum.reduceat(values, indptr[:-1][full])
    return out


def test_a_terms_bound_holds_every_impact_built_merged_and_as_the_archive_grows(records: list[dict]) -> None:
    """The bound the index keeps per term (MaxScore's estimate of what a list can add) is the
    largest impact of a built segment, and stays above every impact of a merged one and of any
    archive it joins, whose average length moves both ways."""
    engine = load_engine(SEEDS)
    articles = list(engine.articles)
    first = index.build_segment(articles[: len(articles) // 2], engine.analyzer)
    second = index.build_segment(articles[len(articles) // 2 :], engine.analyzer)
    merged = index.merge_segments([first, second])
    long_ones = [Article(id=f"l{i}", title=a.title, paragraphs=a.paragraphs * 12) for i, a in enumerate(articles[:5])]
    short_ones = [Article(id=f"s{i}", title=a.title, paragraphs=()) for i, a in enumerate(articles[:40])]
    longer, shorter = (index.build_segment(batch, engine.analyzer) for batch in (long_ones, short_ones))
    own = search.SearchIndex([first])
    exact = _row_max(search._impacts_of(first.tfs, first.docs, own._doc_norms()[0]), first.indptr)
    np.testing.assert_allclose(first.bounds, exact, rtol=1e-6)  # tight: the largest impact itself
    assert (first.bounds < search.K1 + 1.0).all()
    moved = []
    for parts in ([first, second], [merged], [merged, longer], [first, shorter], [merged, longer, shorter]):
        searcher = search.SearchIndex(parts)
        moved.append(searcher.avgdl)
        for segment, norms in zip(parts, searcher._doc_norms(), strict=True):
            impacts = _row_max(search._impacts_of(segment.tfs, segment.docs, norms), segment.indptr)
            bounds = segment.bounds.astype(np.float64) * segment.bound_scale(searcher.avgdl)
            assert (impacts <= bounds * (1 + 1e-5)).all()
    assert min(moved) < merged.bounds_avgdl < max(moved)
    empty = index.build_segment([], engine.analyzer)  # the last part of a feed can hold nothing
    assert len(empty.bounds) == 0 and len(index.merge_segments([first, empty]).bounds) == len(first.bounds)


def test_a_large_archive_is_searched_exhaustively_while_its_compiled_search_loads(
    records: list[dict], tmp_path: Path, monkeypatch
) -> None:
    engine = load_engine(_feed(tmp_path / "feed.jsonl", records))
    monkeypatch.setattr(search, "EXHAUSTIVE_MAX_ARTICLES", 0)
    monkeypatch.setattr(search, "_COMPILED", [])  # still loading past its wait (a first compile): none yet
    loading = threading.Event()
    thread = threading.Thread(target=loading.wait)
    thread.start()
    monkeypatch.setattr(search, "_COMPILING", [(thread, time.monotonic())])
    try:
        started = time.monotonic()
        assert search.compiled_search() is None
        _, terms = engine.analyzer.question_terms(synthetic.make_questions(records, 1)[0])
        hits = engine.index.search(terms, k=3)
        assert time.monotonic() - started < 1.0  # past the deadline, a question does not wait for it
        assert len(hits.docs) == 3
        assert hits.postings_scored == sum(engine.index.df(term.text) for term in terms)  # every posting
    finally:
        loading.set()
        thread.join()


def test_a_large_feed_is_built_in_parts_and_resumes(records: list[dict], tmp_path: Path, monkeypatch) -> None:
    feed = _feed(tmp_path / "corpus" / "archive.jsonl", records)
    plain = load_engine(feed)
    monkeypatch.setattr(loader, "STREAM_MIN_BYTES", 1)
    monkeypatch.setattr(loader, "CHUNK_ARTICLES", 400)
    cache = tmp_path / "cache"
    built = 0
    real_build = loader.build_segment

    def interrupted(articles, analyzer, progress=None):
        nonlocal built
        built += 1
        if built == 3:
            raise KeyboardInterrupt  # killed during the third part
        return real_build(articles, analyzer, progress)

    monkeypatch.setattr(loader, "build_segment", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_engine(feed.parent, cache_dir=cache)
    assert len(list(cache.glob("*.0.seg"))) == 1 and len(list(cache.glob("*.1.seg"))) == 1
    built = 10  # no more interruptions; count what the resumed build segments
    resumed = load_engine(feed.parent, cache_dir=cache)
    assert built == 10 + 2  # parts 2 and 3 (400 + 300 articles), not 0 and 1 again
    assert len(resumed.articles) == len(plain.articles) == len(records)
    assert [a.id for a in resumed.articles] == [a.id for a in plain.articles]
    for question in synthetic.make_questions(records, 40):
        a, b = plain.answer(question), resumed.answer(question)
        assert (a.article and a.article.id) == (b.article and b.article.id), question
    again = load_engine(feed.parent, cache_dir=cache)
    assert again.report.built == 0 and again.report.cached == 1
    assert len(again.index.segments) == 1  # small parts: merged on load


def test_small_segments_added_one_by_one_are_merged_in_the_background(tmp_path: Path) -> None:
    library = Library.open(SEEDS)
    before = len(library.engine.index.segments)
    question = "清华附中什么时候投入使用？"
    expected = library.ask(question).answer
    for day in range(MERGE_AFTER + 1):
        library.add([Article(id=f"d{day}", title=f"第{day}天的新闻", paragraphs=(f"今天是第{day}天，天气晴。",))])
    deadline = time.monotonic() + 10
    while len(library.engine.index.segments) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The seeds and the 9 pages are all small: merged into one (the last page may come after
    # the merge that swallowed the others, and stay on its own until more follow).
    assert before == 1 and len(library.engine.index.segments) <= 2
    assert len(library.articles) == library.engine.index.size == 44 + MERGE_AFTER + 1
    engine = library.engine
    hits = engine.index.search(engine.analyzer.question_terms("第3天的新闻")[1], k=1)
    assert library.get("d3") is not None and engine.articles[int(hits.docs[0])].id == "d3"
    answer = library.ask(question).answer
    assert answer.article.id == expected.article.id and answer.snippet.text == expected.snippet.text


def test_only_the_dictionaries_key_the_cache(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(SEEDS.parent / "config", config)
    before = loader.config_fingerprint(config)
    (config / "container.yaml").write_text("cache_dir: /elsewhere\n", encoding="utf-8")
    (config / "bot.yaml").write_text("latest_default: 3\n", encoding="utf-8")
    assert loader.config_fingerprint(config) == before  # settings: the index stays
    with (config / "aliases.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n新词: 旧词\n")
    assert loader.config_fingerprint(config) != before  # a dictionary: rebuilt


def test_without_the_impact_cache_search_gives_the_same(monkeypatch) -> None:
    engine = load_engine(SEEDS)
    _, terms = engine.analyzer.question_terms("清华附中什么时候投入使用")
    cached = search.SearchIndex(engine.index.segments)
    cached.warm()
    monkeypatch.setenv("DISTRICT_NEWS_IMPACT_CACHE_MB", "0")  # as run --workers sets for its workers
    bare = search.SearchIndex(engine.index.segments)
    bare.warm()
    assert all(i is not None for i in cached._impacts) and all(i is None for i in bare._impacts)
    a, b = cached.search(terms, k=5), bare.search(terms, k=5)
    np.testing.assert_array_equal(a.docs, b.docs)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_merging_in_blocks_gives_the_same_segment(monkeypatch) -> None:
    engine = load_engine(SEEDS)
    articles = list(engine.articles)
    pieces = [index.build_segment(articles[lo : lo + 9], engine.analyzer) for lo in range(0, len(articles), 9)]
    whole = index.merge_segments(pieces)
    monkeypatch.setattr(index, "MERGE_BLOCK", 7)  # rows placed a few at a time
    blocks = index.merge_segments(pieces)
    assert blocks.terms == whole.terms
    for name in ("indptr", "docs", "tfs", "doc_len"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name))
