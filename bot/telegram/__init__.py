"""The Telegram front end (python-telegram-bot v22) over the answering engine.

app.py        build_application() and run_bot(): handlers, menus, polling or webhook
handlers.py   update callbacks: questions, commands, buttons, inline mode, errors
views.py      what the bot says (Chinese copy, escaped HTML)
keyboards.py  inline keyboards and their callback data
guards.py     group addressing filters, flood guard, per-asker cooldown, group budget
retry.py      AIORateLimiter plus retries of 5xx and network errors
context.py    the typed bot_data (BotData) and the PTB context types

Subscriptions, digests and live reload (register() in subscriptions.py wires them in):
subscription_commands.py  /subscribe, /unsubscribe, /subscriptions, /digest, /reload
notifier.py               who hears about which new article: notices, digests, their jobs
notices.py                what the bot says about subscriptions
"""

from .app import build_application, run_bot

__all__ = ["build_application", "run_bot"]
