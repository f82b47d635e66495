"""Sending and editing messages: HTML with a plain-text fallback, in the asker's chat and topic.

Last resort for length: a text over Telegram's 4096 characters (counted after entity parsing, in
UTF-16 code units like Telegram) is cut rather than refused, on a character boundary, never inside
a tag or an entity, with its open tags closed. The views keep their texts within the limit; a cut
is logged as the bug it is.
"""

from __future__ import annotations

import html
import logging
import re

from telegram import ForceReply, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TELEGRAM_LIMIT = 4096  # characters of a message after entity parsing (UTF-16 code units)
CUT_MARK = "…"
_TAG_RE = re.compile(r"<[^>]*>")
# One token of Telegram HTML: a tag, a character reference, or one character.
_HTML_TOKEN_RE = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|.", re.DOTALL)
_TAG_NAME_RE = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


def plain(text: str) -> str:
    """HTML → the text a reader sees, for when Telegram rejects our markup."""
    return html.unescape(_TAG_RE.sub("", text))


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters beyond the BMP (emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def fit_plain(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Plain `text` cut to `limit` UTF-16 code units, on a character boundary, marked with …."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(CUT_MARK)
    used = 0
    for end, char in enumerate(text):
        used += utf16_len(char)
        if used > budget:
            return text[:end] + CUT_MARK
    return text


def fit_html(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Telegram HTML whose visible text is at most `limit` UTF-16 code units: as it is when it
    fits; else cut before the first character that does not, never inside a tag or a character
    reference, then … and the closing tags of what was left open."""
    if utf16_len(plain(text)) <= limit:
        return text
    budget = limit - utf16_len(CUT_MARK)
    used = 0
    kept: list[str] = []
    open_tags: list[str] = []
    for match in _HTML_TOKEN_RE.finditer(text):
        token = match.group()
        tag = _TAG_NAME_RE.match(token) if len(token) > 2 and token[0] == "<" and token[-1] == ">" else None
        if tag is not None:
            name = tag.group(1).lower()
            if token.startswith("</"):
                if name in open_tags:  # close it, and (as a parser would) whatever opened inside it
                    del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name) :]
            elif not token.endswith("/>"):
                open_tags.append(name)
            kept.append(token)
            continue
        width = utf16_len(html.unescape(token) if token[0] == "&" else token)
        if used + width > budget:
            break
        kept.append(token)
        used += width
    return "".join(kept) + CUT_MARK + "".join(f"</{name}>" for name in reversed(open_tags))


def _fit(text: str) -> str:
    fitted = fit_html(text)
    if fitted is not text:
        log.warning("a message of %d characters was cut to Telegram's limit of %d", len(plain(text)), TELEGRAM_LIMIT)
    return fitted


def _bad_markup(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower()


async def reply(message: Message, text: str, markup: InlineKeyboardMarkup | ForceReply | None = None) -> Message:
    """Reply in the same chat and forum topic; in groups the asker's message is quoted
    (PTB's default `do_quote` for non-private chats), link previews are off.
    Should Telegram ever reject the HTML, the same words go out as plain text."""
    text = _fit(text)
    try:
        return await message.reply_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:
        if not _bad_markup(exc):
            raise
        log.error("Telegram rejected our HTML (%s); sending plain text", exc.message)
        return await message.reply_text(fit_plain(plain(text)), reply_markup=markup, link_preview_options=NO_PREVIEW)


async def edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    text = _fit(text)
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if _bad_markup(exc):
            log.error("Telegram rejected our HTML (%s); editing in plain text", exc.message)
            await message.edit_text(fit_plain(plain(text)), reply_markup=markup)
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
