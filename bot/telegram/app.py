"""Build and run the Telegram application: handlers, command menus, rate limits, polling or webhook.

build_application(config, library, base_url=..., store=..., token=...)  # tests, embedding
run_bot(config)                                                         # `python -m bot run`
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import threading
from collections.abc import Sequence
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from .. import logs, metrics
from ..config import Config
from ..intent import COMMANDS
from ..library import Library
from ..ops_http import OpsServer
from . import buttons, handlers, inline, views
from .context import CONTEXT_TYPES
from .guards import ADDRESSED, MENTIONS_BOT, REPLIES_TO_BOT, Cooldown, FloodGuard, GroupBudget, RecentPosts
from .handlers import Services
from .retry import RetryingRateLimiter

log = logging.getLogger(__name__)

# Only new messages: an edited message is ignored (the first version was already answered).
NEW = filters.UpdateType.MESSAGE
PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
MEDIA = ~filters.TEXT & ~filters.StatusUpdate.ALL & ~filters.VIA_BOT

DESCRIPTION = (
    "郑州区县新闻助手：用中文问各区县新闻里的事，比如「清华附中什么时候投入使用？」，"
    "我从报道原文里找答案并附上出处。也可以按区县浏览、看最新新闻。"
)
SHORT_DESCRIPTION = "问郑州各区县新闻里的事，答案附原文出处。"


def _file_url(base_url: str) -> str | None:
    """https://host/bot → https://host/file/bot (the Bot API's layout for file downloads)."""
    trimmed = base_url.rstrip("/")
    if trimmed.endswith("/bot"):
        return trimmed[: -len("/bot")] + "/file/bot"
    return None


def _subscriptions_module() -> Any:
    """The /subscribe … handlers, written separately; absent in a checkout without them."""
    try:
        from . import subscriptions
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.subscriptions":
            raise
        return None
    return subscriptions


def _open_library(config: Config) -> Library:
    library = Library.from_config(config)
    for error in library.engine.report.errors:
        log.warning("corpus: skipped %s", error)
    library.warm_views()
    return library


def build_application(
    config: Config,
    library: Library | None = None,
    *,
    base_url: str | None = None,
    store: Any = None,
    token: str | None = None,
    updater: bool = True,
    run_jobs: bool = True,
) -> Application:
    """The bot, ready for `initialize()`/`start()` (or `run_polling`); nothing contacts Telegram yet.

    `updater=False`: no Updater (a worker of `run --workers N` is fed `process_update`);
    `run_jobs=False`: no digest, polling or notice jobs until `subscriptions.take_over`.
    """
    if library is None:
        library = _open_library(config)
    token = token or config.token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    settings = config.telegram
    builder = (
        Application.builder()
        .token(token)
        .context_types(CONTEXT_TYPES)
        .rate_limiter(RetryingRateLimiter(max_retries=3))
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True), allow_sending_without_reply=True))
        .concurrent_updates(True)
        .post_init(_post_init)
    )
    if not updater:
        builder = builder.updater(None)
    base_url = base_url or settings.api_base_url
    if base_url:
        builder = builder.base_url(base_url)
        file_url = _file_url(base_url)
        if file_url:
            builder = builder.base_file_url(file_url)
    application = builder.build()
    subscriptions = _subscriptions_module() if store is not None else None
    s = Services(
        library=library,
        config=config,
        store=store,
        flood=FloodGuard(*settings.flood_bucket()),
        cooldown=Cooldown(settings.group_cooldown_seconds),
        budget=GroupBudget(settings.group_messages_per_minute, settings.group_queue_seconds),
        recent=RecentPosts(settings.group_repeat_seconds),
        username=(settings.bot_username or "").lstrip("@") or None,
    )
    application.bot_data["services"] = s
    _register(application, s, subscriptions, store, config, run_jobs)
    return application


def _register(
    application: Application, s: Services, subscriptions: Any, store: Any, config: Config, run_jobs: bool
) -> None:
    application.add_handler(MessageHandler(NEW & ADDRESSED, handlers.flood_gate), group=-1)
    application.add_handler(CallbackQueryHandler(handlers.flood_gate), group=-1)  # buttons count too
    # The intent layer reads these commands (bot/intent.py), like everything else said to the bot.
    application.add_handler(CommandHandler(list(COMMANDS), handlers.on_command, filters=NEW))
    if subscriptions is not None:
        # before the catch-all handlers below, so their commands are not taken for unknown ones
        subscriptions.register(application, s.library, store, config, run_jobs=run_jobs)
        s.extra_commands = list(getattr(subscriptions, "COMMANDS", []))
        s.admin_commands = list(getattr(subscriptions, "ADMIN_COMMANDS", []))
    application.add_handler(
        MessageHandler(NEW & PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT, handlers.private_text)
    )
    application.add_handler(
        MessageHandler(NEW & PRIVATE & filters.PHOTO & filters.CAPTION & ~filters.VIA_BOT, handlers.private_caption)
    )
    application.add_handler(
        MessageHandler(
            NEW & GROUPS & filters.TEXT & ~filters.COMMAND & (MENTIONS_BOT | REPLIES_TO_BOT), handlers.group_text
        )
    )
    application.add_handler(MessageHandler(NEW & PRIVATE & filters.COMMAND, handlers.on_command))
    application.add_handler(MessageHandler(NEW & PRIVATE & MEDIA, handlers.media_hint))
    application.add_handler(ChatMemberHandler(handlers.joined_group, ChatMemberHandler.MY_CHAT_MEMBER))
    buttons.register(application)
    application.add_handler(InlineQueryHandler(inline.inline_query))
    application.add_error_handler(handlers.on_error)


def _menu(*parts: Sequence[tuple[str, str]]) -> list[BotCommand]:
    seen: dict[str, BotCommand] = {}
    for part in parts:
        for name, description in part:
            seen.setdefault(name, BotCommand(name, description))
    return list(seen.values())[:100]


async def _post_init(application: Application) -> None:
    """After getMe: the username for deep links, command menus per scope, the bot's description."""
    s: Services = application.bot_data["services"]
    username = application.bot.username
    if username:
        s.username = username
    bot = application.bot
    menus = [
        (BotCommandScopeAllPrivateChats(), _menu(views.PRIVATE_COMMANDS, s.extra_commands)),
        (BotCommandScopeAllGroupChats(), _menu(views.GROUP_COMMANDS)),
        (BotCommandScopeAllChatAdministrators(), _menu(views.GROUP_COMMANDS, s.extra_commands)),
        (None, _menu(views.PRIVATE_COMMANDS, s.extra_commands)),
    ]
    try:
        for scope, commands in menus:
            await bot.set_my_commands(commands, scope=scope)
        await bot.set_my_description(DESCRIPTION)
        await bot.set_my_short_description(SHORT_DESCRIPTION)
    except TelegramError as exc:  # menus are a convenience; the bot works without them
        log.warning("could not set the command menus: %s", exc.message)
    if s.admin_commands:
        operator_menu = _menu(views.PRIVATE_COMMANDS, s.extra_commands, s.admin_commands)
        for admin in s.config.telegram.admin_user_ids:
            try:  # fails until that operator has started the bot; the commands work regardless
                await bot.set_my_commands(operator_menu, scope=BotCommandScopeChat(admin))
            except TelegramError as exc:
                log.info("no operator command menu for one admin yet: %s", exc.message)


# ------------------------------------------------------------------ running


class _Redact(logging.Filter):
    """Belt and braces: whatever a library logs (PTB logs request parameters at DEBUG, setWebhook's
    URL among them), the token, the webhook secret and the webhook's URL path never reach the log.

    A path is redacted where it ends a URL path (`/hook-7f3a`, not `/hook-7f3a/more`): the default
    `telegram` must not blank out `site-packages/telegram/_bot.py` in a traceback.
    """

    def __init__(self, *secrets: str, paths: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)  # a URL before its parts
        self.paths = [
            re.compile(re.escape("/" + path.strip("/")) + r"(?![\w.~%/-])") for path in paths if path.strip("/")
        ]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        for path in self.paths:
            text = path.sub("/<secret>", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in logs.extra_fields(record).items():  # `extra=` fields: the JSON format writes them
            if value is None or isinstance(value, (int, float)):
                continue
            text = str(value)
            if self._clean(text) != text:  # a value holding a secret is replaced by its cleaned text
                setattr(record, key, self._clean(text))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:  # cleaned even when another handler's formatter wrote it first
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def protect_logs(*secrets: str, paths: Sequence[str] = ()) -> None:
    """Redact `secrets` (and URL `paths`) from every record the root handlers write; quiet the
    libraries that log too much or too much detail."""
    logs.configure(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Redact(*secrets, paths=paths))
    # httpx logs every request URL at INFO, and the Bot API puts the token in the URL
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # APScheduler (PTB's job queue) logs two INFO lines per job run: the corpus watcher alone
    # would write thousands a day; our jobs log what they did when they did something.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def webhook_url(url: str, path: str) -> str:
    """The public URL Telegram posts to: `url` as given if it already ends with `path`."""
    path = path.strip("/")
    url = url.rstrip("/")
    return url if not path or url.endswith("/" + path) else f"{url}/{path}"


def _open_store(config: Config) -> Any:
    """The state: PostgreSQL when DATABASE_URL is set, else the SQLite file state_db."""
    try:
        from ..store import open_store
    except ModuleNotFoundError:
        log.warning("bot.store is not available; questions and feedback are not logged")
        return None
    store = open_store(config)
    log.info("state: %s (%s)", store.where, store.dialect)
    return store


def run_bot(config: Config) -> int:
    """Run until interrupted: long polling, or a webhook server when telegram.webhook.url is set."""
    token = config.token
    if not token:
        print("error: TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    hook = config.telegram.webhook
    secret = (hook.secret_token or secrets.token_urlsafe(32)) if hook.url else ""
    url_path = hook.path.strip("/") if hook.url else ""
    # The README asks to keep the webhook path unguessable: it is as secret as the token.
    protect_logs(token, secret, webhook_url(hook.url, hook.path) if hook.url else "", paths=[url_path])
    if config.metrics_port and hook.url and config.metrics_port == hook.port:
        print("error: METRICS_PORT must differ from the webhook's PORT in one-process mode", file=sys.stderr)
        return 2
    store = _open_store(config)  # first: a refused state file stops the bot before the corpus loads
    loaded = threading.Event()
    ops = OpsServer(hook.listen, config.metrics_port, loaded.is_set).start() if config.metrics_port else None
    try:
        library = _open_library(config)
        log.info("corpus: %d articles from %s", len(library.articles), config.corpus)
        metrics.set_articles(len(library.articles))
        loaded.set()
        application = build_application(config, library, store=store, token=token)
        if hook.url:
            log.info("webhook mode on %s:%s (the URL path is not logged)", hook.listen, hook.port)
            application.run_webhook(
                listen=hook.listen,
                port=hook.port,
                url_path=url_path,
                webhook_url=webhook_url(hook.url, hook.path),
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
                bootstrap_retries=-1,
            )
        else:
            log.info("long polling")
            application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, bootstrap_retries=-1)
    except InvalidToken:
        print("error: Telegram rejected the token in TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return 1
    finally:
        if ops is not None:
            ops.stop()
        if store is not None:
            store.close()
    return 0
