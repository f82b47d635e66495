"""`python -m bot run --workers N` end to end: the real supervisor and worker processes behind one
webhook port, the Bot API emulator posting updates to it as Telegram does.

20 residents ask at once while every answer is parked in the emulator; the worker that runs the
jobs is killed with SIGKILL, so the answers it had in flight never reach "Telegram". Every
question is still answered exactly once (the survivor takes over the dead worker's updates when
their claims run out), another worker runs the jobs within seconds, a notice or digest is never
sent twice, and the killed worker is started again.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
import pytest

from bot.leader import APPLICATION_NAME, lock_path
from bot.library import Library
from bot.store import Store

from .botapi_emulator import BotApiEmulator
from .conftest import copy_corpus
from .pg import PgServer
from .test_subscriptions_e2e import PAGE_ONE, PAGE_TWO, add_page, notifications

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "987654:WORKERS-SECRET-never-in-logs"
SECRET = "hook-secret-Token_1"
HOOK_PATH = "hook-9c1e"
USERNAME = "DistrictNewsBot"
QUESTION = "清华附中什么时候投入使用"
ANSWER_TEXT = "预计今年9月投入使用"
SUBSCRIBER = 3001  # 二七区 subscriber
DIGEST_CHAT = 3002  # daily digest at 00:00, so today's is due when the job runner starts
RESIDENTS = [5001 + i for i in range(20)]
LEASE = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_settings(tmp_path: Path, warm_cache: Path, port: int) -> tuple[Path, Path, Path]:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    state_db = tmp_path / "state" / "bot.sqlite3"
    settings = tmp_path / "bot.yaml"
    settings.write_text(
        json.dumps(
            {
                "corpus": str(corpus),
                "cache_dir": str(cache),
                "state_db": str(state_db),
                "telegram": {
                    "watch_corpus_seconds": 1,
                    "group_cooldown_seconds": 0,
                    "webhook": {
                        "url": f"http://127.0.0.1:{port}",
                        "listen": "127.0.0.1",
                        "port": port,
                        "path": HOOK_PATH,
                        "update_lease_seconds": LEASE,
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    return settings, corpus, state_db


def seed_state(state: str | Path, library: Library) -> None:
    """The state of a bot that ran before: the seed pages known (the baseline), a subscriber of
    二七区, and a chat whose daily digest (00:00) last ran yesterday, so today's is due."""
    now = time.time()
    midnight = dtm.datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0, microsecond=0)
    if isinstance(state, Path):
        state.parent.mkdir(parents=True, exist_ok=True)
    with Store(state) as store:
        store.record_articles([(a.id, a.source) for a in library.articles], now - 7200)
        store.subscribe(SUBSCRIBER, "district", "二七区", now - 7200)
        store.set_digest(DIGEST_CHAT, True, "00:00", now=midnight.timestamp() - 3600)


def leader_pid(state_db: Path, database_url: str | None) -> int | None:
    """The pid of the process that runs the jobs: in the lock file, or the name of the connection
    holding the PostgreSQL advisory lock."""
    if database_url is None:
        try:
            text = lock_path(state_db).read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE %s",
            (APPLICATION_NAME + ":%",),
        ).fetchall()
    assert len(rows) <= 1, rows
    return int(rows[0][0].rsplit(":", 1)[1]) if rows else None


async def wait_until(condition: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def health(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status, await response.json(content_type=None)
        except aiohttp.ClientConnectionError:
            return 0, {}


async def wait_workers(port: int, workers: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, body = await health(port)
        if status == 200 and body.get("workers") == workers:
            return
        assert loop.time() < deadline, f"{workers} workers not ready: /healthz {status} {body}"
        await asyncio.sleep(0.1)


def answers(emu: BotApiEmulator, chat: int) -> list[str]:
    return [m["text"] for m in emu.sent_messages(chat) if ANSWER_TEXT in m.get("text", "")]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: the state in the SQLite file (the lock beside it); else a new PostgreSQL database."""
    if request.param == "sqlite":
        return None
    server: PgServer = request.getfixturevalue("pg_server")
    return server.database()


@pytest.mark.parametrize("workers", [2, 4])
async def test_workers_answer_once_and_a_killed_job_runner_is_replaced(
    tmp_path: Path, warm_cache: Path, library: Library, workers: int, database_url: str | None
) -> None:
    port = free_port()
    settings, corpus, state_db = write_settings(tmp_path, warm_cache, port)
    seed_state(database_url or state_db, library)
    add_page(corpus, "105_new.txt", PAGE_ONE)  # arrived while the bot was down: 二七区 and 金水区 news
    out, err = (tmp_path / "out.log").open("wb"), (tmp_path / "err.log").open("wb")
    async with BotApiEmulator(bot_username=USERNAME, token=TOKEN) as emu:
        emu.webhook_retry_seconds = 0.3
        for chat in (SUBSCRIBER, DIGEST_CHAT):
            emu.private_chat(emu.user(chat, f"用户{chat}"))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "PORT", "DATABASE_URL", "PROMETHEUS_", "METRICS_"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=emu.base_url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            DISTRICT_NEWS_CONFIG=str(settings),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        if database_url is not None:
            env["DATABASE_URL"] = database_url
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "-v",
            "run",
            "--workers",
            str(workers),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            call = await emu.wait_for_call("setWebhook", timeout=60)
            assert call.params["url"] == f"http://127.0.0.1:{port}/{HOOK_PATH}"
            assert call.params["secret_token"] == SECRET
            await wait_workers(port, workers, timeout=60)

            # The job runner's start: what arrived while down is announced once, today's digest sent.
            await wait_until(lambda: notifications(emu, SUBSCRIBER) and emu.sent_messages(DIGEST_CHAT), 30, "jobs")
            [notice] = notifications(emu, SUBSCRIBER)
            assert "二七区新建三所中小学" in notice and "贾鲁河" not in notice
            [digest] = [m["text"] for m in emu.sent_messages(DIGEST_CHAT)]
            assert "每日新闻摘要" in digest and "二七区新建三所中小学" in digest and "贾鲁河" in digest
            leader = leader_pid(state_db, database_url)
            assert leader is not None

            # 20 residents at once; every answer parked until the job runner is dead.
            emu.hold("sendMessage")
            for i, uid in enumerate(RESIDENTS):
                user = emu.user(uid, f"居民{i}")
                emu.send_text(emu.private_chat(user), user, QUESTION)
            await wait_until(lambda: len(emu.held("sendMessage")) == len(RESIDENTS), 30, "20 answers in flight")
            os.kill(leader, signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.sleep(0.5)  # its connections to the emulator close
            emu.release("sendMessage")
            await wait_until(lambda: not emu.held("sendMessage"), 5, "the parked answers")
            lost = len(emu.abandoned_calls)
            assert 0 < lost < len(RESIDENTS)  # the kill did take answers with it (and only its chats')

            await wait_until(lambda: leader_pid(state_db, database_url) not in (None, leader), 10, "a new job runner")
            took_over = time.monotonic() - killed
            assert took_over < 5.0
            await wait_until(lambda: all(answers(emu, uid) for uid in RESIDENTS), 30 + LEASE, "every answer")

            # The new job runner runs the jobs: a page added now is announced, once.
            add_page(corpus, "106_new.txt", PAGE_TWO)  # 二七区樱桃沟
            await wait_until(lambda: len(notifications(emu, SUBSCRIBER)) == 2, 30, "the second notice")
            await wait_workers(port, workers, timeout=60)  # the killed worker is back
            user = emu.user(RESIDENTS[0], "居民0")  # and a question after all that: answered once more
            emu.send_text(emu.private_chat(user), user, "樱桃沟")
            await wait_until(lambda: len(emu.sent_messages(RESIDENTS[0])) == 2, 20, "a later question")
            await asyncio.sleep(1.5)
            await emu.wait_idle(timeout=20, quiet=0.5)

            for uid in RESIDENTS:
                assert len(answers(emu, uid)) == 1, (uid, emu.sent_messages(uid))
            assert len(notifications(emu, SUBSCRIBER)) == 2
            assert len(emu.sent_messages(SUBSCRIBER)) == 2
            assert len(emu.sent_messages(DIGEST_CHAT)) == 1
            assert all(status == 200 for _, status in emu.webhook_posts[-1:])

            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 200
                    assert "district_news_answers" in await response.text()
                forged = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
                async with http.post(f"http://127.0.0.1:{port}/{HOOK_PATH}", json=forged) as response:
                    assert response.status == 403
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=40)
        finally:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)  # the supervisor and its workers
                await process.wait()
            out.close()
            err.close()
    log = (tmp_path / "out.log").read_text() + (tmp_path / "err.log").read_text()
    assert process.returncode == 0, log[-3000:]
    assert "died (signal 9)" in log
    assert TOKEN not in log and SECRET not in log and HOOK_PATH not in log
    if database_url is not None:
        assert not lock_path(state_db).exists()  # the advisory lock, not the file


@pytest.mark.postgres
async def test_a_thousand_questions_from_fifty_residents_are_answered_once(
    tmp_path: Path, warm_cache: Path, library: Library, pg_server: PgServer
) -> None:
    """The issue's load bar: 2 workers on PostgreSQL, 50 residents asking 20 questions each as fast
    as the emulator posts them (the flood guard opened wide: this is about the workers, not it)."""
    database_url = pg_server.database()
    port = free_port()
    settings, _, _ = write_settings(tmp_path, warm_cache, port)
    values = json.loads(settings.read_text(encoding="utf-8"))
    values["telegram"].update(flood_burst=1000, flood_rate_per_minute=6000)
    settings.write_text(json.dumps(values), encoding="utf-8")
    seed_state(database_url, library)
    questions = [
        "清华附中什么时候投入使用",
        "二七区今年在民生上要办啥实事",
        "樱桃沟在哪",
        "郑东新区有什么新闻",
        "惠济区",
    ]
    residents = [7001 + i for i in range(50)]
    out, err = (tmp_path / "out.log").open("wb"), (tmp_path / "err.log").open("wb")
    async with BotApiEmulator(bot_username=USERNAME, token=TOKEN) as emu:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "PORT", "DATABASE_URL", "PROMETHEUS_", "METRICS_"))
        }
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emu.base_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   DISTRICT_NEWS_CONFIG=str(settings), PYTHONPATH=str(ROOT), DATABASE_URL=database_url)  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--workers", "2", cwd=ROOT, env=env, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        try:
            await emu.wait_for_call("setWebhook", timeout=60)
            await wait_workers(port, 2, timeout=60)
            for round_ in range(20):
                for number, uid in enumerate(residents):
                    user = emu.user(uid, f"居民{number}")
                    emu.send_text(emu.private_chat(user), user, questions[(round_ + number) % len(questions)])
            await wait_until(lambda: all(len(emu.sent_messages(uid)) >= 20 for uid in residents), 240, "1,000 answers")
            await emu.wait_idle(timeout=30, quiet=1.0)
            assert [len(emu.sent_messages(uid)) for uid in residents] == [20] * len(residents)
            with psycopg.connect(database_url, autocommit=True) as conn:
                handled = conn.execute("SELECT count(*) FROM updates WHERE finished IS NOT NULL").fetchone()
            assert handled is not None and handled[0] >= 1000
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=40)
        finally:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            out.close()
            err.close()
    assert process.returncode == 0, ((tmp_path / "err.log").read_text())[-3000:]
