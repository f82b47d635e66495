"""Update callbacks: questions, commands, buttons, inline queries and the error handler.

Everything a handler needs lives in `Services` (in `application.bot_data["services"]`), so the
engine can be swapped by a reload without re-registering anything.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Chat,
    ForceReply,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from ..answer import MAX_QUESTION_CHARS, Engine
from ..config import Config
from ..corpus import ID_RE, Article
from ..subscriptions import EngineHolder
from . import keyboards, views
from .guards import Cooldown, FloodGuard, Verdict, mentions_bot, strip_mentions

log = logging.getLogger(__name__)

GROUPS = (Chat.GROUP, Chat.SUPERGROUP)
REMEMBERED_QUESTIONS = 200  # per chat: card message id → question, for the feedback log
INLINE_RESULTS = 10
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


@dataclass
class Services:
    """The bot's shared state; handlers read `engine` on every use (reloads may replace it)."""

    holder: EngineHolder  # read `.engine` on every use: a reload replaces it
    config: Config
    store: Any = None  # bot.store.Store, or None to log nothing
    flood: FloodGuard = field(default_factory=lambda: FloodGuard(5, 10.0))
    cooldown: Cooldown = field(default_factory=lambda: Cooldown(20.0))
    username: str | None = None
    extra_commands: list[tuple[str, str]] = field(default_factory=list)  # e.g. /subscribe
    admin_commands: list[tuple[str, str]] = field(default_factory=list)  # e.g. /reload

    @property
    def engine(self) -> Engine:
        return self.holder.engine

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.telegram.admin_user_ids

    def log_question(self, chat_type: str, question: str, answered: bool, article_id: str | None) -> None:
        if self.store is None:
            return
        try:
            self.store.log_question(chat_type, question, answered, article_id)
        except Exception:  # the log is for the operator; never let it cost a resident an answer
            log.exception("could not log a question")

    def log_feedback(self, article_id: str, question: str | None, positive: bool) -> None:
        if self.store is None:
            return
        try:
            self.store.log_feedback(article_id, question, positive)
        except Exception:
            log.exception("could not log feedback")

    def find(self, article_id: str) -> Article | None:
        article_id = (article_id or "").strip()
        if not ID_RE.match(article_id):
            return None
        return self.engine.get(article_id) or self.engine.get(article_id.lower())

    def district_counts(self) -> list[tuple[str, int]]:
        return views.district_counts(self.engine.articles, list(self.engine.analyzer.lexicon.districts))


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]


# ------------------------------------------------------------------ sending


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


def _cooldown_verdict(message: Message, s: Services) -> Verdict:
    if message.chat.type not in GROUPS:
        return Verdict.OK
    if s.is_admin(message.from_user.id if message.from_user else None):
        return Verdict.OK
    return s.cooldown.check(message.chat.id)


async def cooled(message: Message, s: Services) -> bool:
    """Apply the per-group cooldown; True means go ahead."""
    verdict = _cooldown_verdict(message, s)
    if verdict is Verdict.NOTIFY:
        await reply(message, views.esc(views.GROUP_COOLDOWN.format(seconds=s.cooldown.remaining(message.chat.id))))
    return verdict is Verdict.OK


def answers(callback: Handler) -> Handler:
    """For handlers that post content: skip when the group is cooling down."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not await cooled(message, services(context)):
            return
        await callback(update, context)

    return wrapper


# ------------------------------------------------------------------ questions

# 「二七区有什么新闻」「金水最近有啥消息」「最新新闻」: browsing, not a question about one fact.
_BROWSE_RE = re.compile(
    r"^(?P<place>.{0,12}?)\s*的?\s*(?:最近|最新|近期|近来|今天|这几天)?\s*(?:有|都有)?\s*(?:什么|啥|哪些)?\s*的?\s*"
    r"(?:新闻|消息|动态|新鲜事|news)\s*(?:吗|呢|啊|呀)?\s*[?？。!！~～]*$",
    re.IGNORECASE,
)
_LATEST_WORDS = {"", "最新", "最近", "近期", "今天", "有", "郑州"}


def browse_intent(question: str, engine: Engine) -> tuple[str, str | None] | None:
    """("latest", None) or ("district", canonical name) when the question asks for a list."""
    match = _BROWSE_RE.match(question.strip())
    if not match:
        return None
    place = match.group("place").strip()
    if place in _LATEST_WORDS:
        return ("latest", None)
    district = engine.analyzer.resolve_district(place)
    if district is None:
        return None
    lexicon = engine.analyzer.lexicon
    names = {district, *lexicon.districts.get(district, ())}
    # a place inside a district (樱桃沟, 清华附中) is a search, not the whole district's list
    if place not in names and place in lexicon.places:
        return None
    return ("district", district)


async def respond(message: Message, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer one question with the answer card (or say kindly that there is none)."""
    s = services(context)
    if not await cooled(message, s):
        return
    question = " ".join(question.split())
    truncated = len(question) > MAX_QUESTION_CHARS
    question = question[:MAX_QUESTION_CHARS]
    intent = browse_intent(question, s.engine)
    if intent is not None:
        s.log_question(message.chat.type, question, True, None)
        kind, district = intent
        await reply(message, *(_latest(s) if kind == "latest" else _district(s, district or "", 0)))
        return
    answer = s.engine.answer(question)
    if answer.status in ("answer", "abstain"):
        s.log_question(
            message.chat.type, question, answer.found, answer.article.id if answer.found and answer.article else None
        )
    text = views.answer_message(answer, truncated=truncated)
    if answer.found:
        markup: InlineKeyboardMarkup | None = keyboards.answer_keyboard(answer)
    elif answer.status == "abstain":
        markup = keyboards.abstain_keyboard()
    else:
        markup = None
    sent = await reply(message, text, markup)
    if answer.found and context.chat_data is not None:
        asked = context.chat_data.setdefault("asked", OrderedDict())
        asked[sent.message_id] = question
        while len(asked) > REMEMBERED_QUESTIONS:
            asked.popitem(last=False)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await respond(message, context, message.text)


async def private_caption(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.caption:
        await respond(message, context, message.caption)


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group message that @mentions the bot or replies to it."""
    message = update.effective_message
    if message is None or not message.text:
        return
    question = strip_mentions(message) if mentions_bot(message) else message.text
    if not question.strip():
        username = services(context).username or context.bot.username
        await reply(message, views.esc(views.MENTION_HINT.format(username=username)))
        return
    await respond(message, context, question)


async def cmd_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    question = command_text(message)
    if question:
        await respond(message, context, question)
    elif message.chat.type == Chat.PRIVATE:
        await reply(message, views.esc(views.ASK_USAGE_PRIVATE))
    else:
        # privacy mode lets the bot see replies to its own messages, so ask for one
        await reply(
            message,
            views.esc(views.ASK_PROMPT_GROUP),
            ForceReply(selective=True, input_field_placeholder=views.ASK_PLACEHOLDER),
        )


# ------------------------------------------------------------------ commands


async def send_article(message: Message, article: Article, number: int = 0) -> None:
    page = views.article_page(article, number)
    await reply(message, page.text, keyboards.article_keyboard(article.id, page.number, page.total))


@answers
async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    s = services(context)
    payload = context.args[0] if context.args else ""
    if payload == "help":
        await reply(message, views.help_html(s.username or context.bot.username))
        return
    if payload:
        article = s.find(payload)
        if article is not None:
            await send_article(message, article)
            return
        await reply(message, views.unknown_article_html(payload))
        return
    first_name = message.from_user.first_name if message.from_user else None
    await reply(message, views.welcome_html(first_name, len(s.engine.articles)), keyboards.abstain_keyboard())


@answers
async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await reply(message, views.help_html(services(context).username or context.bot.username))


@answers
async def cmd_about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    s = services(context)
    await reply(message, views.about_html(s.engine.articles, len(s.district_counts())))


def _latest(s: Services, count: int | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
    count = count or s.config.telegram.latest_default
    count = min(max(count, 1), views.LATEST_MAX)
    articles = views.newest_first(s.engine.articles)[:count]
    return views.latest_html(articles, len(s.engine.articles)), keyboards.latest_keyboard(articles)


@answers
async def cmd_latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    count = None
    if context.args and context.args[0].isdigit():
        count = int(context.args[0])
    await reply(message, *_latest(services(context), count))


def _overview(s: Services) -> tuple[str, InlineKeyboardMarkup | None]:
    counts = s.district_counts()
    return views.districts_html(counts), keyboards.districts_keyboard(counts)


def _district(s: Services, district: str, number: int) -> tuple[str, InlineKeyboardMarkup | None]:
    articles = views.in_district(s.engine.articles, district)
    if not articles:
        return f"暂时没有{views.esc(district)}的新闻。", keyboards.districts_keyboard(s.district_counts())
    page = views.district_page(district, articles, number)
    chunk = articles[page.number * views.LIST_PAGE : (page.number + 1) * views.LIST_PAGE]
    return page.text, keyboards.district_keyboard(
        district, chunk, page.number, page.total, page.number * views.LIST_PAGE + 1
    )


@answers
async def cmd_districts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await reply(message, *_overview(services(context)))


@answers
async def cmd_district(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    s = services(context)
    name = command_text(message)
    if not name:
        await reply(message, *_overview(s))
        return
    district = s.engine.analyzer.resolve_district(name)
    if district is None:
        await reply(message, views.unknown_district_html(name), keyboards.districts_keyboard(s.district_counts()))
        return
    await reply(message, *_district(s, district, 0))


@answers
async def cmd_read(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    s = services(context)
    if not context.args:
        example = s.engine.articles[0].id if s.engine.articles else "a266052e1124"
        await reply(message, views.esc(views.READ_USAGE.format(example=example)))
        return
    article = s.find(context.args[0])
    if article is None:
        await reply(message, views.unknown_article_html(context.args[0]))
        return
    await send_article(message, article)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None:
        await reply(message, views.esc(views.UNKNOWN_COMMAND))


async def media_hint(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None:
        await reply(message, views.esc(views.MEDIA_HINT))


async def joined_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Added to a group: say once how to use the bot there (and that it keeps quiet otherwise)."""
    change = update.my_chat_member
    if change is None or change.chat.type not in GROUPS:
        return
    was_in = change.old_chat_member.status in ("member", "administrator", "creator", "restricted")
    is_in = change.new_chat_member.status in ("member", "administrator")
    if is_in and not was_in:
        username = services(context).username or context.bot.username
        await context.bot.send_message(change.chat.id, views.group_welcome_html(username), parse_mode=ParseMode.HTML)


# ------------------------------------------------------------------ flood gate


async def flood_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler (group -1) for messages meant for the bot."""
    message = update.effective_message
    user = update.effective_user
    s = services(context)
    if message is None or user is None or s.is_admin(user.id):
        return
    verdict = s.flood.check(user.id)
    if verdict is Verdict.OK:
        return
    if verdict is Verdict.NOTIFY:
        try:
            await reply(message, views.esc(views.FLOOD_NOTICE))
        except TelegramError as exc:
            log.warning("could not send the flood notice: %s", exc.message)
    raise ApplicationHandlerStop


# ------------------------------------------------------------------ buttons


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    s = services(context)
    action = keyboards.parse(query.data)
    message = query.message if isinstance(query.message, Message) else None
    if action.kind in ("noop", "unknown"):
        await query.answer()
        return
    if message is None:  # too old to touch, or sent inline
        await query.answer(views.STALE_BUTTON, show_alert=True)
        return
    if action.kind in ("read", "page", "feedback"):
        article = s.find(action.article_id)
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
        return
    if action.kind == "more":
        alternatives = [a for a in (s.find(i) for i in action.ids) if a is not None]
        if not alternatives:
            await query.answer(views.ARTICLE_GONE, show_alert=True)
            return
        await edit_markup(message, keyboards.with_alternatives(message.reply_markup, alternatives))
        await query.answer()
    elif action.kind == "district":
        await edit(message, *_district(s, action.district, action.number))
        await query.answer()
    elif action.kind == "overview":
        await edit(message, *_overview(s))
        await query.answer()
    elif action.kind == "districts":
        await reply(message, *_overview(s))
        await query.answer()
    elif action.kind == "latest":
        await reply(message, *_latest(s))
        await query.answer()


# ------------------------------------------------------------------ inline mode


def _inline_result(s: Services, article: Article, description: str, card: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=article.id,
        title=views.short(article.headline, 100),
        description=views.short(description, 150),
        input_message_content=InputTextMessageContent(card, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW),
    )


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.inline_query
    if query is None:
        return
    s = services(context)
    text = " ".join(query.query.split())[:MAX_QUESTION_CHARS]
    results: list[InlineQueryResultArticle] = []
    if not text:
        for article in views.newest_first(s.engine.articles)[:INLINE_RESULTS]:
            results.append(
                _inline_result(
                    s, article, views.lead_text(article), views.card_for_article(article, s.engine.link(article))
                )
            )
    else:
        answer = s.engine.answer(text)
        if answer.found and answer.article is not None and answer.snippet is not None:
            results.append(_inline_result(s, answer.article, answer.snippet.text, views.answer_message(answer)))
            for candidate in answer.alternatives[: INLINE_RESULTS - 1]:
                article = candidate.article
                results.append(
                    _inline_result(
                        s,
                        article,
                        views.lead_text(article),
                        views.card_for_article(article, s.engine.link(article), text),
                    )
                )
    button = None if results else InlineQueryResultsButton(text=views.INLINE_NOTHING, start_parameter="help")
    await query.answer(results, cache_time=s.config.telegram.inline_cache_seconds, is_personal=False, button=button)


# ------------------------------------------------------------------ errors


def describe(update: object) -> str:
    """What failed, for the log: the update id and kind, never who or what they wrote."""
    if not isinstance(update, Update):
        return "no update (polling or a job)"
    kind = next(
        (
            k
            for k in (
                "message",
                "edited_message",
                "callback_query",
                "inline_query",
                "chosen_inline_result",
                "my_chat_member",
            )
            if getattr(update, k, None)
        ),
        "update",
    )
    chat = update.effective_chat.type if update.effective_chat else "-"
    return f"update {update.update_id} ({kind}, {chat} chat)"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if isinstance(error, Forbidden):  # blocked by the user or removed from the group
        log.info("%s: %s", describe(update), error.message)
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("%s: network error after retries: %s", describe(update), error.message)
    else:
        log.error("%s failed", describe(update), exc_info=error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(views.ERROR_NOTICE, show_alert=True)
        elif update.inline_query is not None:
            await update.inline_query.answer(
                [], cache_time=0, button=InlineQueryResultsButton(text=views.INLINE_NOTHING, start_parameter="help")
            )
        elif update.message is not None:
            await update.message.reply_text(views.ERROR_NOTICE)
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc.message)
