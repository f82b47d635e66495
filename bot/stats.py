"""`python -m bot stats`: where the corpus falls short, for the operator.

Articles by district, by date and by source (with each polled source's health when the state
database has it), questions asked, the abstention rate, the unanswered questions
asked most often, feedback and subscription counts. Never chat ids or user names: the store keeps
none for questions, and question texts are shown with @mentions, links and long numbers masked.

Residents' questions, keywords and article titles are text from outside: everything printed
(text or JSON) has its control characters removed (C0 and C1, ESC among them, so no terminal
escape sequence gets through, and the bidi overrides and isolates that reorder what a line shows).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from .article import CorpusError
from .config import Config
from .engine import Engine
from .library import Library
from .normalize import normalize
from .store import Store, StoreError, state_target
from .store_sql import is_url

TOP_UNANSWERED = 15
TOP_FEEDBACK = 10
_MENTION_RE = re.compile(r"@[A-Za-z0-9_]{3,}")
_LINK_RE = re.compile(r"(?:https?://|t\.me/)\S+", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d{7,}")  # phone numbers, ids
# Whole escape sequences first (CSI, OSC, as ESC [ … or the C1 CSI), so no `[31m` is left behind
_ESCAPE_RE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)")
_SPACING_RE = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85]+")  # line and field breaks: a space instead
# C0 and C1 controls, DEL, and the bidi marks, embeddings, overrides and isolates
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe to print on the operator's terminal: no control characters (see module doc)."""
    return _CONTROL_RE.sub("", _SPACING_RE.sub(" ", _ESCAPE_RE.sub("", text)))


def _printable_tree(value: Any) -> Any:
    """Figures with every string in them (keys too) made printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable_tree(k): _printable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable_tree(v) for v in value]
    return value


def mask(text: str) -> str:
    """A question as an operator may see it: no @names, links or long numbers."""
    text = _MENTION_RE.sub("@…", text)
    text = _LINK_RE.sub("<link>", text)
    return _NUMBER_RE.sub(lambda m: m.group(0)[:3] + "…", text)


def _question_key(question: str) -> str:
    """Questions that differ only in case, width, spaces or end punctuation count as one."""
    text = normalize(question).strip()
    text = re.sub(r"\s+", " ", text)
    return text.rstrip("?？!！。.~～ ")


def _labelled(counts: Counter[str | None], missing: str) -> Counter[str]:
    """The counts with `missing` for the articles that have none (in the same order)."""
    return Counter({missing if key is None else key: n for key, n in counts.items()})


def _title(engine: Engine | None, article_id: str) -> str:
    article = engine.get(article_id) if engine is not None else None
    return article.headline if article is not None else article_id


def collect_stats(config: Config, corpus: Path | None = None) -> dict:
    corpus = corpus or config.corpus
    figures: dict = {"corpus": None, "usage": None, "sources": {}, "warnings": []}
    try:
        engine = Library.open(corpus, config_dir=config.config_dir, cache_dir=config.cache_dir).engine
    except (CorpusError, OSError) as exc:
        figures["warnings"].append(f"corpus: {exc}")
        engine = None
    if engine is not None:
        tally = engine.articles.tally()  # from the columns: no article is read
        by_district = _labelled(tally.by_district, "(未识别区县)")
        by_date = _labelled(tally.by_date, "(无日期)")
        figures["corpus"] = {
            "files": engine.report.files,
            "articles": len(engine.articles),
            "captions": tally.captions,
            "by_district": dict(by_district.most_common()),
            "mentions_by_district": dict(tally.mentions.most_common()),
            "by_date": dict(sorted(by_date.items())),
            "errors": len(engine.report.errors),
        }
        figures["warnings"].extend(f"corpus: {e}" for e in engine.report.errors)
        by_source = _labelled(tally.by_source, "(无来源)")
        figures["sources"] = {name: {"articles": n} for name, n in by_source.most_common()}
    try:
        target = state_target(config)  # DATABASE_URL, else the SQLite file state_db
        if not is_url(target) and not Path(target).exists():
            figures["warnings"].append("no state database yet: the bot has not run")
            return _printable_tree(figures)
        store = Store(target)
    except StoreError as exc:
        figures["warnings"].append(str(exc))
        return _printable_tree(figures)
    with store:
        counts = store.question_counts()
        asked = counts["questions"]
        unanswered: Counter[str] = Counter()
        shown: dict[str, str] = {}
        for question in store.unanswered_questions():
            key = _question_key(question)
            if not key:
                continue
            unanswered[key] += 1
            shown.setdefault(key, question.strip())
        feedback = store.feedback_by_article()
        for health in store.all_source_health():
            entry = figures["sources"].setdefault(health.name, {"articles": 0})
            entry["health"] = {
                "last_fetch": health.last_fetch,
                "last_new_article": health.last_new_article,
                "consecutive_failures": health.consecutive_failures,
                "next_due": health.next_due,
                "paused": health.paused,
                "last_error": health.last_error,
            }
        subscriptions = store.subscription_counts()
        figures["usage"] = {
            "questions": asked,
            "answered": counts["answered"],
            "abstained": counts["abstained"],
            "abstention_rate": round(counts["abstained"] / asked, 4) if asked else None,
            "by_chat_type": store.questions_by_chat_type(),
            "top_unanswered": [
                {"question": mask(shown[k]), "count": n} for k, n in unanswered.most_common(TOP_UNANSWERED)
            ],
            "feedback": store.feedback_counts(),
            "feedback_by_article": [
                {"article": _title(engine, article_id), "positive": pos, "negative": neg}
                for article_id, pos, neg in feedback[:TOP_FEEDBACK]
            ],
            "subscriptions": {
                "chats": subscriptions["chats"],
                "topics": subscriptions["topics"],
                "digests_enabled": subscriptions["digests_enabled"],
                "delivered": subscriptions["delivered"],
            },
        }
    return _printable_tree(figures)


def _table(rows: list[tuple[str, object]], out: TextIO, indent: str = "  ") -> None:
    if not rows:
        print(f"{indent}(none)", file=out)
        return
    width = max(_display_width(str(k)) for k, _ in rows)
    for key, value in rows:
        key = str(key)
        print(f"{indent}{key}{' ' * (width - _display_width(key))}  {value}", file=out)


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _time(at: float | None) -> str:
    return "never" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _source_line(entry: dict) -> str:
    line = f"{entry['articles']} articles"
    health = entry.get("health")
    if health:
        state = "PAUSED" if health["paused"] else "ok" if not health["consecutive_failures"] else "failing"
        line += (
            f"; polled: {state}, last fetch {_time(health['last_fetch'])}, "
            f"last new article {_time(health['last_new_article'])}, "
            f"{health['consecutive_failures']} failures in a row"
        )
        if health["last_error"] and health["consecutive_failures"]:
            line += f" ({health['last_error']})"
    return line


def print_stats(figures: dict, out: TextIO) -> None:
    figures = _printable_tree(figures)  # whoever collected them
    corpus = figures.get("corpus")
    if corpus:
        print(
            f"corpus: {corpus['articles']} articles in {corpus['files']} files ({corpus['captions']} photo captions)",
            file=out,
        )
        print("articles by district (main district):", file=out)
        _table(list(corpus["by_district"].items()), out)
        print("articles by date:", file=out)
        _table(list(corpus["by_date"].items()), out)
    sources = figures.get("sources")
    if sources:
        print("articles by source:", file=out)
        _table([(name, _source_line(entry)) for name, entry in sources.items()], out)
    usage = figures.get("usage")
    if usage:
        rate = usage["abstention_rate"]
        print(
            f"questions: {usage['questions']} asked, {usage['answered']} answered, "
            f"{usage['abstained']} unanswered" + (f" (abstention rate {rate:.1%})" if rate is not None else ""),
            file=out,
        )
        if usage["by_chat_type"]:
            _table(
                [(k, f"{v['questions']} asked, {v['answered']} answered") for k, v in usage["by_chat_type"].items()],
                out,
            )
        print("most frequent unanswered questions:", file=out)
        _table([(f"{item['count']}×", item["question"]) for item in usage["top_unanswered"]], out)
        fb = usage["feedback"]
        print(f"feedback: {fb['positive']} 👍  {fb['negative']} 👎", file=out)
        if usage["feedback_by_article"]:
            _table([(f"+{i['positive']} -{i['negative']}", i["article"]) for i in usage["feedback_by_article"]], out)
        subs = usage["subscriptions"]
        delivered = ", ".join(f"{n} by {via}" for via, n in sorted(subs["delivered"].items())) or "none"
        print(
            f"subscriptions: {subs['chats']} chats, {subs['digests_enabled']} daily digests; "
            f"articles delivered: {delivered}",
            file=out,
        )
        _table([(f"{t['kind']} {t['value']}", f"{t['chats']} chats") for t in subs["topics"][:20]], out)
    for warning in figures.get("warnings", []):
        print(f"warning: {warning}", file=out)


def run_stats(config: Config, as_json: bool = False) -> int:
    figures = collect_stats(config)
    if as_json:
        sys.stdout.write(json.dumps(_printable_tree(figures), ensure_ascii=False, indent=2) + "\n")
    else:
        print_stats(figures, sys.stdout)
    return 0
