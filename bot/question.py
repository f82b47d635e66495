"""What a question of fact asks for: the kind of fact (number, date, who, where, list) and,
for a how-many question, the unit and the thing counted. Pure functions over the question text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MAX_QUESTION_CHARS = 300

# Markup a resident pasted (<b>…</b>, **…**) is not part of the question.
MARKUP_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>|[*_`~]{1,3}")
# What kind of fact the question asks for (the sentences holding each: passages.FACTS).
ASKS = {
    "number": re.compile(
        r"how many|how much|多少|(?<!哪)几[个家所人次天年名项条座万亿十百千位户辆台种]|多大|多长|多高|多远|多重|数量|比例|百分之"
    ),
    "date": re.compile(
        r"\bwhen\b|what time|which day|什么时候|啥时候|何时|哪天|哪一天|几号|几月|哪年|哪一年|时间|日期|多久|几点|什么时间|啥时"
    ),
    "who": re.compile(
        r"\bwho\b|谁|哪位|叫什么|叫啥|名字|姓名|哪个人|负责人是|哪[两几]?家|哪个(?:单位|部门|企业|公司|剧团|机构)"
    ),
    "where": re.compile(
        r"\bwhere\b|哪里|哪儿|在哪|什么地方|啥地方|地点|位置|地址|打哪|哪个(?:院|村|镇|乡|小区|学校|街道|社区|路)"
        r"|哪些(?:院|村|镇|乡|小区|学校|街道|社区|地方)|哪[两几]个(?:乡镇|村|镇|乡|社区|街道|小区)"
    ),
    "why": re.compile(r"\bwhy\b|为什么|为何|为啥|怎么会|原因|缘故|理由|背景|由来|来历|怎么来的|怎么死"),
    "define": re.compile(
        r"^[^的]{1,20}是什么\W*$|是啥|指什么|什么意思|啥意思|是指|指的是|什么是|什么叫|何谓|含义|定义|\bwhat is\b|\bmeaning\b"
    ),
    "list": re.compile(r"包括|有哪些|有啥|都有|哪[几两]?[个种项样类]|都.{0,4}[啥哪什]"),
}
# 多少人 / 几家 / 多少米: a number with the very unit asked for is the strongest sign of an answer.
_UNIT_ASK_RE = re.compile(
    r"(?:多少|(?<!哪)几)([个家所人次天年名项条座位户辆台种单元米亩岁分钟小时公里平方吨件份批场届期点"
    r"支棵株只间栋张本块篇首部门处斤])([\u4e00-\u9fff]{0,2})"
)
# Not the thing counted: 有多少个的 / 几个了 / 多少人在.
_NOT_COUNTED = set("的了是呢吗啊呀吧在有和与被把就都还又也")
_AGE_ASK_RE = re.compile(r"多大(?:的)?(?:孩子|年纪|岁数|年龄)|几岁|年龄")
_MONEY_ASK_RE = re.compile(r"多少钱|多少资金|多少经费|多少投资|投资多少|投了多少|花了多少|多少补贴|多少奖补|发了多少")
# A place the question does not already name: the new information a where-question wants.
# The two characters before the place word are a name, not a count or a pointer (两个乡, 该村).
PLACE_NAME_RE = re.compile(
    r"(?:(?![两几个各该本全这那每此等和与及的在到了])[\u4e00-\u9fff]){2}"
    r"(?:区|县|镇|乡|村|路|街|院|小区|社区|公园|学校|中心)"
)
# Saying where outright: 来自中牟, 位于…, 在…举行.
WHERE_SAID_RE = re.compile(r"来自|位于|坐落|地处|落户|产自|源自|发源|生于|在[^，。,；;]{2,12}(?:举行|举办|召开|开展)")
# 哪个学校 / 什么剧团 / 哪位皇帝: the thing asked for by name, right after the question word.
_ASKED_NOUN_RE = re.compile(
    r"(?:哪|什么|啥)(?:一|两|几)?(?:个|家|所|位|座|条|支|种|部|本|项|只|间|张|款)?的?([\u4e00-\u9fff]{1,4})"
)
# Before the thing asked, a name: two characters that are not a count, a pointer or a verb of
# going (两个村, 该村, 走进社区 name nothing).
NOT_NAME_CHARS = frozenset("两几个各该本全这那每此等和与及的在到了进入往赴至回去来走")
# 多长/多高/多重/多久: a measure, answered by a number with any unit of it (公里, 米; 吨, 公斤).
_MEASURE_ASKS = (
    ("时长", re.compile(r"多久|多长时间|多少时间|多长的时间")),
    ("长度", re.compile(r"多长|多远|多高|多深|多宽|多厚|长度|高度|深度|宽度|海拔")),
    ("重量", re.compile(r"多重|重量|体重")),
    ("面积", re.compile(r"面积|占地多|多大的?(?:地方|面积|范围)")),
)
# 个 is the generic classifier: 几个孩子 is answered by 20名青少年, 几个项目 by 79个.
_UNIT_SYNONYMS = {
    "个": "个名人位家所座项条户只次台辆种",
    "人": "人名位",
    "名": "名人位",
    "位": "位名人",
    "时长": "年月天周日时钟秒",
    "长度": "米里尺",
    "重量": "克斤吨磅",
    "面积": "亩顷米里",
}
# A number as digits, or in characters from 两 up (一个 is as often "a" as "one").
_NUMBER = r"(?:\d[\d.,，~\-—]*|[两二三四五六七八九十][零〇一二两三四五六七八九十百千]*|一[十百千][零〇一二两三四五六七八九十百千]*)"


def asks_of(text: str) -> list[str]:
    """The kinds of fact a question asks for, in `ASKS` order."""
    return [kind for kind, ask in ASKS.items() if ask.search(text)]


def asked_noun(question: str, words: Iterable[str]) -> str | None:
    """The thing a which-question asks to name (哪个学校 → 学校, 什么剧团 → 剧团): the longest of
    the question's words that starts right after the question word."""
    match = _ASKED_NOUN_RE.search(question)
    if match is None:
        return None
    after = match.group(1)
    found = [w for w in words if after.startswith(w) and not w.isascii()]
    return max(found, key=len) if found else None


# After a subject, what says what it is: 是/即/是指/又称/a colon (a bracket may come between:
# 乙酰胺（…）是), or its expansion in brackets (三送一强(送政策、送服务、送要素、强信心)).
_DEFINER_RE = re.compile(
    r"[”\"」』]?\s*(?:[（(][^（）()]{0,60}[)）])?[，,]?\s*(?:是指|指的是|就是|也就是|意为|意思是|即|是|又称|简称|或称|俗称|[:：])"
    r"|[”\"」』]?[（(][^（）()]{2,60}[)）]"
)
# Before it, a list it names: …、足球小镇板块“六个动力源”.
_LIST_BEFORE_RE = re.compile(r"、[^、，,。；;]{1,20}[“\"「]?$")


def defining_spans(text: str, subjects: Sequence[str], start: int = 0) -> list[tuple[int, int]]:
    """[start, end) of each place in the text that says what one of the subjects is: the
    subject with what follows it (_DEFINER_RE), or the list before it that it names."""
    spans = []
    for subject in subjects:
        place = text.find(subject, start) if subject else -1
        while place >= 0:
            after = place + len(subject)
            definer = _DEFINER_RE.match(text, after)
            listed = _LIST_BEFORE_RE.search(text, max(start, place - 25), place)
            if definer is not None:
                spans.append((place, definer.end()))
            elif listed is not None:
                spans.append((listed.start(), after))
            place = text.find(subject, place + 1)
    return sorted(spans)


def unit_asked(question: str) -> str | None:
    if _AGE_ASK_RE.search(question):
        return "岁"
    if _MONEY_ASK_RE.search(question):
        return "元"
    for measure, ask in _MEASURE_ASKS:
        if ask.search(question):
            return measure
    match = _UNIT_ASK_RE.search(question)
    return match.group(1) if match else None


def counted_noun(question: str) -> str | None:
    """What a how-many question counts (多少支队伍 → 队伍, 几个班 → 班), its first two characters."""
    match = _UNIT_ASK_RE.search(question)
    if match is None or not match.group(2) or match.group(2)[0] in _NOT_COUNTED:
        return None
    noun = match.group(2)
    return noun[:1] if noun[1:] in _NOT_COUNTED else noun


# A number, then the unit: one pattern for every unit (compiling one a unit cost ~1 ms each
# the first time a question asked for it); the unit is checked after it.
_NUMBER_RE = re.compile(rf"{_NUMBER}(?:余|多)?[万亿千百]?(?:余|多)?")
_UNIT_PREFIXES = frozenset("公千厘毫英平方个")  # 公里, 千米, 平方米, 个月
_BREAKS = frozenset("，。,；;！？!? \t\n")


def unit_spans(text: str, unit: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) of each number with the unit asked (300人, 2.3万人次, 两个, 1122米, 5个月)."""
    units = _UNIT_SYNONYMS.get(unit, unit)
    stop = len(text) if end is None else end
    spans = []
    for match in _NUMBER_RE.finditer(text, start, stop):
        place = match.end()
        for _ in range(4):  # up to three prefixes (公, 平方), then the unit
            if place >= stop:
                break
            char = text[place]
            if char in units:
                spans.append((match.start(), place + 1))
                break
            if char not in _UNIT_PREFIXES:
                break
            place += 1
    return spans


def counted_spans(text: str, spans: list[tuple[int, int]], noun: str) -> list[tuple[int, int]]:
    """Those numbers next to the thing counted: 132个教学班, 33支队伍 (within four characters
    after), 企业360家 (within two before), no punctuation between."""
    found = []
    for start, end in spans:
        after = text.find(noun, end, end + 4 + len(noun))
        before = text.rfind(noun, max(0, start - 2 - len(noun)), start)
        if (after >= 0 and not _BREAKS.intersection(text[end:after])) or (
            before >= 0 and not _BREAKS.intersection(text[before + len(noun) : start])
        ):
            found.append((start, end))
    return found
