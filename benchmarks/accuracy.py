"""Accuracy beside the speed figures: the CMRC trial (`--accuracy`), and the CMRC questions
mixed into each synthetic corpus, graded by the answer in the snippet and within its first 100
characters."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .baselines import best_sentence, jieba_all, jieba_tokenize
from .children import load_ours
from .common import CMRC_CORPUS, CMRC_QA, log, read_jsonl
from .synthetic import cmrc_questions

FIRST_CHARS = 100  # bot.evaluate.FIRST_CHARS: what a phone shows of a snippet first


_ID_RE = re.compile(r'^\{"id": "([^"]*)"')


def scale_accuracy(
    questions: list[str],
    graded: list[int],
    gold: dict[str, tuple[str, ...]],
    snippets: list[str] | None,
    picks: dict[str, list[str | None]],
    plain: Path,
) -> dict:
    """Answer in snippet, and within its first 100 characters, for the CMRC questions over this
    corpus: ours vs each baseline's best sentence of its top article (cut to 100 characters for
    the second figure). `picks`: each baseline's top article id per graded question.

    There is no single right article in a recombined corpus (a sentence may be in several), so
    only the snippet is graded: does the text shown hold an acceptable answer.
    """
    wanted = {p for name_picks in picks.values() for p in name_picks if p}
    bodies = {}
    with plain.open(encoding="utf-8") as handle:  # streamed: a million lines, a few hundred parsed
        for line in handle:
            match = _ID_RE.match(line)
            if match and match.group(1) not in wanted:
                continue
            record = json.loads(line)
            if record["id"] in wanted:
                bodies[record["id"]] = record["body"]

    def holds(text: str, question: str) -> bool:
        return any(answer in re.sub(r"\s+", "", text) for answer in gold[question])

    count = len(graded)
    result: dict = {"questions": count}
    if snippets is not None:
        ours = sum(1 for i, text in zip(graded, snippets, strict=False) if holds(text, questions[i]))
        first = sum(1 for i, text in zip(graded, snippets, strict=False) if holds(text[:FIRST_CHARS], questions[i]))
        result["ours"], result["ours_first_100"] = ours / count, first / count
    for name, name_picks in picks.items():
        base = base_first = 0
        for i, pick in zip(graded, name_picks, strict=False):
            if pick in bodies:
                sentence = best_sentence(bodies[pick], set(jieba_tokenize(questions[i])))
                base += holds(sentence, questions[i])
                base_first += holds(sentence[:FIRST_CHARS], questions[i])
        result[name], result[f"{name}_first_100"] = base / count, base_first / count
    return result


def bench_accuracy(out: Path, quiet: bool = False, engine: dict | None = None) -> dict:
    """hit@1 and answer-in-snippet on the CMRC trial for ours and the two baselines."""
    if not (CMRC_CORPUS.exists() and CMRC_QA.exists()):
        return {"error": f"missing {CMRC_CORPUS} or {CMRC_QA}"}
    import logging

    import bm25s
    from rapidfuzz import fuzz, process

    from bot.evaluate import evaluate, load_items
    from bot.library import Library

    log("[accuracy] CMRC trial: ours", quiet)
    ours = Library(load_ours({"cache": str(out / "cmrc" / "cache"), "engine": engine}, CMRC_CORPUS))
    figures = evaluate(ours, load_items(CMRC_QA)).figures()
    result = {
        "ours": {
            "hit@1": figures["top1"],
            "answer_in_snippet": figures["answer_in_snippet"],
            "answer_in_first_100": figures["answer_in_first_100"],
        }
    }

    log("[accuracy] CMRC trial: baselines", quiet)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    records = read_jsonl(CMRC_CORPUS)
    texts = [f"{r['title']}\n{r['body']}" for r in records]
    tokens = jieba_all(texts, workers=1)
    ids = [r["id"] for r in records]
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    joined = [" ".join(t) for t in tokens]
    items = cmrc_questions()
    scores = {"bm25s": [0, 0, 0], "rapidfuzz": [0, 0, 0]}
    for question, gold, answers in items:
        q_tokens = jieba_tokenize(question)
        known = [t for t in q_tokens if t in retriever.vocab_dict and t]
        top = None
        if known:
            docs, _ = retriever.retrieve([known], k=1, show_progress=False, n_threads=1)
            top = int(docs[0][0])
        fuzzy = process.extractOne(" ".join(q_tokens), joined, scorer=fuzz.token_set_ratio, processor=None)
        for name, number in (("bm25s", top), ("rapidfuzz", fuzzy[2] if fuzzy else None)):
            if number is None:
                continue
            sentence = best_sentence(records[number]["body"], set(q_tokens))
            snippet, first = re.sub(r"\s+", "", sentence), re.sub(r"\s+", "", sentence[:FIRST_CHARS])
            scores[name][0] += ids[number] == gold
            scores[name][1] += any(a in snippet for a in answers)
            scores[name][2] += any(a in first for a in answers)
    for name, (hits, in_snippet, in_first) in scores.items():
        result[name] = {
            "hit@1": round(hits / len(items), 4),
            "answer_in_snippet": round(in_snippet / len(items), 4),
            "answer_in_first_100": round(in_first / len(items), 4),
        }
    result["questions"] = len(items)
    return result
