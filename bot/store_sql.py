"""The state's schema and its one migration history, for SQLite and PostgreSQL alike.

Migrations are written in SQLite's words, exactly as the SQLite state has always been built, and
`render()` adapts them for PostgreSQL with a short fixed list of rules (no SQL parser):

* INTEGER → BIGINT (Telegram chat ids pass 2^31), REAL → DOUBLE PRECISION (Unix seconds), TEXT →
  TEXT COLLATE "C" (byte order, as SQLite compares and sorts text, whatever the server's locale);
* `{serial}` is SQLite's auto-numbered `INTEGER PRIMARY KEY` and an identity column in PostgreSQL;
* `{rowid}` adds an explicit `rowid` identity column in PostgreSQL where queries rely on SQLite's
  implicit insertion order (`ORDER BY first_seen, rowid`).

Statements in bot/store.py are written once in SQL both understand (`INSERT … ON CONFLICT`,
`RETURNING`; SQLite ≥ 3.35); the backends only turn `?` into psycopg's `%s`. Version numbers are
shared: SQLite keeps its version in `PRAGMA user_version`, PostgreSQL in a `schema_version` table.
"""

from __future__ import annotations

import re

SCHEMES = ("postgresql://", "postgres://")  # a state target starting so is PostgreSQL; else a SQLite path
FRESH_ENV = "DISTRICT_NEWS_FRESH_STATE"  # =1: replace an empty or damaged state file with a new one


class StoreError(RuntimeError):
    """The state database cannot be used (newer schema, not a database, unreachable, unwritable)."""


# MIGRATIONS[n] takes a database at version n to n + 1.
MIGRATIONS: list[str] = [
    # 0 → 1: subscriptions and the question/feedback log.
    """
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL,
        kind    TEXT    NOT NULL CHECK (kind IN ('district', 'keyword')),
        value   TEXT    NOT NULL,
        created REAL    NOT NULL,
        PRIMARY KEY (chat_id, kind, value)
    );
    CREATE TABLE questions (
        id         {serial},
        at         REAL    NOT NULL,
        question   TEXT    NOT NULL,
        answered   INTEGER NOT NULL,
        article_id TEXT
    );
    CREATE TABLE feedback (
        id         {serial},
        at         REAL    NOT NULL,
        article_id TEXT    NOT NULL,
        question   TEXT,
        positive   INTEGER NOT NULL
    );
    """,
    # 1 → 2: where questions come from, daily digests, known articles and delivered marks.
    """
    ALTER TABLE questions ADD COLUMN chat_type TEXT NOT NULL DEFAULT 'private';
    CREATE INDEX questions_answered ON questions (answered);
    CREATE TABLE digests (
        chat_id  INTEGER PRIMARY KEY,
        enabled  INTEGER NOT NULL,
        time     TEXT    NOT NULL,
        since    REAL    NOT NULL,
        last_run REAL
    );
    CREATE TABLE articles (
        article_id TEXT    PRIMARY KEY,
        first_seen REAL    NOT NULL,
        source     TEXT    NOT NULL DEFAULT '',
        baseline   INTEGER NOT NULL DEFAULT 0{rowid}
    );
    CREATE INDEX articles_first_seen ON articles (first_seen);
    CREATE TABLE delivered (
        chat_id    INTEGER NOT NULL,
        article_id TEXT    NOT NULL,
        via        TEXT    NOT NULL,
        at         REAL    NOT NULL,
        PRIMARY KEY (chat_id, article_id)
    );
    """,
    # 2 → 3: in a forum group, the topic a chat's notices and digests go to.
    """
    CREATE TABLE chat_threads (
        chat_id   INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL
    );
    """,
    # 3 → 4: how each polled news source is doing (bot/telegram/polling.py).
    """
    CREATE TABLE source_health (
        name                 TEXT    PRIMARY KEY,
        last_fetch           REAL,
        last_new_article     REAL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_due             REAL,
        paused               INTEGER NOT NULL DEFAULT 0,
        last_error           TEXT
    );
    """,
    # 4 → 5: several workers behind one webhook: who handles each Telegram update, and which
    # chat's daily digest already ran on which day.
    """
    CREATE TABLE updates (
        update_id INTEGER PRIMARY KEY,
        worker    TEXT    NOT NULL,
        claimed   REAL    NOT NULL,
        finished  REAL
    );
    CREATE INDEX updates_claimed ON updates (claimed);
    CREATE TABLE digest_runs (
        chat_id INTEGER NOT NULL,
        day     TEXT    NOT NULL,
        PRIMARY KEY (chat_id, day)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Every table and column of the current schema, in the order `copy-state` copies them (a test
# checks the list against the schema, so a table added by a migration cannot be left behind).
TABLES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("chat_id", "kind", "value", "created"),
    "questions": ("id", "at", "question", "answered", "article_id", "chat_type"),
    "feedback": ("id", "at", "article_id", "question", "positive"),
    "digests": ("chat_id", "enabled", "time", "since", "last_run"),
    "articles": ("rowid", "article_id", "first_seen", "source", "baseline"),
    "delivered": ("chat_id", "article_id", "via", "at"),
    "chat_threads": ("chat_id", "thread_id"),
    "source_health": (
        "name",
        "last_fetch",
        "last_new_article",
        "consecutive_failures",
        "next_due",
        "paused",
        "last_error",
    ),
    "updates": ("update_id", "worker", "claimed", "finished"),
    "digest_runs": ("chat_id", "day"),
}
# Identity columns PostgreSQL numbers itself: after copying rows in, the counter moves past them.
IDENTITY_COLUMNS = {"questions": "id", "feedback": "id", "articles": "rowid"}

# What a chat id keys, with the rest of each table's key (a migrated chat's rows must not collide).
CHAT_TABLES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("kind", "value"),
    "digests": (),
    "delivered": ("article_id",),
    "chat_threads": (),
    "digest_runs": ("day",),
}

_MACROS = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "rowid": ""},
    "postgresql": {
        "serial": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "rowid": ",\n        rowid      BIGINT GENERATED BY DEFAULT AS IDENTITY",
    },
}
_PG_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": 'TEXT COLLATE "C"'}
_PG_TYPE_WORD = re.compile(r"\b(INTEGER|REAL|TEXT)\b")


def is_url(target: str) -> bool:
    """Is this state target a PostgreSQL URL (not an SQLite path)?"""
    return target.startswith(SCHEMES)


def render(script: str, dialect: str) -> str:
    """A migration script in the words of `dialect` ("sqlite" or "postgresql")."""
    text = script.format_map(_MACROS[dialect])
    if dialect == "postgresql":
        text = _PG_TYPE_WORD.sub(lambda m: _PG_TYPES[m.group(1)], text)
    return text


def statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.executescript would COMMIT midway)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def migration(number: int, dialect: str) -> list[str]:
    """The statements that take a database at version `number` to `number + 1`."""
    return statements(render(MIGRATIONS[number], dialect))
