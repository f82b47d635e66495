"""The synthetic corpus and the question set, generated deterministically (fixed seed).

Runs of real sentences (the seed articles and the CMRC trial passages) recombined, numbers and
place names varied, set in Zhengzhou's 16 districts, with news-like headlines, bylines, dates
and lengths (300-1500 characters). Questions: CMRC trial questions (their sentences are in the
corpus) and resident-style questions made from the synthetic articles' sentences and headlines.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from .common import CMRC_CORPUS, CMRC_QA, RESIDENT_QA, SEEDS_DIR

SEED = 20240330
GENERATOR_VERSION = "2"

DISTRICTS = (
    "中原区",
    "二七区",
    "管城区",
    "金水区",
    "惠济区",
    "上街区",
    "郑东新区",
    "航空港区",
    "经开区",
    "高新区",
    "荥阳市",
    "新密市",
    "中牟县",
    "新郑市",
    "登封市",
    "巩义市",
)
# Rough share of the news each district gets (the city centre writes more).
DISTRICT_WEIGHTS = (8, 9, 7, 10, 6, 4, 8, 7, 6, 6, 5, 4, 5, 5, 5, 5)
SHORT = {
    "中原区": "中原",
    "二七区": "二七",
    "管城区": "管城",
    "金水区": "金水",
    "惠济区": "惠济",
    "上街区": "上街",
    "郑东新区": "郑东",
    "航空港区": "港区",
    "经开区": "经开区",
    "高新区": "高新区",
    "荥阳市": "荥阳",
    "新密市": "新密",
    "中牟县": "中牟",
    "新郑市": "新郑",
    "登封市": "登封",
    "巩义市": "巩义",
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉红建国志新海峰晨晓宇浩然欣怡佳琪轩涵雨嘉博文斌凯亮莉婷雪梅琳瑶颖慧倩"
HEADLINE_TAILS = (
    "项目提速",
    "主题活动举行",
    "开展专项行动",
    "迎来新变化",
    "服务进社区",
    "文化节开幕",
    "工作推进会召开",
    "集中签约",
    "惠及居民",
    "让群众少跑腿",
    "擦亮民生底色",
    "按下快进键",
    "见闻",
    "掠影",
)
_SENTENCE_RE = re.compile(r"(?<=[。！？!?；;])")
_CLAUSE_RE = re.compile(r"[，,、；;：:“”\"（）()《》。！？!?]")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


class Sources:
    """Sentences, headlines and names the synthetic corpus is made of."""

    def __init__(self) -> None:
        from bot.corpus import load_corpus, load_jsonl
        from bot.text import load_lexicon

        self.lexicon = load_lexicon()
        self.seed_articles = load_corpus(SEEDS_DIR, self.lexicon.places).articles
        self.cmrc_articles = load_jsonl(CMRC_CORPUS, self.lexicon.places) if CMRC_CORPUS.exists() else []
        # Runs of consecutive sentences: recombining whole runs keeps local coherence.
        self.seed_runs = [split_sentences(a.paragraphs) for a in self.seed_articles]
        self.cmrc_runs = [split_sentences(a.paragraphs) for a in self.cmrc_articles]
        self.seed_runs = [r for r in self.seed_runs if r]
        self.cmrc_runs = [r for r in self.cmrc_runs if r]
        fragments = []
        for article in self.seed_articles:
            for part in re.split(r"\s+", article.headline):
                if 4 <= len(part) <= 20:
                    fragments.append(part)
        self.fragments = sorted(set(fragments))
        self.cmrc_titles = sorted({a.title for a in self.cmrc_articles if 2 <= len(a.title) <= 12})
        self.places: dict[str, list[str]] = {d: [] for d in DISTRICTS}
        for place, district in sorted(self.lexicon.places.items()):
            if district in self.places and place != district and len(place) >= 2:
                self.places[district].append(place)
        names = sorted(self.lexicon.places, key=len, reverse=True)
        self.place_re = re.compile("|".join(re.escape(n) for n in names if len(n) >= 2))


def split_sentences(paragraphs) -> list[str]:
    out = []
    for paragraph in paragraphs:
        for sentence in _SENTENCE_RE.split(paragraph):
            sentence = sentence.strip().lstrip("”’」』)）,，、")
            if len(sentence) >= 6:
                out.append(sentence)
    return out


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _vary(sentence: str, district: str, places: list[str], sources: Sources, rng: random.Random) -> str:
    """Move a sentence to the article's district and change its figures (real text, new facts)."""

    def place(_match: re.Match) -> str:
        return rng.choice(places) if places and rng.random() < 0.4 else district

    sentence = sources.place_re.sub(place, sentence)
    if rng.random() < 0.5:
        sentence = re.sub(
            r"\d+",
            lambda m: str(
                rng.randint(10 ** (len(m.group()) - 1) if len(m.group()) > 1 else 1, 10 ** len(m.group()) - 1)
            ),
            sentence,
        )
    return sentence


def _headline(district: str, places: list[str], sources: Sources, rng: random.Random) -> str:
    where = rng.choice(places) if places and rng.random() < 0.3 else district
    roll = rng.random()
    if roll < 0.45 and sources.fragments:
        fragment = sources.place_re.sub(district, rng.choice(sources.fragments))
        return fragment if district in fragment else f"{where}{fragment}"
    if roll < 0.75 and sources.cmrc_titles:
        return f"{where}{rng.choice(sources.cmrc_titles)}{rng.choice(HEADLINE_TAILS)}"
    if len(sources.fragments) >= 2:
        first, second = rng.sample(sources.fragments, 2)
        return sources.place_re.sub(district, f"{first} {second}")
    return f"{where}{rng.choice(HEADLINE_TAILS)}"


def generate_articles(n: int, sources: Sources, seed: int = SEED) -> list[dict]:
    """N news-like articles (JSONL records), the same for the same N and seed."""
    return list(iter_articles(n, sources, seed))


def iter_articles(n: int, sources: Sources, seed: int = SEED) -> Iterator[dict]:
    """The articles of `generate_articles`, one at a time (a million never sit in memory at once).

    One random stream for the whole corpus: the first M articles of any N ≥ M are the M-article
    corpus, byte for byte.
    """
    rng = random.Random(seed)
    for number in range(n):
        district = rng.choices(DISTRICTS, weights=DISTRICT_WEIGHTS)[0]
        places = sources.places.get(district, [])
        target = int(min(1500, max(300, rng.lognormvariate(6.45, 0.45))))  # median ≈ 630 characters
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        year = rng.randint(2019, 2024)
        lead = (
            f"本报讯(记者 {_person(rng)} 通讯员 {_person(rng)}) {month}月{day}日，"
            f"{district}{rng.choice(places) if places and rng.random() < 0.5 else ''}"
        )
        paragraphs: list[str] = []
        length = 0
        first = True
        while length < target:
            pool = sources.seed_runs if (rng.random() < 0.55 or not sources.cmrc_runs) else sources.cmrc_runs
            run = rng.choice(pool)
            start = rng.randrange(len(run))
            take = run[start : start + rng.randint(2, 5)]
            text = "".join(_vary(s, district, places, sources, rng) for s in take)
            if first:
                text = lead + text
                first = False
            if length + len(text) > 1500:
                text = text[: max(0, 1500 - length)]
                cut = max(text.rfind("。"), text.rfind("！"), text.rfind("？"))
                text = text[: cut + 1] if cut > 0 else ""
                if not text:
                    break
            paragraphs.append(text)
            length += len(text)
        yield {
            "id": f"b{number:07d}",
            "title": _headline(district, places, sources, rng),
            "body": "\n".join(paragraphs),
            "district": district,
            "date": f"{year}-{month:02d}-{day:02d}",
            "source": "bench",
        }


def _resident_question(title: str, body: str, district: str, rng: random.Random) -> str | None:
    """A question a resident might type about this article (colloquial, district short names)."""
    sentences = split_sentences(body.splitlines())[1:] or split_sentences(body.splitlines())
    short = SHORT.get(district, district)
    roll = rng.random()
    if roll < 0.25 and title:
        core = re.sub(r"\s+", "", title)
        return rng.choice((f"{core}是怎么回事", f"{core}说的啥", f"{short}那个{core}是什么情况"))
    if not sentences:
        return None
    clauses = [c for c in _CLAUSE_RE.split(rng.choice(sentences)) if 6 <= len(c) <= 24 and _CJK_RE.search(c)]
    if not clauses:
        return None
    clause = rng.choice(clauses)
    return rng.choice(
        (
            f"{short}{clause}是怎么回事？",
            f"听说{short}{clause}，具体啥情况",
            f"{clause}是什么时候的事",
            f"{clause}有多少",
            f"{clause}吗",
            f"{district}{clause}在哪里",
        )
    )


def make_questions(
    records: Sequence[dict], count: int, *, seed: int = SEED, cmrc_share: float = 0.5, residents: list[str] = ()
) -> list[str]:
    """A fixed question set for one corpus: the same list for every system.

    `records` may be a list or a `common.JsonlRecords` (the corpus file read by offset): only the
    few articles the questions are made from are read.
    """
    rng = random.Random(seed + 1)
    questions = list(residents)[:count]
    cmrc = cmrc_questions() if cmrc_share > 0 else []
    want_cmrc = min(len(cmrc), round((count - len(questions)) * cmrc_share))
    questions += [q for q, *_ in rng.sample(cmrc, want_cmrc)] if want_cmrc else []
    tries = 0
    while len(questions) < count and records and tries < count * 20:
        tries += 1
        record = records[rng.randrange(len(records))]
        question = _resident_question(record["title"], record["body"], record.get("district") or "", rng)
        if question:
            questions.append(question)
    return questions[:count]


def _yaml(path: Path):
    import yaml

    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.lru_cache(maxsize=1)
def cmrc_questions() -> list[tuple[str, str, tuple[str, ...]]]:
    """(question, gold article id, acceptable answers) of the CMRC trial, or [] without it."""
    if not CMRC_QA.exists():
        return []
    items = _yaml(CMRC_QA) or []
    out = []
    for item in items:
        answers = item.get("acceptable_answers") or [item.get("answer")]
        out.append(
            (
                str(item["question"]),
                str(item.get("article_id")),
                tuple(re.sub(r"\s+", "", str(a)) for a in answers if a not in (None, "")),
            )
        )
    return out


def resident_questions() -> list[str]:
    if not RESIDENT_QA.exists():
        return []
    items = _yaml(RESIDENT_QA) or []
    return [str(i["question"]) for i in items if isinstance(i, dict) and i.get("question")]
