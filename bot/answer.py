"""Question → `Answer`: retrieve, re-rank, pick the snippet that answers, or abstain.

The engine is pure and synchronous: front ends (terminal, Telegram, benchmarks) call
`Engine.answer()` and render the result their own way.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rapidfuzz import fuzz

from .config import Config
from .corpus import Article, CorpusError, corpus_files, load_file
from .index import SearchIndex, Segment, build_segment, file_key, load_cached, merge_segments, store_cached
from .passages import ArticleText, analyse
from .text import CONFIG_DIR, Analyzer, Term, corpus_words, load_lexicon, normalize

MAX_QUESTION_CHARS = 300
SNIPPET_MAX = 200
# Articles re-ranked by passage: the answer and its alternatives come from BM25's top few.
# Measured (python -m bot eval, bench): top-1 and answer-in-snippet are the same re-ranking 3,
# 6 or 12 on the residents', our own and CMRC's questions, and on CMRC-made questions over
# 100,000 articles; each candidate costs ~0.1 ms there. More alternatives re-rank more.
MIN_RERANK = 3
UNANCHORED_FACTOR = 0.6
MIN_DOCS_FOR_IDF = 20
ANALYSED_CACHE = 20000  # analysed articles kept (a few KB each): the hot part of a large archive
ALTERNATIVE_SHARE = 0.5  # an alternative scores at least this share of the best answer

NO_MATCH = "没有找到相关新闻"
HINT = (
    "可以问问各区县新闻里的事，比如「清华附中什么时候投入使用？」，或发送 /latest 看最新新闻、/districts 按区县浏览。"
)

_GREETING_RE = re.compile(
    r"^(?:你好|您好|嗨|哈喽|哈啰|在吗|在不在|早上好|早安|晚上好|下午好|中午好|hi|hello|hey|谢谢|多谢|感谢|谢啦|thanks|thank you)"
    r"[呀啊哈吗呢!！。.~～\s]*$",
    re.IGNORECASE,
)
# Questions about the bot itself get the help text, not a news search.
_META_RE = re.compile(
    r"^(?:你是谁|你是什么|你叫什么|你能做什么|你会什么|你会干什么|你能干什么|怎么用|如何使用|帮助|help|你是谁开发的|谁开发的你)"
)
_MARKUP_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>|[*_`~]{1,3}")
# What kind of fact the question asks for (the sentences holding each: passages.FACTS).
_ASKS = {
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
_PLACE_NAME_RE = re.compile(r"[\u4e00-\u9fff]{2}(?:区|县|镇|乡|村|路|街|院|小区|社区|公园|学校|中心)")


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


# 个 is the generic classifier: 几个孩子 is answered by 20名青少年, 几个项目 by 79个.
_UNIT_SYNONYMS = {"个": "个名人位家所座项条户只次台辆种", "人": "人名位", "名": "名人位", "位": "位名人"}


def _number_with_unit(unit: str) -> str:
    units = _UNIT_SYNONYMS.get(unit, unit)
    return rf"\d[\d.,，~\-—]*(?:余|多)?[万亿千百]?(?:余|多)?[{re.escape(units)}]"


def _unit_number_re(unit: str) -> re.Pattern[str]:
    return re.compile(_number_with_unit(unit))


def _counted_re(unit: str, noun: str) -> re.Pattern[str]:
    """The number with its unit next to the thing counted: 132个教学班, 33支队伍, 企业360家."""
    number, noun = _number_with_unit(unit), re.escape(noun)
    return re.compile(rf"{number}[^，。,；;！？!?\s]{{0,4}}?{noun}|{noun}[^，。,；;！？!?\s]{{0,2}}?{number}")


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: tuple[tuple[int, int], ...]
    score: float = 0.0
    evidence: int = 0  # distinct words of the question found together in the best sentence
    topic: frozenset[str] = frozenset()  # question terms the article is about (headline, repeated)


@dataclass(frozen=True)
class Candidate:
    article: Article
    score: float


@dataclass(frozen=True)
class Answer:
    """What the engine says to a question; `status` tells the front end which card to show."""

    question: str
    status: str  # "answer" | "abstain" | "greeting" | "empty"
    article: Article | None = None
    snippet: Snippet | None = None
    confidence: float = 0.0
    alternatives: tuple[Candidate, ...] = ()
    link: str | None = None
    terms: tuple[str, ...] = ()
    message: str = ""
    elapsed_ms: float = 0.0

    @property
    def found(self) -> bool:
        return self.status == "answer" and self.article is not None

    def to_json(self) -> dict:
        answer = None
        if self.found and self.article is not None and self.snippet is not None:
            answer = {
                "article_id": self.article.id,
                "title": self.article.headline,
                "snippet": self.snippet.text,
                "highlights": [list(h) for h in self.snippet.highlights],
                "link": self.link,
                "score": round(self.confidence, 4),
                "district": self.article.districts[0] if self.article.districts else None,
                "date": self.article.date,
            }
        return {
            "question": self.question,
            "answer": answer,
            "alternatives": [
                {"article_id": c.article.id, "title": c.article.headline, "score": round(c.score, 4)}
                for c in self.alternatives
            ],
            **({"message": self.message} if self.message else {}),
        }


@dataclass
class Settings:
    """Engine knobs (config/bot.yaml `engine:` overrides them)."""

    abstain_below: float = 0.28  # coverage of the question's term weight by the best article
    min_matched_idf: float = 1.2  # the best article must share at least one telling term
    alternatives: int = 2  # offered under 「更多结果」; each one more re-ranks one more candidate
    link_base: str | None = None  # e.g. "https://t.me/DistrictNewsBot?start="
    cache_dir: Path | None = None


@dataclass
class _Loaded:
    articles: list[Article]
    segment: Segment
    words: list[str]


@dataclass
class LoadReport:
    files: int = 0
    articles: int = 0
    errors: list[str] = field(default_factory=list)
    cached: int = 0
    built: int = 0
    seconds: float = 0.0


def _config_fingerprint(config_dir: Path) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(config_dir.glob("*")):
        if path.suffix in (".yaml", ".txt") and path.name != "bot.yaml":
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class Engine:
    """The answering engine over one corpus. Thread-safe for readers; `add()` swaps atomically."""

    def __init__(
        self,
        articles: Sequence[Article],
        index: SearchIndex,
        analyzer: Analyzer,
        settings: Settings | None = None,
        report: LoadReport | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.analyzer = analyzer
        self.report = report or LoadReport(articles=len(articles))
        self._state = (list(articles), index, {a.id: i for i, a in enumerate(articles)})
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, ArticleText] = OrderedDict()  # LRU of analysed articles

    # ------------------------------------------------------------ construction

    @classmethod
    def from_path(
        cls,
        corpus: Path,
        *,
        config_dir: Path = CONFIG_DIR,
        settings: Settings | None = None,
        progress: Callable[[str, int], Callable[[int], None]] | None = None,
    ) -> Engine:
        """Load a corpus folder or file, reusing cached segments; broken files are reported."""
        started = time.perf_counter()
        settings = settings or Settings()
        lexicon = load_lexicon(config_dir)
        fingerprint = _config_fingerprint(config_dir)
        cache_dir = settings.cache_dir
        report = LoadReport()
        files = corpus_files(corpus)
        report.files = len(files)
        # Each file is a cached segment, or freshly parsed articles with the words they teach.
        parsed: list[tuple[Path, str, _Loaded | tuple[list[Article], list[str]]]] = []
        for file in files:
            sidecar = file.with_suffix(".yaml")
            try:
                key = file_key(fingerprint, file, sidecar if sidecar.exists() else None, cache_dir)
            except OSError as exc:
                report.errors.append(f"{file}: cannot read: {exc.strerror}")
                continue
            cached = load_cached(cache_dir / f"{key}.seg") if cache_dir else None
            if isinstance(cached, _Loaded):
                parsed.append((file, key, cached))
                report.cached += 1
                continue
            try:
                fresh = load_file(file, lexicon.places)
            except CorpusError as exc:
                report.errors.append(str(exc))
                continue
            parsed.append((file, key, (fresh, corpus_words(t for a in fresh for t in (a.headline, a.body)))))
        words: set[str] = set()
        for _, _, item in parsed:
            words.update(item.words if isinstance(item, _Loaded) else item[1])
        analyzer = Analyzer(lexicon, sorted(words))
        articles: list[Article] = []
        segments: list[Segment] = []
        seen: set[str] = set()
        for file, key, item in parsed:
            if not isinstance(item, _Loaded):
                fresh, file_words = item
                callback = progress(file.name, len(fresh)) if progress else None
                item = _Loaded(fresh, build_segment(fresh, analyzer, callback), file_words)
                report.built += 1
                if cache_dir:
                    store_cached(cache_dir / f"{key}.seg", item)
            if any(a.id in seen for a in item.articles):
                fresh = [a for a in item.articles if a.id not in seen]
                item = _Loaded(fresh, build_segment(fresh, analyzer), item.words)
            seen.update(a.id for a in item.articles)
            articles.extend(item.articles)
            segments.append(item.segment)
        segments = [merge_segments(segments)] if len(segments) > 1 else segments
        report.articles = len(articles)
        index = SearchIndex(segments)
        _warm_in_background(index)
        report.seconds = time.perf_counter() - started
        return cls(articles, index, analyzer, settings, report)

    def add(self, articles: Sequence[Article]) -> list[Article]:
        """Index new articles without a rebuild; questions in flight keep the old view."""
        with self._lock:
            current, index, by_id = self._state
            fresh = [a for a in articles if a.id not in by_id]
            if not fresh:
                return []
            self.analyzer.add_words(corpus_words(t for a in fresh for t in (a.headline, a.body)))
            segment = build_segment(fresh, self.analyzer)
            new_index = SearchIndex(index.segments)
            new_index.add(segment)
            new_by_id = dict(by_id)  # a copy, not a rebuild: ~2 ms instead of ~60 at 100,000
            new_by_id.update((a.id, len(current) + i) for i, a in enumerate(fresh))
            self._state = (current + fresh, new_index, new_by_id)
            _warm_in_background(new_index)
            return fresh

    # ------------------------------------------------------------ reading

    @property
    def articles(self) -> list[Article]:
        return self._state[0]

    @property
    def index(self) -> SearchIndex:
        return self._state[1]

    def get(self, article_id: str) -> Article | None:
        articles, _, by_id = self._state
        number = by_id.get(article_id)
        return None if number is None else articles[number]

    def _article_text(self, article: Article, doc: int, index: SearchIndex) -> ArticleText:
        cached = self._texts.get(article.id)
        if cached is None:
            cached = self._texts[article.id] = analyse(
                article.headline, article.body, self.analyzer.terms, index.layout(doc)
            )
            if len(self._texts) > ANALYSED_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(article.id)
        return cached

    def link(self, article: Article) -> str | None:
        if article.url:
            return article.url
        if self.settings.link_base:
            return f"{self.settings.link_base}{article.id}"
        return None

    # ------------------------------------------------------------ answering

    @property
    def rerank_depth(self) -> int:
        return max(MIN_RERANK, self.settings.alternatives + 1)

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        result = self._answer(question if isinstance(question, str) else "")
        return _with_elapsed(result, (time.perf_counter() - started) * 1000)

    def _answer(self, question: str) -> Answer:
        raw = question.strip()
        if not raw or not re.search(r"[\w\u4e00-\u9fff]", raw):
            return Answer(question, "empty", message="请发一个问题，比如「清华附中什么时候投入使用？」")
        plain = normalize(raw)
        if _META_RE.match(plain):
            return Answer(question, "greeting", message="我是郑州区县新闻助手，从本地报纸的新闻里找答案。" + HINT)
        if _GREETING_RE.match(plain):
            return Answer(question, "greeting", message="你好！我是郑州区县新闻助手。" + HINT)
        articles, index, _ = self._state
        # Markup a resident pasted (<b>…</b>, **…**) is not part of the question.
        text, terms = self.analyzer.question_terms(_MARKUP_RE.sub(" ", raw[:MAX_QUESTION_CHARS]))
        # Stray Latin letters alone (x, b) say nothing a news article could answer.
        terms = terms if any(len(t.text) > 1 or not t.text.isascii() for t in terms) else []
        if not terms:
            return Answer(question, "abstain", message=f"{NO_MATCH}。{HINT}")
        hits = index.search(terms, k=self.rerank_depth)
        if not len(hits.docs):
            return Answer(question, "abstain", terms=tuple(t.text for t in terms), message=f"{NO_MATCH}。{HINT}")
        asks = [kind for kind, ask in _ASKS.items() if ask.search(text)]
        idf = hits.idf
        ranked = self._rerank(text, terms, idf, asks, hits, articles, index)
        best_article, _, best_snippet, coverage, matched_idf = ranked[0]
        term_texts = tuple(t.text for t in terms)
        # idf says nothing in a corpus of a handful of articles; there coverage alone decides.
        weak = matched_idf < self.settings.min_matched_idf and index.size >= MIN_DOCS_FOR_IDF
        if coverage < self.settings.abstain_below or weak:
            return Answer(
                question,
                "abstain",
                confidence=float(coverage),
                terms=term_texts,
                alternatives=tuple(Candidate(a, float(s)) for a, s, *_ in ranked[:3]),
                message=f"{NO_MATCH}。{HINT}",
            )
        # Only candidates that are answers in their own right: no filler under 「更多结果」.
        alternatives = tuple(  # scored like the answer: by how much of the question they cover
            Candidate(a, float(min(1.0, cover)))
            for a, s, _, cover, _ in ranked[1:]
            if cover >= self.settings.abstain_below and s >= ALTERNATIVE_SHARE * ranked[0][1]
        )[: self.settings.alternatives]
        # Highlights only for the snippet shown: marking every candidate's would be wasted work.
        weights = {t.text: idf[t.text] * t.weight for t in terms}
        best_snippet = replace(best_snippet, highlights=tuple(highlight_spans(best_snippet.text, weights)))
        return Answer(
            question,
            "answer",
            article=best_article,
            snippet=best_snippet,
            confidence=float(min(1.0, coverage)),
            alternatives=alternatives,
            link=self.link(best_article),
            terms=term_texts,
        )

    def _rerank(
        self,
        text: str,
        terms: list[Term],
        idf: dict[str, float],
        asks: list[str],
        hits,
        articles: list[Article],
        index: SearchIndex,
    ) -> list[tuple[Article, float, Snippet, float, float]]:
        """Combine BM25 with how well one passage of the article answers the question."""
        top_bm25 = float(hits.scores[0]) or 1.0
        seen: set[str] = set()
        ranked = []
        # For coverage a bare number (15) counts half: it matches dates and counts everywhere.
        cover_weight = {t.text: idf[t.text] * t.weight * (0.5 if t.text.isdigit() else 1.0) for t in terms}
        group_weight: dict[int, float] = {}
        for term in terms:
            group_weight[term.group] = max(group_weight.get(term.group, 0.0), cover_weight[term.text])
        total = sum(group_weight.values()) or 1.0
        group_len: dict[int, int] = {}
        for term in terms:
            group_len[term.group] = max(group_len.get(term.group, 1), len(term.text))
        view = QuestionView.of(text, terms, idf, asks)
        for doc, bm25 in zip(hits.docs, hits.scores, strict=True):
            article = articles[int(doc)]
            if article.id in seen:
                continue
            seen.add(article.id)
            article_text = self._article_text(article, int(doc), index)
            located = view.locate(article_text)
            snippet = best_snippet(article_text, view, located)
            # Coverage: how much of the question (each word once, by its best form) the article has.
            got: dict[int, float] = {}
            for term in located.found:
                # A part of a word covers only that part: 天气 of 今天天气 is half of it.
                weight = cover_weight[term] * len(term) / group_len[view.groups[term]]
                group = view.groups[term]
                got[group] = max(got.get(group, 0.0), weight)
            coverage = sum(got.values()) / total
            # Anchored: a word of the question is in the headline, or two meet in one sentence.
            # Scattered single matches are how unrelated questions find a random article.
            anchored = snippet.evidence >= 2 or any(
                t in snippet.topic and (len(t) > 1 or t.isdigit()) for t in view.weights
            )
            if not anchored:
                coverage *= UNANCHORED_FACTOR
            matched_idf = max(got.values(), default=0.0)
            title_sim = fuzz.partial_ratio(text, article_text.headline) / 100.0
            passage = snippet.score / total
            score = float(bm25) / top_bm25 + 0.6 * passage + 0.25 * title_sim * title_sim + 0.5 * coverage
            ranked.append((article, score, snippet, coverage, matched_idf))
        ranked.sort(key=lambda r: -r[1])
        return ranked


def _warm_in_background(index: SearchIndex) -> None:
    """Work out the common words' impacts on the other core while the first questions come in:
    ~50 ms of numpy at 100,000 articles (it releases the GIL), kept off the start-up time."""
    threading.Thread(target=index.warm, name="index-warm", daemon=True).start()


def _with_elapsed(answer: Answer, elapsed_ms: float) -> Answer:
    return replace(answer, elapsed_ms=elapsed_ms)


# ---------------------------------------------------------------- snippets


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"[^\w\u4e00-\u9fff]", "", text)
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


TOPIC_DISCOUNT = 0.35
PART_OF_WORD = 0.6
UNIT_BONUS = 3.5
COUNTED_BONUS = 2.0  # and the number counts the very thing asked about
SINGLE_CHAR_CAP = 1.5


def _is_single_han(term: str) -> bool:
    return len(term) == 1 and "\u4e00" <= term <= "\u9fff"


@dataclass(frozen=True)
class QuestionView:
    """What every candidate's passage scoring needs from the question, worked out once."""

    text: str
    terms: tuple[Term, ...]
    weights: dict[str, float]  # idf x question weight
    groups: dict[str, int]
    asks: tuple[str, ...]
    bigrams: frozenset[str]
    unit_re: re.Pattern[str] | None
    counted_re: re.Pattern[str] | None
    latin: dict[str, re.Pattern[str]]  # ASCII terms match as whole words only (15 is not in 2015)

    @classmethod
    def of(cls, text: str, terms: Sequence[Term], idf: dict[str, float], asks: Sequence[str]) -> QuestionView:
        unit = unit_asked(text)
        noun = counted_noun(text) if unit else None
        return cls(
            text=text,
            terms=tuple(terms),
            weights={t.text: idf.get(t.text, 0.0) * t.weight for t in terms},
            groups={t.text: t.group for t in terms},
            asks=tuple(asks),
            bigrams=frozenset(_bigrams(text)),
            unit_re=_unit_number_re(unit) if unit else None,
            counted_re=_counted_re(unit, noun) if unit and noun else None,
            latin={
                t.text: re.compile(rf"(?<![a-z0-9.]){re.escape(t.text)}(?![a-z0-9])") for t in terms if t.text.isascii()
            },
        )

    def positions(self, term: str, text: str) -> list[int]:
        """Where a question term occurs in a normalised text."""
        pattern = self.latin.get(term)
        if pattern is not None:
            return [m.start() for m in pattern.finditer(text)]
        found = []
        position = text.find(term)
        while position >= 0:
            found.append(position)
            position = text.find(term, position + 1)
        return found

    def locate(self, article_text: ArticleText) -> Located:
        """Every question term and wording bigram of the article, by sentence."""
        norm, starts, ends = article_text.norm, article_text.starts, article_text.ends
        found: set[str] = set()
        term_sentences: dict[str, set[int]] = {}
        for term in self.weights:
            places = self.positions(term, norm)
            if not places:
                continue
            found.add(term)
            size = len(term)
            numbers = set()
            for place in places:
                number = bisect_right(starts, place) - 1
                if number >= 0 and place + size <= ends[number]:
                    numbers.add(number)
            if numbers:
                term_sentences[term] = numbers
        bigram_counts: dict[int, int] = {}
        for bigram in self.bigrams:
            numbers = set()
            place = norm.find(bigram, article_text.body_start)
            while place >= 0:
                number = bisect_right(starts, place) - 1
                if number >= 0 and place + 2 <= ends[number]:
                    numbers.add(number)
                place = norm.find(bigram, place + 1)
            for number in numbers:
                bigram_counts[number] = bigram_counts.get(number, 0) + 1
        return Located(frozenset(found), term_sentences, bigram_counts)


@dataclass(frozen=True)
class Located:
    found: frozenset[str]  # question terms anywhere in the article, headline included
    term_sentences: dict[str, set[int]]  # term -> the body sentences holding it
    bigram_counts: dict[int, int]  # sentence -> how many of the question's bigrams it repeats


def best_snippet(article_text: ArticleText, view: QuestionView, located: Located | None = None) -> Snippet:
    """The sentence (with neighbours, ≤ 200 characters) most likely to hold the answer.

    A sentence scores by the idf of the question terms it contains, the question's wording it
    repeats (character bigrams: annotators and residents copy phrases), and whether it holds
    the kind of fact asked for (a number with the unit asked, a date, a person, a place).
    Terms of the headline, and terms most sentences repeat, count for less: every sentence of
    the article is about them, so they cannot tell which sentence answers.
    A sentence with none of these scores zero; only sentences with a hit are scored.
    """
    located = located or view.locate(article_text)
    count = len(article_text.starts)
    repeated = {
        t for t, numbers in located.term_sentences.items() if len(numbers) >= 3 and len(numbers) >= 0.25 * count
    }
    # The headline is segmented only when a question term is in it (most candidates' is not).
    headline = article_text.headline
    in_headline = article_text.headline_terms if any(t in headline for t in view.weights) else frozenset()
    topic = (in_headline & view.weights.keys()) | repeated
    focus = {t: (w * TOPIC_DISCOUNT if t in topic else w) for t, w in view.weights.items()}
    best_of_group: dict[int, dict[int, float]] = {}  # sentence -> word of the question -> weight
    for term, numbers in located.term_sentences.items():
        # One word of the question counts once in a sentence, by its best-matching form; a
        # single character may sit inside another word (唱 in 哼唱): it counts for less.
        weight = min(SINGLE_CHAR_CAP, focus[term] * PART_OF_WORD) if _is_single_han(term) else focus[term]
        group = view.groups[term]
        for number in numbers:
            weights = best_of_group.get(number)
            if weights is None:
                best_of_group[number] = {group: weight}
            elif weight > weights.get(group, 0.0):
                weights[group] = weight
    scored = {number: sum(weights.values()) for number, weights in best_of_group.items()}
    if view.bigrams:
        for number, hits in located.bigram_counts.items():
            scored[number] = scored.get(number, 0.0) + 2.0 * hits / len(view.bigrams)
    for kind in view.asks:
        for number in article_text.holds(kind):
            scored[number] = scored.get(number, 0.0) + 1
    if "where" in view.asks:
        novel: dict[int, int] = {}
        for number, name in article_text.matching(_PLACE_NAME_RE):
            if name not in view.text:
                novel[number] = novel.get(number, 0) + 1
        for number, names in novel.items():
            scored[number] = scored.get(number, 0.0) + 0.75 * min(names, 2)
    if view.unit_re is not None:
        for number in article_text.flagged(view.unit_re):
            scored[number] = scored.get(number, 0.0) + UNIT_BONUS
    if view.counted_re is not None:
        for number in article_text.flagged(view.counted_re):
            scored[number] = scored.get(number, 0.0) + COUNTED_BONUS
    top = max(scored.values(), default=0.0)
    best = min((n for n, s in scored.items() if s == top), default=0) if top > 0 else 0
    evidence = len(
        {
            view.groups[t]
            for t, numbers in located.term_sentences.items()
            if best in numbers and (len(t) > 1 or t.isdigit())
        }
    )
    start, end = best, best + 1
    length = article_text.ends[best] - article_text.starts[best]
    paragraph = article_text.paragraphs[best]
    # Grow with the better-scoring neighbour of the same paragraph while it fits.
    while True:
        options = []
        if start > 0 and article_text.paragraphs[start - 1] == paragraph:
            options.append((scored.get(start - 1, 0.0) * 0.9, start - 1))
        if end < count and article_text.paragraphs[end] == paragraph:
            options.append((scored.get(end, 0.0), end))
        options = [o for o in options if length + article_text.ends[o[1]] - article_text.starts[o[1]] <= SNIPPET_MAX]
        if not options:
            break
        _, pick = max(options)
        length += article_text.ends[pick] - article_text.starts[pick]
        if pick < start:
            start = pick
        else:
            end = pick + 1
    text = "".join(article_text.sentence(n) for n in range(start, end)).strip()
    if len(text) > SNIPPET_MAX:
        text = _trim_window(text, focus)
    return Snippet(text, (), scored.get(best, 0.0), evidence, frozenset(topic))


def _trim_window(text: str, weights: dict[str, float]) -> str:
    """Cut a long sentence to the 200-character window holding most of the question's terms."""
    norm = normalize(text)
    positions = [(m.start(), weights[t]) for t in weights if len(t) > 1 for m in re.finditer(re.escape(t), norm)]
    width = SNIPPET_MAX - 2
    best_start, best_value = 0, -1.0
    for pos, _ in positions or [(0, 0.0)]:
        start = max(0, min(pos - width // 3, len(text) - width))
        value = sum(w for p, w in positions if start <= p < start + width)
        if value > best_value:
            best_start, best_value = start, value
    # Prefer starting right after a clause break close to the chosen start.
    window = text[best_start : best_start + width]
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if best_start + width < len(text) else ""
    return prefix + window + suffix


def highlight_spans(snippet: str, weights: dict[str, float]) -> list[tuple[int, int]]:
    """[start, end) offsets of the question's terms in the snippet, merged."""
    norm = normalize(snippet)
    spans: list[tuple[int, int]] = []
    for term, weight in weights.items():
        if weight <= 0 or (len(term) < 2 and not term.isdigit()):
            continue
        position = norm.find(term)
        while position >= 0:
            spans.append((position, position + len(term)))
            position = norm.find(term, position + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def load_engine(
    config: Config, corpus: Path | None = None, *, progress: Callable[[str, int], Callable[[int], None]] | None = None
) -> Engine:
    """The engine the settings describe: corpus, cache, thresholds, deep-link base."""
    settings = Settings(
        abstain_below=config.engine.abstain_below,
        min_matched_idf=config.engine.min_matched_idf,
        alternatives=config.engine.alternatives,
        cache_dir=config.cache_dir,
    )
    username = config.telegram.bot_username
    if username:
        settings.link_base = f"https://t.me/{username.lstrip('@')}?start="
    return Engine.from_path(corpus or config.corpus, config_dir=config.config_dir, settings=settings, progress=progress)
