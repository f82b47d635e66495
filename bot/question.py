"""What a question of fact asks for: the kind of fact (number, date, who, where, list) and,
for a how-many question, the unit and the thing counted. Pure functions over the question text.
"""

from __future__ import annotations

import re

MAX_QUESTION_CHARS = 300

# Markup a resident pasted (<b>…</b>, **…**) is not part of the question.
MARKUP_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>|[*_`~]{1,3}")
# What kind of fact the question asks for (the sentences holding each: passages.FACTS).
ASKS = {
    "number": re.compile(
        r"how many|how much|多少|几[个家所人次天年名项条座万亿十百千位户辆台种]|多大|多长|多高|多远|多重|数量|比例|百分之"
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
    "list": re.compile(
        r"是啥|是什么|指什么|什么意思|啥意思|包括|有哪些|有啥|都有|哪[几两]?[个种项样类]|都.{0,4}[啥哪什]"
    ),
}
# 多少人 / 几家 / 多少米: a number with the very unit asked for is the strongest sign of an answer.
_UNIT_ASK_RE = re.compile(
    r"(?:多少|几)([个家所人次天年名项条座位户辆台种单元米亩岁分钟小时公里平方吨件份批场届期点"
    r"支棵株只间栋张本块篇首部门处斤])([\u4e00-\u9fff]{0,2})"
)
# Not the thing counted: 有多少个的 / 几个了 / 多少人在.
_NOT_COUNTED = set("的了是呢吗啊呀吧在有和与被把就都还又也")
_AGE_ASK_RE = re.compile(r"多大(?:的)?(?:孩子|年纪|岁数|年龄)|几岁|年龄")
_MONEY_ASK_RE = re.compile(r"多少钱|多少资金|多少经费|多少投资|投资多少|投了多少|花了多少|多少补贴|多少奖补|发了多少")
# A place the question does not already name: the new information a where-question wants.
PLACE_NAME_RE = re.compile(r"[\u4e00-\u9fff]{2}(?:区|县|镇|乡|村|路|街|院|小区|社区|公园|学校|中心)")
# 个 is the generic classifier: 几个孩子 is answered by 20名青少年, 几个项目 by 79个.
_UNIT_SYNONYMS = {"个": "个名人位家所座项条户只次台辆种", "人": "人名位", "名": "名人位", "位": "位名人"}


def asks_of(text: str) -> list[str]:
    """The kinds of fact a question asks for, in `ASKS` order."""
    return [kind for kind, ask in ASKS.items() if ask.search(text)]


def unit_asked(question: str) -> str | None:
    if _AGE_ASK_RE.search(question):
        return "岁"
    if _MONEY_ASK_RE.search(question):
        return "元"
    match = _UNIT_ASK_RE.search(question)
    return match.group(1) if match else None


def counted_noun(question: str) -> str | None:
    """What a how-many question counts (多少支队伍 → 队伍, 几个班 → 班), its first two characters."""
    match = _UNIT_ASK_RE.search(question)
    if match is None or not match.group(2) or match.group(2)[0] in _NOT_COUNTED:
        return None
    noun = match.group(2)
    return noun[:1] if noun[1:] in _NOT_COUNTED else noun


def _number_with_unit(unit: str) -> str:
    units = _UNIT_SYNONYMS.get(unit, unit)
    return rf"\d[\d.,，~\-—]*(?:余|多)?[万亿千百]?(?:余|多)?[{re.escape(units)}]"


def unit_number_re(unit: str) -> re.Pattern[str]:
    return re.compile(_number_with_unit(unit))


def counted_re(unit: str, noun: str) -> re.Pattern[str]:
    """The number with its unit next to the thing counted: 132个教学班, 33支队伍, 企业360家."""
    number, noun = _number_with_unit(unit), re.escape(noun)
    return re.compile(rf"{number}[^，。,；;！？!?\s]{{0,4}}?{noun}|{noun}[^，。,；;！？!?\s]{{0,2}}?{number}")
