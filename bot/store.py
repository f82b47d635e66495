"""The bot's state in one SQLite file: subscriptions, digests, delivered marks, questions, feedback,
the health of polled news sources.

Durability rules (a kill at any moment, including between two statements):

* Every write is one transaction (`BEGIN IMMEDIATE … COMMIT`) with `synchronous=FULL`, so a
  subscription the bot confirmed to a user is on disk before the confirmation is sent.
* Delivery is **at most once**. `claim()` records (chat, article) as delivered in its own
  transaction *before* the message is sent; only the ids it newly inserted may be sent. A crash
  after the claim and before the send loses that notification for that chat; it never causes a
  second copy, which is what "never re-sends a delivered article" requires. `release()` undoes a
  claim only when Telegram said for certain that nothing was delivered (RetryAfter).
* The schema carries its version in `PRAGMA user_version`; `_MIGRATIONS[n]` upgrades version
  n to n + 1 and runs in the same transaction as the version bump.

Timestamps are Unix seconds (floats). No user ids or names are stored; chat ids only where a
chat asked for something (subscriptions, digests, delivered marks), and `forget_chat()` drops them.

A state file that exists but is empty (0 bytes) or is not an SQLite database is refused with a
`StoreError`: opening it would silently start a new database, losing every subscription and
making the whole corpus the new baseline. To start afresh on purpose, pass `fresh_ok=True` or set
DISTRICT_NEWS_FRESH_STATE=1: the damaged file is set aside as `NAME.damaged-YYYYmmdd-HHMMSS`
(an empty one is just replaced) and a new database is created, with a WARNING in the log.

Why one module of ~500 lines: the schema, its migrations and every statement that reads or
writes it are one contract (what is durable, what is claimed at most once); kept together, a
change to a table and to the queries on it is reviewed in one place.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KINDS = ("district", "keyword")
FRESH_ENV = "DISTRICT_NEWS_FRESH_STATE"  # =1: replace an empty or damaged state file with a new one
_SQLITE_HEADER = b"SQLite format 3\x00"
UPDATE_KEEP_SECONDS = 86_400.0  # claims of Telegram updates older than this are pruned ...
UPDATE_PRUNE_EVERY = 3_600.0  # ... at most this often

log = logging.getLogger(__name__)

# _MIGRATIONS[n] takes a database at user_version n to n + 1.
_MIGRATIONS: list[str] = [
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
        id         INTEGER PRIMARY KEY,
        at         REAL    NOT NULL,
        question   TEXT    NOT NULL,
        answered   INTEGER NOT NULL,
        article_id TEXT
    );
    CREATE TABLE feedback (
        id         INTEGER PRIMARY KEY,
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
        baseline   INTEGER NOT NULL DEFAULT 0
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
SCHEMA_VERSION = len(_MIGRATIONS)
_CHAT_TABLES = ("subscriptions", "digests", "delivered", "chat_threads", "digest_runs")  # what a chat id keys


class StoreError(RuntimeError):
    """The state database cannot be used (newer schema, not a database, unwritable)."""


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
    """One SQLite connection shared by the bot's handlers and jobs, serialised by a lock.

    Each call is short (well under a millisecond on the sizes a district bot sees), so asyncio
    handlers call it directly; threads (ingest, reload) may call it too.
    """

    def __init__(self, path: str | Path = ":memory:", *, fresh_ok: bool | None = None) -> None:
        """Open (or, when there is no file yet, create) the state database at `path`.

        `fresh_ok`: start a new database in place of an empty or damaged file instead of refusing;
        None reads the environment variable DISTRICT_NEWS_FRESH_STATE (1/true/yes).
        """
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            if fresh_ok is None:
                fresh_ok = os.environ.get(FRESH_ENV, "").strip().lower() in ("1", "true", "yes", "on")
            _check_file(Path(self.path).expanduser(), fresh_ok)
        self._lock = threading.RLock()
        self._pruned_updates = float("-inf")
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the state database: {exc}") from exc

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this bot ({SCHEMA_VERSION}); upgrade the bot"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(_MIGRATIONS[number]):
                    db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

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
            cursor = db.execute(
                "INSERT OR IGNORE INTO subscriptions (chat_id, kind, value, created) VALUES (?,?,?,?)",
                (chat_id, kind, value, time.time() if now is None else now),
            )
            return cursor.rowcount == 1

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
                    "since = CASE WHEN digests.enabled THEN digests.since ELSE excluded.since END",
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
            baseline = db.execute("SELECT NOT EXISTS (SELECT 1 FROM articles)").fetchone()[0]
            fresh = []
            for article_id, source in items:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO articles (article_id, first_seen, source, baseline) VALUES (?,?,?,?)",
                    (article_id, now, source or "", int(baseline)),
                )
                if cursor.rowcount == 1 and not baseline:
                    fresh.append(article_id)
            return fresh

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

    # ------------------------------------------------------------ delivery

    def claim(
        self, chat_id: int, article_ids: Iterable[str], via: str = "notify", now: float | None = None
    ) -> list[str]:
        """Mark articles delivered to a chat; returns only the ids this call marked.

        Call before sending and send only what it returns: two claims of the same article (two
        jobs racing, or a restart replaying the same batch) give it to exactly one of them.
        """
        now = time.time() if now is None else now
        claimed = []
        with self._tx() as db:
            for article_id in dict.fromkeys(article_ids):
                cursor = db.execute(
                    "INSERT OR IGNORE INTO delivered (chat_id, article_id, via, at) VALUES (?,?,?,?)",
                    (chat_id, article_id, via, now),
                )
                if cursor.rowcount == 1:
                    claimed.append(article_id)
        return claimed

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
                    "INSERT OR REPLACE INTO chat_threads (chat_id, thread_id) VALUES (?, ?)", (chat_id, thread_id)
                )

    def thread(self, chat_id: int) -> int | None:
        rows = self._read("SELECT thread_id FROM chat_threads WHERE chat_id = ?", (chat_id,))
        return rows[0][0] if rows else None

    def forget_chat(self, chat_id: int) -> None:
        """The bot was blocked or removed: drop everything kept about the chat."""
        with self._tx() as db:
            for table in _CHAT_TABLES:
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (chat_id,))

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup (new chat id): move its state over (a plain group has
        no topics, so there is no topic to move)."""
        with self._tx() as db:
            for table in _CHAT_TABLES:
                db.execute(f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old_id,))

    # ------------------------------------------------------------ several workers

    def claim_update(self, update_id: int, worker: str, now: float, lease: float = 60.0) -> bool:
        """May `worker` handle this Telegram update? True when nobody claimed it yet, or when the
        claim of a worker that did not finish it is older than `lease` seconds (that worker died:
        this one takes it over). One statement, so two workers never both get True."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO updates (update_id, worker, claimed) VALUES (?, ?, ?) "
                "ON CONFLICT (update_id) DO UPDATE SET worker = excluded.worker, claimed = excluded.claimed "
                "WHERE updates.finished IS NULL AND updates.claimed <= ?",
                (update_id, worker, now, now - lease),
            )
            return cursor.rowcount == 1

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
            cursor = db.execute(
                "INSERT INTO digest_runs (chat_id, day) VALUES (?, ?) ON CONFLICT DO NOTHING", (chat_id, day)
            )
            try:
                cutoff = (dt.date.fromisoformat(day) - dt.timedelta(days=7)).isoformat()
            except ValueError:
                cutoff = None
            if cutoff is not None:
                db.execute("DELETE FROM digest_runs WHERE chat_id = ? AND day < ?", (chat_id, cutoff))
            return cursor.rowcount == 1

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
                "last_new_article = COALESCE(excluded.last_new_article, last_new_article)",
                (name, now, now if added else None, next_due),
            )
        return self.source_health(name)

    def source_failed(self, name: str, now: float, next_due: float, error: str, pause_after: int) -> SourceHealth:
        """A poll of `name` failed: one more failure in a row; paused at `pause_after` of them."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO source_health (name, last_fetch, consecutive_failures, next_due, paused, last_error) "
                "VALUES (?, ?, 1, ?, 0, ?) ON CONFLICT (name) DO UPDATE SET last_fetch = excluded.last_fetch, "
                "consecutive_failures = consecutive_failures + 1, next_due = excluded.next_due, "
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


def _check_file(path: Path, fresh_ok: bool) -> None:
    """Refuse an existing state file that is empty or not an SQLite database (see module doc).

    Checked before SQLite opens the file: SQLite takes a 0-byte file for a new database (and
    drops a write-ahead log beside it), and a new database means every subscription is gone.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        log.info("no state database at %s yet: creating a new one", path)
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the state database: {exc.strerror}") from exc
    if size and head == _SQLITE_HEADER:
        return
    what = "is empty (0 bytes)" if not size else "is not an SQLite database"
    if not fresh_ok:
        message = (
            f"{path}: the state file {what}. Opening it would start a new database and lose every "
            f"subscription, digest and delivered mark. Restore it from a backup; or, to start afresh "
            f"with an empty database, set {FRESH_ENV}=1 (the file is set aside as "
            f"{path.name}.damaged-<time>, not deleted)."
        )
        log.error("%s", message)
        raise StoreError(message)
    aside = _set_aside(path)
    log.warning(
        "%s: the state file %s; starting a NEW, empty state database as asked (%s): all subscriptions, "
        "digests and delivered marks start over, and the corpus becomes the new baseline%s",
        path,
        what,
        FRESH_ENV,
        f"; the old file is kept as {', '.join(str(p) for p in aside)}" if aside else "",
    )


def _set_aside(path: Path) -> list[Path]:
    """Move a damaged state file and its write-ahead log out of the way (an empty file, an empty
    log and the shared-memory index are removed); returns where they went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            if part.stat().st_size == 0:
                part.unlink()
                continue
        except FileNotFoundError:
            continue
        target = part.with_name(f"{part.name}.damaged-{stamp}")
        os.replace(part, target)
        moved.append(target)
    path.with_name(path.name + "-shm").unlink(missing_ok=True)
    return moved


_HEALTH_COLUMNS = "name, last_fetch, last_new_article, consecutive_failures, next_due, paused, last_error"


def _health(row: tuple) -> SourceHealth:
    name, last_fetch, last_new, failures, next_due, paused, error = row
    return SourceHealth(name, last_fetch, last_new, int(failures), next_due, bool(paused), error)


def _digest(row: tuple) -> DigestSetting:
    return DigestSetting(chat_id=row[0], enabled=bool(row[1]), time=row[2], since=row[3], last_run=row[4])


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.executescript would COMMIT midway)."""
    return [s.strip() for s in script.split(";") if s.strip()]
