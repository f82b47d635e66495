"""`python -m bot ingest`: all-or-nothing validation, duplicates, atomic copy, incremental index."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import ingest as ingest_module
from bot.config import Config
from bot.ingest import ingest
from bot.ingest_cli import run_ingest
from bot.library import Library

from .conftest import ROOT, SEEDS, copy_corpus

NEW_PAGE = """二七区新建三所中小学 秋季开学投用

本报讯(记者 张明 通讯员 李华)记者从二七区教育局获悉,今年二七区新建的三所中小学将在秋季开学时投入使用,新增学位4500个。

据介绍,三所学校分别位于长江路街道、五里堡街道和马寨镇,总投资约6亿元。

金水区贾鲁河步道全线贯通

本报讯(记者 王强)日前,金水区贾鲁河沿岸步道全线贯通,全长12公里,市民可以沿河散步、骑行。
"""
SIDECAR = "paper: 郑州日报\npage: '05'\ndate: 2024-03-01\nurl: https://example.com/zzrb/05\n"


def write_page(folder: Path, name: str = "105_new.txt", text: str = NEW_PAGE, sidecar: str | None = SIDECAR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / name
    page.write_text(text, encoding="utf-8")
    if sidecar is not None:
        page.with_suffix(".yaml").write_text(sidecar, encoding="utf-8")
    return page


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def config(tmp_path: Path, warm_cache: Path) -> Config:
    corpus, cache = copy_corpus(tmp_path, warm_cache)
    return Config(corpus=corpus, cache_dir=cache, state_db=tmp_path / "state.sqlite3")


def test_good_page_is_added_with_its_sidecar_and_only_its_segment_is_built(config: Config, tmp_path: Path):
    segments_before = set(config.cache_dir.glob("*.seg"))
    page = write_page(tmp_path / "incoming")
    result = ingest([page], config.corpus, config)
    assert result.ok, result.errors
    assert [item.name for item in result.added] == ["105_new.txt"]
    assert result.new_articles == 2
    assert (result.built, result.cached) == (1, 5)  # one new segment; the five seed pages from the cache
    assert len(set(config.cache_dir.glob("*.seg")) - segments_before) == 1
    print(
        f"\nincremental one-page ingest on the seeds: {result.seconds:.2f} s total, "
        f"index update {result.index_seconds:.2f} s"
    )
    assert (config.corpus / "105_new.txt").read_bytes() == page.read_bytes()
    assert (config.corpus / "105_new.yaml").read_text(encoding="utf-8") == SIDECAR
    assert not list(config.corpus.glob(".ingest-*"))  # staging cleaned up
    engine = Library.open(config.corpus, cache_dir=config.cache_dir).engine
    assert engine.report.built == 0  # everything comes from the cache now
    added = [a for a in engine.articles if a.source == "105_new.txt"]
    assert [a.title for a in added] == ["二七区新建三所中小学 秋季开学投用", "金水区贾鲁河步道全线贯通"]
    assert added[0].districts[0] == "二七区" and added[0].date == "2024-03-01"
    assert added[0].url == "https://example.com/zzrb/05"
    assert engine.answer("二七区新建的三所中小学新增多少学位").article.id == added[0].id


def test_run_ingest_prints_what_it_added(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture):
    page = write_page(tmp_path / "incoming", sidecar=None)
    assert run_ingest([page], config) == 0
    out = capsys.readouterr().out
    assert "added 1 file (2 articles)" in out
    assert "· 二七区新建三所中小学 秋季开学投用 [二七区]" in out
    assert "built 1 new segment, reused 5 from the cache" in out


@pytest.mark.parametrize(
    "name,content,where",
    [
        ("broken.txt", b"\xe4\xb8\xad\xe6\x96\x87\n\xff\xfe bad bytes\n", "broken.txt:2: not UTF-8"),
        ("empty.txt", b"   \n\n", "empty.txt: empty file"),
        ("feed.jsonl", '{"title": "好", "body": "正文"}\n{"title": 1}\n'.encode(), "feed.jsonl:2: needs string"),
        ("feed2.jsonl", b'{"title": "a", "body": "b"}\n\n{not json\n', "feed2.jsonl:3: not valid JSON"),
        (
            "feed3.jsonl",
            '{"title": "好", "body": "正文"}\n{"title": "=====", "body": "——"}\n'.encode(),
            "feed3.jsonl:2: no text",
        ),
        ("rule.txt", b"=" * 3000 + b"\n", "rule.txt: no article found"),
    ],
)
def test_a_bad_file_rejects_the_whole_batch(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture, name: str, content: bytes, where: str
):
    before = listing(config.corpus)
    cache_before = listing(config.cache_dir)
    good = write_page(tmp_path / "incoming")
    bad = tmp_path / "incoming" / name
    bad.write_bytes(content)
    assert run_ingest([good, bad], config) == 1
    err = capsys.readouterr().err
    assert where in err and str(tmp_path / "incoming") in err  # names the file the user gave, and the line
    assert "nothing was added" in err
    assert listing(config.corpus) == before  # the good page was not added either
    assert listing(config.cache_dir) == cache_before


def test_a_broken_file_already_in_the_corpus_does_not_stop_an_ingest(config: Config, tmp_path: Path):
    # Put there by hand (the bot reports it and serves the rest): the new page is still added and
    # its segment cached, the broken file left out as a load leaves it out.
    (config.corpus / "999_broken.txt").write_bytes(b"\xff\xfe not text\n")
    result = ingest([write_page(tmp_path / "incoming")], config.corpus, config)
    assert result.ok and [item.name for item in result.added] == ["105_new.txt"]
    assert (result.built, result.cached) == (1, 5)
    engine = Library.open(config.corpus, cache_dir=config.cache_dir).engine
    assert engine.report.built == 0 and any("999_broken.txt" in error for error in engine.report.errors)


def test_a_bad_sidecar_is_named(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture):
    before = listing(config.corpus)
    page = write_page(tmp_path / "incoming", sidecar="date: [unclosed\n")
    assert run_ingest([page], config) == 1
    err = capsys.readouterr().err
    assert str(page.with_suffix(".yaml")) in err and "not valid YAML" in err
    assert listing(config.corpus) == before


def test_duplicates_are_skipped(config: Config, tmp_path: Path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    copy = incoming / "renamed_copy.txt"
    shutil.copyfile(SEEDS / "000_068ad4a585ea7835.txt", copy)  # byte-identical, other name
    same = incoming / "000_068ad4a585ea7835.txt"
    shutil.copyfile(SEEDS / "000_068ad4a585ea7835.txt", same)  # the very file
    page = write_page(incoming)
    twin = incoming / "105_twin.txt"
    shutil.copyfile(page, twin)  # identical to a file earlier in the same batch (no sidecar: differs)
    twin.with_suffix(".yaml").write_text(SIDECAR, encoding="utf-8")
    before = set(listing(config.corpus))
    result = ingest([copy, same, page, twin], config.corpus, config)
    assert result.ok, result.errors
    assert [item.name for item in result.added] == ["105_new.txt"]
    skipped = dict(result.skipped)
    assert "identical to 000_068ad4a585ea7835.txt" in skipped["renamed_copy.txt"]
    assert "identical to 000_068ad4a585ea7835.txt" in skipped["000_068ad4a585ea7835.txt"]
    assert "identical to 105_new.txt" in skipped["105_twin.txt"]
    assert set(listing(config.corpus)) == before | {"105_new.txt", "105_new.yaml"}
    again = ingest([page], config.corpus, config)  # a second run adds nothing
    assert again.ok and again.added == [] and again.built == 0


def test_jsonl_whose_ids_are_all_known_is_skipped(config: Config, tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": "n1", "title": "上街区举办航空运动节", "body": "上街区航空运动节开幕。"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    assert [i.name for i in ingest([feed], config.corpus, config).added] == ["feed.jsonl"]
    other = tmp_path / "other" / "feed_again.jsonl"
    other.parent.mkdir()
    other.write_text(feed.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # other bytes, same ids
    result = ingest([other], config.corpus, config)
    assert result.added == [] and "already in the corpus" in dict(result.skipped)["feed_again.jsonl"]


def test_a_corpus_file_changed_since_the_last_ingest_is_digested_again(config: Config, tmp_path: Path):
    # Digests of the corpus's files are remembered by size, mtime and inode (a large feed is read
    # once a process), never past a change: after the feed grows, its old bytes are no twin of it.
    feed = tmp_path / "feed.jsonl"
    line = json.dumps(
        {"id": "g1", "title": "上街区举办航空运动节", "body": "上街区航空运动节开幕。"}, ensure_ascii=False
    )
    feed.write_text(line + "\n", encoding="utf-8")
    assert ingest([feed], config.corpus, config).ok
    copy = tmp_path / "copy" / "feed_copy.jsonl"
    copy.parent.mkdir()
    shutil.copy(feed, copy)
    assert "identical to feed.jsonl" in dict(ingest([copy], config.corpus, config).skipped)["feed_copy.jsonl"]
    grown = json.dumps({"id": "g2", "title": "中原区新开一座公园", "body": "中原区新开一座公园。"}, ensure_ascii=False)
    with (config.corpus / "feed.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(grown + "\n")
    result = ingest([copy], config.corpus, config)
    assert result.added == [] and dict(result.skipped)["feed_copy.jsonl"] == "all 1 article(s) already in the corpus"


def test_a_later_process_reads_no_corpus_file_that_did_not_change(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The digests are kept in the cache folder too: the next `fetch` or `ingest` (a new process)
    # does not read a large feed again to learn it is not the file being added.
    page = write_page(tmp_path / "incoming")
    assert ingest([page], config.corpus, config).ok
    assert ingest([page], config.corpus, config).added == []  # every corpus file digested once now
    read: list[str] = []
    real = hashlib.file_digest

    def reading(handle, digest):
        read.append(Path(handle.name).name)
        return real(handle, digest)

    monkeypatch.setattr(ingest_module, "_DIGESTS", {})  # as in a new process
    monkeypatch.setattr(hashlib, "file_digest", reading)
    page = write_page(tmp_path / "more", name="106_more.txt", text=NEW_PAGE.replace("二七区", "中原区"), sidecar=None)
    assert ingest([page], config.corpus, config).ok and read == []
    (config.corpus / "105_new.yaml").write_text(SIDECAR.replace("05", "06"), encoding="utf-8")  # a sidecar changed
    twin = write_page(tmp_path / "again", name="107_twin.txt", sidecar=SIDECAR.replace("05", "06"))
    result = ingest([twin], config.corpus, config)
    # 105 for its changed sidecar, 106 added since; the seed pages not
    assert sorted(read) == ["105_new.txt", "106_more.txt"]
    assert "identical to 105_new.txt" in dict(result.skipped)["107_twin.txt"]


def test_a_different_file_with_a_corpus_name_is_refused(config: Config, tmp_path: Path):
    before = listing(config.corpus)
    clash = write_page(tmp_path / "incoming", name="000_068ad4a585ea7835.txt", sidecar=None)
    result = ingest([clash], config.corpus, config)
    assert not result.ok and "already has a different 000_068ad4a585ea7835.txt" in result.errors[0]
    assert listing(config.corpus) == before


def test_usage_errors(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert run_ingest([tmp_path / "missing.txt"], config) == 2
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(b"%PDF")
    assert run_ingest([pdf], config) == 2
    lone = tmp_path / "lone.yaml"
    lone.write_text("date: 2024-01-01\n", encoding="utf-8")
    assert run_ingest([lone], config) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "not a news file" in err and "sidecar goes with a page" in err


def test_a_folder_of_pages(config: Config, tmp_path: Path):
    incoming = tmp_path / "batch"
    for number in range(3):
        write_page(incoming, f"2{number}_page.txt", NEW_PAGE.replace("三所", f"{number + 3}所"), sidecar=None)
    result = ingest([incoming], config.corpus, config)
    assert [i.name for i in result.added] == ["20_page.txt", "21_page.txt", "22_page.txt"]
    assert (result.built, result.cached) == (3, 5)


@pytest.mark.slow  # runs `python -m bot ingest` in a new process
def test_cli_contract(config: Config, tmp_path: Path):
    settings = tmp_path / "bot.yaml"
    settings.write_text(
        f"corpus: {config.corpus}\ncache_dir: {config.cache_dir}\nstate_db: {config.state_db}\n", encoding="utf-8"
    )
    page = write_page(tmp_path / "incoming")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(settings), "ingest", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "added 1 file (2 articles)" in run.stdout and "105_new.txt + sidecar" in run.stdout


@pytest.mark.slow  # runs `python -m bot ingest` in a new process
def test_two_ingests_at_once_take_turns_and_never_overwrite(config: Config, tmp_path: Path):
    from bot.ingest import corpus_lock

    settings = tmp_path / "bot.yaml"
    settings.write_text(
        f"corpus: {config.corpus}\ncache_dir: {config.cache_dir}\nstate_db: {config.state_db}\n", encoding="utf-8"
    )
    theirs = write_page(tmp_path / "theirs", sidecar=None)
    ours = write_page(tmp_path / "ours", text=NEW_PAGE.replace("4500", "5000"), sidecar=None)
    with corpus_lock(config.corpus):  # another ingest is between deciding and moving in
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(settings), "ingest", str(ours)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        waited = ""
        while "waiting for it" not in waited:  # it staged and parsed its page, then waits
            line = proc.stderr.readline()
            assert line or proc.poll() is None, f"ingest ended without waiting: {waited}"
            waited += line
        shutil.copyfile(theirs, config.corpus / "105_new.txt")  # the other ingest's move
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "already has a different 105_new.txt" in err
    assert (config.corpus / "105_new.txt").read_bytes() == theirs.read_bytes()  # not overwritten
