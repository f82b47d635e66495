"""Inline-keyboard buttons: one callback per button kind, routed by its data's pattern.

Callback data formats are documented in bot/telegram/keyboards.py; each handler parses its
own data with `keyboards.parse`, so forged or stale data is answered, never raised on.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from ..intent import Act, Intent
from . import keyboards, views
from .handlers import list_message, send_article, services
from .sending import edit, edit_markup, reply


def _message(update: Update) -> Message | None:
    query = update.callback_query
    return query.message if query is not None and isinstance(query.message, Message) else None


async def _stale(update: Update) -> bool:
    """A button on a message too old to touch, or sent inline: say so."""
    query = update.callback_query
    if query is None:
        return True
    if _message(update) is None:
        await query.answer(views.STALE_BUTTON, show_alert=True)
        return True
    return False


async def on_article(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """r:<id> opens the article; p:<id>:<n> turns its page in place; f:<0|1>:<id> is a vote."""
    query = update.callback_query
    if query is None or await _stale(update):
        return
    message = _message(update)
    assert message is not None
    s = services(context)
    action = keyboards.parse(query.data)
    if action.kind not in ("read", "page", "feedback"):
        await query.answer()
        return
    article = s.library.get(action.article_id)
    if article is None:
        await query.answer(views.ARTICLE_GONE, show_alert=True)
        return
    if action.kind == "read":
        await send_article(message, article)
        await query.answer()
    elif action.kind == "page":
        page = views.article_page(article, action.number)
        await edit(message, page.text, keyboards.article_keyboard(article.id, page.number, page.total))
        await query.answer()
    else:
        question = None
        if context.chat_data is not None:
            question = context.chat_data.get("asked", {}).get(message.message_id)
        if question is None and message.reply_to_message is not None:
            question = message.reply_to_message.text
        s.log_feedback(article.id, question, action.positive)
        await edit_markup(message, keyboards.without_feedback(message.reply_markup))
        await query.answer(views.FEEDBACK_THANKS[action.positive])


async def on_more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """m:<id>,<id>: 「更多结果」 adds the alternatives as buttons to the card."""
    query = update.callback_query
    if query is None or await _stale(update):
        return
    message = _message(update)
    assert message is not None
    library = services(context).library
    alternatives = [a for a in (library.get(i) for i in keyboards.parse(query.data).ids) if a is not None]
    if not alternatives:
        await query.answer(views.ARTICLE_GONE, show_alert=True)
        return
    await edit_markup(message, keyboards.with_alternatives(message.reply_markup, alternatives))
    await query.answer()


async def on_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """d:<district>:<n>, t:<topic>:<n> and do edit the list in place; ds and l post a new list."""
    query = update.callback_query
    if query is None or await _stale(update):
        return
    message = _message(update)
    assert message is not None
    library = services(context).library
    action = keyboards.parse(query.data)
    if action.kind == "district":
        intent = Intent(Act.DISTRICT, action.district, district=action.district)
        await edit(message, *list_message(library.reply_to(intent), action.number))
    elif action.kind == "topic":
        intent = Intent(Act.TOPIC, action.topic, district=action.district or None, topic=action.topic)
        await edit(message, *list_message(library.reply_to(intent), action.number))
    elif action.kind == "overview":
        await edit(message, *list_message(library.reply_to(Intent(Act.DISTRICTS, ""))))
    elif action.kind == "districts":
        await reply(message, *list_message(library.reply_to(Intent(Act.DISTRICTS, ""))))
    elif action.kind == "latest":
        await reply(message, *list_message(library.reply_to(Intent(Act.LATEST, ""))))
    await query.answer()


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """n (the page counter) and anything unknown or forged: just stop the spinner."""
    query = update.callback_query
    if query is not None:
        await query.answer()


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(on_article, pattern=r"^(?:r|p|f):"))
    application.add_handler(CallbackQueryHandler(on_more, pattern=r"^m:"))
    application.add_handler(CallbackQueryHandler(on_list, pattern=r"^(?:d:.*|t:.*|do|ds|l)$"))
    application.add_handler(CallbackQueryHandler(on_other))
