"""Inline mode: `@BotName 清华附中` in any chat offers answer cards, through the same library."""

from __future__ import annotations

import time

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from .. import metrics
from ..article import Article
from ..reply import Kind
from . import views
from .handlers import services
from .sending import NO_PREVIEW

INLINE_RESULTS = 10


def _result(article: Article, description: str, card: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=article.id,
        title=views.short(article.headline, 100),
        description=views.short(description, 150),
        input_message_content=InputTextMessageContent(card, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW),
    )


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An empty query or a list request offers articles; a question, the answer and its alternatives."""
    query = update.inline_query
    if query is None:
        return
    s = services(context)
    text = " ".join(query.query.split())
    results: list[InlineQueryResultArticle] = []
    started = time.perf_counter()
    result = s.library.ask(text or f"/latest {INLINE_RESULTS}")
    metrics.record_reply(result.kind.value, "inline", time.perf_counter() - started)
    if result.kind is Kind.ANSWER and result.answer is not None and result.answer.found:
        answer = result.answer
        assert answer.article is not None and answer.snippet is not None
        card = views.answer_message(answer, s.link(answer.article))
        results.append(_result(answer.article, answer.snippet.text, card))
        for candidate in answer.alternatives[: INLINE_RESULTS - 1]:
            article = candidate.article
            card = views.card_for_article(article, s.link(article), text)
            results.append(_result(article, views.lead_text(article), card))
    elif result.kind is Kind.LIST and result.listing is not None:
        for article in result.listing.page(0, INLINE_RESULTS):
            card = views.card_for_article(article, s.link(article))
            results.append(_result(article, views.lead_text(article), card))
    button = None if results else InlineQueryResultsButton(text=views.INLINE_NOTHING, start_parameter="help")
    await query.answer(results, cache_time=s.config.telegram.inline_cache_seconds, is_personal=False, button=button)
