"""The typed PTB context: `context.bot_data` is a `BotData`, so services are attributes, not dict keys.

`CONTEXT_TYPES` goes into `Application.builder().context_types(...)`; handlers and jobs take a
`BotContext`. build_application and subscriptions.register fill the attributes in before the
application starts; an unset one raises AttributeError.

handlers.py's `Services` is still stored and read as `bot_data["services"]`: item access maps to
the attributes until `Services` is merged into `BotData`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from telegram.ext import CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from ..config import Config
    from ..library import Library
    from ..store import Store
    from ..watch import CorpusWatcher
    from .handlers import Services
    from .notifier import Notifier
    from .polling import SourcePoller


class BotData:
    """What handlers and jobs share for the life of the application."""

    # a typo fails loudly
    __slots__ = ("config", "leader", "library", "notifier", "poller", "services", "store", "watcher")

    services: Services  # handlers.py: engine, guards, command menus
    config: Config
    library: Library  # the live corpus: read `.engine` on every use, a reload swaps it
    store: Store
    notifier: Notifier
    watcher: CorpusWatcher
    poller: SourcePoller  # the configured news sources, polled by one job each
    leader: bool  # this process runs the jobs and tells subscribers (always, but one of `run --workers`)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__slots__:
            raise KeyError(key)
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__slots__:
            raise KeyError(key)
        setattr(self, key, value)


BotContext: TypeAlias = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
