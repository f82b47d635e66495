"""Choosing the snippet: the sentence of an article that answers, first, and little else.

`QuestionView` holds what every candidate's scoring needs from the question, worked out once;
`best_snippet` scores the sentences of one analysed article (`passages.ArticleText`) and cuts
the snippet: it starts with the best sentence (a long one at the clause holding the question's
words), so that the answer is within the first 100 characters a phone shows, and it goes on
past that only with sentences that hold more of the answer. The best sentence is read with the
one before it only when it leans on it (a fragment starting 此后/因此, the effect a
why-question asks the cause of). When the scores leave it unsure which sentence answers, the
close runners-up follow the answer, after "…".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .normalize import normalize
from .passages import ArticleText
from .question import (
    NOT_NAME_CHARS,
    PLACE_NAME_RE,
    WHERE_SAID_RE,
    asked_noun,
    counted_noun,
    counted_spans,
    defining_spans,
    unit_asked,
    unit_spans,
)
from .results import Snippet
from .text import QUESTION_WORD_RE, Term

SNIPPET_MAX = 200
SNIPPET_TARGET = 100  # past this a snippet grows only with sentences that hold some of the answer
RUNNER_SHARE = 0.5  # a runner-up this close to the best is shown after it…
RUNNERS_UP = 2  # …up to this many
SURE_KINDS = ("number", "date", "where")  # a best sentence holding one of these asked needs none
FIRST_CHARS = 100  # what a phone shows first: the answer should be in it
LEANING_MAX = 40  # a sentence this short that starts 此后/因此/这 is read with the one before…
LEAD_IN_MAX = 60  # …when that one is this short
LEANS_BACK_RE = re.compile(
    r"(?:[^，,。]{1,5}[，,])?(?:此|这|该|其|因此|所以|于是|但|而|并且|同时|随后|之后|后来|对此|为此|他|她|它)"
)
CONSEQUENCE_RE = re.compile(r"(?:因此|所以|于是|因而|故而|从而|遂|结果|此后|之后|后来|在此背景下|这|此|该)")
POINTS_BACK_RE = re.compile(
    r"(?:[^，,。]{1,5}[，,])?(?:此后|之后|其后|随后|后来|当时|此时|同年|次年|翌年|当天|赛后|会后|会上|这|此|该|其|他|她|它)"
)
CUT_TITLE_CLOSERS = "》〉‧·)）"
STRAY_CLOSERS = "”’」』\"'"
_SPACE_RE = re.compile(r"\s+")
CLAUSE_BREAK_RE = re.compile(r"[，,；;：:]")


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"[^\w\u4e00-\u9fff]", "", text)
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


_PIECE_BREAK_RE = re.compile(rf"[^\w\u4e00-\u9fff]+|{QUESTION_WORD_RE.pattern}")


def _wording_bigrams(text: str, terms: Sequence[Term]) -> set[str]:
    """The question's character bigrams that are not inside one of its words nor its question
    words: the wording around the words (以什么为食, 位于), which the words' own weights do not
    already count. A sentence repeating 两个乡镇 of 哪两个乡镇 refers to the answer, not gives it."""
    inside = {
        t.text[k : k + 2] for t in terms if len(t.text) > 1 and not t.text.isascii() for k in range(len(t.text) - 1)
    }
    single = {t.text for t in terms if _is_single_han(t.text)}
    found: set[str] = set()
    for chars in _PIECE_BREAK_RE.split(text):
        for k in range(len(chars) - 1):
            pair = chars[k : k + 2]
            if pair not in inside and not (pair[0] in single and pair[1] in single):
                found.add(pair)
    return found


TOPIC_DISCOUNT = 0.2
PART_OF_WORD = 0.6
SINGLE_CHAR_CAP = 1.5
# How much each kind of evidence (sentence_features) counts for a sentence.
WEIGHTS = {
    "words": 1.0,  # the question's words it holds, by idf (the headline's count for less)
    "wording": 6.0,  # share of the question's wording (character bigrams) it repeats
    "kind": 1.0,  # holds the kind of fact asked (a number, a date, a place, …)
    "defines": 3.0,  # define-questions: says what the subject is (X是…, X（…）, a list naming X)
    "named": 3.0,  # a new name ending in the thing asked (哪个村 → 田种湾村)
    "places": 0.5,  # where-questions: place names the question does not say (up to 2)
    "where_said": 2.0,  # where-questions: 来自, 位于, 在…举行
    "unit": 3.5,  # a number with the unit asked (多少人 → 300人)
    "counted": 2.0,  # and the number counts the very thing asked about
}
OTHER_COUNT_SHARE = 0.5
# The kinds of fact whose sentence pattern (passages.FACTS) tells more or less than most: a
# number is rarely there by chance; who (a title, 说) is in most news sentences.
KIND_WEIGHTS = {"number": 3.0, "who": 0.0}


def _is_single_han(term: str) -> bool:
    return len(term) == 1 and "\u4e00" <= term <= "\u9fff"


def _word_groups(text: str, terms: Sequence[Term]) -> dict[str, int]:
    """Each term's word, for scoring sentences: a run of single characters the segmenter could
    not make a word of (斯氏腔吻鳕, 李晓雷) is one name, with the words it touches (芝麻街+双创园);
    counted once, it no longer outweighs a sentence holding the rest of the question."""
    groups = {t.text: t.group for t in terms}
    single = {t.text for t in terms if _is_single_han(t.text)}
    if len(single) < 2:
        return groups
    longer = [t.text for t in terms if len(t.text) > 1 and not t.text.isascii()]
    i = 0
    while i < len(text):
        if text[i] not in single:
            i += 1
            continue
        j = i
        while j < len(text) and text[j] in single:
            j += 1
        if j - i >= 2:
            group = groups[text[i]]
            for char in text[i:j]:
                groups[char] = group
            for word in longer:
                if text.startswith(word, j) or (i >= len(word) and text.startswith(word, i - len(word))):
                    groups[word] = group
        i = j
    return groups


def _subjects(text: str, terms: Sequence[Term]) -> list[str]:
    """What a question may ask to define: its words of two characters or more, and the runs of
    single characters the segmenter left (a coinage it does not know)."""
    single = {t.text for t in terms if _is_single_han(t.text)}
    found = [t.text for t in terms if len(t.text) > 1 and not t.text.isdigit()]
    run = ""
    for char in text + " ":
        if char in single:
            run += char
            continue
        if run:
            found.append(run)
        run = ""
    return found


@dataclass(frozen=True)
class QuestionView:
    """What every candidate's passage scoring needs from the question, worked out once."""

    text: str
    terms: tuple[Term, ...]
    weights: dict[str, float]  # idf x question weight
    groups: dict[str, int]
    words: dict[str, int]  # the group a term scores a sentence in: a name cut into characters is one
    asks: tuple[str, ...]
    bigrams: frozenset[str]
    bigram_total: int  # all the question's bigrams, those inside its words too
    subjects: tuple[str, ...]  # define-questions: what it asks the meaning of (its words)
    asked: str | None  # the thing a which-question asks to name (哪个村 → 村: 田种湾村 names one)
    unit: str | None  # how-many: the unit asked (个, 人, 米 …, 长度 for 多长)
    counted: str | None  # and the thing counted (多少个班 → 班)
    forms: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]  # see _forms()

    @classmethod
    def of(cls, text: str, terms: Sequence[Term], idf: dict[str, float], asks: Sequence[str]) -> QuestionView:
        unit = unit_asked(text)
        noun = counted_noun(text) if unit else None
        noun_asked = asked_noun(text, [t.text for t in terms])
        return cls(
            text=text,
            terms=tuple(terms),
            weights={t.text: idf.get(t.text, 0.0) * t.weight for t in terms},
            groups={t.text: t.group for t in terms},
            words=_word_groups(text, terms),
            asks=tuple(asks),
            bigrams=frozenset(_wording_bigrams(text, terms)),
            bigram_total=max(1, len(_bigrams(text))),
            subjects=tuple(_subjects(text, terms)) if "define" in asks else (),
            asked=noun_asked,
            unit=unit,
            counted=noun if unit else None,
            forms=_forms(terms),
        )

    def locate(self, article_text: ArticleText) -> Located:
        """Every question term and wording bigram of the article, by sentence."""
        norm, starts, ends = article_text.norm, article_text.starts, article_text.ends
        find = norm.find
        found: set[str] = set()
        term_sentences: dict[str, set[int]] = {}
        for term, forms in self.forms:
            numbers: set[int] = set()
            for form, whole_word in forms:
                size = len(form)
                place = find(form)  # str.find: many times faster than a pattern
                while place >= 0:
                    end = place + size
                    # An ASCII form only as a whole word (15 is not in 2015), as a regex's
                    # finditer would take it: the next match is looked for after this one.
                    if whole_word and (
                        (place and norm[place - 1] in _WORD_BEFORE) or (end < len(norm) and norm[end] in _WORD_AFTER)
                    ):
                        place = find(form, place + 1)
                        continue
                    found.add(term)
                    number = bisect_right(starts, place) - 1
                    if number >= 0 and end <= ends[number]:
                        numbers.add(number)
                    place = find(form, end if whole_word else place + 1)
            if numbers:
                term_sentences[term] = numbers
        bigram_counts: dict[int, int] = {}
        body_start = article_text.body_start
        for bigram in self.bigrams:
            place = find(bigram, body_start)
            if place < 0:
                continue
            numbers = set()
            while place >= 0:
                number = bisect_right(starts, place) - 1
                if number >= 0 and place + 2 <= ends[number]:
                    numbers.add(number)
                place = find(bigram, place + 1)
            for number in numbers:
                bigram_counts[number] = bigram_counts.get(number, 0) + 1
        return Located(frozenset(found), term_sentences, bigram_counts)


def _forms(terms: Sequence[Term]) -> tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]:
    """Each term with the forms the text may write it in (`_term_forms`)."""
    return tuple((term, _term_forms(term)) for term in dict.fromkeys(t.text for t in terms))


# What may not stand right before or after an ASCII form for it to be a whole word (the text is
# normalised: lower case). A "." before it: 15 is not in 3.15.
_WORD_BEFORE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.")
_WORD_AFTER = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@lru_cache(maxsize=4096)
def _term_forms(term: str) -> tuple[tuple[str, bool], ...]:
    """The forms the text may write a term in — a number also in Chinese (23, 二十三) — each
    with whether it must stand as a whole word (an ASCII form: 15 is not in 2015)."""
    forms = [form for form in ((term, _chinese_number(term)) if term.isdigit() else (term,)) if form]
    return tuple((form, form.isascii()) for form in forms)


_DIGITS = "零一二三四五六七八九"


def _chinese_number(digits: str) -> str:
    """23 as the text may write it, 二十三 (10 to 99: ages, counts, days)."""
    value = int(digits)
    if not 10 <= value < 100 or digits.startswith("0"):  # 一 alone is in every other sentence
        return ""
    tens, ones = divmod(value, 10)
    return ((_DIGITS[tens] if tens > 1 else "") + "十" if tens else "") + (_DIGITS[ones] if ones else "")


@dataclass(frozen=True)
class Located:
    found: frozenset[str]  # question terms anywhere in the article, headline included
    term_sentences: dict[str, set[int]]  # term -> the body sentences holding it
    bigram_counts: dict[int, int]  # sentence -> how many of the question's bigrams it repeats


def best_snippet(
    article_text: ArticleText,
    view: QuestionView,
    located: Located | None = None,
    *,
    shown: frozenset[int] = frozenset(),
) -> Snippet:
    """The snippet (≤ 200 characters) that starts with the sentence most likely to answer
    (`choose_sentence`, then `Choice.snippet`)."""
    return choose_sentence(article_text, view, located, shown=shown).snippet()


@dataclass(frozen=True)
class Choice:
    """The sentence of one article most likely to answer, before its snippet is cut: the
    engine scores every candidate article and cuts the snippet of the one it answers with."""

    article_text: ArticleText
    view: QuestionView
    best: int
    scored: dict[int, float]
    focus: dict[str, float]
    shown: frozenset[int]
    evidence: int  # distinct words of the question in the best sentence
    topic: frozenset[str]

    @property
    def score(self) -> float:
        return self.scored.get(self.best, 0.0)

    def snippet(self) -> Snippet:
        text = _build(self.article_text, self.best, self.scored, self.focus, self.view, self.shown)
        return Snippet(text, (), self.score, self.evidence, self.topic)


def choose_sentence(
    article_text: ArticleText,
    view: QuestionView,
    located: Located | None = None,
    *,
    shown: frozenset[int] = frozenset(),
) -> Choice:
    """The sentence most likely to hold the answer.

    A sentence scores by the idf of the question terms it contains, the question's wording it
    repeats (character bigrams: annotators and residents copy phrases), and whether it holds
    the kind of fact asked for (a number with the unit asked, a date, a person, a place).
    Terms of the headline, and terms most sentences repeat, count for less: every sentence of
    the article is about them, so they cannot tell which sentence answers.
    A sentence with none of these scores zero; only sentences with a hit are scored.
    `shown`: sentences the resident has already seen (a follow-up question): never picked
    again; when no other sentence scores, the snippet goes on where the shown ones stopped.
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
    scored: dict[int, float] = {}
    for feature, values in sentence_features(article_text, view, located, focus).items():
        weight = WEIGHTS[feature]
        for number, value in values.items():
            scored[number] = scored.get(number, 0.0) + weight * value
    for number in shown:
        scored.pop(number, None)
    top = max(scored.values(), default=0.0)
    # Nothing scores: the lead, or what comes after the sentences already shown.
    best = min(n for n, s in scored.items() if s == top) if top > 0 else _next_unshown(len(article_text.starts), shown)
    evidence = len(
        {
            view.groups[t]
            for t, numbers in located.term_sentences.items()
            if best in numbers and (len(t) > 1 or t.isdigit())
        }
    )
    return Choice(article_text, view, best, scored, focus, shown, evidence, frozenset(topic))


def _next_unshown(count: int, shown: frozenset[int]) -> int:
    after = [*range(max(shown, default=-1) + 1, count), *range(count)]
    return next((n for n in after if n not in shown), 0)


def shown_sentences(article_text: ArticleText, snippet: str) -> frozenset[int]:
    """The sentences of the article a snippet already showed (whole, or cut with "…")."""
    seen = _SPACE_RE.sub("", normalize(snippet)).replace("…", "\n")
    found = set()
    for number in range(len(article_text.starts)):
        sentence = _SPACE_RE.sub("", article_text.norm[article_text.starts[number] : article_text.ends[number]])
        if len(sentence) >= 4 and (sentence in seen or sentence[:12] in seen or sentence[-12:] in seen):
            found.add(number)
    return frozenset(found)


def sentence_features(
    article_text: ArticleText, view: QuestionView, located: Located, focus: dict[str, float]
) -> dict[str, dict[int, float]]:
    """What speaks for each sentence holding the answer, by kind of evidence (weighed by WEIGHTS)."""
    features: dict[str, dict[int, float]] = {}
    best_of_group: dict[int, dict[int, float]] = {}  # sentence -> word of the question -> weight
    for term, numbers in located.term_sentences.items():
        # One word of the question counts once in a sentence, by its best-matching form; a
        # single character may sit inside another word (唱 in 哼唱): it counts for less.
        weight = min(SINGLE_CHAR_CAP, focus[term] * PART_OF_WORD) if _is_single_han(term) else focus[term]
        group = view.words[term]
        for number in numbers:
            weights = best_of_group.get(number)
            if weights is None:
                best_of_group[number] = {group: weight}
            elif weight > weights.get(group, 0.0):
                weights[group] = weight
    features["words"] = {number: sum(weights.values()) for number, weights in best_of_group.items()}
    if view.bigrams:
        features["wording"] = {number: hits / view.bigram_total for number, hits in located.bigram_counts.items()}
    kinds: dict[int, float] = {}
    for kind in view.asks:
        # With no word to go by (那在哪; 谁负责的 of an article without 负责), the kind of fact
        # asked is all there is.
        weight = KIND_WEIGHTS.get(kind, 1.0) if located.term_sentences else 1.0
        for number in article_text.holds(kind):
            kinds[number] = kinds.get(number, 0.0) + weight
    features["kind"] = kinds
    if view.subjects:
        defining = defining_spans(article_text.norm, view.subjects, article_text.body_start)
        features["defines"] = dict.fromkeys(article_text.sentences_of(defining), 1.0)
    if view.asked:
        features["named"] = _naming(article_text, view.asked, view.text)
    if "where" in view.asks:
        novel: dict[int, float] = {}
        for number, name in article_text.matching(PLACE_NAME_RE):
            if name not in view.text:
                novel[number] = min(2.0, novel.get(number, 0.0) + 1)
        features["places"] = novel
        features["where_said"] = dict.fromkeys(article_text.flagged(WHERE_SAID_RE), 1.0)
    unit, noun = view.unit, view.counted
    counted: frozenset[int] = frozenset()
    if unit and noun:
        counted = article_text.holding(
            ("counted", unit, noun), lambda text, start: counted_spans(text, unit_spans(text, unit, start), noun)
        )
    if unit:
        # Where the article counts the very thing asked (6个方面), other counts (12家企业) are
        # likely of something else: they count for less.
        other = OTHER_COUNT_SHARE if counted else 1.0
        with_unit = article_text.holding(("unit", unit), lambda text, start: unit_spans(text, unit, start))
        features["unit"] = {n: 1.0 if n in counted else other for n in with_unit}
    features["counted"] = dict.fromkeys(counted, 1.0)
    return features


def _naming(article_text: ArticleText, noun: str, question: str) -> dict[int, float]:
    """The sentences naming a new one of the thing asked: two characters of a name the question
    does not say, right before the noun (田种湾村 for 哪个村; not 两个村, 该村, 帮扶乡镇)."""
    norm, starts, ends = article_text.norm, article_text.starts, article_text.ends
    found: dict[int, float] = {}
    place = norm.find(noun, article_text.body_start + 2)
    while place >= 0:
        name = norm[place - 2 : place]
        if all("\u4e00" <= c <= "\u9fff" and c not in NOT_NAME_CHARS for c in name) and name not in question:
            number = bisect_right(starts, place - 2) - 1
            if number >= 0 and place + len(noun) <= ends[number]:
                found[number] = 1.0
        place = norm.find(noun, place + 1)
    return found


def _build(
    article_text: ArticleText,
    best: int,
    scored: dict[int, float],
    focus: dict[str, float],
    view: QuestionView,
    shown: frozenset[int] = frozenset(),
) -> str:
    """The snippet around the best sentence: it starts with that sentence (or the clause of a long
    one that holds the question's words), and goes on only while what follows helps."""
    count = len(article_text.starts)
    paragraph = article_text.paragraphs[best]
    begin, stop = article_text.starts[best], article_text.ends[best]
    raw = article_text.raw
    prefix = ""
    if (
        best > 0
        and best - 1 not in shown
        and article_text.paragraphs[best - 1] == paragraph
        and _leans_back(article_text, best, view)
    ):
        begin = article_text.starts[best - 1]
    elif stop - begin > FIRST_CHARS:
        offset = _clause_offset(article_text.norm[begin:stop], focus, view)
        begin += offset
        prefix = "…" if offset else ""
    while begin < stop and raw[begin] in STRAY_CLOSERS:  # the end of the quote before: not this sentence's
        begin += 1
    end = best + 1
    length = stop - begin
    # Grow with the sentences that follow in the paragraph while the snippet is short, or while
    # they hold more of the answer (a list going on, a sentence with the question's words).
    while end < count and article_text.paragraphs[end] == paragraph and end not in shown:
        size = article_text.ends[end] - article_text.starts[end]
        if length + size > SNIPPET_MAX:
            break
        if length >= SNIPPET_TARGET and scored.get(end, 0.0) <= 0:
            break
        length += size
        stop = article_text.ends[end]
        end += 1
    text = prefix + raw[begin:stop].strip()
    if len(text) > SNIPPET_MAX:
        return text[: SNIPPET_MAX - 1] + "…"
    # Unsure which sentence answers: the next best score at least RUNNER_SHARE of the best,
    # and the best does not hold the number, date or place asked. Then up to RUNNERS_UP of
    # them follow the answer, "…" before each, each whole where it fits.
    if any(best in article_text.holds(kind) for kind in view.asks if kind in SURE_KINDS):
        return text
    first = best - 1 if begin < article_text.starts[best] else best
    floor = RUNNER_SHARE * scored.get(best, 0.0)
    runners = sorted(
        (n for n in scored if not first <= n < end and scored[n] >= floor and n not in shown),
        key=lambda n: (-scored[n], n),
    )
    for runner in runners[:RUNNERS_UP]:
        more = article_text.sentence(runner).strip()
        if len(text) + 1 + len(more) <= SNIPPET_MAX:
            text += "…" + more
    return text


def defining_snippet(article_text: ArticleText, term: str) -> tuple[int, Snippet] | None:
    """What the article says a term is: (2, the snippet from the sentence defining it) when a
    sentence does (question.defining_spans: X（…）, X是/即/是指…, a list naming X), (1, the
    first sentence mentioning it) when one only mentions it; None when the article lacks it."""
    norm, starts, ends = article_text.norm, article_text.starts, article_text.ends
    if term not in norm:
        return None
    strength, anchor = 1, norm.find(term, article_text.body_start)
    for start, end in defining_spans(norm, [term], article_text.body_start):
        number = bisect_right(starts, start) - 1
        if number >= 0 and end <= ends[number]:
            strength, anchor = 2, start
            break
    best = bisect_right(starts, anchor) - 1 if anchor >= 0 else 0  # only in the headline: the lead
    begin, stop = starts[best], ends[best]
    prefix = ""
    if anchor > begin and stop - begin > FIRST_CHARS:  # a long sentence: from the clause that defines
        breaks = [m.end() for m in CLAUSE_BREAK_RE.finditer(norm, begin, anchor)]
        if breaks:
            begin, prefix = breaks[-1], "…"
    end = best + 1
    while (
        end < len(starts)
        and article_text.paragraphs[end] == article_text.paragraphs[best]
        and stop - begin < SNIPPET_TARGET
        and ends[end] - begin <= SNIPPET_MAX
    ):
        stop, end = ends[end], end + 1
    text = prefix + article_text.raw[begin:stop].strip()
    if len(text) > SNIPPET_MAX:
        text = text[: SNIPPET_MAX - 1] + "…"
    highlights = tuple(highlight_spans(text, {term: 1.0}))
    return strength, Snippet(text, highlights, float(strength), 1, frozenset({term}))


def _leans_back(article_text: ArticleText, best: int, view: QuestionView) -> bool:
    """Whether the best sentence is read with the one before it: it was cut out of a title
    (…LIVE！‧台北‧我》是…), or it is short and starts with a word pointing back (此后, 因此,
    这3个村), or it is the consequence whose cause a why-question asks (因此…, 于是…)."""
    begin, stop = article_text.starts[best], article_text.ends[best]
    before = article_text.ends[best - 1] - article_text.starts[best - 1]
    if before + stop - begin > SNIPPET_MAX:
        return False
    sentence = article_text.norm[begin:stop].lstrip()
    if sentence[:1] in CUT_TITLE_CLOSERS:
        return True
    if "why" in view.asks and CONSEQUENCE_RE.match(sentence):
        return True
    # 赛后，他正式结束运动生涯 for a when-question: the date is in the sentence before.
    if POINTS_BACK_RE.match(sentence) and any(
        best not in article_text.holds(kind) and best - 1 in article_text.holds(kind)
        for kind in view.asks
        if kind in ("date", "number", "where")
    ):
        return True
    return stop - begin <= LEANING_MAX and before <= LEAD_IN_MAX and bool(LEANS_BACK_RE.match(sentence))


def _clause_offset(norm: str, focus: dict[str, float], view: QuestionView) -> int:
    """Where to start a long sentence: the clause from which the next FIRST_CHARS characters
    hold the most of the question (its words, the number with the unit asked); 0 if the start."""
    places: list[tuple[int, int, float]] = []
    for term, weight in focus.items():
        if len(term) > 1 or term.isdigit():
            start = norm.find(term)
            while start >= 0:
                places.append((start, start + len(term), weight))
                start = norm.find(term, start + 1)
    if view.unit:
        numbers = unit_spans(norm, view.unit)
        places.extend((start, end, WEIGHTS["unit"]) for start, end in numbers)
        if view.counted:
            places.extend((start, end, WEIGHTS["unit"]) for start, end in counted_spans(norm, numbers, view.counted))
    if not places:
        return 0
    starts = [0] + [m.end() for m in CLAUSE_BREAK_RE.finditer(norm) if m.end() < len(norm)]
    best_start, best_value = 0, -1.0
    for start in starts:
        value = sum(w for a, b, w in places if a >= start and b <= start + FIRST_CHARS - 1)
        if value > best_value + 1e-9:
            best_start, best_value = start, value
    return best_start


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
