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

from .dates import time_words
from .normalize import normalize, strip_invisible
from .question import MAX_QUESTION_CHARS
from .text import Analyzer


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
    DISTRICT = "district"  # one district's news: /district 二七区, 二七区有什么新闻, 上街, Erqi
    TOPIC = "topic"  # news about something: 关于植树的新闻, 疫苗接种的新闻有哪些
    READ = "read"  # one article in full: /read <id>, /start <id>
    DEFINE = "define"  # what a term means: 三送一强是啥意思, 什么是六个动力源
    QUESTION = "question"  # a question of fact: the engine answers it


@dataclass(frozen=True)
class Intent:
    act: Act
    text: str  # the question, or the command's argument, whitespace-normalised
    district: str | None = None  # DISTRICT: the canonical name, None when the name is unknown
    article_id: str | None = None  # READ
    count: int | None = None  # LATEST: how many were asked for
    truncated: bool = False  # the question was cut to MAX_QUESTION_CHARS
    topic: str | None = None  # TOPIC: what the news should be about; DEFINE: the term
    when: str | None = None  # a time phrase limiting a list: 今年, 3月, 这周 (最近: newest first anyway)
    leans: bool = False  # QUESTION: leans on the last answer (它, 那, 还有呢, a bare 在哪) — a follow-up


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
    listing = _browse(text, plain, analyzer)
    if listing is not None:
        return listing
    term = _defined_term(plain)
    if term is not None:
        return Intent(Act.DEFINE, text, topic=term, truncated=truncated)
    return Intent(Act.QUESTION, text, truncated=truncated, leans=_leans(plain))


# ---------------------------------------------------------------- lists in words

_END = r"[\s?？。.!！~～,，…]*$"
_PARTICLES_RE = re.compile(r"(?:吗|呢|啊|呀|吧|哈|啦|嘛)+" + _END)
# The head of a request for a list, at its end: 新闻 / 消息 …, or 有什么(新鲜)事.
_NEWS = r"(?:新闻|消息|动态|新鲜事|报道|资讯|要闻)"
_LIST_TAIL_RE = re.compile(
    rf"(?:(?:有没有|有无|有什么|有啥|有哪些|都有啥|都有什么|都有哪些|有)?的?(?:最新|最近|近期)?的?{_NEWS}"
    r"(?:有哪些|有什么|有啥|都有啥|都有哪些|有没有|有吗)?"
    r"|(?P<events>(?:有什么|有啥|有哪些|发生了什么|出了什么|发生了啥)(?:新鲜|大)?(?:事儿|事情|事)))$"
)
_FRAME_RE = re.compile(
    r"^(?:请问|我想|想|能不能|可不可以|可以|帮我|给我|麻烦)*(?:看看|看一下|看下|了解一下|了解|查查|查一下|找找|找一下|说说|讲讲|推荐|来点)*"
    r"(?:有没有|有无|有什么|有啥|有哪些)?(?:一些|一下|点)?"
)
_TOPIC_MARK_RE = re.compile(r"^(?:关于|有关|涉及|围绕)|(?:相关|方面|有关)的?$")
_AFTER_WHEN_RE = re.compile(r"^(?:的|里|以来|以后|之后)")  # 今年以来的, 3月里的
_FILLER_RE = re.compile(r"^(?:郑州(?:市)?|全市|本地|咱们|我们)?的?|的$")
# Words that make it a question about one fact, not a list: 二七区的新闻发布会在哪开.
_QUESTION_RE = re.compile(r"什么时候|啥时候|多少|几[个家所人次天年名项条座]|哪里|哪儿|在哪|怎么|为什么|为啥|谁|是否")
_ENGLISH_BROWSE_RE = re.compile(
    r"^(?:(?:what'?s|what is|anything) (?:new|happening|going on)(?: (?:in|at|around|from|with))?"
    r"|(?:any |the |show me |give me )?(?:latest |recent |new )?(?:news|headlines)(?: (?:from|in|about|on|for|of|at))?)"
    r"\s*(?P<rest>.*?)[\s?.!]*$|^(?P<before>.+?)\s+(?:news|headlines)[\s?.!]*$",
    re.IGNORECASE,
)


def _browse(text: str, plain: str, analyzer: Analyzer) -> Intent | None:
    """A request for a list — the latest news, a district's, news on a topic — or None."""
    english = _ENGLISH_BROWSE_RE.match(plain) if plain.isascii() else None
    if english is not None:
        return _english_browse(text, (english.group("rest") or english.group("before") or "").strip(), analyzer)
    core = _PARTICLES_RE.sub("", plain.strip())
    core = re.sub(_END, "", core)
    if not core:
        return None
    district = _district_named(core, analyzer)
    if district is not None:  # a district's name alone: 上街, 二七区, Erqi
        return Intent(Act.DISTRICT, text, district=district)
    tail = _LIST_TAIL_RE.search(core)
    if tail is None:
        return None
    subject = _FRAME_RE.sub("", core[: tail.start()])
    when = None
    found = time_words(subject)  # a time phrase limits the list (最近: newest first anyway)
    if found is not None:
        when = None if found.group("recent") else found.group(0)
        subject = (subject[: found.start()] + _AFTER_WHEN_RE.sub("", subject[found.end() :])).strip()
    subject = _TOPIC_MARK_RE.sub("", _FILLER_RE.sub("", subject.strip())).strip()
    subject = _FILLER_RE.sub("", subject).strip()
    if not subject:
        return Intent(Act.LATEST, text, when=when)
    if _QUESTION_RE.search(subject):
        return None
    district = _district_named(subject, analyzer)
    if district is not None:
        return Intent(Act.DISTRICT, text, district=district, when=when)
    if tail.group("events"):  # 兰比尔发生了什么事情: a question about one thing, not a list
        return None
    # 二七区老旧小区改造: a topic within a district
    for name in sorted(_district_names(analyzer), key=len, reverse=True):
        if subject.startswith(name) and len(subject) > len(name) + 1:
            rest = subject[len(name) :].lstrip("的")
            return Intent(Act.TOPIC, text, district=analyzer.lexicon.places[name], topic=rest, when=when)
    if len(subject) < 2 and not subject.isascii():
        return None
    return Intent(Act.TOPIC, text, topic=subject, when=when)


def _english_browse(text: str, rest: str, analyzer: Analyzer) -> Intent:
    rest = re.sub(r"^(?:the|a)\s+", "", rest.strip(), flags=re.IGNORECASE)
    if not rest or rest.lower() in ("zhengzhou", "today", "recently", "lately"):
        return Intent(Act.LATEST, text)
    district = analyzer.resolve_district(rest)
    if district is not None and _latin_district(rest, analyzer):
        return Intent(Act.DISTRICT, text, district=district)
    words = re.findall(r"[a-z]+", rest.lower())
    english = analyzer.lexicon.english
    terms = [english[w][0] if w in english else english[w[:-1]][0] if w[:-1] in english else "" for w in words]
    topic = "".join(dict.fromkeys(t for t in terms if t))
    return Intent(Act.TOPIC, text, topic=topic or rest)


def _district_names(analyzer: Analyzer) -> set[str]:
    lexicon = analyzer.lexicon
    names = set(lexicon.districts)
    for shorts in lexicon.districts.values():
        names.update(shorts)
    return names


def _district_named(words: str, analyzer: Analyzer) -> str | None:
    """The district `words` name and nothing else: 二七区, 二七, 二七去 (typo), erqi, Zhengdong New District."""
    words = words.strip()
    if not words or len(words) > 40:
        return None
    if words.isascii():
        district = analyzer.resolve_district(words)
        return district if district is not None and _latin_district(words, analyzer) else None
    repaired = analyzer.repair(words)
    if repaired in _district_names(analyzer):
        return analyzer.lexicon.places[repaired]
    return None


def _latin_district(words: str, analyzer: Analyzer) -> bool:
    """Latin words that spell a district (erqi, Zhongmu County), not a place inside one."""
    district = analyzer.resolve_district(words)
    if district is None:
        return False
    latin = re.sub(r"[^a-z]", "", words.lower())
    pinyin = analyzer.lexicon.pinyin
    place = pinyin.get(latin)
    return place is None or place in _district_names(analyzer)


# ---------------------------------------------------------------- terms and follow-ups

# 三送一强是啥意思 / 三送一强什么意思 / 什么是三送一强 / 六个动力源指的是什么
_DEFINE_RES = (
    re.compile(r"^(?:什么(?:是|叫)|啥(?:是|叫)|何为|何谓)(?P<term>.{2,20}?)" + _END),
    re.compile(r"^(?P<term>.{2,20}?)(?:是|指)?(?:啥|什么)意思" + _END),
    re.compile(r"^(?P<term>.{2,20}?)(?:指的是|是指|指)(?:啥|什么|哪些|哪几个)" + _END),
    re.compile(r"^(?P<term>.{2,12}?)是(?:啥|什么)" + _END),
)


def _defined_term(plain: str) -> str | None:
    """The term whose meaning is asked, or None."""
    core = _PARTICLES_RE.sub("", plain.strip())
    for pattern in _DEFINE_RES:
        match = pattern.match(core)
        if match:
            term = match.group("term").strip(" “”\"'「」『』《》")
            if len(term) >= 2 and not _QUESTION_RE.search(term):
                return term
    return None


# A message that leans on the last answer: 它/那/这个…, 还有呢, 具体说说, or a bare 在哪 / 什么时候.
_LEANS_RE = re.compile(
    r"^(?:那么?|那它|它们?|这个|那个|这里|那里|这所|那所|这家|那家|该|其|此|这|还有呢|还有吗|还有别的|还有什么|然后呢|具体|详细|展开|继续|接着"
    r"|再说说|多说|and\b|what about|tell me more|more\b|it\b|they\b|there\b)",
    re.IGNORECASE,
)
_BARE_ASK_RE = re.compile(
    r"^(?:什么时候|啥时候|何时|哪天|在哪|在哪里|在哪儿|哪里|地址|位置|多少钱|多少人|多少|几个|几家|谁|为什么|为啥|怎么样|how many|when|where|who|why)"
    r"[\w\u4e00-\u9fff]{0,4}" + _END,
    re.IGNORECASE,
)


def _leans(plain: str) -> bool:
    core = plain.strip()
    return bool(_LEANS_RE.match(core) or _BARE_ASK_RE.match(core))
