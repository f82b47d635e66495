"""`python -m bot run --workers N`: one webhook, N worker processes, one of them running the jobs.

Design: the supervisor owns the webhook port and routes each update by chat to one live worker
(bot/telegram/routing.py) over a unix socket (bot/telegram/wire.py). Why routing by chat rather
than N processes on one SO_REUSEPORT socket with the state in the database: the flood guard, the
per-asker group cooldown, a group's budget and a chat's follow-up context are in-memory and
per chat (bot/telegram/guards.py, `Conversation` in chat_data); with every update of a chat on one
worker they stay exactly as right as in one process, with no database write per message and no
change to the handlers. The price: when a worker dies, its chats go to the others until it is
back, and the follow-up context of those chats (10 minutes) is lost; a user flooding in several
groups is counted per worker.

The supervisor answers Telegram only once a worker has handled the update. A worker that dies
holding one breaks its connection, and the update goes to a live worker; each worker claims an
update in the state database before handling it (`Store.claim_update`), so the retry waits for the
dead worker's lease to run out (`telegram.webhook.update_lease_seconds`) and is then answered once.
A dead worker is started again (after 0.5 s, doubling up to 30 s while it keeps dying).

Exactly one worker runs the jobs, elected through a lock (bot/leader.py, bot/telegram/jobs.py).
The supervisor also serves `GET /healthz` (200 once a worker has loaded the index and can take
updates, 503 before) and `GET /metrics` (every process's figures through prometheus-client's
multiprocess mode) on the webhook port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError

from .. import metrics
from ..config import IMPACT_CACHE_ENV, SEARCH_SPIN_ENV, Config
from . import wire
from .app import protect_logs, webhook_url
from .routing import choose, route_key

log = logging.getLogger(__name__)

PROBE_SECONDS = 0.1  # how often a starting worker is asked whether it is ready
NO_WORKER_WAIT = 10.0  # an update waits this long for a live worker before Telegram is told 503
MAX_RESTART_DELAY = 30.0
STOP_SECONDS = 20.0  # SIGTERM to SIGKILL for a worker that does not stop
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Slot:
    """One worker: its socket, its process, whether it takes updates."""

    index: int
    socket: Path
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    failures: int = 0  # deaths in a row (reset once it has lived a while)


class Supervisor:
    def __init__(
        self, config: Config, workers: int, worker_argv: list[str], runtime: Path, *, secret: str = ""
    ) -> None:
        self.config = config
        self.worker_argv = worker_argv  # `python -m bot [--config …] [-v]`, to which `worker …` is added
        self.runtime = runtime
        self.secret = secret
        self.lease = config.telegram.webhook.update_lease_seconds
        self.slots = [Slot(i, runtime / f"worker-{i}.sock") for i in range(workers)]
        self.stopping = asyncio.Event()
        self.any_ready = asyncio.Event()
        self.in_flight = 0

    # ------------------------------------------------------------ routing

    def live(self) -> list[int]:
        return [slot.index for slot in self.slots if slot.ready]

    async def deliver(self, update: dict[str, Any]) -> int:
        """Hand the update to its chat's worker and wait until it is handled; the HTTP status for Telegram."""
        loop = asyncio.get_running_loop()
        key = route_key(update)
        orphaned_until: float | None = None  # set when a worker died holding this update
        waiting_since: float | None = None
        while True:
            index = choose(key, self.live())
            if index is None:
                waiting_since = waiting_since or loop.time()
                if loop.time() - waiting_since > NO_WORKER_WAIT or self.stopping.is_set():
                    return 503  # Telegram delivers it again later
                await asyncio.sleep(PROBE_SECONDS)
                continue
            waiting_since = None
            slot = self.slots[index]
            try:
                answer = await wire.ask(slot.socket, {"update": update})
            except (OSError, asyncio.IncompleteReadError, ValueError):
                # The worker died (or is dying) with the update: maybe answered, maybe not. Its
                # claim decides: another worker may take it once the lease has run out.
                self._suspect(slot)
                if orphaned_until is None:
                    orphaned_until = loop.time() + self.lease + 10.0
                continue
            status = answer.get("status")
            if status == wire.DONE:
                return 200
            if status == wire.TAKEN:
                if orphaned_until is None:
                    return 200  # a second delivery of an update another worker handles or handled
                if loop.time() > orphaned_until:
                    return 503
                await asyncio.sleep(0.5)  # the dead worker's lease has not run out yet
                continue
            return 503  # ERROR: the state database failed; Telegram retries

    def _suspect(self, slot: Slot) -> None:
        """A connection to this worker broke: no updates for it until it answers a ping again."""
        if slot.ready:
            slot.ready = False
            asyncio.get_running_loop().create_task(self._probe(slot))

    # ------------------------------------------------------------ workers

    async def _probe(self, slot: Slot) -> None:
        """Wait until the worker answers a ping (it has loaded the index) or its process ends."""
        process = slot.process
        while process is not None and process.returncode is None and not self.stopping.is_set():
            try:
                answer = await asyncio.wait_for(wire.ask(slot.socket, {"ping": True}), timeout=5)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                await asyncio.sleep(PROBE_SECONDS)
                continue
            if answer.get("status") == wire.READY and process.returncode is None:
                if not slot.ready:
                    log.info("worker %d (pid %d) takes updates", slot.index, process.pid)
                slot.ready = True
                self.any_ready.set()
            return

    async def _keep(self, slot: Slot) -> None:
        """Run worker `slot.index`, and start it again whenever it dies, until the supervisor stops."""
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            with contextlib.suppress(FileNotFoundError):
                slot.socket.unlink()
            process = await asyncio.create_subprocess_exec(
                *self.worker_argv, "worker", "--socket", str(slot.socket), "--name", f"w{slot.index}"
            )
            slot.process = process
            started = loop.time()
            probe = asyncio.create_task(self._probe(slot))
            code = await process.wait()
            slot.ready = False
            probe.cancel()
            metrics.process_died(process.pid)
            if self.stopping.is_set():
                return
            slot.failures = 0 if loop.time() - started > 60 else slot.failures + 1
            delay = min(MAX_RESTART_DELAY, 0.5 * 2 ** (slot.failures - 1)) if slot.failures else 0.5
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            log.warning(
                "worker %d (pid %d) died (%s); its chats go to the others; restarting in %.1f s",
                slot.index,
                process.pid,
                how,
                delay,
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    async def _stop_workers(self) -> None:
        running = [slot.process for slot in self.slots if slot.process and slot.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), timeout=STOP_SECONDS)
            except TimeoutError:
                log.warning("worker pid %d did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    # ------------------------------------------------------------ running

    async def run(self, token: str) -> int:
        hook = self.config.telegram.webhook
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        server = tornado.httpserver.HTTPServer(self._web_app(hook.path), xheaders=False)
        server.listen(hook.port, address=hook.listen)
        log.info(
            "webhook on %s:%s with %d workers (the URL path is not logged)", hook.listen, hook.port, len(self.slots)
        )
        keepers = [asyncio.create_task(self._keep(slot)) for slot in self.slots]
        code = 0
        try:
            ready = asyncio.create_task(self.any_ready.wait())
            stopping = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopping.cancel()
            if not self.stopping.is_set():
                code = await self._set_webhook(token)
                if code == 0:
                    await self.stopping.wait()
        finally:
            self.stopping.set()
            server.stop()  # no new connections; updates in hand are finished first
            for _ in range(int(STOP_SECONDS / PROBE_SECONDS)):
                if not self.in_flight:
                    break
                await asyncio.sleep(PROBE_SECONDS)
            await self._stop_workers()
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.close_all_connections(), timeout=2)
        return code

    async def _set_webhook(self, token: str) -> int:
        """Tell Telegram where to post (retried until it works, as run_webhook's bootstrap_retries=-1)."""
        hook = self.config.telegram.webhook
        base_url = self.config.telegram.api_base_url
        bot = Bot(token, base_url=base_url) if base_url else Bot(token)
        delay = 1.0
        while not self.stopping.is_set():
            try:
                async with bot:
                    await bot.set_webhook(
                        webhook_url(hook.url or "", hook.path),
                        secret_token=self.secret or None,
                        allowed_updates=Update.ALL_TYPES,
                        drop_pending_updates=False,
                    )
                log.info("webhook set")
                return 0
            except InvalidToken:
                print("error: Telegram rejected the token in TELEGRAM_BOT_TOKEN", file=sys.stderr)
                return 1
            except TelegramError as exc:
                log.warning("could not set the webhook (%s); trying again in %.0f s", exc.message, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)
        return 0

    def _web_app(self, path: str) -> tornado.web.Application:
        route = "/" + path.strip("/") if path.strip("/") else "/"
        return tornado.web.Application(
            [
                (r"/healthz", _Health, {"supervisor": self}),
                (r"/metrics", _Metrics),
                (route, _Hook, {"supervisor": self}),
            ]
        )


# ------------------------------------------------------------------ HTTP


class _Hook(tornado.web.RequestHandler):
    """POST from Telegram: check the secret, route, answer once handled."""

    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    async def post(self) -> None:
        sup = self.supervisor
        if sup.secret and not hmac.compare_digest(
            self.request.headers.get(SECRET_HEADER, "").encode(), sup.secret.encode()
        ):
            log.debug("an update with a wrong secret token was refused")
            self.set_status(403)
            return
        try:
            update = json.loads(self.request.body)
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            self.set_status(400)
            return
        sup.in_flight += 1
        try:
            self.set_status(await sup.deliver(update))
        finally:
            sup.in_flight -= 1


class _Health(tornado.web.RequestHandler):
    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def get(self) -> None:
        live = self.supervisor.live()
        self.set_status(200 if live else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ready": bool(live), "workers": len(live), "of": len(self.supervisor.slots)}))


class _Metrics(tornado.web.RequestHandler):
    def get(self) -> None:
        body, content_type = metrics.exposition()  # every process's samples (multiprocess mode)
        self.set_header("Content-Type", content_type)
        self.finish(body)


def _metrics_dir(runtime: Path) -> None:
    """Every process writes its samples into PROMETHEUS_MULTIPROC_DIR: the operator's (emptied of a
    previous run's files) or one in the runtime folder. Set before any worker starts; the
    supervisor's own prometheus-client reads it on first use (bot.metrics reads it per scrape)."""
    if metrics.multiprocess_dir() is None:
        os.environ[metrics.MULTIPROC_ENV] = str(runtime / "metrics")
    metrics.clear_multiprocess_dir()


def run_supervisor(config: Config, workers: int, worker_argv: list[str]) -> int:
    """Serve the webhook with `workers` worker processes until SIGTERM/SIGINT."""
    token = config.token
    if not token:
        print("error: TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    hook = config.telegram.webhook
    if not hook.url:
        print("error: --workers needs webhook mode: set telegram.webhook.url or TELEGRAM_WEBHOOK_URL", file=sys.stderr)
        return 2
    if workers < 1:
        print("error: --workers needs at least 1", file=sys.stderr)
        return 2
    secret = hook.secret_token or secrets.token_urlsafe(32)
    protect_logs(token, secret, webhook_url(hook.url, hook.path), paths=[hook.path.strip("/")])
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    runtime = Path(tempfile.mkdtemp(prefix="district-news-"))  # 0700: only this user reaches the sockets
    try:
        _metrics_dir(runtime)
        # the workers learn the secret only to keep it out of their logs
        os.environ["TELEGRAM_WEBHOOK_SECRET"] = secret
        # Workers share the index through the page cache; the BM25 impacts would be a copy each
        # (~110 MB at 100,000 articles), worth ~0.2 ms a question: left out unless asked for.
        os.environ.setdefault(IMPACT_CACHE_ENV, "0")
        # A worker's search helper spinning between its questions would take a core from another's.
        os.environ.setdefault(SEARCH_SPIN_ENV, "0")
        supervisor = Supervisor(config, workers, worker_argv, runtime, secret=secret)
        return asyncio.run(supervisor.run(token))
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
