"""Which worker of `run --workers N` runs the jobs: each contends for the lock (bot/leader.py)
every ELECTION_SECONDS; the one that takes it runs digests, source polling and the notices of
the corpus watcher (`subscriptions.take_over`) for as long as it lives.

A worker that lost its lock (its PostgreSQL connection broke, so another may hold it now) stops
running, rather than run the jobs beside the new leader; the supervisor starts it again. Every
delivery is claimed in the database as well (`Store.claim`, `Store.claim_digest_run`), so even
two leaders for a moment would not send anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegram.ext import Application

from ..leader import Leadership
from .subscriptions import take_over

log = logging.getLogger(__name__)

ELECTION_SECONDS = 1.0  # a dead leader is replaced within about this long (plus a job's start)


class Election:
    """Try for the lock until held; then run the jobs, and check the lock is still held."""

    def __init__(
        self,
        application: Application,
        leadership: Leadership,
        *,
        on_lost: Callable[[], None],
        interval: float = ELECTION_SECONDS,
    ) -> None:
        self.application = application
        self.leadership = leadership
        self.on_lost = on_lost
        self.interval = interval
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-runner-election")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.leadership.release)

    async def _run(self) -> None:
        while True:
            if not self.leading:
                if await asyncio.to_thread(self.leadership.try_acquire):
                    self.leading = True
                    log.info("this worker runs the jobs now (digests, source polling, notices)")
                    take_over(self.application)
            elif not await asyncio.to_thread(self.leadership.healthy):
                log.error("the job runner's lock was lost; stopping this worker so that it cannot run them twice")
                self.on_lost()
                return
            await asyncio.sleep(self.interval)
