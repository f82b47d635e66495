"""The Telegram front end (python-telegram-bot v22) over the answering engine.

app.py        build_application() and run_bot(): handlers, menus, polling or webhook
handlers.py   update callbacks: questions, commands, buttons, inline mode, errors
views.py      what the bot says (Chinese copy, escaped HTML)
keyboards.py  inline keyboards and their callback data
guards.py     group addressing filters, flood guard, per-asker cooldown, group budget
retry.py      AIORateLimiter plus retries of 5xx and network errors
context.py    the typed bot_data (BotData) and the PTB context types

Subscriptions, digests, live reload and source polling (register() in subscriptions.py wires them in):
subscription_commands.py  /subscribe, /unsubscribe, /subscriptions, /digest, /reload, /sources
notifier.py               who hears about which new article: notices, digests, their jobs
polling.py                one job per configured news source: fetch, ingest, notify; slow down, pause
notices.py                what the bot says about subscriptions and polled sources

Several workers behind one webhook (`python -m bot run --workers N`):
supervisor.py  the webhook port, /healthz and /metrics; routes updates to workers, restarts them
routing.py     which worker a chat's updates go to (rendezvous hashing)
wire.py        the supervisor ↔ worker frames over a unix socket
worker.py      one worker: a PTB Application without Updater, each update claimed once
jobs.py        the election of the one worker that runs the jobs (lock: bot/leader.py)
"""

import os

# PTB 22.2+ turns time periods (RetryAfter.retry_after among them) into datetime.timedelta in its
# next major version and warns on every read until a program opts in; this one reads timedeltas.
# Set before any of them is read (an operator's explicit PTB_TIMEDELTA is left alone).
os.environ.setdefault("PTB_TIMEDELTA", "true")

from .app import build_application, run_bot

__all__ = ["build_application", "run_bot"]
