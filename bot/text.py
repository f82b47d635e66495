"""Text handling shared by the index and the questions: normalise, segment, expand.

Everything that turns characters into search terms lives here, so that an article and a
question always go through the very same steps (a mismatch here is a silent recall bug).
The Unicode folding is bot/normalize.py's, the repair of mistyped names bot/typos.py's.
Order matters: Unicode normalisation, Traditional→Simplified, typo repair of known names,
segmentation with a gazetteer user dictionary, then stopwords, numerals and aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import yaml

from .normalize import normalize
from .typos import NameVariants, char_sounds

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# Characters after which a line of newspaper text is complete. A line ending otherwise was
# broken by the page layout (or is a headline).
SENTENCE_END = "。！？!?；;…:："
CLOSING_QUOTES = "”’」』\"'》)）"

_CJK = r"\u4e00-\u9fff\u3400-\u4dbf"
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL_RE = re.compile(r"^[零〇一二两三四五六七八九十百千万]+$")
_NUMERAL_UNIT_RE = re.compile(r"^([零〇一二两三四五六七八九十百千万]+)([月日号年个家所岁人名天次项条座户台])$")
_TOKEN_KEEP_RE = re.compile(rf"[{_CJK}A-Za-z0-9]")
# Tokens whose terms an Analyzer remembers (~150 bytes each, ~30 MB at most): far more than the
# words that repeat; when full it starts again rather than grow with every number and name.
TOKEN_MEMO_MAX = 200_000


class _TokenTerms(dict[str, tuple[str, ...]]):
    """Token → the index terms it stands for, worked out on first sight: the words of running
    text repeat (a news article's ~400 tokens are mostly words seen before), and working them
    out token by token was most of what building the index cost."""

    def __init__(self, lexicon: Lexicon) -> None:
        super().__init__()
        self.lexicon = lexicon

    def __missing__(self, token: str) -> tuple[str, ...]:
        if len(self) >= TOKEN_MEMO_MAX:
            self.clear()
        terms = self[token] = self._terms_of(token)
        return terms

    def _terms_of(self, token: str) -> tuple[str, ...]:
        """None (punctuation, a stopword), or the token (十二 as 12) and its aliases."""
        if not _TOKEN_KEEP_RE.search(token):
            return ()
        token = token.strip()
        if not token or token in self.lexicon.stopwords:
            return ()
        token = _numeral_token(token, self.lexicon.names)
        return (token, *self.lexicon.aliases.get(token, ()))


_LATIN_WORD_RE = re.compile(r"[a-z]+")
QUESTION_WORD_RE = re.compile(
    r"指的?是?(?:什么|啥)|什么叫|何谓"  # what a term means: not a word of it
    r"|哪[一二两三四五六七八九几]?(?:个|家|位|种|些|项|所|条|座|名|天|年|里|儿|样|类)?"
    r"|几[个家位种项所条座名天年次岁]?|多少|叫什么|叫啥|什么|啥|怎么样?|咋样?|为什么|为啥"
)


# 「三送一强是啥意思」 asks what the term means: 意思 is no word of it. (「书名是什么意思」 of a
# thing's attribute, X的Y, keeps 意思: the answer says 意为, 意思是.)
_MEANING_RE = re.compile(r"^([^的]{1,20}?)\s*是?(?:什么|啥)意思")


def is_sentence_end(line: str) -> bool:
    """True when a line ends a sentence (possibly inside closing quotes or brackets)."""
    stripped = line.rstrip()
    while stripped and stripped[-1] in CLOSING_QUOTES:
        if stripped[-1] in ")）" and not stripped.endswith(("。)", "。）")):
            # "(如图)" mid-sentence vs "...。)": only the latter closes a sentence.
            return len(stripped) > 1 and stripped[-2] in SENTENCE_END
        stripped = stripped[:-1]
    return bool(stripped) and stripped[-1] in SENTENCE_END


def cn_numeral_value(numeral: str) -> int | None:
    """Value of a Chinese numeral such as 十二, 两, 三百零五, 一万二千; None if malformed."""
    total, section, digit = 0, 0, None
    for ch in numeral:
        if ch in _CN_DIGITS:
            if digit is not None and digit != 0:  # 一二 (a list of digits) is not a number here
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


# ---------------------------------------------------------------- configuration data


@dataclass(frozen=True)
class Lexicon:
    """Names, aliases and stopwords from config/: the project's knowledge of its domain."""

    districts: dict[str, tuple[str, ...]]  # canonical district -> short names residents use
    places: dict[str, str]  # place (street, town, landmark) -> canonical district
    names: frozenset[str]  # every name the segmenter must keep whole
    aliases: dict[str, tuple[str, ...]]  # term -> extra terms it stands for
    stopwords: frozenset[str]
    pinyin: dict[str, str] = field(default_factory=dict)  # latin spelling -> Chinese name
    english: dict[str, tuple[str, ...]] = field(default_factory=dict)  # English word -> terms
    sounds: dict[str, str] = field(default_factory=dict)  # CJK character -> toneless pinyin (typo repair)


def _read_yaml(path: Path) -> Any:
    """The parsed YAML document: mappings, lists and scalars as the file has them."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# The files load_lexicon reads: the dictionaries every cache key depends on (bot/loader.py).
DICTIONARY_FILES = ("gazetteer.yaml", "aliases.yaml", "stopwords.txt", "english.yaml")


def load_lexicon(config_dir: Path = CONFIG_DIR) -> Lexicon:
    gazetteer = _read_yaml(config_dir / "gazetteer.yaml") or {}
    districts: dict[str, tuple[str, ...]] = {}
    places: dict[str, str] = {}
    names: set[str] = set()
    aliases: dict[str, set[str]] = {}
    english_names: dict[str, str] = {}  # latin letters only → district
    for district, entry in (gazetteer.get("districts") or {}).items():
        district = normalize(district)
        shorts = tuple(normalize(s) for s in (entry or {}).get("short", []) if s)
        districts[district] = shorts
        names.add(district)
        places[district] = district
        for short in shorts:
            names.add(short)
            places[short] = district
            if short != district:
                aliases.setdefault(short, set()).add(district)
        for place in (entry or {}).get("places", []) or []:
            place = normalize(str(place))
            names.add(place)
            places.setdefault(place, district)
        for english_name in (entry or {}).get("english", []) or []:
            english_names[re.sub(r"[^a-z]", "", str(english_name).lower())] = district
    names.update(normalize(str(n)) for n in gazetteer.get("names", []) or [])

    alias_file = config_dir / "aliases.yaml"
    raw_aliases = _read_yaml(alias_file) if alias_file.exists() else {}
    for key, value in (raw_aliases or {}).items():
        values = value if isinstance(value, list) else [value]
        key_n = normalize(str(key))
        for v in values:
            v_n = normalize(str(v))
            if v_n != key_n:
                aliases.setdefault(key_n, set()).add(v_n)
        if not key_n.isascii():
            names.add(key_n)
        names.update(normalize(str(v)) for v in values if not str(v).isascii())

    stop_file = config_dir / "stopwords.txt"
    stopwords: set[str] = set()
    if stop_file.exists():
        for line in stop_file.read_text(encoding="utf-8").splitlines():
            stopwords.update(normalize(w) for w in line.split("#", 1)[0].split())

    english_file = config_dir / "english.yaml"
    english: dict[str, tuple[str, ...]] = {}
    if english_file.exists():
        for word, terms in (_read_yaml(english_file) or {}).items():
            terms = terms if isinstance(terms, list) else [terms]
            english[str(word).lower()] = tuple(normalize(str(t)) for t in terms)

    return Lexicon(
        districts=districts,
        places=places,
        names=frozenset(names),
        aliases={k: tuple(sorted(v)) for k, v in aliases.items()},
        stopwords=frozenset(stopwords),
        pinyin={**_pinyin_table(names | set(districts)), **english_names},
        english=english,
        sounds=char_sounds(),
    )


def _pinyin_table(names: Iterable[str]) -> dict[str, str]:
    """Latin spellings residents type for the names (Zhengdong, Yingtaogou, Shangjie)."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError:  # pragma: no cover - optional nicety
        return {}
    table: dict[str, str] = {}
    suffixes = ("新区", "街道", "区", "县", "市", "镇", "乡", "村")
    for name in sorted(names, key=len):
        if not re.fullmatch(rf"[{_CJK}]{{2,8}}", name):
            continue
        spelled = "".join(lazy_pinyin(name))
        table.setdefault(spelled, name)
        for suffix in suffixes:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                table.setdefault("".join(lazy_pinyin(name[: -len(suffix)])), name)
    return table


# ---------------------------------------------------------------- corpus-derived words

_QUOTED_RE = re.compile(rf"[“\"「]([{_CJK}A-Za-z0-9+]{{2,8}})[”\"」]")
_PLACE_RE = re.compile(rf"([{_CJK}]{{2,6}}?(?:街道|办事处|管委会|社区|新区|镇|乡|村))(?=[{_CJK}]|$)")


def corpus_words(texts: Iterable[str]) -> list[str]:
    """Words the corpus itself teaches: quoted coinages such as “三送一强”.

    jieba cuts such coinages into meaningless pieces; adding them to the dictionary keeps
    them whole on both sides (question and article), so they become strong search terms.
    """
    quoted: set[str] = set()
    for text in texts:
        quoted.update(_QUOTED_RE.findall(text))
    return sorted({normalize(word) for word in quoted})  # each once: the same coinages recur


# ---------------------------------------------------------------- segmentation


class Segmenter:
    """jieba-compatible segmentation with the project's dictionary.

    Uses rjieba (the jieba-rs binding: the same dictionary and the same tokens as jieba with
    the HMM off, ~20-60x faster) when installed, else jieba itself.
    """

    def __init__(self, words: Iterable[str] = ()) -> None:
        # rjieba.Jieba or jieba.Tokenizer (untyped), whose methods differ: `self._rust` picks the API.
        self._engine: Any
        try:
            import rjieba

            self._engine = rjieba.Jieba()
            self._rust = True
        except ImportError:  # pragma: no cover - exercised only without rjieba
            import jieba

            self._engine = jieba.Tokenizer()
            self._rust = False
        self.words = tuple(sorted(set(words)))
        for word in self.words:
            self.add_word(word)

    def add_word(self, word: str) -> None:
        if not word or word.isspace():
            return
        # A high frequency makes the name win over jieba's own cuts (郑东新/区).
        freq = 20000 + 2000 * len(word)
        if self._rust:
            self._engine.add_word(word, freq, None)
        else:  # pragma: no cover
            self._engine.add_word(word, freq)

    def cut(self, text: str) -> list[str]:
        if self._rust:
            return self._engine.cut(text, False)
        return list(self._engine.cut(text, HMM=False))  # pragma: no cover

    def cut_for_search(self, text: str) -> list[str]:
        if self._rust:
            return self._engine.cut_for_search(text, False)
        return list(self._engine.cut_for_search(text, HMM=False))  # pragma: no cover


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Term:
    """A search term with the weight the question gives it (1.0, less for guesses)."""

    text: str
    weight: float = 1.0
    group: int = 0  # terms from one word of the question (郑港办事处, 办事处, 办事) share a group


class Analyzer:
    """Turns text into search terms; one instance serves the index and the questions."""

    def __init__(self, lexicon: Lexicon, extra_words: Sequence[str] = ()) -> None:
        self.lexicon = lexicon
        self.extra_words = tuple(extra_words)
        vocabulary = set(lexicon.names) | set(self.extra_words)
        self.segmenter = Segmenter(vocabulary)
        self._fuzzy = NameVariants(vocabulary | set(lexicon.places), lexicon.sounds)
        self._token_terms = _TokenTerms(lexicon)

    def add_words(self, words: Iterable[str]) -> list[str]:
        """Teach the segmenter words a newly added page brings (its quoted coinages).

        Articles indexed before keep their old tokens until the next rebuild; the new page and
        the questions about it use the new words at once.
        """
        known = set(self.segmenter.words)  # a set: the words of a large archive are thousands
        new = [w for w in words if w not in known and w not in self.lexicon.names]
        if not new:
            return new
        for word in new:
            self.segmenter.add_word(word)
        self.segmenter.words = tuple(sorted(known.union(new)))
        self._fuzzy.add(new)
        return new

    # -- tokens of an article (or of a question, before question-only steps)
    def terms(self, text: str) -> list[str]:
        """Index terms of a text: search-mode tokens, minus stopwords, plus aliases."""
        return self.terms_of_normalized(normalize(text))

    def terms_of_normalized(self, text: str) -> list[str]:
        # In C throughout: Python runs only for a token not seen before.
        return list(chain.from_iterable(map(self._token_terms.__getitem__, self.segmenter.cut_for_search(text))))

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, token) of the precise-mode tokens of an already normalised text."""
        spans = []
        position = 0
        for token in self.segmenter.cut(text):
            spans.append((position, position + len(token), token))
            position += len(token)
        return spans

    # -- questions
    def question_terms(self, question: str) -> tuple[str, list[Term]]:
        """The normalised question (typos of known names repaired) and its weighted terms."""
        text = normalize(question)
        text = self._fuzzy.repair(text)
        terms: dict[str, Term] = {}
        guesses = dict(self._latin_guesses(text))
        group = 0
        # 哪两个乡镇 asks for places, not for "两个": question words go before segmenting.
        for word in self.segmenter.cut(QUESTION_WORD_RE.sub(" ", _MEANING_RE.sub(r"\1 ", text))):
            group += 1
            if word in guesses:
                for guess in guesses[word]:
                    for token in self.terms_of_normalized(guess):
                        terms.setdefault(token, Term(token, 0.8, group))
                continue
            for token in self.terms_of_normalized(word):
                terms.setdefault(token, Term(token, 1.0, group))
        return text, list(terms.values())

    def repair(self, text: str) -> str:
        """The text normalised, with one-character typos of known names repaired (二七去 → 二七区)."""
        return self._fuzzy.repair(normalize(text).strip())

    def resolve_district(self, text: str) -> str | None:
        """The canonical district a resident means: 二七, 二七去 (typo), erqi, 樱桃沟 → 二七区."""
        query = self._fuzzy.repair(normalize(text).strip())
        places = self.lexicon.places
        if not query:
            return None
        if query in places:
            return places[query]
        latin = re.sub(r"[^a-z]", "", query)
        for suffix in ("newdistrict", "newarea", "district", "area", "zone", "qu", "county", "xian", "shi", "city"):
            if latin.endswith(suffix) and latin[: -len(suffix)] in self.lexicon.pinyin:
                latin = latin[: -len(suffix)]
                break
        if latin and latin in self.lexicon.pinyin:
            return places.get(self.lexicon.pinyin[latin])
        from rapidfuzz import fuzz, process

        match = process.extractOne(query, list(places), scorer=fuzz.ratio, score_cutoff=75)
        return places[match[0]] if match else None

    def _latin_guesses(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """Chinese terms for latin words: pinyin place names and a small English glossary."""
        words = _LATIN_WORD_RE.findall(text)
        guesses: list[tuple[str, tuple[str, ...]]] = []
        pinyin, english = self.lexicon.pinyin, self.lexicon.english
        for i, word in enumerate(words):
            if word in english:
                guesses.append((word, english[word]))
            elif word in pinyin:
                guesses.append((word, (pinyin[word],)))
            elif i + 1 < len(words) and word + words[i + 1] in pinyin:  # "Zheng dong"
                guesses.append((word, (pinyin[word + words[i + 1]],)))
            elif word.endswith("s") and word[:-1] in english:
                guesses.append((word, english[word[:-1]]))
        return guesses


def _numeral_token(token: str, protected: frozenset[str]) -> str:
    """十二 → 12, 两家 → 2家: questions and articles write numbers both ways."""
    if token in protected or len(token) > 6:
        return token
    if _CN_NUMERAL_RE.match(token):
        value = cn_numeral_value(token)
        return str(value) if value is not None else token
    match = _NUMERAL_UNIT_RE.match(token)
    if match:
        value = cn_numeral_value(match.group(1))
        if value is not None:
            return f"{value}{match.group(2)}"
    return token
