"""What the engine returns: plain data, no text for people (front ends word it their own way)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .article import Article


class Status(StrEnum):
    """Whether the engine found an article that answers (compares equal to its value)."""

    ANSWER = "answer"
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: tuple[tuple[int, int], ...]
    score: float = 0.0
    evidence: int = 0  # distinct words of the question found together in the best sentence
    topic: frozenset[str] = frozenset()  # question terms the article is about (headline, repeated)


@dataclass(frozen=True)
class Candidate:
    article: Article
    score: float


@dataclass(frozen=True)
class Answer:
    """The engine's answer to one question of fact."""

    question: str
    status: Status
    article: Article | None = None
    snippet: Snippet | None = None
    confidence: float = 0.0
    alternatives: tuple[Candidate, ...] = ()
    terms: tuple[str, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def found(self) -> bool:
        return self.status is Status.ANSWER and self.article is not None and self.snippet is not None


@dataclass
class LoadReport:
    """What loading a corpus did: for the operator's log and the benchmarks."""

    files: int = 0
    articles: int = 0
    errors: list[str] = field(default_factory=list)  # files that could not be read as news
    warnings: list[str] = field(default_factory=list)  # lines and fields skipped in files that loaded
    cached: int = 0
    built: int = 0
    seconds: float = 0.0
