"""The answering engine on the seed pages: right article, the snippet that answers, abstention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine import Engine
from bot.library import Library
from bot.reply import Kind
from bot.results import Status
from bot.snippet import SNIPPET_MAX


def snippet_of(engine: Engine, question: str) -> str:
    answer = engine.answer(question)
    assert answer.found, (question, answer.status, answer.confidence)
    return answer.snippet.text


def test_answers_with_the_sentence_that_answers(engine: Engine):
    answer = engine.answer("清华附中什么时候投入使用？")
    assert answer.found
    assert "清华附中" in answer.article.title
    assert "预计今年9月投入使用" in answer.snippet.text
    assert len(answer.snippet.text) <= SNIPPET_MAX


def test_highlights_point_at_question_terms(engine: Engine):
    answer = engine.answer("清华附中什么时候投入使用？")
    text = answer.snippet.text
    marked = {text[a:b] for a, b in answer.snippet.highlights}
    assert "投入使用" in marked
    assert all(0 <= a < b <= len(text) for a, b in answer.snippet.highlights)


def test_number_questions_get_the_number_with_the_unit_asked(engine: Engine):
    assert "线上配送8万多单" in snippet_of(engine, "郑港办事处线上配送了多少单")
    assert "6800米" in snippet_of(engine, "樱桃沟去年暴雨冲坏了多少米路")
    # 个 is any classifier (560多名 also fits): the number next to the thing counted wins.
    assert "132个教学班" in snippet_of(engine, "郑州清华附中有多少个班")


def test_the_thing_a_how_many_question_counts() -> None:
    from bot.question import counted_noun

    assert counted_noun("区长杯足球联赛有多少支队伍参赛") == "队伍"
    assert counted_noun("清华附中有几个班") == "班"
    assert counted_noun("惠及了多少家企业？") == "企业"
    assert counted_noun("一共有几个了") is None and counted_noun("有多少钱") is None


def test_typos_aliases_traditional_and_colloquial(engine: Engine):
    assert engine.answer("上街去主题党日的5+X是啥").article.title.startswith("上街区主题党日")
    assert "清华附中" in engine.answer("清华付中啥时候能用").article.title
    assert "加强针接种人数达2.3万人次" in snippet_of(engine, "花園口鎮加強針打了多少人")
    assert "9家单位" in snippet_of(engine, "郑东纪工委给几家单位发了迟到交办函")


def test_caption_items_are_answerable(engine: Engine):
    answer = engine.answer("区长杯校园足球联赛啥时候收官的")
    assert answer.article.kind == "caption"
    assert "12月5日" in answer.snippet.text


def test_out_of_scope_questions_abstain(library: Library):
    from bot.render import reply_plain

    calibration = (Path(__file__).parent / "data" / "out_of_scope.txt").read_text(encoding="utf-8").splitlines()
    for question in [q for q in calibration if q.strip()] + ["郑州到北京高铁要坐几个小时", "<b>x</b>&"]:
        reply = library.ask(question)
        assert reply.kind in {Kind.ABSTAIN, Kind.GREETING, Kind.HELP}, (question, reply.answer)
        assert not reply.found
        assert reply.kind is not Kind.ABSTAIN or "没有找到" in reply_plain(reply)


def test_greetings_and_empty_input(library: Library):
    assert library.ask("你好").kind is Kind.GREETING
    assert library.ask("   ").kind is Kind.EMPTY
    assert library.ask("😀😀").kind is Kind.EMPTY


def test_markup_in_a_question_is_just_text(engine: Engine):
    answer = engine.answer("<b>清华附中</b> 什么时候*投入使用*")
    assert answer.found and "预计今年9月投入使用" in answer.snippet.text


def test_huge_question_is_answered_quickly(engine: Engine):
    answer = engine.answer("清华附中什么时候投入使用" + "啊" * 100_000)
    assert answer.status in {Status.ANSWER, Status.ABSTAIN}


def test_alternatives_are_other_articles(engine: Engine):
    answer = engine.answer("万人助万企都有啥活动")
    assert answer.found
    ids = [answer.article.id] + [c.article.id for c in answer.alternatives]
    assert len(ids) == len(set(ids)) >= 3


def test_json_contract(library: Library):
    from bot.render import reply_json

    data = reply_json(library.ask("皋寨村请的哪个剧团唱戏"))
    assert data["kind"] == "answer"
    assert set(data) >= {"question", "answer", "alternatives"}
    assert set(data["answer"]) >= {"article_id", "title", "snippet", "highlights", "link", "score"}
    assert "诚亿豫剧团" in data["answer"]["snippet"]


def test_deep_link_when_the_bot_name_is_known(engine: Engine):
    from bot.telegram.views import article_link

    article = engine.articles[0]
    assert article.url is None
    assert article_link(article, "DistrictNewsBot") == f"https://t.me/DistrictNewsBot?start={article.id}"
    assert article_link(article, None) is None


def test_add_articles_swaps_in_new_news(warm_cache: Path):
    from bot.article import PageMeta
    from bot.page import parse_page

    from .conftest import SEEDS

    library = Library.open(SEEDS, cache_dir=warm_cache)  # not the shared one
    old = library.engine
    before = len(old.articles)
    text = "金水区新建智慧停车场\n\n本报讯(记者 王红)金水区新建的智慧停车场共有车位880个。\n"
    new = parse_page(text, "new.txt", PageMeta(date="2024-03-01"))
    added = library.add(new)
    assert len(added) == 1 and len(library.articles) == before + 1
    assert len(old.articles) == before  # a question in flight keeps the snapshot it started with
    assert "880个" in library.engine.answer("金水区智慧停车场有多少个车位").snippet.text
    assert library.latest(1) == added  # dated after every seed article: it comes first
    assert library.add(new) == []  # the same article twice is skipped
    coined = parse_page("管城区推出“夜市通”\n\n本报讯 管城区推出“夜市通”服务,首批覆盖12条街道。\n", "coined.txt")
    library.add(coined)
    assert "夜市通" in library.engine.analyzer.segmenter.cut("夜市通覆盖几条街道")  # the coinage stays whole
    assert "12条街道" in library.engine.answer("夜市通覆盖几条街道").snippet.text


def test_a_library_works_out_its_browsing_views_only_when_a_list_needs_them(
    warm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At a million articles they cost ~0.2-0.6 s: a fetch, an ingest, a batch of questions never
    # browse, and a page added to views not yet worked out leaves them for the first list.
    from bot.article import PageMeta
    from bot.library import Catalog
    from bot.page import parse_page

    from .conftest import SEEDS

    worked_out: list[int] = []
    real_of = Catalog.of.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Catalog], *args: object) -> Catalog:
        worked_out.append(1)
        return real_of(cls, *args)

    monkeypatch.setattr(Catalog, "of", classmethod(counted))
    library = Library.open(SEEDS, cache_dir=warm_cache)
    assert library.ask("清华附中什么时候投入使用？").kind is Kind.ANSWER
    first = parse_page("金水区新建智慧停车场\n\n本报讯 金水区新建的智慧停车场共有车位880个。\n", "a.txt",
                       PageMeta(date="2024-03-01"))  # fmt: skip
    library.add(first)
    assert worked_out == []
    assert library.latest(1) == first and worked_out == [1]  # worked out now, the page in them
    second = parse_page("管城区推出夜市通\n\n本报讯 管城区推出夜市通服务,首批覆盖12条街道。\n", "b.txt",
                        PageMeta(date="2024-03-02"))  # fmt: skip
    library.add(second)
    assert library.latest(2) == second + first and worked_out == [1]  # extended, not worked out again
    served = Library.open(SEEDS, cache_dir=warm_cache)
    served.warm_views()  # a front end's start: worked out on a thread of its own, not at first use
    deadline = time.monotonic() + 10
    while served.snapshot.built_catalog is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.snapshot.built_catalog is not None and worked_out == [1, 1]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_no_input_makes_answer_raise(library: Library, question: str):
    reply = library.ask(question)
    assert isinstance(reply.kind, Kind)
    if reply.found:
        assert len(reply.answer.snippet.text) <= SNIPPET_MAX + 2
    assert library.engine.answer(question).status in {Status.ANSWER, Status.ABSTAIN}


def test_a_restart_does_not_read_unchanged_files_but_sees_every_change(tmp_path: Path, monkeypatch) -> None:
    import shutil

    from .conftest import SEEDS

    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    shutil.copytree(SEEDS, corpus)
    assert Library.open(corpus, cache_dir=cache).engine.report.built == 5
    read: list[str] = []
    real = Path.read_bytes

    def spy(self: Path) -> bytes:
        if self.parent == corpus:
            read.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    again = Library.open(corpus, cache_dir=cache).engine
    assert (again.report.cached, read) == (5, [])  # keys from the stamps: no file read
    first, second = sorted(corpus.glob("*.txt"))[:2]
    first.write_text(first.read_text(encoding="utf-8") + "\n二七区新建一座公园。\n", encoding="utf-8")
    second.with_suffix(".yaml").write_text("url: https://example.com/page\n", encoding="utf-8")
    third = Library.open(corpus, cache_dir=cache).engine
    assert (third.report.built, third.report.cached) == (2, 3)
    assert {first.name, second.name, second.with_suffix(".yaml").name} <= set(read)
    assert any(a.url == "https://example.com/page" for a in third.articles)
    assert "公园" in third.answer("二七区新建的公园").snippet.text
