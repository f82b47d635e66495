"""Normalisation, segmentation, aliases and typo repair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import text as text_module
from bot.normalize import normalize
from bot.text import Analyzer, cn_numeral_value, is_sentence_end, load_lexicon

from .conftest import SEEDS


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(load_lexicon())


def test_normalize_full_width_traditional_and_case_without_changing_length():
    for raw, want in [("６０００名学生", "6000名学生"), ("鄭州市金水區", "郑州市金水区"), ("ＧＤＰ多少", "gdp多少")]:
        assert normalize(raw) == want
        assert len(normalize(raw)) == len(raw)


@pytest.mark.parametrize("name", ["郑东新区", "航空港区", "二七区", "清华附中", "樱桃沟", "三送一强"])
def test_gazetteer_names_stay_whole(analyzer: Analyzer, name: str):
    assert name in analyzer.segmenter.cut(f"我想问{name}的事")


def test_full_width_digits_are_one_token(analyzer: Analyzer):
    assert "6000" in analyzer.terms("可容纳６０００名学生")


def test_traditional_question_finds_simplified_terms(analyzer: Analyzer):
    _, terms = analyzer.question_terms("花園口鎮加強針打了多少人")
    texts = {t.text for t in terms}
    assert {"花园口镇", "加强针"} <= texts


@pytest.mark.parametrize("typed,fixed", [("二七去", "二七区"), ("清华付中", "清华附中"), ("上街去", "上街区")])
def test_homophone_typos_of_known_names_are_repaired(analyzer: Analyzer, typed: str, fixed: str):
    text, _ = analyzer.question_terms(f"{typed}最近有啥新闻")
    assert fixed in text


def test_typo_repair_leaves_correct_names_and_ordinary_words_alone(analyzer: Analyzer):
    text, _ = analyzer.question_terms("中原区去年植树了吗")
    assert text.startswith("中原区去年")


def test_aliases_expand_to_the_full_name(analyzer: Analyzer):
    _, terms = analyzer.question_terms("港区和郑东有什么新闻")
    texts = {t.text for t in terms}
    assert {"航空港区", "郑东新区"} <= texts


def test_chinese_numerals_become_digits_but_place_names_do_not(analyzer: Analyzer):
    assert cn_numeral_value("十二") == 12
    assert cn_numeral_value("三百零五") == 305
    assert cn_numeral_value("两") == 2
    terms = analyzer.terms("二七区十二所学校")
    assert "二七区" in terms and "12" in terms and "27" not in terms


def test_a_full_token_memo_starts_again_and_the_terms_stay_the_same(monkeypatch):
    # Each token's terms are remembered; a memo that fills up is emptied, never grown past its bound.
    lexicon = load_lexicon()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    roomy = Analyzer(lexicon)
    want = [roomy.terms(text) for text in texts]
    monkeypatch.setattr(text_module, "TOKEN_MEMO_MAX", 50)
    cramped = Analyzer(lexicon)
    sizes = []
    for text, terms in zip(texts, want, strict=True):
        assert cramped.terms(text) == terms
        sizes.append(len(cramped._token_terms))
    assert max(sizes) <= 50 and len(roomy._token_terms) > 50  # it did fill up and start again
    assert {"二七区", "12"} <= set(cramped.terms("二七区十二所学校的"))


def test_stopwords_are_dropped(analyzer: Analyzer):
    assert not {"的", "了", "吗", "什么"} & set(analyzer.terms("清华附中什么时候投入使用了吗的"))


def test_pinyin_and_english_reach_chinese_terms(analyzer: Analyzer):
    _, terms = analyzer.question_terms("When will the Tsinghua school in Zhengdong open?")
    texts = {t.text for t in terms}
    assert {"清华", "郑东新区"} <= texts
    assert all(t.weight < 1 for t in terms if t.text in {"清华", "郑东新区"})


def test_resolve_district(analyzer: Analyzer):
    assert analyzer.resolve_district("二七去") == "二七区"
    assert analyzer.resolve_district("Yingtaogou") == "二七区"
    assert analyzer.resolve_district("港区") == "航空港区"
    assert analyzer.resolve_district("火星") is None


def test_sentence_end():
    assert is_sentence_end("好。")
    assert is_sentence_end("他说:“好。”")
    assert not is_sentence_end("坚持")
    assert not is_sentence_end("荥阳农副产品上架“农购网”")


def _normalize_slowly(text: str) -> str:
    """The reference: one character at a time, folded, then OpenCC over the whole text."""
    from bot.normalize import _FOLD_TABLE, _t2s

    folded = "".join(_FOLD_TABLE[ord(c)] if ord(c) < 0xD800 or ord(c) > 0xDFFF else "\ufffd" for c in text)
    converted = _t2s().convert(folded)
    return (
        converted
        if len(converted) == len(folded)
        else "".join(s if len(s := _t2s().convert(c)) == 1 else c for c in folded)
    )


@pytest.mark.parametrize(
    "text",
    [
        "鄭州市金水區的ＡＢＣ６０００名學生和臺灣、乾隆、頭髮，" * 4,
        "郑州市二七区今年将新建中小学10所，预计新增学位６０００个。" * 4,
        "🎉 Emoji 与 ＨＴＭＬ <b>标签</b> 在郑东新区" * 4,
        "a lone \ud800 surrogate among 鄭州 characters, long enough for the vector path" * 2,
    ],
)
def test_fast_normalize_equals_the_character_by_character_reference(text: str):
    assert normalize(text) == _normalize_slowly(text)
    assert len(normalize(text)) == len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=200)
    | st.text(alphabet="鄭州市金水區臺灣乾隆頭髮ＡＢＣａｂｃ６０，。！？abcABC 郑州二七区", max_size=200)
)
def test_normalize_any_text_like_the_reference(text: str):
    assert normalize(text) == _normalize_slowly(text)


def _repair_by_every_window(fuzzy, text: str) -> str:
    """The reference typo repair: every window of every name length, longest first."""
    lengths = sorted({len(n) for n in fuzzy.names}, reverse=True)
    covered = [False] * len(text)
    for length in lengths:
        for begin in range(len(text) - length + 1):
            if text[begin : begin + length] in fuzzy.names:
                covered[begin : begin + length] = [True] * length
    chars = list(text)
    for length in lengths:
        for begin in range(len(text) - length + 1):
            if any(covered[begin : begin + length]):
                continue
            name = fuzzy._match(text[begin : begin + length])
            if name:
                chars[begin : begin + length] = list(name)
                covered[begin : begin + length] = [True] * length
    return "".join(chars)


def test_typo_repair_finds_what_a_scan_of_every_window_finds(analyzer: Analyzer):
    import random

    fuzzy = analyzer._fuzzy
    names = sorted(fuzzy.names)
    pool = "".join(names) + "的了在是去付区中新"
    rng = random.Random(7)
    repaired = 0
    for _ in range(1500):
        name = rng.choice(names)
        at = rng.randrange(len(name))
        typed = name[:at] + rng.choice(pool) + name[at + 1 :]
        text = normalize(rng.choice(["", "请问", "听说"]) + typed + rng.choice(["", "什么时候开", "在哪", "二七区"]))
        fixed = fuzzy.repair(text)
        assert fixed == _repair_by_every_window(fuzzy, text), text
        repaired += fixed != text
    assert repaired > 100  # the sample does exercise repairs


def test_typo_repair_with_the_cached_pinyin_table_is_pypinyins() -> None:
    """Typo repair reads each character's sound from the lexicon's table (no pypinyin in the
    process); it must repair exactly as asking pypinyin does, ASCII and digits included."""
    from bot.typos import NameVariants, char_sounds

    names = ["二七区", "清华附中", "上街区", "G107国道", "3号线站点", "郑东新区"]
    typed = ["二七去有什么新闻", "清华付中什么时候投入使用", "上街去", "G107国到", "3号现站点", "正东新区", "郑东心区"]
    table, plain = NameVariants(names, char_sounds()), NameVariants(names)
    assert [table.repair(t) for t in typed] == [plain.repair(t) for t in typed]
    assert table.repair("二七去有什么新闻") == "二七区有什么新闻"
