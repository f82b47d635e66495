"""Inline-keyboard buttons: one callback per button kind, routed by its data's pattern.

Callback data formats are documented in bot/telegram/keyboards.py; each handler parses its
own data with `keyboards.parse`, so forged or stale data is answered, never raised on.

Presses are limited like messages: the flood guard (handlers.flood_gate) counts them against
the presser, and in a group every post or edit takes a turn in the group's budget; a press that
would post what was just posted there only answers 「刚刚已发过」.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

from telegram import CallbackQuery, Message, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from ..intent import Act, Intent
from . import keyboards, views
from .guards import Once, Verdict
from .handlers import GROUPS, Services, book_turn, list_message, send_article, services
from .sending import edit, edit_markup, reply

REMEMBERED_VOTES = 1000  # per chat: (card, user) pairs that voted; the card's 👍/👎 row goes after a vote


@dataclass
class _Press:
    """A press on a message the bot can still touch; its query is answered at most once."""

    query: CallbackQuery
    message: Message
    answered: bool = False

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        if not self.answered:
            self.answered = True
            await self.query.answer(text, show_alert=alert)


async def _press(update: Update) -> _Press | None:
    """The press, or None: no query, or a button on a message too old to touch or sent inline (said so)."""
    query = update.callback_query
    if query is None:
        return None
    if not isinstance(query.message, Message):
        await query.answer(views.STALE_BUTTON, show_alert=True)
        return None
    return _Press(query, query.message)


async def _turn(press: _Press, s: Services, posts: Hashable = None, say: str | None = None) -> bool:
    """May this press post (`posts`: what it posts) or edit now? Always outside groups. In a group,
    a repeat of what was just posted there is answered 「刚刚已发过」 instead; over the group's
    budget the press waits its turn (answered first, so the spinner stops) or is told to try
    later. `say`: the answer for a press whose main effect is done already (a vote), whether its
    edit waits or is refused. The checks and the booking run without a pause: concurrent taps
    cannot all pass."""
    chat = press.message.chat
    if chat.type not in GROUPS:
        return True
    if posts is not None and s.recent.seen((chat.id, posts)):
        await press.answer(views.ALREADY_POSTED)
        return False
    verdict, wait = book_turn(chat, press.query.from_user.id, s)
    if verdict is not Verdict.OK:
        busy = views.GROUP_BUSY.format(seconds=math.ceil(wait)) if verdict is Verdict.NOTIFY else None
        await press.answer(say or busy)
        return False
    if posts is not None:
        s.recent.note((chat.id, posts))
    if wait > 0:
        await press.answer(say)
        await s.sleep(wait)
    return True


async def on_article(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """r:<id> opens the article; p:<id>:<n> turns its page in place; f:<0|1>:<id> is a vote."""
    press = await _press(update)
    if press is None:
        return
    message = press.message
    s = services(context)
    action = keyboards.parse(press.query.data)
    if action.kind not in ("read", "page", "feedback"):
        await press.answer()
        return
    article = s.library.get(action.article_id)
    if article is None:
        await press.answer(views.ARTICLE_GONE, alert=True)
        return
    if action.kind == "read":
        if await _turn(press, s, posts=("read", article.id)):
            await send_article(message, article)
    elif action.kind == "page":
        if await _turn(press, s):
            page = views.article_page(article, action.number)
            await edit(message, page.text, keyboards.article_keyboard(article.id, page.number, page.total))
    else:
        if context.chat_data is not None:  # one vote per card and user, however fast the taps race
            votes = context.chat_data.setdefault("votes", Once(REMEMBERED_VOTES))
            if not votes.first((message.message_id, press.query.from_user.id)):
                await press.answer(views.FEEDBACK_THANKS[action.positive])
                return
        question = None
        if context.chat_data is not None:
            question = context.chat_data.get("asked", {}).get(message.message_id)
        if question is None and message.reply_to_message is not None:
            question = message.reply_to_message.text
        s.log_feedback(article.id, question, action.positive)
        thanks = views.FEEDBACK_THANKS[action.positive]
        if await _turn(press, s, say=thanks):
            await edit_markup(message, keyboards.without_feedback(message.reply_markup))
        await press.answer(thanks)
        return
    await press.answer()


async def on_more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """m:<id>,<id>: 「更多结果」 adds the alternatives as buttons to the card."""
    press = await _press(update)
    if press is None:
        return
    s = services(context)
    alternatives = [a for a in (s.library.get(i) for i in keyboards.parse(press.query.data).ids) if a is not None]
    if not alternatives:
        await press.answer(views.ARTICLE_GONE, alert=True)
        return
    if await _turn(press, s):
        await edit_markup(press.message, keyboards.with_alternatives(press.message.reply_markup, alternatives))
    await press.answer()


async def on_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """d:<district>:<n>, t:<topic>:<n>, w:<when>:<n> and do edit the list in place; ds and l post a new list."""
    press = await _press(update)
    if press is None:
        return
    s = services(context)
    action = keyboards.parse(press.query.data)
    intent = {
        "district": Intent(Act.DISTRICT, action.district, district=action.district, when=action.when or None),
        "when": Intent(Act.LATEST, action.when, when=action.when),
        "topic": Intent(Act.TOPIC, action.topic, district=action.district or None, topic=action.topic),
        "overview": Intent(Act.DISTRICTS, ""),
        "districts": Intent(Act.DISTRICTS, ""),
        "latest": Intent(Act.LATEST, ""),
    }.get(action.kind)
    posts = action.kind in ("districts", "latest")
    if intent is not None and await _turn(press, s, posts=action.kind if posts else None):
        text, markup = list_message(s.library.reply_to(intent), action.number)
        if posts:
            await reply(press.message, text, markup)
        else:
            await edit(press.message, text, markup)
    await press.answer()


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """n (the page counter) and anything unknown or forged: just stop the spinner."""
    query = update.callback_query
    if query is not None:
        await query.answer()


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(on_article, pattern=r"^(?:r|p|f):"))
    application.add_handler(CallbackQueryHandler(on_more, pattern=r"^m:"))
    application.add_handler(CallbackQueryHandler(on_list, pattern=r"^(?:d:.*|t:.*|w:.*|do|ds|l)$"))
    application.add_handler(CallbackQueryHandler(on_other))
