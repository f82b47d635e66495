"""Accuracy of the engine on a QA file, graded as ../shared/qa/README.md says.

Right article: the returned headline contains, or is contained in, the gold title (or an
acceptable one), or the returned article's text contains the answer; or, for benchmark items,
the article id matches. Answer in snippet: the snippet contains the answer. Out-of-scope items
are right when the engine abstains; ambiguous ones when it answers with an acceptable title.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .article import Article
from .library import Library
from .results import Answer, Status

_SPACE_RE = re.compile(r"\s+")
FIRST_CHARS = 100


def _squash(text: str | None) -> str:
    return _SPACE_RE.sub("", text or "")


@dataclass
class QAItem:
    id: str
    question: str
    kind: str = "fact"
    titles: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    article_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> QAItem:
        titles = [data.get("title"), *(data.get("acceptable_titles") or [])]
        answers = list(data.get("acceptable_answers") or []) or [data.get("answer")]
        return cls(
            id=str(data.get("id", "")),
            question=str(data.get("question", "")),
            kind=str(data.get("kind") or "fact"),
            titles=tuple(_squash(t) for t in titles if t),
            answers=tuple(_squash(str(a)) for a in answers if a not in (None, "")),
            article_id=data.get("article_id"),
        )


def load_items(path: Path) -> list[QAItem]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("questions") or data.get("items") or []
    return [QAItem.from_dict(d) for d in data if isinstance(d, dict) and "question" in d]


def is_right_article(item: QAItem, article: Article) -> bool:
    if item.article_id:
        return article.id == item.article_id
    headline = _squash(article.headline)
    parts = [_squash(p) for p in (article.kicker, article.title, article.subtitle) if p]
    for title in item.titles:
        if title and (title in headline or headline in title or any(p == title for p in parts)):
            return True
    text = _squash(article.headline + article.body)
    return any(a in text for a in item.answers)


def answer_in_snippet(item: QAItem, answer: Answer) -> bool:
    if not answer.found or answer.snippet is None:
        return False
    snippet = _squash(answer.snippet.text)
    return any(a in snippet for a in item.answers)


def answer_up_front(item: QAItem, answer: Answer, chars: int = FIRST_CHARS) -> bool:
    """The answer within the snippet's first `chars` characters: what a phone shows first."""
    if not answer.found or answer.snippet is None:
        return False
    head = _squash(answer.snippet.text[:chars])
    return any(a in head for a in item.answers)


@dataclass
class Outcome:
    item: QAItem
    answer: Answer
    right: bool
    in_snippet: bool
    up_front: bool  # the answer within the snippet's first FIRST_CHARS characters
    rank: int | None  # 1-based rank of the first right article among answer + alternatives


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def _select(self, kinds: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> list[Outcome]:
        kinds = set(kinds) if kinds else None
        exclude = set(exclude)
        return [o for o in self.outcomes if (kinds is None or o.item.kind in kinds) and o.item.kind not in exclude]

    def figures(self) -> dict[str, float | int | None]:
        scoped = self._select(exclude=("out_of_scope", "english"))
        factual = [o for o in scoped if o.item.kind != "ambiguous"]
        oos = self._select(["out_of_scope"])
        english = self._select(["english"])
        latencies = [o.answer.elapsed_ms for o in self.outcomes]
        shown = [len(o.answer.snippet.text) for o in scoped if o.answer.found and o.answer.snippet]

        def rate(values: list[bool]) -> float | None:
            return round(sum(values) / len(values), 4) if values else None

        return {
            "questions": len(self.outcomes),
            "top1": rate([o.right for o in scoped]),
            "answer_in_snippet": rate([o.in_snippet for o in factual if o.item.answers]),
            "answer_in_first_100": rate([o.up_front for o in factual if o.item.answers]),
            "snippet_chars_mean": round(statistics.mean(shown), 1) if shown else None,
            "hit@5": rate([o.rank is not None and o.rank <= 5 for o in scoped]),
            "mrr": round(sum(1 / o.rank for o in scoped if o.rank) / len(scoped), 4) if scoped else None,
            "abstained_in_scope": sum(1 for o in scoped if not o.answer.found),
            "out_of_scope": len(oos),
            "out_of_scope_abstained": rate([not o.answer.found for o in oos]),
            "english_top1": rate([o.right for o in english]),
            "english_in_snippet": rate([o.in_snippet for o in english]),
            "latency_ms_median": round(statistics.median(latencies), 3) if latencies else None,
        }

    def misses(self) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if not o.right or (o.item.answers and not o.in_snippet and o.item.kind not in ("ambiguous", "out_of_scope"))
        ]


def grade(library: Library, item: QAItem) -> Outcome:
    """Ask as a resident would (through the intent layer): a list or a greeting is no answer."""
    reply = library.ask(item.question)
    answer = reply.answer if reply.answer is not None else Answer(item.question, Status.ABSTAIN)
    if item.kind == "out_of_scope":
        return Outcome(item, answer, not answer.found, False, False, None)
    ranked = ([answer.article] if answer.found and answer.article else []) + [c.article for c in answer.alternatives]
    rank = next((k for k, a in enumerate(ranked, 1) if is_right_article(item, a)), None)
    if not answer.found:
        return Outcome(item, answer, False, False, False, None)
    right = rank == 1
    return Outcome(item, answer, right, answer_in_snippet(item, answer), answer_up_front(item, answer), rank)


def evaluate(library: Library, items: Iterable[QAItem]) -> Report:
    return Report([grade(library, item) for item in items])
