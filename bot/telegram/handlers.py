"""Message and command callbacks: thin wrappers that ask the library and send its reply.

What a message means is decided by the intent layer (bot/intent.py) through `Library.ask`, the
same for private chats, groups, the terminal and the CLI; this module only knows Telegram:
who may be answered (flood guard, group cooldown), where to reply, and how a `Reply` looks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from telegram import Chat, ForceReply, InlineKeyboardMarkup, InlineQueryResultsButton, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from .. import metrics
from ..article import Article
from ..config import Config
from ..intent import Act
from ..library import Conversation, Library
from ..reply import Kind, Reply
from . import keyboards, views
from .guards import Cooldown, FloodGuard, GroupBudget, RecentPosts, Verdict, mentions_bot, sender_key, strip_mentions
from .sending import reply

log = logging.getLogger(__name__)

GROUPS = (Chat.GROUP, Chat.SUPERGROUP)
REMEMBERED_QUESTIONS = 200  # per chat: card message id → question, for the feedback log
CONVERSATION_SECONDS = 600.0  # a chat's context is forgotten after this long without an answer


@dataclass
class Services:
    """The bot's shared state; the library swaps its own snapshots, so handlers keep this."""

    library: Library
    config: Config
    store: Any = None  # bot.store.Store, or None to log nothing
    flood: FloodGuard = field(default_factory=lambda: FloodGuard(8, 20.0))
    cooldown: Cooldown = field(default_factory=lambda: Cooldown(20.0))
    budget: GroupBudget = field(default_factory=lambda: GroupBudget(18, 15.0))
    recent: RecentPosts = field(default_factory=lambda: RecentPosts(60.0))  # what buttons just posted in groups
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # waiting for a group's turn (tests: no wait)
    username: str | None = None
    extra_commands: list[tuple[str, str]] = field(default_factory=list)  # e.g. /subscribe
    admin_commands: list[tuple[str, str]] = field(default_factory=list)  # e.g. /reload

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.telegram.admin_user_ids

    def link(self, article: Article) -> str | None:
        return views.article_link(article, self.username)

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


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]


# ------------------------------------------------------------------ who is answered


def _cooldown_key(message: Message, s: Services) -> tuple[int, int | None] | None:
    """The group cooldown is per asker in a group (None: not limited — a private chat, an operator):
    one resident's question does not hold up another's."""
    if message.chat.type not in GROUPS or s.is_admin(message.from_user.id if message.from_user else None):
        return None
    return message.chat.id, sender_key(message)


def book_turn(chat: Chat, asker: Hashable, s: Services) -> tuple[Verdict, float]:
    """A turn in a group's budget for a post or an edit (GroupBudget.book); free elsewhere."""
    if chat.type not in GROUPS:
        return Verdict.OK, 0.0
    return s.budget.book(chat.id, asker)


async def flood_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler (group -1) for messages meant for the bot and for button
    presses: both draw from the sender's one bucket. A refused press hears the notice as an
    alert (nothing is posted); a message, as a reply."""
    s = services(context)
    query = update.callback_query
    if query is not None:
        if s.is_admin(query.from_user.id):
            return
        chat = query.message.chat.id if query.message is not None else None
        verdict = s.flood.check(query.from_user.id, chat)
        if verdict is Verdict.NOTIFY:
            await _tell(query.answer(views.FLOOD_NOTICE, show_alert=True))
    else:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None or s.is_admin(user.id):
            return
        verdict = s.flood.check(sender_key(message), message.chat.id)
        if verdict is Verdict.NOTIFY:
            await _tell(reply(message, views.esc(views.FLOOD_NOTICE)))
    if verdict is not Verdict.OK:
        raise ApplicationHandlerStop


async def _tell(notice: Awaitable[object]) -> None:
    """Send a notice; one that fails is logged, never raised (it was a courtesy)."""
    try:
        await notice
    except TelegramError as exc:
        log.warning("could not send a notice: %s", exc.message)


# ------------------------------------------------------------------ replies


def _fresh(conversation: object) -> bool:
    return isinstance(conversation, Conversation) and time.time() - conversation.updated <= CONVERSATION_SECONDS


def _conversation(message: Message, context: ContextTypes.DEFAULT_TYPE) -> Conversation | None:
    """The context a message continues (in memory: a restart may forget it).

    In a private chat, the chat's last answer; in a group, the answer card the message replies
    to (each reply thread its own), and nothing for a message that replies to no card.
    """
    if context.chat_data is None:
        return None
    if message.chat.type == Chat.PRIVATE:
        conversation = context.chat_data.get("conversation")
        if not _fresh(conversation):
            conversation = context.chat_data["conversation"] = Conversation()
        return conversation
    replied = message.reply_to_message
    card = context.chat_data.get("cards", {}).get(replied.message_id) if replied is not None else None
    return replace(card) if isinstance(card, Conversation) and _fresh(card) else Conversation()


async def respond(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Whatever was said to the bot: ask the library, send its reply (in a group, within the
    asker's cooldown; the checks and the booking run without a pause, so concurrent updates
    cannot both slip through)."""
    s = services(context)
    key = _cooldown_key(message, s)
    if key is not None:
        verdict = s.cooldown.check(key)
        if verdict is Verdict.NOTIFY:
            await _tell(reply(message, views.esc(views.GROUP_COOLDOWN.format(seconds=s.cooldown.remaining(key)))))
        if verdict is not Verdict.OK:
            return
    verdict, wait = book_turn(message.chat, sender_key(message), s)
    if verdict is not Verdict.OK:
        if verdict is Verdict.NOTIFY:
            await _tell(reply(message, views.esc(views.GROUP_BUSY.format(seconds=math.ceil(wait)))))
        return
    conversation = _conversation(message, context)
    started = time.perf_counter()
    result = s.library.ask(text, conversation)
    metrics.record_reply(result.kind.value, "chat", time.perf_counter() - started)
    if key is not None and result.intent.act is not Act.ASK_USAGE:  # a bare /ask asks for a reply: answer it
        s.cooldown.arm(key)
    if wait > 0:  # the group's budget is spent for now: queue briefly rather than refuse
        await s.sleep(wait)
    await send_reply(message, context, result, conversation)


async def send_reply(
    message: Message, context: ContextTypes.DEFAULT_TYPE, result: Reply, conversation: Conversation | None = None
) -> None:
    """A `Reply` as Telegram messages: cards, lists with buttons, articles, help."""
    s = services(context)
    kind, intent = result.kind, result.intent
    if kind in (Kind.ANSWER, Kind.ABSTAIN) and result.answer is not None:
        answer = result.answer
        article_id = answer.article.id if answer.found and answer.article else None
        s.log_question(message.chat.type, intent.text, answer.found, article_id)
        if not answer.found:
            await reply(message, views.abstain_html(answer.question), keyboards.abstain_keyboard())
            return
        link = s.link(answer.article) if answer.article else None
        text = views.answer_message(answer, link, truncated=intent.truncated)
        sent = await reply(message, text, keyboards.answer_keyboard(answer))
        if context.chat_data is not None:
            asked = context.chat_data.setdefault("asked", OrderedDict())
            asked[sent.message_id] = intent.text
            while len(asked) > REMEMBERED_QUESTIONS:
                asked.popitem(last=False)
            if conversation is not None:  # a reply to this card continues from it
                cards = context.chat_data.setdefault("cards", OrderedDict())
                cards[sent.message_id] = replace(conversation)
                while len(cards) > REMEMBERED_QUESTIONS:
                    cards.popitem(last=False)
        return
    if kind is Kind.LIST and result.listing is not None:
        if intent.act in (Act.LATEST, Act.DISTRICT, Act.TOPIC) and not result.text.lstrip().startswith("/"):
            s.log_question(message.chat.type, intent.text, True, None)
        await reply(message, *list_message(result))
        return
    if kind is Kind.ARTICLE:
        if result.article is not None:
            await send_article(message, result.article)
        elif intent.article_id:
            await reply(message, views.unknown_article_html(intent.article_id))
        else:
            example = s.library.articles[0].id if s.library.articles else "a266052e1124"
            await reply(message, views.esc(views.READ_USAGE.format(example=example)))
        return
    await reply(message, *_other_message(message, s, result))


def _other_message(message: Message, s: Services, result: Reply) -> tuple[str, Any]:
    act = result.intent.act
    username = s.username
    if act is Act.START:
        first_name = message.from_user.first_name if message.from_user else None
        return views.welcome_html(first_name, result.articles_total), keyboards.abstain_keyboard()
    if result.kind is Kind.GREETING:
        return views.greeting_html(), None
    if result.kind is Kind.EMPTY:
        return views.empty_html(), None
    if act is Act.ABOUT:
        return views.about_html(s.library.facts(), len(s.library.district_counts())), None
    if act is Act.ASK_USAGE:
        if message.chat.type == Chat.PRIVATE:
            return views.esc(views.ASK_USAGE_PRIVATE), None
        # privacy mode lets the bot see replies to its own messages, so ask for one
        return views.esc(views.ASK_PROMPT_GROUP), ForceReply(
            selective=True, input_field_placeholder=views.ASK_PLACEHOLDER
        )
    if act is Act.UNKNOWN_COMMAND:
        return views.esc(views.UNKNOWN_COMMAND), None
    return views.help_html(username), None


def list_message(result: Reply, number: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """A list reply: the latest news, a district's news (page `number`), or the districts."""
    listing = result.listing
    assert listing is not None
    act = result.intent.act
    if act is Act.LATEST and listing.when is not None:  # every article of those days, paged
        if not listing.total:
            return views.no_news_when_html(listing.when), keyboards.abstain_keyboard()
        page, chunk = views.district_page(listing, number)
        first = page.number * views.LIST_PAGE + 1
        return page.text, keyboards.when_keyboard(listing.when, chunk, page.number, page.total, first)
    if act is Act.LATEST:
        articles = listing.articles
        return views.latest_html(articles, listing.total), keyboards.latest_keyboard(articles)
    if listing.topic is not None:
        if not listing.total:
            return views.no_topic_html(listing.topic, listing.district), keyboards.abstain_keyboard()
        page, chunk = views.district_page(listing, number)
        first = page.number * views.LIST_PAGE + 1
        markup = keyboards.topic_keyboard(listing.topic, listing.district, chunk, page.number, page.total, first)
        return page.text, markup
    counts_keyboard = keyboards.districts_keyboard(listing.counts)
    if act is Act.DISTRICTS:
        return views.districts_html(listing.counts), counts_keyboard
    if listing.district is None:
        return views.unknown_district_html(result.intent.text), counts_keyboard
    if not listing.total:
        return views.no_news_html(listing.district, listing.counts), counts_keyboard
    page, chunk = views.district_page(listing, number)
    first = page.number * views.LIST_PAGE + 1
    markup = keyboards.district_keyboard(listing.district, chunk, page.number, page.total, first, listing.when)
    return page.text, markup


async def send_article(message: Message, article: Article, number: int = 0) -> None:
    page = views.article_page(article, number)
    await reply(message, page.text, keyboards.article_keyboard(article.id, page.number, page.total))


# ------------------------------------------------------------------ messages and commands


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


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start /help /ask /latest /districts /district /read /about: the intent layer reads them."""
    message = update.effective_message
    if message is not None and message.text:
        await respond(message, context, message.text)


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


# ------------------------------------------------------------------ errors


def describe(update: object) -> str:
    """What failed, for the log: the update id and kind, never who or what they wrote."""
    if not isinstance(update, Update):
        return "no update (polling or a job)"
    kinds = ("message", "edited_message", "callback_query", "inline_query", "chosen_inline_result", "my_chat_member")
    kind = next((k for k in kinds if getattr(update, k, None)), "update")
    chat = update.effective_chat.type if update.effective_chat else "-"
    return f"update {update.update_id} ({kind}, {chat} chat)"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    metrics.record_handler_error(error)
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
