"""Choosing the snippet: the sentence of an article, with a neighbour or two, that answers.

`QuestionView` holds what every candidate's scoring needs from the question, worked out once;
`best_snippet` scores the sentences of one analysed article (`passages.ArticleText`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from .normalize import normalize
from .passages import ArticleText
from .question import PLACE_NAME_RE, counted_noun, unit_asked, unit_number_re
from .question import counted_re as counted_number_re
from .results import Snippet
from .text import Term

SNIPPET_MAX = 200


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"[^\w\u4e00-\u9fff]", "", text)
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


TOPIC_DISCOUNT = 0.35
PART_OF_WORD = 0.6
UNIT_BONUS = 3.5
COUNTED_BONUS = 2.0  # and the number counts the very thing asked about
SINGLE_CHAR_CAP = 1.5


def _is_single_han(term: str) -> bool:
    return len(term) == 1 and "\u4e00" <= term <= "\u9fff"


@dataclass(frozen=True)
class QuestionView:
    """What every candidate's passage scoring needs from the question, worked out once."""

    text: str
    terms: tuple[Term, ...]
    weights: dict[str, float]  # idf x question weight
    groups: dict[str, int]
    asks: tuple[str, ...]
    bigrams: frozenset[str]
    unit_re: re.Pattern[str] | None
    counted_re: re.Pattern[str] | None
    latin: dict[str, re.Pattern[str]]  # ASCII terms match as whole words only (15 is not in 2015)

    @classmethod
    def of(cls, text: str, terms: Sequence[Term], idf: dict[str, float], asks: Sequence[str]) -> QuestionView:
        unit = unit_asked(text)
        noun = counted_noun(text) if unit else None
        return cls(
            text=text,
            terms=tuple(terms),
            weights={t.text: idf.get(t.text, 0.0) * t.weight for t in terms},
            groups={t.text: t.group for t in terms},
            asks=tuple(asks),
            bigrams=frozenset(_bigrams(text)),
            unit_re=unit_number_re(unit) if unit else None,
            counted_re=counted_number_re(unit, noun) if unit and noun else None,
            latin={
                t.text: re.compile(rf"(?<![a-z0-9.]){re.escape(t.text)}(?![a-z0-9])") for t in terms if t.text.isascii()
            },
        )

    def positions(self, term: str, text: str) -> list[int]:
        """Where a question term occurs in a normalised text."""
        pattern = self.latin.get(term)
        if pattern is not None:
            return [m.start() for m in pattern.finditer(text)]
        found = []
        position = text.find(term)
        while position >= 0:
            found.append(position)
            position = text.find(term, position + 1)
        return found

    def locate(self, article_text: ArticleText) -> Located:
        """Every question term and wording bigram of the article, by sentence."""
        norm, starts, ends = article_text.norm, article_text.starts, article_text.ends
        found: set[str] = set()
        term_sentences: dict[str, set[int]] = {}
        for term in self.weights:
            places = self.positions(term, norm)
            if not places:
                continue
            found.add(term)
            size = len(term)
            numbers = set()
            for place in places:
                number = bisect_right(starts, place) - 1
                if number >= 0 and place + size <= ends[number]:
                    numbers.add(number)
            if numbers:
                term_sentences[term] = numbers
        bigram_counts: dict[int, int] = {}
        for bigram in self.bigrams:
            numbers = set()
            place = norm.find(bigram, article_text.body_start)
            while place >= 0:
                number = bisect_right(starts, place) - 1
                if number >= 0 and place + 2 <= ends[number]:
                    numbers.add(number)
                place = norm.find(bigram, place + 1)
            for number in numbers:
                bigram_counts[number] = bigram_counts.get(number, 0) + 1
        return Located(frozenset(found), term_sentences, bigram_counts)


@dataclass(frozen=True)
class Located:
    found: frozenset[str]  # question terms anywhere in the article, headline included
    term_sentences: dict[str, set[int]]  # term -> the body sentences holding it
    bigram_counts: dict[int, int]  # sentence -> how many of the question's bigrams it repeats


def best_snippet(article_text: ArticleText, view: QuestionView, located: Located | None = None) -> Snippet:
    """The sentence (with neighbours, ≤ 200 characters) most likely to hold the answer.

    A sentence scores by the idf of the question terms it contains, the question's wording it
    repeats (character bigrams: annotators and residents copy phrases), and whether it holds
    the kind of fact asked for (a number with the unit asked, a date, a person, a place).
    Terms of the headline, and terms most sentences repeat, count for less: every sentence of
    the article is about them, so they cannot tell which sentence answers.
    A sentence with none of these scores zero; only sentences with a hit are scored.
    """
    located = located or view.locate(article_text)
    count = len(article_text.starts)
    repeated = {
        t for t, numbers in located.term_sentences.items() if len(numbers) >= 3 and len(numbers) >= 0.25 * count
    }
    # The headline is segmented only when a question term is in it (most candidates' is not).
    headline = article_text.headline
    in_headline = article_text.headline_terms if any(t in headline for t in view.weights) else frozenset()
    topic = (in_headline & view.weights.keys()) | repeated
    focus = {t: (w * TOPIC_DISCOUNT if t in topic else w) for t, w in view.weights.items()}
    best_of_group: dict[int, dict[int, float]] = {}  # sentence -> word of the question -> weight
    for term, numbers in located.term_sentences.items():
        # One word of the question counts once in a sentence, by its best-matching form; a
        # single character may sit inside another word (唱 in 哼唱): it counts for less.
        weight = min(SINGLE_CHAR_CAP, focus[term] * PART_OF_WORD) if _is_single_han(term) else focus[term]
        group = view.groups[term]
        for number in numbers:
            weights = best_of_group.get(number)
            if weights is None:
                best_of_group[number] = {group: weight}
            elif weight > weights.get(group, 0.0):
                weights[group] = weight
    scored = {number: sum(weights.values()) for number, weights in best_of_group.items()}
    if view.bigrams:
        for number, hits in located.bigram_counts.items():
            scored[number] = scored.get(number, 0.0) + 2.0 * hits / len(view.bigrams)
    for kind in view.asks:
        for number in article_text.holds(kind):
            scored[number] = scored.get(number, 0.0) + 1
    if "where" in view.asks:
        novel: dict[int, int] = {}
        for number, name in article_text.matching(PLACE_NAME_RE):
            if name not in view.text:
                novel[number] = novel.get(number, 0) + 1
        for number, names in novel.items():
            scored[number] = scored.get(number, 0.0) + 0.75 * min(names, 2)
    if view.unit_re is not None:
        for number in article_text.flagged(view.unit_re):
            scored[number] = scored.get(number, 0.0) + UNIT_BONUS
    if view.counted_re is not None:
        for number in article_text.flagged(view.counted_re):
            scored[number] = scored.get(number, 0.0) + COUNTED_BONUS
    top = max(scored.values(), default=0.0)
    best = min((n for n, s in scored.items() if s == top), default=0) if top > 0 else 0
    evidence = len(
        {
            view.groups[t]
            for t, numbers in located.term_sentences.items()
            if best in numbers and (len(t) > 1 or t.isdigit())
        }
    )
    start, end = best, best + 1
    length = article_text.ends[best] - article_text.starts[best]
    paragraph = article_text.paragraphs[best]
    # Grow with the better-scoring neighbour of the same paragraph while it fits.
    while True:
        options = []
        if start > 0 and article_text.paragraphs[start - 1] == paragraph:
            options.append((scored.get(start - 1, 0.0) * 0.9, start - 1))
        if end < count and article_text.paragraphs[end] == paragraph:
            options.append((scored.get(end, 0.0), end))
        options = [o for o in options if length + article_text.ends[o[1]] - article_text.starts[o[1]] <= SNIPPET_MAX]
        if not options:
            break
        _, pick = max(options)
        length += article_text.ends[pick] - article_text.starts[pick]
        if pick < start:
            start = pick
        else:
            end = pick + 1
    text = "".join(article_text.sentence(n) for n in range(start, end)).strip()
    if len(text) > SNIPPET_MAX:
        text = _trim_window(text, focus)
    return Snippet(text, (), scored.get(best, 0.0), evidence, frozenset(topic))


def _trim_window(text: str, weights: dict[str, float]) -> str:
    """Cut a long sentence to the 200-character window holding most of the question's terms."""
    norm = normalize(text)
    positions = [(m.start(), weights[t]) for t in weights if len(t) > 1 for m in re.finditer(re.escape(t), norm)]
    width = SNIPPET_MAX - 2
    best_start, best_value = 0, -1.0
    for pos, _ in positions or [(0, 0.0)]:
        start = max(0, min(pos - width // 3, len(text) - width))
        value = sum(w for p, w in positions if start <= p < start + width)
        if value > best_value:
            best_start, best_value = start, value
    # Prefer starting right after a clause break close to the chosen start.
    window = text[best_start : best_start + width]
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if best_start + width < len(text) else ""
    return prefix + window + suffix


def highlight_spans(snippet: str, weights: dict[str, float]) -> list[tuple[int, int]]:
    """[start, end) offsets of the question's terms in the snippet, merged."""
    norm = normalize(snippet)
    spans: list[tuple[int, int]] = []
    for term, weight in weights.items():
        if weight <= 0 or (len(term) < 2 and not term.isdigit()):
            continue
        position = norm.find(term)
        while position >= 0:
            spans.append((position, position + len(term)))
            position = norm.find(term, position + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
