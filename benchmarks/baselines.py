"""The two plain baselines, tokenized with jieba (on 2 worker processes, like our build).

(a) `rapidfuzz`: `process.extractOne` with `fuzz.token_set_ratio` of the jieba-cut question
against every jieba-cut article; (b) `bm25s`: `bm25s.BM25` over `jieba.lcut` tokens
(punctuation dropped), retrieve k=1. Their heavy imports stay inside the functions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .synthetic import split_sentences

FUZZ_FULL_MAX = 2_000  # above this many articles the rapidfuzz scan times a sample only
FUZZ_SAMPLE = 30
WORKERS = 2
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
