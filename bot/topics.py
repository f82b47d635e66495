"""News on a topic: the articles that are about something, not every one that mentions it once.

An article is about a topic when the topic (or an alias a resident would use for it) stands in
its headline, recurs in its text, or opens it; for a topic the papers word differently
(疫苗接种 / 接种疫苗), when every word of it recurs. BM25 finds the candidates, so this costs
one search and a scan of a few hundred candidate texts at most.
"""

from __future__ import annotations

from .engine import Engine
from .normalize import normalize

CANDIDATES = 300  # BM25 candidates checked for aboutness: more than any real topic list needs


def articles_about(engine: Engine, topic: str, *, district: str | None = None) -> list[int]:
    """Numbers of the articles about `topic` (within `district` if given), best match first."""
    text, terms = engine.analyzer.question_terms(topic)
    words = [t.text for t in terms if len(t.text) > 1 or not t.text.isascii()]
    if not words:
        return []
    hits = engine.index.search(terms, k=CANDIDATES)
    lexicon = engine.analyzer.lexicon
    phrase = normalize(topic).strip()
    forms = {phrase, text.strip(), *lexicon.aliases.get(phrase, ())} - {""}
    found: list[int] = []
    for doc in hits.docs:
        number = int(doc)
        article = engine.articles[number]
        if district is not None and district not in article.districts:
            continue
        if _about(article.headline, article.body, forms, words):
            found.append(number)
    return found


def _about(headline: str, body: str, forms: set[str], words: list[str]) -> bool:
    head = normalize(headline)
    norm = normalize(body)
    lead = norm[:120]
    for form in forms:
        if form in head or form in lead or norm.count(form) >= 2:
            return True
    if any(form in norm for form in forms):
        return False  # named once, deep in the text: a mention, not the subject
    # worded differently: every word of the topic recurs, one of them in the headline or lead
    return all(norm.count(w) >= 2 or w in head for w in words) and any(w in head or w in lead for w in words)
