"""What the library says to a message: one `Reply` for every front end to render its own way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .article import Article
from .intent import Intent
from .results import Answer


class Kind(StrEnum):
    """The reply's kind, as `ask --json` reports it."""

    ANSWER = "answer"  # the sentence that answers, from one article
    LIST = "list"  # articles to browse (latest, a district's), or the districts themselves
    ABSTAIN = "abstain"  # nothing in the news answers it
    GREETING = "greeting"
    HELP = "help"  # help, about, how to use a command, an unknown command
    EMPTY = "empty"  # nothing to read in the message
    ARTICLE = "article"  # one article in full (/read); `article` is None when the id is unknown


NUMBER_BITS = 32
_NUMBER_MASK = (1 << NUMBER_BITS) - 1


def newness_keys(dates: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Sort keys of articles, oldest first: the date (YYYYMMDD, 0 when undated), then the article
    number (later in the corpus = newer), in one int64 each: sorting a million costs milliseconds."""
    return (dates.astype(np.int64) << NUMBER_BITS) | numbers.astype(np.int64)


def key_dates(keys: np.ndarray) -> np.ndarray:
    return keys >> NUMBER_BITS


@dataclass(frozen=True)
class Listing:
    """Articles to browse, newest first. Lazy: a page costs its own articles, not the list's."""

    keys: np.ndarray  # newness_keys of the articles, ascending
    source: Sequence[Article]  # the snapshot's articles, by number
    district: str | None = None  # a district's list (or the district a topic list is limited to)
    topic: str | None = None  # a topic's list: what the articles are about
    when: str | None = None  # the time phrase the list is limited to (今年, 3月)
    counts: tuple[tuple[str, int], ...] = ()  # districts with news (the overview, or no news here)
    limit: int | None = None  # how many the resident asked to see (/latest 10)

    @property
    def total(self) -> int:
        """How many articles match."""
        return len(self.keys)

    @property
    def shown(self) -> int:
        """How many the list shows: all that match, or the number asked for."""
        return self.total if self.limit is None else min(self.limit, self.total)

    def page(self, start: int, size: int) -> list[Article]:
        """Articles start … start+size-1 of the list, counted from the newest."""
        stop = min(start + size, self.shown)
        count = len(self.keys)
        return [self.source[int(self.keys[count - 1 - i]) & _NUMBER_MASK] for i in range(max(start, 0), stop)]

    @property
    def articles(self) -> list[Article]:
        return self.page(0, self.shown)


@dataclass(frozen=True)
class Reply:
    text: str  # the message as received
    intent: Intent
    kind: Kind
    answer: Answer | None = None  # ANSWER and ABSTAIN of a question of fact
    listing: Listing | None = None  # LIST
    article: Article | None = None  # ARTICLE
    articles_total: int = 0  # the size of the library, for welcome and about texts

    @property
    def found(self) -> bool:
        return self.kind is Kind.ANSWER and self.answer is not None and self.answer.found
