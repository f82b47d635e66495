"""One worker of `python -m bot run --workers N` (started by bot/telegram/supervisor.py).

A PTB `Application` without an Updater (`build_application(updater=False)`): the supervisor
sends it each update over a unix socket (bot/telegram/wire.py) and it feeds
`Application.process_update`, the pattern of PTB's custom-webhook example. It answers the
supervisor only once the update was handled, so an update whose worker dies is given to another.

No update is answered twice: the worker claims it in the state database first
(`Store.claim_update`, a lease of `telegram.webhook.update_lease_seconds`) and marks it finished
after (`Store.finish_update`); a second delivery of the same update (Telegram retrying, the
supervisor retrying after a worker died) finds the claim and is not handled again until that
lease has run out, which happens only when the worker holding it died.

Each worker opens the corpus through the shared segment cache as `run` does (the index files are
memory-mapped, so the page cache holds one copy) and follows the corpus folder with the usual
watcher; the one that wins the election (bot/telegram/jobs.py) also runs the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import Application

from .. import metrics
from ..config import Config
from ..leader import leadership_for
from ..store import state_target
from . import wire
from .app import _open_library, _open_store, build_application, protect_logs, webhook_url
from .jobs import Election

log = logging.getLogger(__name__)

LOST_LOCK_EXIT = 3  # exit status of a worker that lost the job runner's lock


class Worker:
    """Handles the updates the supervisor sends to one socket."""

    def __init__(self, application: Application, store: Any, name: str, lease: float) -> None:
        self.application = application
        self.store = store
        self.name = name
        self.lease = lease
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await wire.read_frame(reader)
            if request.get("ping"):
                await wire.write_frame(writer, {"status": wire.READY})
                return
            self.in_flight += 1
            self.idle.clear()
            try:
                status = await self.handle(request.get("update"))
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self.idle.set()
            await wire.write_frame(writer, {"status": status})
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            log.warning("worker %s: a bad request from the supervisor: %s", self.name, type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def handle(self, data: object) -> str:
        """Claim, handle, finish; TAKEN when another worker has (or had) this update."""
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return wire.ERROR
        update_id = data["update_id"]
        try:
            if not self.store.claim_update(update_id, self.name, time.time(), lease=self.lease):
                return wire.TAKEN
        except Exception:
            log.exception("could not claim an update")
            return wire.ERROR
        try:
            update = Update.de_json(data, self.application.bot)
            # PTB's error handler (handlers.on_error) catches what the handlers raise
            await self.application.process_update(update)
        except Exception:  # an update PTB cannot read: handled as far as it goes, never retried
            log.exception("an update could not be handled")
        finally:
            try:
                self.store.finish_update(update_id, time.time())
            except Exception:
                log.exception("could not mark an update finished")
        return wire.DONE


def run_worker(config: Config, socket: Path, name: str) -> int:
    """Load the corpus, then serve updates on `socket` until SIGTERM/SIGINT."""
    token = config.token
    if not token:
        print("error: TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    hook = config.telegram.webhook
    protect_logs(
        token, hook.secret_token or "", webhook_url(hook.url, hook.path) if hook.url else "", paths=[hook.path]
    )
    store = _open_store(config)
    if store is None:
        print("error: a worker needs the state database (bot.store)", file=sys.stderr)
        return 2
    try:
        library = _open_library(config)
        log.info("worker %s: corpus of %d articles loaded", name, len(library.articles))
        metrics.set_articles(len(library.articles))
        application = build_application(config, library, store=store, token=token, updater=False, run_jobs=False)
        worker = Worker(application, store, f"{name}:{os.getpid()}", hook.update_lease_seconds)
        return asyncio.run(_serve(application, worker, config, socket))
    except InvalidToken:
        print("error: Telegram rejected the token in TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return 1
    finally:
        store.close()


async def _serve(application: Application, worker: Worker, config: Config, socket: Path) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    exit_code = 0

    def lost() -> None:
        nonlocal exit_code
        exit_code = LOST_LOCK_EXIT
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:  # the supervisor is gone (killed): so is this worker
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        log.warning("worker %s: the supervisor is gone; stopping", worker.name)
        stop.set()

    watch_parent = asyncio.create_task(orphaned())
    election = Election(application, leadership_for(config.state_db, state_target(config)), on_lost=lost)
    async with application:  # initialize() (getMe) … shutdown()
        if application.post_init is not None:  # run_polling/run_webhook would call it: menus, username
            await application.post_init(application)
        await application.start()
        election.start()
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()
        server = await asyncio.start_unix_server(worker.serve_connection, path=str(socket))
        log.info("worker %s ready", worker.name)
        await stop.wait()
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):  # updates in hand are finished first
            await asyncio.wait_for(worker.idle.wait(), timeout=20)
        watch_parent.cancel()
        await election.stop()
        await application.stop()
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()
    log.info("worker %s stopped", worker.name)
    return exit_code
