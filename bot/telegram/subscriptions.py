"""Subscriptions, daily digests and live reload, wired into an application.

`register(application, library, store, config)` puts the corpus watcher (bot/watch.py) and
the notifier (notifier.py) into the typed `bot_data` (context.py), adds the commands
(subscription_commands.py) and the jobs: a start-up pass for articles ingested while the bot was
down, the corpus watcher, and one daily digest job per chat (re-created from the database on every
start, since the job queue does not persist), and one polling job per configured news source
(polling.py). What matches what is bot/subscriptions.py;
durability is bot/store.py.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, CommandHandler, JobQueue, filters

from ..config import Config
from ..library import Library
from ..store import Store
from ..watch import CorpusWatcher
from ..web.sources import SourceError, load_sources
from . import subscription_commands as commands
from .context import BotData
from .notifier import Notifier, startup_job, takeover_job, watch_job
from .polling import SourcePoller

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 5.0  # a worker that does not run the jobs looks for new corpus files this often at least

COMMANDS: list[tuple[str, str]] = [
    ("subscribe", "订阅区县或关键词的新闻，如 /subscribe 二七区"),
    ("unsubscribe", "取消订阅，如 /unsubscribe 二七区"),
    ("subscriptions", "查看本聊天的订阅"),
    ("digest", "每日摘要：/digest on 08:00 或 /digest off"),
]
# Not for the public command menu: only config.telegram.admin_user_ids may use them.
ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("reload", "重新加载新闻语料（管理员）"),
    ("sources", "新闻来源的抓取状态；/sources resume 名称 恢复（管理员）"),
]


def register(
    application: Application, library: Library, store: Store, config: Config, *, run_jobs: bool = True
) -> None:
    """Add the subscription commands and jobs to an application (before it starts).

    The application must be built with `.context_types(CONTEXT_TYPES)`. Call this before adding
    any catch-all handler for unknown commands in group 0.

    `run_jobs=False` (a worker of `run --workers N` until it wins the election, bot/telegram/jobs.py):
    only the corpus watcher runs, keeping this process's index up to date with what the job
    runner added; it records no arrivals and tells nobody. `take_over` starts the rest.
    """
    data = application.bot_data
    if not isinstance(data, BotData):
        raise TypeError("build the application with .context_types(bot.telegram.context.CONTEXT_TYPES)")
    data.library, data.store, data.config = library, store, config
    data.leader = run_jobs
    data.watcher = CorpusWatcher(library, config.corpus, arrivals=store if run_jobs else None)
    data.notifier = Notifier(library, store, config.timezone, job_queue=application.job_queue)
    try:
        sources = load_sources(config.config_dir / "sources.yaml")
    except SourceError as exc:
        log.error("news sources not polled: %s", exc)
        sources = []
    data.poller = SourcePoller(sources, config, store)
    new_messages = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("subscribe", commands.subscribe, filters=new_messages))
    application.add_handler(CommandHandler("unsubscribe", commands.unsubscribe, filters=new_messages))
    application.add_handler(CommandHandler("subscriptions", commands.list_subscriptions, filters=new_messages))
    application.add_handler(CommandHandler("digest", commands.digest, filters=new_messages))
    # block=False: questions keep being answered (from the old index) while a reload runs.
    application.add_handler(CommandHandler("reload", commands.reload, filters=new_messages, block=False))
    application.add_handler(CommandHandler("sources", commands.sources, filters=new_messages))
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): no corpus watcher, no digests")
        return
    interval = config.telegram.watch_corpus_seconds
    if not run_jobs:
        # Another process ingests; this one must see the new files even with the watcher off.
        interval = interval if interval and interval > 0 else FOLLOW_SECONDS
    if interval and interval > 0:
        queue.run_repeating(watch_job, interval=interval, first=interval, name="corpus-watch")
    if run_jobs:
        _schedule_jobs(application, queue, startup_job)


def take_over(application: Application) -> None:
    """This process now runs the jobs (it won the election): record what arrived, tell
    subscribers, catch up on today's digests, then the digest and polling jobs as `register` would."""
    data = application.bot_data
    queue = application.job_queue
    if not isinstance(data, BotData) or queue is None:
        return
    data.leader = True
    data.watcher.arrivals = data.store
    _schedule_jobs(application, queue, takeover_job)


def _schedule_jobs(application: Application, queue: JobQueue, first: Any) -> None:
    data = application.bot_data
    queue.run_once(first, when=0, name="subscriptions-startup")
    data.notifier.schedule_digests()
    data.poller.schedule(queue)
