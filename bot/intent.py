"""What a message is, decided once for every front end (terminal, CLI, Telegram, inline).

`classify(text, analyzer)` is pure: it reads the message and the names the analyzer knows
(districts, their short names, pinyin) and says what the resident wants — a greeting, help,
a command (typed as `/latest` or in words), a list to browse, or a question of fact. What to
answer is the library's job (bot/library.py); how to word it, the front end's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .question import MAX_QUESTION_CHARS
from .text import Analyzer, normalize, strip_invisible


class Act(StrEnum):
    EMPTY = "empty"  # nothing to read: blank, punctuation, emoji only
    GREETING = "greeting"  # 你好, thanks
    START = "start"  # /start: the welcome
    HELP = "help"  # /help, 你能做什么, 怎么用
    ABOUT = "about"  # /about: where the news comes from
    ASK_USAGE = "ask_usage"  # /ask with nothing after it
    UNKNOWN_COMMAND = "unknown_command"
    LATEST = "latest"  # the newest articles: /latest 10, 最新消息, 最近有什么新闻
    DISTRICTS = "districts"  # the districts that have news
    DISTRICT = "district"  # one district's news: /district 二七区, 二七区有什么新闻
    READ = "read"  # one article in full: /read <id>, /start <id>
    QUESTION = "question"  # a question of fact: the engine answers it


@dataclass(frozen=True)
class Intent:
    act: Act
    text: str  # the question, or the command's argument, whitespace-normalised
    district: str | None = None  # DISTRICT: the canonical name, None when the name is unknown
    article_id: str | None = None  # READ
    count: int | None = None  # LATEST: how many were asked for
    truncated: bool = False  # the question was cut to MAX_QUESTION_CHARS


# Commands every front end understands, typed with a slash (Telegram, terminal) or, for the
# plain words a terminal user types, without one.
COMMANDS = {
    "start": Act.START,
    "help": Act.HELP,
    "about": Act.ABOUT,
    "ask": Act.QUESTION,
    "latest": Act.LATEST,
    "districts": Act.DISTRICTS,
    "district": Act.DISTRICT,
    "read": Act.READ,
}
_WORD_COMMANDS = {"help": "help", "帮助": "help", "latest": "latest", "read": "read", "districts": "districts"}
_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
_ARTICLE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

_GREETING_RE = re.compile(
    r"^(?:你好|您好|嗨|哈喽|哈啰|在吗|在不在|早上好|早安|晚上好|下午好|中午好|hi|hello|hey|谢谢|多谢|感谢|谢啦|thanks|thank you)"
    r"[呀啊哈吗呢!！。.~～\s]*$",
    re.IGNORECASE,
)
# Questions about the bot itself get the help text, not a news search.
_META_RE = re.compile(
    r"^(?:你是谁|你是什么|你叫什么|你能做什么|你会什么|你会干什么|你能干什么|怎么用|如何使用|帮助|help|你是谁开发的|谁开发的你)"
)
# 「二七区有什么新闻」「金水最近有啥消息」「最新新闻」: browsing, not a question about one fact.
_BROWSE_RE = re.compile(
    r"^(?P<place>.{0,12}?)\s*的?\s*(?:最近|最新|近期|近来|今天|这几天)?\s*(?:有|都有)?\s*(?:什么|啥|哪些)?\s*的?\s*"
    r"(?:新闻|消息|动态|新鲜事|news)\s*(?:吗|呢|啊|呀)?\s*[?？。!！~～]*$",
    re.IGNORECASE,
)
_LATEST_WORDS = {"", "最新", "最近", "近期", "今天", "有", "郑州"}
_WORDY_RE = re.compile(r"[\w\u4e00-\u9fff]")


def classify(message: str, analyzer: Analyzer) -> Intent:
    """What the message asks for; never raises, whatever it holds."""
    text = " ".join(strip_invisible(message if isinstance(message, str) else "").split())
    if not _WORDY_RE.search(text):
        return Intent(Act.EMPTY, "")
    command = _COMMAND_RE.match(text)
    if command:
        return _command(command.group(1).lower(), (command.group(2) or "").strip(), analyzer)
    head, _, rest = text.partition(" ")
    word = _WORD_COMMANDS.get(head.lower())
    if word is not None and (word != "read" or _ARTICLE_ID_RE.match(rest.strip())):
        return _command(word, rest.strip(), analyzer)
    return _question(text, analyzer)


def _command(name: str, argument: str, analyzer: Analyzer) -> Intent:
    act = COMMANDS.get(name, Act.UNKNOWN_COMMAND)
    if act is Act.START:
        if argument == "help":
            return Intent(Act.HELP, argument)
        if argument:  # a deep link t.me/<bot>?start=<id> opens that article
            return Intent(Act.READ, argument, article_id=argument)
        return Intent(Act.START, "")
    if act is Act.QUESTION:
        return _question(argument, analyzer) if argument else Intent(Act.ASK_USAGE, "")
    if act is Act.LATEST:
        number = argument.split()[0] if argument else ""
        return Intent(Act.LATEST, argument, count=int(number) if number.isdigit() else None)
    if act is Act.DISTRICT:
        if not argument:
            return Intent(Act.DISTRICTS, "")
        return Intent(Act.DISTRICT, argument, district=analyzer.resolve_district(argument))
    if act is Act.READ:
        article_id = argument.split()[0] if argument else ""
        return Intent(Act.READ, argument, article_id=article_id or None)
    return Intent(act, argument)


def _question(text: str, analyzer: Analyzer) -> Intent:
    if not _WORDY_RE.search(text):
        return Intent(Act.EMPTY, "")
    truncated = len(text) > MAX_QUESTION_CHARS
    text = text[:MAX_QUESTION_CHARS]
    plain = normalize(text)
    if _META_RE.match(plain):
        return Intent(Act.HELP, text)
    if _GREETING_RE.match(plain):
        return Intent(Act.GREETING, text)
    listing = _browse(text, analyzer)
    if listing is not None:
        return listing
    return Intent(Act.QUESTION, text, truncated=truncated)


def _browse(text: str, analyzer: Analyzer) -> Intent | None:
    """A request for a list: the latest news, or one district's."""
    match = _BROWSE_RE.match(text.strip())
    if not match:
        return None
    place = match.group("place").strip()
    if place in _LATEST_WORDS:
        return Intent(Act.LATEST, text)
    district = analyzer.resolve_district(place)
    if district is None:
        return None
    lexicon = analyzer.lexicon
    names = {district, *lexicon.districts.get(district, ())}
    # a place inside a district (樱桃沟, 清华附中) is a search, not the whole district's list
    if place not in names and place in lexicon.places:
        return None
    return Intent(Act.DISTRICT, text, district=district)
