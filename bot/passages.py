"""An article as sentences: where each one starts and ends, and which kinds of fact it holds.

Cutting an article into sentences and running the fact patterns over it (is there a date, a
person, a count?) costs ~0.1 ms an article. The index does it once per article when it is
built and keeps the result in its cache as arrays (`Layouts`); a question re-ranking its
candidates then reads them instead of cutting the articles up again.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .normalize import normalize

SENTENCE_END_RE = re.compile(r"[。！？!?；;\n]")


def _leading(first_chars: str, alternatives: str) -> re.Pattern[str]:
    """A pattern that skips at once the positions none of its alternatives can start at.

    The fact patterns run over whole articles; without the look-ahead the regex engine tries
    every alternative at every character (85 µs an article for the date words).
    """
    return re.compile(rf"(?=[{first_chars}])(?:{alternatives})")


# What a sentence holding each kind of fact looks like (the question side is in answer.py).
# The look-alike forms (\d年 for \d{1,4}年, 说 after two characters for 两三个字+说) flag the same
# sentences: a pattern only ever says whether a sentence has a match.
PLACE_WORDS = r"路|院|村|镇|乡|街道|社区|小区|学校|公园|广场|号院|大厦|中心|园区|位于|来自|地点"
FACTS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"\d"),
    "date": _leading(
        "\\d上下晚今去明年季预即届", r"\d[年月日点]|上午|下午|晚上|今年|去年|明年|年底|年初|季度|预计|即将|届时"
    ),
    "who": _leading(
        "书主区局队经负委村居老医公企剧单部说表介",
        r"书记|主任|区长|局长|队长|经理|负责人|主席|委员|村民|居民|老师|医生|公司|企业|剧团|单位|部门"
        r"|(?<=[\u4e00-\u9fff]{2})(?:说|表示|介绍)",
    ),
    "where": re.compile(PLACE_WORDS),
    "why": _leading("因由所为故于从导以之", r"因为|由于|因此|所以|为了|故而|于是|从而|导致|以便|之所以|因而"),
    "define": _leading("即是指也意分", r"即|是指|指的是|也就是|意思是|意为|分别是"),
    "list": _leading("即包分是:：、", r"即|包括|分别|是指|[:：]|、[^、，,。!?;\n]{1,14}、"),
}
FACT_BITS = {kind: 1 << number for number, kind in enumerate(FACTS)}
HEADLINE_ONLY = 0x80  # in the first sentence's bits: no body sentence, the headline stands in
# Part of the index cache key: stored layouts go stale when the cutting or a pattern changes.
LAYOUT_VERSION = hashlib.sha1(
    "\0".join([SENTENCE_END_RE.pattern, *(p.pattern for p in FACTS.values())]).encode()
).hexdigest()[:12]


def lay_out(headline: str, body: str) -> tuple[str, list[int], list[int], list[int], bool]:
    """(text, starts, ends, paragraphs, headline only): the article's text — headline, then the
    body — and each sentence as [start, end) offsets into it with the paragraph it is in."""
    raw = headline + "\n" + body
    body_start = len(headline) + 1
    starts: list[int] = []
    ends: list[int] = []
    paragraphs: list[int] = []
    begin = body_start
    paragraph = 0
    # A sentence ends after 。！？； or at a line break (dropped); blank pieces are no sentences.
    for mark in SENTENCE_END_RE.finditer(raw, body_start):
        newline = mark.group() == "\n"
        end = mark.start() if newline else mark.end()
        if end > begin and (not raw[begin].isspace() or raw[begin:end].strip()):
            starts.append(begin)
            ends.append(end)
            paragraphs.append(paragraph)
        begin = mark.end()
        if newline:
            paragraph += 1
    if len(raw) > begin and raw[begin:].strip():
        starts.append(begin)
        ends.append(len(raw))
        paragraphs.append(paragraph)
    if not starts:  # a headline alone: it is its own only sentence
        raw = headline + "\n" + headline
        return raw, [body_start], [len(raw)], [0], True
    return raw, starts, ends, paragraphs, False


def _matches(
    pattern: re.Pattern[str], norm: str, body_start: int, starts: Sequence[int], ends: Sequence[int]
) -> Iterator[tuple[int, str]]:
    """(sentence, text) of each match in the body; patterns never span sentences."""
    for match in pattern.finditer(norm, body_start):
        number = bisect_right(starts, match.start()) - 1
        if number >= 0 and match.end() <= ends[number]:
            yield number, match.group()


def fact_bits(norm: str, body_start: int, starts: Sequence[int], ends: Sequence[int]) -> list[int]:
    """Per sentence, a bit for each kind of fact (FACT_BITS) a match of its pattern shows."""
    bits = [0] * len(starts)
    for kind, pattern in FACTS.items():
        bit = FACT_BITS[kind]
        search = pattern.search
        match = search(norm, body_start)
        while match:
            number = bisect_right(starts, match.start()) - 1
            if number >= 0 and match.end() <= ends[number]:
                bits[number] |= bit
                # The rest of the sentence can flag nothing more: on from its end, as finditer
                # would come there (no match spans a sentence end), without each digit of 2024.
                match = search(norm, ends[number])
            else:
                match = search(norm, match.end())
    return bits


@dataclass(frozen=True)
class ArticleText:
    """An article as one text, normalised once, with its sentences as offsets into it.

    Reused by every question that ranks the article. A question's terms and phrases are found
    by scanning the whole text once each and the hits mapped to sentences by offset: tens of
    microseconds an article, where looking in every sentence apart cost a few hundred. Only
    the headline is ever segmented, and only when a question's term is in it.
    """

    raw: str  # headline, then the paragraphs, one per line: what snippets are cut from
    norm: str  # normalize(raw), the same length: what is searched
    body_start: int  # offset of the first paragraph (before it: the headline)
    starts: tuple[int, ...]  # sentence i is raw[starts[i]:ends[i]]
    ends: tuple[int, ...]
    paragraphs: tuple[int, ...]  # the paragraph each sentence belongs to
    segment: Callable[[str], list[str]] = field(compare=False, repr=False)
    facts: tuple[int, ...] | None = field(default=None, compare=False)  # fact_bits(), if known
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def headline(self) -> str:
        return self.norm[: self.body_start - 1]

    @property
    def headline_terms(self) -> frozenset[str]:
        terms = self._memo.get("headline")
        if terms is None:
            terms = self._memo["headline"] = frozenset(self.segment(self.raw[: self.body_start - 1]))
        return terms

    def sentence(self, number: int) -> str:
        return self.raw[self.starts[number] : self.ends[number]]

    def holds(self, kind: str) -> frozenset[int]:
        """The sentences holding the kind of fact asked (a number, a date, …)."""
        if self.facts is None:
            return self.flagged(FACTS[kind])
        found = self._memo.get(kind)
        if found is None:
            bit = FACT_BITS[kind]
            found = self._memo[kind] = frozenset(n for n, bits in enumerate(self.facts) if bits & bit)
        return found

    def flagged(self, pattern: re.Pattern[str]) -> frozenset[int]:
        """The sentences with a match of the pattern, found once an article and pattern."""
        found = self._memo.get(pattern)
        if found is None:
            found = self._memo[pattern] = frozenset(number for number, _ in self._matches(pattern))
        return found

    def holding(self, key: Hashable, spans: Callable[[str, int], Iterable[tuple[int, int]]]) -> frozenset[int]:
        """The sentences holding a span that `spans(text, body_start)` finds, found once an
        article and key (the numbers with a unit asked: the key names the unit)."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.sentences_of(spans(self.norm, self.body_start))
        return found

    def sentences_of(self, spans: Iterable[tuple[int, int]]) -> frozenset[int]:
        """The sentences the [start, end) spans of the text are in (a span across two: none)."""
        numbers = set()
        for start, end in spans:
            number = bisect_right(self.starts, start) - 1
            if number >= 0 and end <= self.ends[number]:
                numbers.add(number)
        return frozenset(numbers)

    def matching(self, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
        """(sentence, text) of every match in the body, found once an article and pattern."""
        found = self._memo.get(("all", pattern))
        if found is None:
            found = self._memo[("all", pattern)] = list(self._matches(pattern))
        return found

    def _matches(self, pattern: re.Pattern[str]) -> Iterator[tuple[int, str]]:
        return _matches(pattern, self.norm, self.body_start, self.starts, self.ends)


def analyse(headline: str, body: str, segment: Callable[[str], list[str]], layout: Layout | None = None) -> ArticleText:
    """The article's text, from its stored layout when the index has one."""
    if layout is None:
        raw, starts, ends, paragraphs, _ = lay_out(headline, body)
        return ArticleText(
            raw, normalize(raw), len(headline) + 1, tuple(starts), tuple(ends), tuple(paragraphs), segment
        )
    raw = headline + "\n" + (headline if layout.headline_only else body)
    return ArticleText(
        raw, normalize(raw), len(headline) + 1, layout.starts, layout.ends, layout.paragraphs, segment, layout.facts
    )


@dataclass(frozen=True)
class Layout:
    """One article's sentences and their fact bits, as kept in the index."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    paragraphs: tuple[int, ...]
    facts: tuple[int, ...]
    headline_only: bool


@dataclass
class Layouts:
    """The layouts of a batch of articles (local numbers 0..n-1) as flat arrays: ~13 bytes a
    sentence, ~18 MB at 100,000 articles, mapped from the cache with the postings."""

    indptr: np.ndarray  # int64, articles + 1: article i's sentences are [indptr[i], indptr[i+1])
    starts: np.ndarray  # int32
    ends: np.ndarray  # int32
    paragraphs: np.ndarray  # int32
    facts: np.ndarray  # uint8

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def get(self, number: int) -> Layout:
        lo, hi = int(self.indptr[number]), int(self.indptr[number + 1])
        facts = tuple(self.facts[lo:hi].tolist())
        return Layout(
            tuple(self.starts[lo:hi].tolist()),
            tuple(self.ends[lo:hi].tolist()),
            tuple(self.paragraphs[lo:hi].tolist()),
            facts,
            bool(facts[0] & HEADLINE_ONLY),
        )


class LayoutBuilder:
    """Collects layouts article by article into growable C arrays (no object per sentence)."""

    def __init__(self) -> None:
        self.counts = array("q")
        self.starts = array("i")
        self.ends = array("i")
        self.paragraphs = array("i")
        self.facts = array("B")

    def add(self, headline: str, body: str) -> None:
        raw, starts, ends, paragraphs, headline_only = lay_out(headline, body)
        bits = fact_bits(normalize(raw), len(headline) + 1, starts, ends)
        if headline_only:
            bits[0] |= HEADLINE_ONLY
        self.counts.append(len(starts))
        self.starts.extend(starts)
        self.ends.extend(ends)
        self.paragraphs.extend(paragraphs)
        self.facts.extend(bits)

    def build(self) -> Layouts:
        indptr = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self.counts, dtype=np.int64), out=indptr[1:])
        return Layouts(
            indptr,
            np.array(self.starts, dtype=np.int32),
            np.array(self.ends, dtype=np.int32),
            np.array(self.paragraphs, dtype=np.int32),
            np.array(self.facts, dtype=np.uint8),
        )


def concat_layouts(parts: Sequence[Layouts]) -> Layouts:
    """The layouts of several batches, in order (sentence offsets are per article: unchanged)."""
    counts = np.concatenate([np.diff(p.indptr) for p in parts]) if parts else np.zeros(0, np.int64)
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])

    def joined(name: str, dtype) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros(0, dtype)

    return Layouts(
        indptr,
        joined("starts", np.int32),
        joined("ends", np.int32),
        joined("paragraphs", np.int32),
        joined("facts", np.uint8),
    )
