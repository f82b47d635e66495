"""Normalisation, segmentation, aliases and typo repair."""

from __future__ import annotations

import pytest

from bot.text import Analyzer, cn_numeral_value, is_sentence_end, load_lexicon, normalize


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
