"""Sending and editing messages: HTML with a plain-text fallback, in the asker's chat and topic."""

from __future__ import annotations

import html
import logging
import re

from telegram import ForceReply, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_TAG_RE = re.compile(r"<[^>]*>")


def plain(text: str) -> str:
    """HTML → the text a reader sees, for when Telegram rejects our markup."""
    return html.unescape(_TAG_RE.sub("", text))


def _bad_markup(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower()


async def reply(message: Message, text: str, markup: InlineKeyboardMarkup | ForceReply | None = None) -> Message:
    """Reply in the same chat and forum topic; in groups the asker's message is quoted
    (PTB's default `do_quote` for non-private chats), link previews are off.
    Should Telegram ever reject the HTML, the same words go out as plain text."""
    try:
        return await message.reply_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:
        if not _bad_markup(exc):
            raise
        log.error("Telegram rejected our HTML (%s); sending plain text", exc.message)
        return await message.reply_text(plain(text), reply_markup=markup, link_preview_options=NO_PREVIEW)


async def edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if _bad_markup(exc):
            log.error("Telegram rejected our HTML (%s); editing in plain text", exc.message)
            await message.edit_text(plain(text), reply_markup=markup)
        elif "not modified" not in exc.message.lower():
            raise


async def edit_markup(message: Message, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


def command_text(message: Message) -> str:
    """What follows `/command` (or `/command@bot`), whitespace-normalised."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
