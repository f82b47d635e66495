"""The state, on SQLite and on PostgreSQL alike (`state_target` runs each test on both):
migrations, durability of subscriptions, at-most-once delivery marks, claims across workers."""

from __future__ import annotations

import random
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from bot.store import SCHEMA_VERSION, SourceHealth, Store, StoreError
from bot.store_sql import is_url, migration

from .conftest import ROOT

V1_ROWS = [
    "INSERT INTO subscriptions VALUES (42, 'district', '二七区', 1000.0)",
    "INSERT INTO questions (at, question, answered, article_id) VALUES (1.0, '清华附中在哪', 1, 'a1')",
]


def make_version(target: str, version: int, rows: list[str]) -> None:
    """A database as schema version `version` left it (its own migrations, its own version mark),
    with `rows` inserted."""
    if is_url(target):
        with psycopg.connect(target) as conn:
            for number in range(version):
                for statement in migration(number, "postgresql"):
                    conn.execute(statement)
            for row in rows:
                conn.execute(row)
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(target)
    for number in range(version):
        for statement in migration(number, "sqlite"):
            db.execute(statement)
    for row in rows:
        db.execute(row)
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


def test_new_sqlite_database_has_the_current_schema(tmp_path: Path):
    path = tmp_path / "nested" / "state" / "bot.sqlite3"
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        mode = store._read("PRAGMA journal_mode")[0][0]
        assert mode == "wal"
    assert path.exists()


def test_new_postgresql_database_has_the_current_schema(pg_server):
    url = pg_server.database()
    with Store(url) as store:
        assert (store.dialect, store.version, store.migrated_from) == ("postgresql", SCHEMA_VERSION, 0)
        columns = dict(
            store._read(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        )
    # Telegram's chat ids pass 2^31; timestamps are doubles, as SQLite's REAL.
    assert columns["subscriptions.chat_id"] == columns["delivered.chat_id"] == "bigint"
    assert columns["digests.since"] == "double precision"
    with Store(url) as again:
        assert again.migrated_from == SCHEMA_VERSION and again.subscribe(-1001234567890123, "district", "二七区")
        assert [s.chat_id for s in again.subscriptions(-1001234567890123)] == [-1001234567890123]


def test_migrates_an_older_schema_and_keeps_its_data(state_target: str):
    make_version(state_target, 1, V1_ROWS)
    with Store(state_target) as store:
        assert store.version == SCHEMA_VERSION and store.migrated_from == 1
        [sub] = store.subscriptions(42)
        assert (sub.kind, sub.value, sub.created) == ("district", "二七区", 1000.0)
        assert store.question_counts() == {"questions": 1, "answered": 1, "abstained": 0}
        assert store.questions_by_chat_type() == {"private": {"questions": 1, "answered": 1}}
        store.set_digest(42, True, "08:00", now=5.0)  # tables of version 2 work
        assert store.claim(42, ["a1"]) == ["a1"]
        assert store.thread(42) is None  # and of version 3
        store.set_thread(42, 7)
        assert store.source_health("晚报").consecutive_failures == 0  # and of version 4
        assert store.claim_update(1, "w1", now=1.0) and store.claim_digest_run(42, "2025-03-30")  # and 5
        store.log_question("private", "二七区有什么新闻", True, "a2")  # ids go on after the old rows
        assert [r[0] for r in store._read("SELECT id FROM questions ORDER BY id")] == [1, 2]
    with Store(state_target) as again:  # a second open does not migrate twice
        assert again.version == SCHEMA_VERSION and again.migrated_from == SCHEMA_VERSION
        assert len(again.subscriptions(42)) == 1 and again.thread(42) == 7


def test_migrates_each_version_step_by_step(state_target: str, tmp_path: Path):
    """Every version a database may be at is upgraded to the current one and works."""
    for version in range(SCHEMA_VERSION + 1):
        target = state_target if version == 0 else _another(state_target, tmp_path, version)
        make_version(target, version, V1_ROWS if version else [])
        with Store(target) as store:
            assert (store.migrated_from, store.version) == (version, SCHEMA_VERSION)
            assert len(store.subscriptions(42)) == (1 if version else 0)
            assert store.record_articles([("a1", "p.txt")], now=1.0) == []
            assert store.claim(42, ["a1"]) == ["a1"] and store.claim_update(9, "w", now=1.0)


def _another(state_target: str, tmp_path: Path, version: int) -> str:
    if not is_url(state_target):
        return str(tmp_path / f"v{version}.sqlite3")
    base = state_target.rsplit("/", 1)[0]
    name = f"{state_target.rsplit('/', 1)[1]}_v{version}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def test_refuses_a_newer_schema(state_target: str):
    make_version(state_target, SCHEMA_VERSION, [])
    if is_url(state_target):
        with psycopg.connect(state_target) as conn:
            conn.execute("UPDATE schema_version SET version = version + 1")
    else:
        db = sqlite3.connect(state_target)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.commit()
        db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(state_target)


def test_not_a_database_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite3"):
        Store(path)


@pytest.mark.postgres
def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect") as caught:
        Store(f"postgresql://bot:s3cret-pw@127.0.0.1:{port}/state?connect_timeout=3")
    assert "s3cret-pw" not in str(caught.value) and "bot:***@127.0.0.1" in str(caught.value)


@pytest.mark.postgres
def test_a_dropped_postgresql_connection_is_replaced_on_the_next_call(pg_server):
    """The server restarted or PgBouncer dropped the connection: the call that meets it fails,
    the next one works on a new connection, and nothing confirmed is lost."""
    with Store(pg_server.database()) as store:
        assert store.subscribe(1, "district", "二七区", now=1.0)
        [(pid,)] = store._read("SELECT pg_backend_pid()")
        with psycopg.connect(pg_server.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            store.subscriptions(1)
        assert [s.value for s in store.subscriptions(1)] == ["二七区"]
        assert store._read("SELECT pg_backend_pid()") != [(pid,)]


def test_subscriptions_add_remove_and_are_unique(state_target: str):
    store = Store(state_target)
    assert store.subscribe(1, "district", "二七区", now=10.0)
    assert not store.subscribe(1, "district", "二七区", now=20.0)  # already there: created kept
    assert store.subscribe(1, "keyword", "清华附中", now=11.0)
    assert store.subscribe(2, "keyword", "清华附中", now=12.0)
    assert [(s.kind, s.value, s.created) for s in store.subscriptions(1)] == [
        ("district", "二七区", 10.0),
        ("keyword", "清华附中", 11.0),
    ]
    assert set(store.all_subscriptions()) == {1, 2}
    with pytest.raises(ValueError):
        store.subscribe(1, "weather", "晴")
    assert store.unsubscribe(1, "district", "二七区")
    assert not store.unsubscribe(1, "district", "二七区")
    assert store.unsubscribe_all(1) == 1
    assert store.subscriptions(1) == []


def test_claim_is_at_most_once_and_survives_reopening(state_target: str):
    path = state_target
    store = Store(path)
    assert store.claim(7, ["a", "b"]) == ["a", "b"]
    assert store.claim(7, ["a", "b", "c"]) == ["c"]  # second claim of a and b is refused
    assert store.claim(8, ["a"]) == ["a"]  # another chat is another delivery
    store.close()
    reopened = Store(path)
    assert reopened.claim(7, ["a", "c", "d"]) == ["d"]
    assert reopened.delivered(7) == {"a", "b", "c", "d"}
    reopened.release(7, ["d"])  # Telegram refused the message: it may go again
    assert reopened.claim(7, ["d"]) == ["d"]
    reopened.close()


def test_concurrent_claims_give_each_article_to_one_claimant(state_target: str):
    store = Store(state_target)
    ids = [f"a{i}" for i in range(200)]
    won: list[list[str]] = []

    def worker() -> None:
        won.append(store.claim(5, ids))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [a for batch in won for a in batch]
    assert sorted(flat) == sorted(ids)


_KILL_SCRIPT = """
import os, sys
from bot.store import Store
store = Store(sys.argv[1])
store.subscribe(99, "keyword", "清华附中", now=1.0)
print("confirmed", flush=True)
assert store.claim(99, ["x1"]) == ["x1"]
print("claimed", flush=True)
os._exit(9)  # killed: no close(), no clean shutdown
"""


def test_a_killed_process_loses_no_confirmed_write(state_target: str):
    path = state_target
    result = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 9, result.stderr
    assert result.stdout.split() == ["confirmed", "claimed"]
    with Store(path) as store:
        assert [s.value for s in store.subscriptions(99)] == ["清华附中"]
        assert store.claim(99, ["x1"]) == []  # delivered before the kill: never again


def test_known_articles_baseline_then_arrivals(state_target: str):
    store = Store(state_target)
    assert store.record_articles([("a1", "p1.txt"), ("a2", "p1.txt")], now=100.0) == []  # the start corpus
    assert store.new_articles(since=0) == []
    assert store.record_articles([("a1", "p1.txt"), ("a3", "p2.txt")], now=200.0) == ["a3"]
    assert store.record_articles([("a3", "p2.txt")], now=300.0) == []  # first_seen is kept
    [arrived] = store.new_articles(since=150.0)
    assert (arrived.article_id, arrived.first_seen, arrived.source) == ("a3", 200.0, "p2.txt")
    assert store.new_articles(since=200.0) == []
    assert store.known_articles() == 3


def test_digest_settings(state_target: str):
    store = Store(state_target)
    assert store.digest(3) is None
    store.set_digest(3, True, "08:00", now=50.0)
    setting = store.digest(3)
    assert (setting.enabled, setting.time, setting.since, setting.last_run) == (True, "08:00", 50.0, None)
    store.set_digest(3, True, "21:30", now=60.0)  # a new time keeps what is pending
    assert (store.digest(3).time, store.digest(3).since) == ("21:30", 50.0)
    store.digest_done(3, 90.0)
    assert (store.digest(3).since, store.digest(3).last_run) == (90.0, 90.0)
    store.set_digest(3, False)
    assert not store.digest(3).enabled
    assert store.digests() == []
    assert [d.chat_id for d in store.digests(enabled_only=False)] == [3]
    store.set_digest(3, True, "07:00", now=500.0)  # back on: starts from now
    assert store.digest(3).since == 500.0
    with pytest.raises(ValueError):
        store.set_digest(4, True)


def test_forget_and_migrate_chat(state_target: str):
    store = Store(state_target)
    store.subscribe(-1, "district", "金水区", now=1.0)
    store.set_digest(-1, True, "08:00", now=1.0)
    store.claim(-1, ["a"])
    store.migrate_chat(-1, -1001)
    assert store.subscriptions(-1) == [] and store.digest(-1) is None
    assert [s.value for s in store.subscriptions(-1001)] == ["金水区"]
    assert store.digest(-1001).enabled and store.delivered(-1001) == {"a"}
    store.subscribe(5, "keyword", "公园", now=1.0)
    store.set_thread(-1001, 3)
    store.set_thread(5, 9)
    store.set_thread(5, 11)  # the topic set up last wins
    store.forget_chat(-1001)
    assert store.subscriptions(-1001) == [] and store.digest(-1001) is None and store.delivered(-1001) == set()
    assert store.thread(-1001) is None
    assert len(store.subscriptions(5)) == 1 and store.thread(5) == 11  # other chats untouched
    store.set_thread(5, None)
    assert store.thread(5) is None


def test_question_and_feedback_log_figures(state_target: str):
    store = Store(state_target)
    store.log_question("private", "清华附中什么时候投入使用", True, "a1")
    store.log_question("group", "火星上有几个区", False, None)
    store.log_question("supergroup", "火星上有几个区？", False, None)
    store.log_feedback("a1", "清华附中什么时候投入使用", True)
    store.log_feedback("a1", None, False)
    store.log_feedback("a2", "x", False)
    assert store.question_counts() == {"questions": 3, "answered": 1, "abstained": 2}
    assert sorted(store.unanswered_questions()) == ["火星上有几个区", "火星上有几个区？"]
    assert store.feedback_counts() == {"positive": 1, "negative": 2}
    assert store.feedback_by_article() == [("a1", 1, 1), ("a2", 0, 1)]


def test_source_health_failures_pause_and_resume(state_target: str):
    with Store(state_target) as store:
        assert store.source_health("晚报") == SourceHealth("晚报") and store.all_source_health() == []
        ok = store.source_succeeded("晚报", now=100.0, next_due=160.0, added=2)
        assert (ok.last_fetch, ok.last_new_article, ok.next_due, ok.consecutive_failures) == (100.0, 100.0, 160.0, 0)
        quiet = store.source_succeeded("晚报", now=200.0, next_due=260.0, added=0)
        assert (quiet.last_fetch, quiet.last_new_article) == (200.0, 100.0)  # nothing new: kept
        for n in range(1, 4):
            bad = store.source_failed("晚报", now=300.0 + n, next_due=400.0 + n, error="HTTP 500", pause_after=3)
            assert bad.consecutive_failures == n and bad.paused == (n == 3)
        assert bad.last_error == "HTTP 500" and bad.next_due == 403.0 and bad.last_new_article == 100.0
        assert [h.name for h in store.all_source_health()] == ["晚报"]
        assert store.resume_source("晚报") and not store.resume_source("晚报")  # resumed once
        back = store.source_health("晚报")
        assert not back.paused and back.consecutive_failures == 0 and back.next_due is None
        assert not store.resume_source("没有这个来源")
        again = store.source_succeeded("晚报", now=500.0, next_due=560.0, added=0)
        assert again.last_error is None and not again.paused


def test_claim_update_once_then_taken_over_when_the_lease_expires(state_target: str):
    with Store(state_target) as store:
        assert store.claim_update(1001, "w1", now=100.0)
        assert not store.claim_update(1001, "w2", now=130.0)  # w1 holds it (lease 60 s)
        assert not store.claim_update(1001, "w1", now=130.0)  # not twice, even for its own worker
        assert store.claim_update(1001, "w2", now=161.0)  # w1 died: w2 takes it over
        assert not store.claim_update(1001, "w3", now=200.0)  # w2's lease runs from 161
        assert store.claim_update(1001, "w3", now=300.0, lease=120.0)
        store.finish_update(1001, now=301.0)
        assert not store.claim_update(1001, "w4", now=10_000.0)  # finished: never again
        assert store.claim_update(1002, "w4", now=10_000.0)  # another update is another claim


def test_finished_updates_are_pruned_after_a_day(state_target: str):
    with Store(state_target) as store:
        assert store.claim_update(1, "w1", now=0.0)
        store.finish_update(1, now=1.0)
        assert store.claim_update(2, "w1", now=80_000.0)
        store.finish_update(2, now=80_001.0)  # nothing is a day old yet
        assert store._read("SELECT update_id FROM updates ORDER BY update_id") == [(1,), (2,)]
        assert store.claim_update(3, "w1", now=90_000.0)
        store.finish_update(3, now=90_001.0)  # update 1 is a day old now: pruned
        assert store._read("SELECT update_id FROM updates ORDER BY update_id") == [(2,), (3,)]


def test_claim_digest_run_once_per_chat_and_day(state_target: str):
    with Store(state_target) as store:
        assert store.claim_digest_run(-1001, "2025-03-30")
        assert not store.claim_digest_run(-1001, "2025-03-30")
        assert store.claim_digest_run(7, "2025-03-30")  # another chat
        assert store.claim_digest_run(-1001, "2025-03-31")  # the next day
        assert not store.claim_digest_run(-1001, "2025-03-31")
        assert store.claim_digest_run(-1001, "2025-04-07")  # marks over a week older are dropped ...
        assert store._read("SELECT day FROM digest_runs WHERE chat_id = -1001 ORDER BY day") == [
            ("2025-03-31",),
            ("2025-04-07",),
        ]
        store.migrate_chat(-1001, -1002)  # ... and move with a migrated group
        assert not store.claim_digest_run(-1002, "2025-04-07")
        store.forget_chat(-1002)
        assert store.claim_digest_run(-1002, "2025-04-07")


def test_update_and_digest_claims_across_connections(state_target: str):
    """Eight connections (as eight worker processes would hold) race for the same updates, digests
    and delivery marks: each goes to exactly one of them, and no two deadlock."""
    path = state_target
    Store(path).close()
    stores = [Store(path) for _ in range(8)]
    updates: list[int] = []
    digests: list[int] = []
    articles: list[str] = []
    article_ids = [f"a{i}" for i in range(300)]
    barrier = threading.Barrier(len(stores))

    for update_id in range(50, 100):  # claimed by a worker that then died
        assert stores[0].claim_update(update_id, "dead", now=0.0)

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for update_id in range(100):  # new ones, and the dead worker's to take over
                if stores[n].claim_update(update_id, f"w{n}", now=1000.0):
                    updates.append(update_id)
            for chat in range(10):
                if stores[n].claim_digest_run(chat, "2025-03-30"):
                    digests.append(chat)
            barrier.wait()  # delivery marks, all at once, each worker in its own order
            articles.extend(stores[n].claim(5, random.Random(n).sample(article_ids, len(article_ids))))
        except BaseException as exc:  # a deadlock or any error fails the test, not just its thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert sorted(updates) == list(range(100))
    assert sorted(digests) == list(range(10))
    assert sorted(articles) == sorted(article_ids)
