"""The Telegram front end (python-telegram-bot v22) over the answering engine.

app.py        build_application() and run_bot(): handlers, menus, polling or webhook
handlers.py   update callbacks: questions, commands, buttons, inline mode, errors
views.py      what the bot says (Chinese copy, escaped HTML)
keyboards.py  inline keyboards and their callback data
guards.py     group addressing filters, per-user flood guard, per-group cooldown
retry.py      AIORateLimiter plus retries of 5xx and network errors
"""

from .app import build_application, run_bot

__all__ = ["build_application", "run_bot"]
