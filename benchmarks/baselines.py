"""The baselines, tokenized on 2 worker processes, like our build.

(a) `rapidfuzz`: `process.extractOne` with `fuzz.token_set_ratio` of the jieba-cut question
against every jieba-cut article; (b) `bm25s`: `bm25s.BM25` over `jieba.lcut` tokens
(punctuation dropped), retrieve k=1; (c) `tantivy` (tantivy-py): the corpus streamed through
rjieba (jieba's dictionary and tokens, HMM on as `jieba.lcut`, punctuation dropped, lower-cased)
on 2 forked processes, indexed as whitespace-separated tokens (term frequencies, no positions)
by 2 indexing threads into an index on disk that a searcher memory-maps; a question is cut the
same way and searched as OR of its terms (BM25), top-1, the article id read from the stored
field. Their heavy imports stay inside the functions.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from .synthetic import split_sentences

FUZZ_FULL_MAX = 2_000  # above this many articles the rapidfuzz scan times a sample only
FUZZ_SAMPLE = 30
WORKERS = 2
TANTIVY_THREADS = 2
TANTIVY_HEAP = 256 * 2**20  # the writer's whole heap, split between its threads
TANTIVY_CHUNK = 1000  # articles a tokenizing task
_WORD_RE = re.compile(r"\w")

_TOKEN_TEXTS: list[str] = []


def _jieba_chunk(bounds: tuple[int, int]) -> list[list[str]]:
    import jieba

    lo, hi = bounds
    return [[t.lower() for t in jieba.lcut(text) if _WORD_RE.search(t)] for text in _TOKEN_TEXTS[lo:hi]]


def jieba_tokenize(text: str) -> list[str]:
    import jieba

    return [t.lower() for t in jieba.lcut(text) if _WORD_RE.search(t)]


def jieba_all(texts: list[str], workers: int = WORKERS) -> list[list[str]]:
    """jieba.lcut over every text, on `workers` forked processes (this child is single-threaded)."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    global _TOKEN_TEXTS
    _TOKEN_TEXTS = texts
    if workers <= 1 or len(texts) < 2000:
        return _jieba_chunk((0, len(texts)))
    import multiprocessing

    step = max(500, len(texts) // (workers * 8))
    bounds = [(lo, min(len(texts), lo + step)) for lo in range(0, len(texts), step)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_jieba_chunk, bounds, chunksize=1)
    return [tokens for part in parts for tokens in part]


def bm25s_searcher(folder: Path):
    import bm25s
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    retriever = bm25s.BM25.load(str(folder))
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))

    def search(question: str) -> str | None:
        tokens = [t for t in jieba_tokenize(question) if t in retriever.vocab_dict and t]
        if not tokens:  # nothing of the question is in the corpus
            return None
        docs, _scores = retriever.retrieve([tokens], k=1, show_progress=False, n_threads=1)
        return ids[int(docs[0][0])]

    return search


def fuzz_searcher(folder: Path):
    import pickle

    import jieba
    from rapidfuzz import fuzz, process

    jieba.setLogLevel(60)
    jieba.initialize()
    with (folder / "segmented.pkl").open("rb") as handle:
        data = pickle.load(handle)
    ids, texts = data["ids"], data["texts"]

    def search(question: str) -> str | None:
        match = process.extractOne(
            " ".join(jieba_tokenize(question)), texts, scorer=fuzz.token_set_ratio, processor=None
        )
        return ids[match[2]] if match else None

    return search


def best_sentence(body: str, question_tokens: set[str]) -> str:
    best, best_score = "", -1
    for sentence in split_sentences(body.splitlines()) or [body]:
        score = len(set(jieba_tokenize(sentence)) & question_tokens)
        if score > best_score:
            best, best_score = sentence, score
    return best[:200]


# ---------------------------------------------------------------- tantivy

_RJIEBA = None


def rjieba_tokenize(text: str) -> list[str]:
    """jieba.lcut's tokens (same dictionary, HMM on) through rjieba: lower-cased, punctuation dropped."""
    global _RJIEBA
    if _RJIEBA is None:
        import rjieba

        _RJIEBA = rjieba.Jieba()
    return [t.lower() for t in _RJIEBA.cut(text, True) if _WORD_RE.search(t)]


def _segment_lines(lines: list[bytes]) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        record = json.loads(line)
        out.append((record["id"], " ".join(rjieba_tokenize(f"{record['title']}\n{record['body']}"))))
    return out


def _line_chunks(path: Path, size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                chunk.append(line)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk


def tantivy_build(
    plain: Path,
    out: Path,
    *,
    workers: int = WORKERS,
    threads: int = TANTIVY_THREADS,
    heap: int = TANTIVY_HEAP,
    tick: Callable[[int], None] | None = None,
) -> dict:
    """Stream a JSONL corpus into a Tantivy index at `out`: at most a few chunks of articles in
    memory at once (tokenizing runs ahead of indexing by `workers * 3` chunks, no more)."""
    import multiprocessing

    import tantivy

    started = time.perf_counter()
    # The pool is forked before tantivy starts any thread.
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    schema = builder.build()
    out.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(out), reuse=False)
    writer = index.writer(heap, threads)
    count = 0

    def add(pairs: list[tuple[str, str]]) -> None:
        nonlocal count
        for article_id, body in pairs:
            writer.add_document(tantivy.Document(id=article_id, body=body))
        count += len(pairs)
        if tick:
            tick(len(pairs))

    try:
        if pool is None:
            for chunk in _line_chunks(plain, TANTIVY_CHUNK):
                add(_segment_lines(chunk))
        else:
            pending: deque = deque()
            for chunk in _line_chunks(plain, TANTIVY_CHUNK):
                pending.append(pool.apply_async(_segment_lines, (chunk,)))
                if len(pending) >= workers * 3:
                    add(pending.popleft().get())
            while pending:
                add(pending.popleft().get())
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    indexed = time.perf_counter()
    writer.commit()
    writer.wait_merging_threads()
    committed = time.perf_counter()
    index.reload()
    searcher = index.searcher()
    return {
        "build_s": committed - started,
        "commit_s": committed - indexed,
        "articles": count,
        "docs": searcher.num_docs,
        "segments": searcher.num_segments,
    }


def tantivy_searcher(folder: Path):
    import tantivy

    index = tantivy.Index.open(str(folder))
    schema = index.schema
    searcher = index.searcher()
    should = tantivy.Occur.Should

    def search(question: str) -> str | None:
        terms = dict.fromkeys(rjieba_tokenize(question))
        if not terms:
            return None
        query = tantivy.Query.boolean_query([(should, tantivy.Query.term_query(schema, "body", t)) for t in terms])
        hits = searcher.search(query, 1).hits
        if not hits:
            return None
        return searcher.doc(hits[0][1])["id"][0]

    return search
