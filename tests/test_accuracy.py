"""Accuracy floors on question sets, so a change that makes answers worse fails loudly.

The floors sit a little under the figures measured when they were set (see README); they guard
against regressions, they are not the benchmark itself (`python -m bot eval` prints that).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluate import evaluate, load_items
from bot.library import Library

from .conftest import SHARED

DEV = Path(__file__).parent / "data" / "dev_questions.yaml"


def test_our_dev_questions_cover_every_seed_article(library: Library):
    report = evaluate(library, load_items(DEV))
    figures = report.figures()
    assert figures["top1"] >= 0.98, report.misses()
    assert figures["answer_in_snippet"] >= 0.88
    assert figures["answer_in_first_100"] >= 0.86
    assert figures["snippet_chars_mean"] <= 125
    assert figures["out_of_scope_abstained"] == 1.0
    answered = {o.answer.article.id for o in report.outcomes if o.answer.found}
    assert len(answered) >= 40  # nearly every one of the 44 articles answers some question


@pytest.mark.skipif(not (SHARED / "qa" / "questions.yaml").exists(), reason="../shared not beside the repo")
def test_residents_questions(library: Library):
    figures = evaluate(library, load_items(SHARED / "qa" / "questions.yaml")).figures()
    assert figures["top1"] >= 0.96
    assert figures["answer_in_snippet"] >= 0.95
    assert figures["answer_in_first_100"] >= 0.95
    assert figures["out_of_scope_abstained"] == 1.0


@pytest.mark.slow  # builds an index over the CMRC trial corpus
@pytest.mark.skipif(not (SHARED / "bench" / "cmrc_trial.qa.yaml").exists(), reason="../shared not beside the repo")
def test_cmrc_trial(tmp_path_factory: pytest.TempPathFactory):
    library = Library.open(SHARED / "bench" / "cmrc_trial.corpus.jsonl", cache_dir=tmp_path_factory.mktemp("cmrc"))
    figures = evaluate(library, load_items(SHARED / "bench" / "cmrc_trial.qa.yaml")).figures()
    assert figures["top1"] >= 0.983
    assert figures["answer_in_snippet"] >= 0.895
    assert figures["answer_in_first_100"] >= 0.83
    assert figures["snippet_chars_mean"] <= 155
