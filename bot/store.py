"""The bot's state: subscriptions, digests, delivered marks, questions, feedback, the health of
polled news sources, and which worker handles which Telegram update.

Where it lives: an SQLite file (`state_db`, the default: one process, nothing to run) or, when
`DATABASE_URL=postgresql://…` is set, PostgreSQL (several workers, the operator's backups). One
schema and one migration history for both (bot/store_sql.py); the backends (bot/store_sqlite.py,
bot/store_pg.py) run the same statements, written here once.

Durability rules (a kill at any moment, including between two statements):

* Every write is one transaction, committed before the method returns, so a subscription the bot
  confirmed to a user is stored before the confirmation is sent.
* Delivery is **at most once**. `claim()` records (chat, article) as delivered in its own
  transaction *before* the message is sent (`INSERT … ON CONFLICT DO NOTHING RETURNING`: atomic
  across processes too); only the ids it newly inserted may be sent. A crash after the claim and
  before the send loses that notification for that chat; it never causes a second copy.
  `release()` undoes a claim only when Telegram said for certain that nothing was delivered.
* `MIGRATIONS[n]` (bot/store_sql.py) upgrades version n to n + 1 in the same transaction as the version bump.

Why this module is ~530 lines: every statement that reads or writes the state is here, on both
backends, and they are one contract (what is durable, what is claimed at most once); kept
together, a change to a table and to the queries on it is reviewed in one place. The schema, the
two backends and the operator commands live beside it (store_sql, store_sqlite, store_pg,
store_admin).

Timestamps are Unix seconds (floats). No user ids or names are stored; chat ids only where a
chat asked for something (subscriptions, digests, delivered marks), and `forget_chat()` drops them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store_sql import CHAT_TABLES, FRESH_ENV, SCHEMA_VERSION, StoreError, is_url, migration
from .store_sqlite import SQLiteBackend

if TYPE_CHECKING:
    from .config import Config

__all__ = ["FRESH_ENV", "SCHEMA_VERSION", "Store", "StoreError", "open_store", "state_target"]

KINDS = ("district", "keyword")
DATABASE_URL_ENV = "DATABASE_URL"  # postgresql://…: the state in PostgreSQL instead of state_db
UPDATE_KEEP_SECONDS = 86_400.0  # claims of Telegram updates older than this are pruned ...
UPDATE_PRUNE_EVERY = 3_600.0  # ... at most this often

log = logging.getLogger(__name__)


def state_target(config: Config) -> str:
    """Where the configured state lives: DATABASE_URL when set, else the SQLite file `state_db`."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if not url:
        return str(config.state_db)
    if not is_url(url):
        from .store_pg import redact

        raise StoreError(
            f"{DATABASE_URL_ENV}={redact(url)} is not a postgresql:// URL; unset it to keep the state in "
            f"the SQLite file state_db ({config.state_db})"
        )
    return url


def open_store(config: Config, **options: Any) -> Store:
    """The configured state (see `state_target`), migrated to the current schema."""
    return Store(state_target(config), **options)


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    kind: str  # "district" | "keyword"
    value: str
    created: float


@dataclass(frozen=True)
class DigestSetting:
    chat_id: int
    enabled: bool
    time: str  # "HH:MM", in the configured timezone
    since: float  # articles first seen after this go into the next digest
    last_run: float | None


@dataclass(frozen=True)
class SourceHealth:
    name: str
    last_fetch: float | None = None  # the last poll, successful or not
    last_new_article: float | None = None  # the last poll that added an article
    consecutive_failures: int = 0
    next_due: float | None = None  # no poll before this (a failing source is slowed down)
    paused: bool = False  # too many failures in a row: not polled until an operator resumes it
    last_error: str | None = None


@dataclass(frozen=True)
class KnownArticle:
    article_id: str
    first_seen: float
    source: str


class Store:
    """The state, shared by the bot's handlers and jobs, one call at a time (a lock).

    `target` is an SQLite path (":memory:" for tests) or a postgresql:// URL. Each call is short
    (well under a millisecond on SQLite at a district bot's sizes, a round trip or two on
    PostgreSQL), so asyncio handlers call it directly; threads (ingest, reload) may call it too.
    """

    def __init__(self, target: str | Path = ":memory:", *, fresh_ok: bool | None = None) -> None:
        """Open (or create) the state at `target` and bring its schema up to date.

        `fresh_ok` (SQLite): start a new database in place of an empty or damaged file instead of
        refusing; None reads the environment variable DISTRICT_NEWS_FRESH_STATE (1/true/yes).
        """
        self._lock = threading.RLock()
        self._pruned_updates = float("-inf")
        self._backend: Any
        if is_url(str(target)):  # (the URL, password and all, is kept by the backend only)
            from .store_pg import PostgresBackend

            self._backend = PostgresBackend(str(target))
        else:
            self._backend = SQLiteBackend(str(target), fresh_ok)
        self.where: str = self._backend.where  # for messages: the path, or the URL without its password
        self.path = self.where
        self.dialect: str = self._backend.dialect
        try:
            self.migrated_from = self._migrate()
        except BaseException:
            self._backend.close()
            raise

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock, self._backend.transaction() as tx:
            yield tx

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._backend.read(sql, params)

    def _migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; returns the version it had."""
        try:
            with self._tx() as tx:
                tx.begin_migration()
                version = tx.schema_version()
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.where}: schema version {version} is newer than this bot ({SCHEMA_VERSION}); "
                        "upgrade the bot"
                    )
                for number in range(version, SCHEMA_VERSION):
                    for statement in migration(number, self.dialect):
                        tx.execute(statement)
                if version != SCHEMA_VERSION:
                    tx.set_schema_version(SCHEMA_VERSION)
                if 0 < version < SCHEMA_VERSION:  # (a new database was announced where it was created)
                    log.info("%s: state schema upgraded from version %d to %d", self.where, version, SCHEMA_VERSION)
                return version
        except StoreError:
            raise
        except Exception as exc:  # sqlite3.DatabaseError, psycopg.Error: not a usable state database
            raise StoreError(f"{self.where}: cannot open the state database: {exc}") from exc

    @property
    def version(self) -> int:
        with self._tx() as tx:
            return int(tx.schema_version())

    def close(self) -> None:
        with self._lock:
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ question and feedback log

    def log_question(self, chat_type: str, question: str, answered: bool, article_id: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO questions (at, chat_type, question, answered, article_id) VALUES (?,?,?,?,?)",
                (time.time(), str(chat_type or "private"), question[:500], int(bool(answered)), article_id),
            )

    def log_feedback(self, article_id: str, question: str | None, positive: bool) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO feedback (at, article_id, question, positive) VALUES (?,?,?,?)",
                (time.time(), article_id, question[:500] if question else None, int(bool(positive))),
            )

    # ------------------------------------------------------------ subscriptions

    def subscribe(self, chat_id: int, kind: str, value: str, now: float | None = None) -> bool:
        """Add a subscription; False when the chat already had it (its `created` is kept)."""
        if kind not in KINDS:
            raise ValueError(f"unknown subscription kind {kind!r}")
        with self._tx() as db:
            [added] = db.inserted(
                "INSERT INTO subscriptions (chat_id, kind, value, created) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                [(chat_id, kind, value, time.time() if now is None else now)],
            )
            return added

    def unsubscribe(self, chat_id: int, kind: str, value: str) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND kind = ? AND value = ?", (chat_id, kind, value)
            )
            return cursor.rowcount > 0

    def unsubscribe_all(self, chat_id: int) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)).rowcount

    def subscriptions(self, chat_id: int) -> list[Subscription]:
        rows = self._read(
            "SELECT chat_id, kind, value, created FROM subscriptions WHERE chat_id = ? ORDER BY created, kind, value",
            (chat_id,),
        )
        return [Subscription(*row) for row in rows]

    def all_subscriptions(self) -> dict[int, list[Subscription]]:
        rows = self._read("SELECT chat_id, kind, value, created FROM subscriptions ORDER BY chat_id, created")
        out: dict[int, list[Subscription]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(Subscription(*row))
        return out

    # ------------------------------------------------------------ digests

    def set_digest(self, chat_id: int, enabled: bool, at: str | None = None, now: float | None = None) -> None:
        """Turn the daily digest on (at "HH:MM") or off. Turning it on starts from `now`."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute("SELECT time FROM digests WHERE chat_id = ?", (chat_id,)).fetchone()
            if enabled:
                if at is None:
                    raise ValueError("a digest needs a time")
                db.execute(
                    "INSERT INTO digests (chat_id, enabled, time, since) VALUES (?,?,?,?) "
                    "ON CONFLICT (chat_id) DO UPDATE SET enabled = 1, time = excluded.time, "
                    "since = CASE WHEN digests.enabled = 1 THEN digests.since ELSE excluded.since END",
                    (chat_id, 1, at, now),
                )
            elif row is not None:
                db.execute("UPDATE digests SET enabled = 0 WHERE chat_id = ?", (chat_id,))

    def digest(self, chat_id: int) -> DigestSetting | None:
        rows = self._read("SELECT chat_id, enabled, time, since, last_run FROM digests WHERE chat_id = ?", (chat_id,))
        return _digest(rows[0]) if rows else None

    def digests(self, enabled_only: bool = True) -> list[DigestSetting]:
        sql = "SELECT chat_id, enabled, time, since, last_run FROM digests"
        if enabled_only:
            sql += " WHERE enabled = 1"
        return [_digest(row) for row in self._read(sql + " ORDER BY chat_id")]

    def digest_done(self, chat_id: int, now: float) -> None:
        """The digest of `now` went out: the next one lists what comes after."""
        with self._tx() as db:
            db.execute("UPDATE digests SET since = ?, last_run = ? WHERE chat_id = ?", (now, now, chat_id))

    # ------------------------------------------------------------ known articles

    def record_articles(self, items: Iterable[tuple[str, str]], now: float | None = None) -> list[str]:
        """Note articles (id, source file) the bot now has; returns the ids it did not know.

        The very first call on an empty table records a *baseline*: the corpus the bot started
        with is not news to anybody. Later calls record what arrived (ingest, reload, or files
        added while the bot was down) as new, with `first_seen = now`.
        """
        now = time.time() if now is None else now
        items = list(items)
        with self._tx() as db:
            db.lock("articles")  # two processes starting at once agree on one baseline
            baseline = bool(db.execute("SELECT NOT EXISTS (SELECT 1 FROM articles)").fetchone()[0])
            rows = [(article_id, now, source or "", int(baseline)) for article_id, source in items]
            added = db.inserted(
                "INSERT INTO articles (article_id, first_seen, source, baseline) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                rows,
            )
            return [] if baseline else [row[0] for row, new in zip(rows, added, strict=True) if new]

    def new_articles(self, since: float) -> list[KnownArticle]:
        """Articles that arrived (not the baseline) after `since`, oldest first."""
        rows = self._read(
            "SELECT article_id, first_seen, source FROM articles WHERE baseline = 0 "
            "AND first_seen > ? ORDER BY first_seen, rowid",
            (since,),
        )
        return [KnownArticle(*row) for row in rows]

    def known_articles(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM articles")[0][0])

    def known_by_source(self) -> dict[str, int]:
        """How many articles are known of each source file ("" for none)."""
        return {
            source: int(count) for source, count in self._read("SELECT source, COUNT(*) FROM articles GROUP BY source")
        }

    # ------------------------------------------------------------ delivery

    def claim(
        self, chat_id: int, article_ids: Iterable[str], via: str = "notify", now: float | None = None
    ) -> list[str]:
        """Mark articles delivered to a chat; returns only the ids this call marked.

        Call before sending and send only what it returns: two claims of the same article (two
        jobs racing, or a restart replaying the same batch) give it to exactly one of them.
        """
        now = time.time() if now is None else now
        wanted = list(dict.fromkeys(article_ids))
        ordered = sorted(wanted)  # every claimant locks rows in one order: no deadlock between processes
        with self._tx() as db:
            added = db.inserted(
                "INSERT INTO delivered (chat_id, article_id, via, at) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                [(chat_id, article_id, via, now) for article_id in ordered],
            )
        won = {article_id for article_id, new in zip(ordered, added, strict=True) if new}
        return [article_id for article_id in wanted if article_id in won]

    def release(self, chat_id: int, article_ids: Iterable[str]) -> None:
        """Undo a claim whose message certainly did not go out (Telegram refused it)."""
        with self._tx() as db:
            db.executemany(
                "DELETE FROM delivered WHERE chat_id = ? AND article_id = ?", [(chat_id, a) for a in article_ids]
            )

    def delivered(self, chat_id: int, article_ids: Iterable[str] | None = None) -> set[str]:
        if article_ids is None:
            rows = self._read("SELECT article_id FROM delivered WHERE chat_id = ?", (chat_id,))
            return {r[0] for r in rows}
        ids = list(dict.fromkeys(article_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT article_id FROM delivered WHERE chat_id = ? AND article_id IN ({marks})", [chat_id, *chunk]
            )
            found.update(r[0] for r in rows)
        return found

    # ------------------------------------------------------------ chats

    def set_thread(self, chat_id: int, thread_id: int | None) -> None:
        """The forum topic the chat's notices go to (None: the chat itself, General in a forum)."""
        with self._tx() as db:
            if thread_id is None:
                db.execute("DELETE FROM chat_threads WHERE chat_id = ?", (chat_id,))
            else:
                db.execute(
                    "INSERT INTO chat_threads (chat_id, thread_id) VALUES (?, ?) "
                    "ON CONFLICT (chat_id) DO UPDATE SET thread_id = excluded.thread_id",
                    (chat_id, thread_id),
                )

    def thread(self, chat_id: int) -> int | None:
        rows = self._read("SELECT thread_id FROM chat_threads WHERE chat_id = ?", (chat_id,))
        return rows[0][0] if rows else None

    def forget_chat(self, chat_id: int) -> None:
        """The bot was blocked or removed: drop everything kept about the chat."""
        with self._tx() as db:
            for table in CHAT_TABLES:
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (chat_id,))

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup (new chat id): move its state over (a plain group has
        no topics, so there is no topic to move)."""
        with self._tx() as db:
            for table, key in CHAT_TABLES.items():
                # What the new id already has wins; the old id's other rows move over.
                same = "".join(f" AND n.{column} = {table}.{column}" for column in key)
                db.execute(
                    f"DELETE FROM {table} WHERE chat_id = ? AND EXISTS "
                    f"(SELECT 1 FROM {table} AS n WHERE n.chat_id = ?{same})",
                    (old_id, new_id),
                )
                db.execute(f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))

    # ------------------------------------------------------------ several workers

    def claim_update(self, update_id: int, worker: str, now: float, lease: float = 60.0) -> bool:
        """May `worker` handle this Telegram update? True when nobody claimed it yet, or when the
        claim of a worker that did not finish it is older than `lease` seconds (that worker died:
        this one takes it over). One statement, so two workers never both get True."""
        with self._tx() as db:
            [won] = db.inserted(
                "INSERT INTO updates (update_id, worker, claimed) VALUES (?, ?, ?) "
                "ON CONFLICT (update_id) DO UPDATE SET worker = excluded.worker, claimed = excluded.claimed "
                "WHERE updates.finished IS NULL AND updates.claimed <= ? RETURNING 1",
                [(update_id, worker, now, now - lease)],
            )
            return won

    def finish_update(self, update_id: int, now: float) -> None:
        """The update was handled: never again. Claims older than a day are pruned once an hour
        (Telegram keeps an undelivered update for 24 hours at most)."""
        with self._tx() as db:
            db.execute("UPDATE updates SET finished = ? WHERE update_id = ?", (now, update_id))
            if now - self._pruned_updates >= UPDATE_PRUNE_EVERY:
                db.execute("DELETE FROM updates WHERE claimed < ?", (now - UPDATE_KEEP_SECONDS,))
                self._pruned_updates = now

    def claim_digest_run(self, chat_id: int, day: str) -> bool:
        """True exactly once per (chat, day), whichever process asks first: the daily digest of
        that day is this caller's to send. `day` is the local date, ISO (YYYY-MM-DD); marks more
        than a week older than it are dropped."""
        with self._tx() as db:
            [won] = db.inserted(
                "INSERT INTO digest_runs (chat_id, day) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                [(chat_id, day)],
            )
            try:
                cutoff = (dt.date.fromisoformat(day) - dt.timedelta(days=7)).isoformat()
            except ValueError:
                cutoff = None
            if cutoff is not None:
                db.execute("DELETE FROM digest_runs WHERE chat_id = ? AND day < ?", (chat_id, cutoff))
            return won

    # ------------------------------------------------------------ polled sources

    def source_health(self, name: str) -> SourceHealth:
        """How the source `name` is doing (a source never polled: all empty)."""
        rows = self._read(f"SELECT {_HEALTH_COLUMNS} FROM source_health WHERE name = ?", (name,))
        return _health(rows[0]) if rows else SourceHealth(name)

    def all_source_health(self) -> list[SourceHealth]:
        return [_health(row) for row in self._read(f"SELECT {_HEALTH_COLUMNS} FROM source_health ORDER BY name")]

    def source_succeeded(self, name: str, now: float, next_due: float, added: int) -> SourceHealth:
        """A poll of `name` worked (`added` new articles): failures are forgotten."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO source_health (name, last_fetch, last_new_article, consecutive_failures, next_due, "
                "paused, last_error) VALUES (?, ?, ?, 0, ?, 0, NULL) ON CONFLICT (name) DO UPDATE SET "
                "last_fetch = excluded.last_fetch, consecutive_failures = 0, next_due = excluded.next_due, "
                "paused = 0, last_error = NULL, "
                "last_new_article = COALESCE(excluded.last_new_article, source_health.last_new_article)",
                (name, now, now if added else None, next_due),
            )
        return self.source_health(name)

    def source_failed(self, name: str, now: float, next_due: float, error: str, pause_after: int) -> SourceHealth:
        """A poll of `name` failed: one more failure in a row; paused at `pause_after` of them."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO source_health (name, last_fetch, consecutive_failures, next_due, paused, last_error) "
                "VALUES (?, ?, 1, ?, 0, ?) ON CONFLICT (name) DO UPDATE SET last_fetch = excluded.last_fetch, "
                "consecutive_failures = source_health.consecutive_failures + 1, next_due = excluded.next_due, "
                "last_error = excluded.last_error",
                (name, now, next_due, error[:500]),
            )
            db.execute(
                "UPDATE source_health SET paused = 1 WHERE name = ? AND consecutive_failures >= ?", (name, pause_after)
            )
        return self.source_health(name)

    def resume_source(self, name: str) -> bool:
        """An operator resumes a paused source: polled again at once; False if it was not paused."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE source_health SET paused = 0, consecutive_failures = 0, next_due = NULL "
                "WHERE name = ? AND paused = 1",
                (name,),
            )
            return cursor.rowcount == 1

    # ------------------------------------------------------------ operator figures (no chat ids)

    def question_counts(self) -> dict[str, int]:
        total, answered = self._read("SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions")[0]
        return {"questions": int(total), "answered": int(answered), "abstained": int(total) - int(answered)}

    def questions_by_chat_type(self) -> dict[str, dict[str, int]]:
        rows = self._read(
            "SELECT chat_type, COUNT(*), COALESCE(SUM(answered), 0) FROM questions "
            "GROUP BY chat_type ORDER BY COUNT(*) DESC"
        )
        return {r[0]: {"questions": int(r[1]), "answered": int(r[2])} for r in rows}

    def unanswered_questions(self) -> list[str]:
        return [r[0] for r in self._read("SELECT question FROM questions WHERE answered = 0")]

    def feedback_counts(self) -> dict[str, int]:
        positive, negative = self._read(
            "SELECT COALESCE(SUM(positive), 0), COALESCE(SUM(1 - positive), 0) FROM feedback"
        )[0]
        return {"positive": int(positive), "negative": int(negative)}

    def feedback_by_article(self) -> list[tuple[str, int, int]]:
        rows = self._read(
            "SELECT article_id, SUM(positive), SUM(1 - positive) FROM feedback "
            "GROUP BY article_id ORDER BY SUM(1 - positive) DESC, SUM(positive) DESC"
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    def subscription_counts(self) -> dict[str, object]:
        chats = self._read("SELECT COUNT(DISTINCT chat_id) FROM subscriptions")[0][0]
        rows = self._read(
            "SELECT kind, value, COUNT(*) FROM subscriptions GROUP BY kind, value ORDER BY COUNT(*) DESC, kind, value"
        )
        digests = self._read("SELECT COUNT(*) FROM digests WHERE enabled = 1")[0][0]
        delivered = self._read("SELECT via, COUNT(*) FROM delivered GROUP BY via")
        return {
            "chats": int(chats),
            "topics": [{"kind": r[0], "value": r[1], "chats": int(r[2])} for r in rows],
            "digests_enabled": int(digests),
            "delivered": {r[0]: int(r[1]) for r in delivered},
        }


_HEALTH_COLUMNS = "name, last_fetch, last_new_article, consecutive_failures, next_due, paused, last_error"


def _health(row: tuple) -> SourceHealth:
    name, last_fetch, last_new, failures, next_due, paused, error = row
    return SourceHealth(name, last_fetch, last_new, int(failures), next_due, bool(paused), error)


def _digest(row: tuple) -> DigestSetting:
    return DigestSetting(chat_id=row[0], enabled=bool(row[1]), time=row[2], since=row[3], last_run=row[4])
