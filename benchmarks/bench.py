"""`python -m benchmarks`: speed and scale of the engine, beside two plain baselines, in one run.

For each corpus size N (the seed pages, then synthetic corpora of N articles) it measures, for
our engine and for two baselines on the very same articles and questions:

- build: from an empty cache to a loaded index, parsing and segmentation included
  (ours: `Engine.from_path` on the corpus file; baselines: jieba over every article, then the
  bm25s index or the list of segmented texts, both saved to disk);
- cache: the size on disk of what a restart reloads;
- cold start: a fresh `python -c` process, from spawn to the first answer returned (imports
  included), the median of three starts;
- peak RSS of that serving process (after the whole question set);
- answer latency, median and p99, over a fixed question set (time.perf_counter around one
  call: `Engine.answer` for ours; jieba + retrieve k=1 for the baselines, no snippet);
- for ours, adding one seed page (≈10 articles) to the loaded engine with `Engine.add`, and
  reloading with `Engine.from_path` when a new page file lies beside the cached one.

Baselines: (a) `rapidfuzz`: `process.extractOne` with `fuzz.token_set_ratio` of the jieba-cut
question against every jieba-cut article (the first design read literally); over large corpora
it takes seconds a question, so only a sample of questions is timed (the table says how many);
(b) `bm25s`: `bm25s.BM25` over `jieba.lcut` tokens (punctuation dropped), retrieve k=1.
Both baselines tokenize with jieba on 2 worker processes, like our build.

The synthetic corpus is generated deterministically (fixed seed) from the seed articles and the
CMRC trial passages: runs of real sentences recombined, numbers and place names varied, set in
Zhengzhou's 16 districts, with news-like headlines, bylines, dates and lengths (300-1500
characters). Questions: CMRC trial questions (their sentences are in the corpus) and resident-style
questions made from the synthetic articles' sentences and headlines.

With `--accuracy` it also grades the CMRC trial (256 passages, 1002 questions) for the three
systems in the same run: hit@1 and answer-in-snippet (baselines: the best sentence by token
overlap). `--json` prints every figure as one JSON object. Files go to `bench-out/` (or
$DISTRICT_NEWS_BENCH_DIR). This is a command, never a timed test.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CMRC_CORPUS = SHARED / "bench" / "cmrc_trial.corpus.jsonl"
CMRC_QA = SHARED / "bench" / "cmrc_trial.qa.yaml"
RESIDENT_QA = SHARED / "qa" / "questions.yaml"
SEEDS_DIR = ROOT / "seeds"

SEED = 20240330
GENERATOR_VERSION = "2"
DEFAULT_SIZES: tuple[int, ...] = (0, 10_000, 100_000)  # 0 = the seed pages themselves
COLD_RUNS = 3
# Latency of ours and bm25s is measured in this many fresh processes each, the two alternating
# back to back, and the median taken: one process of each, a minute apart, drifted by ±30% on
# this shared machine, more than the difference being measured.
LATENCY_RUNS = 3
FUZZ_FULL_MAX = 2_000  # above this many articles the rapidfuzz scan times a sample only
FUZZ_SAMPLE = 30
WORKERS = 2

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
_WORD_RE = re.compile(r"\w")


# ================================================================ corpus and questions


class _Sources:
    """Sentences, headlines and names the synthetic corpus is made of."""

    def __init__(self) -> None:
        from bot.corpus import load_corpus, load_jsonl
        from bot.text import load_lexicon

        self.lexicon = load_lexicon()
        self.seed_articles = load_corpus(SEEDS_DIR, self.lexicon.places).articles
        self.cmrc_articles = load_jsonl(CMRC_CORPUS, self.lexicon.places) if CMRC_CORPUS.exists() else []
        # Runs of consecutive sentences: recombining whole runs keeps local coherence.
        self.seed_runs = [_sentences(a.paragraphs) for a in self.seed_articles]
        self.cmrc_runs = [_sentences(a.paragraphs) for a in self.cmrc_articles]
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


def _sentences(paragraphs) -> list[str]:
    out = []
    for paragraph in paragraphs:
        for sentence in _SENTENCE_RE.split(paragraph):
            sentence = sentence.strip().lstrip("”’」』)）,，、")
            if len(sentence) >= 6:
                out.append(sentence)
    return out


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _vary(sentence: str, district: str, places: list[str], sources: _Sources, rng: random.Random) -> str:
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


def _headline(district: str, places: list[str], sources: _Sources, rng: random.Random) -> str:
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


def generate_articles(n: int, sources: _Sources, seed: int = SEED) -> list[dict]:
    """N news-like articles (JSONL records), the same for the same N and seed."""
    rng = random.Random(seed)
    records = []
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
        records.append(
            {
                "id": f"b{number:07d}",
                "title": _headline(district, places, sources, rng),
                "body": "\n".join(paragraphs),
                "district": district,
                "date": f"{year}-{month:02d}-{day:02d}",
                "source": "bench",
            }
        )
    return records


def _resident_question(title: str, body: str, district: str, rng: random.Random) -> str | None:
    """A question a resident might type about this article (colloquial, district short names)."""
    sentences = _sentences(body.splitlines())[1:] or _sentences(body.splitlines())
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
    records: list[dict], count: int, *, seed: int = SEED, cmrc_share: float = 0.5, residents: list[str] = ()
) -> list[str]:
    """A fixed question set for one corpus: the same list for every system."""
    rng = random.Random(seed + 1)
    questions = list(residents)[:count]
    cmrc = _cmrc_questions() if cmrc_share > 0 else []
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
def _cmrc_questions() -> list[tuple[str, str, tuple[str, ...]]]:
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


def _resident_questions() -> list[str]:
    if not RESIDENT_QA.exists():
        return []
    items = _yaml(RESIDENT_QA) or []
    return [str(i["question"]) for i in items if isinstance(i, dict) and i.get("question")]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ================================================================ child processes
# Every system is measured in fresh `python -c` processes: the parent writes a spec file,
# the child prints JSON lines ({"event": "ready"} after its first answer, then {"event": "done"}).

_CHILD = (
    "import time; T0 = time.perf_counter()\n"
    "import sys\n"
    "from benchmarks.bench import _child_main\n"
    "_child_main(sys.argv[1], T0)\n"
)


def _emit(event: str, **values) -> None:
    sys.stdout.write(json.dumps({"event": event, **values}, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _child_main(spec_path: str, t0: float) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    {
        "ours-build": _ours_build,
        "ours-serve": _ours_serve,
        "base-build": _base_build,
        "bm25s-serve": _bm25s_serve,
        "rapidfuzz-serve": _fuzz_serve,
        "paired": _paired,
    }[spec["mode"]](spec, t0)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "timed": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, math.ceil(0.99 * len(ordered)) - 1))]  # nearest rank
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": p99,
        "mean_ms": statistics.fmean(ordered),
        "timed": len(ordered),
    }


def _time_each(fn, questions: list[str]) -> list[float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        fn(question)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _settings(spec: dict):
    """The engine settings the product runs with (config/bot.yaml `engine:`), cache as given."""
    from dataclasses import fields

    from bot.answer import Settings

    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in (spec.get("engine") or {}).items() if k in known}
    return Settings(cache_dir=Path(spec["cache"]), **values)


def _ours_build(spec: dict, t0: float) -> None:
    from bot.answer import Engine

    progress = None
    if spec.get("progress"):
        from tqdm import tqdm

        def progress(name: str, total: int):
            if total < 2000:
                return None
            bar = tqdm(total=total, desc=f"indexing {name}", unit="art", leave=False, file=sys.stderr, mininterval=1.0)
            return bar.update

    started = time.perf_counter()
    engine = Engine.from_path(Path(spec["corpus"]), settings=_settings(spec), progress=progress)
    seconds = time.perf_counter() - started
    _emit(
        "done",
        build_s=seconds,
        articles=len(engine.articles),
        built=engine.report.built,
        errors=engine.report.errors,
        rss=_peak_rss(),
    )


def _ours_serve(spec: dict, t0: float) -> None:
    from bot.answer import Engine

    settings = _settings(spec)
    engine = Engine.from_path(Path(spec["corpus"]), settings=settings)
    loaded = time.perf_counter() - t0
    questions = spec["questions"]
    engine.answer(questions[0])
    _emit(
        "ready",
        loaded_s=loaded,
        first_s=time.perf_counter() - t0,
        cached=engine.report.cached,
        built=engine.report.built,
        articles=len(engine.articles),
    )
    if not spec.get("latency"):
        return
    times = _time_each(engine.answer, questions)
    rss = _peak_rss()
    if spec.get("latency_only"):
        _emit("done", latency=_percentiles(times))
        return
    # The same questions again: articles already analysed (what popular questions cost).
    again = _time_each(engine.answer, questions)
    found = sum(1 for q in questions[:50] if engine.answer(q).found)
    # The index alone (what the baselines do): the question's terms, then BM25 top candidates.
    depth = engine.rerank_depth
    terms = [engine.analyzer.question_terms(q)[1] for q in questions]
    search = _time_each(lambda t: engine.index.search(t, k=depth), terms)
    result = {
        "latency": _percentiles(times),
        "latency_second_pass": _percentiles(again),
        "rss": rss,
        "answered_of_50": found,
        "search_only": _percentiles(search),
    }
    graded = spec.get("graded") or []
    if graded:
        answers = [engine.answer(questions[i]) for i in graded]
        result["snippets"] = [a.snippet.text if a.found and a.snippet else "" for a in answers]
    if spec.get("add_page"):
        from bot.corpus import load_page

        page = Path(spec["add_page"])
        articles = load_page(page, engine.analyzer.lexicon.places)
        started = time.perf_counter()
        added = engine.add(articles)
        add_s = time.perf_counter() - started
        probe = engine.answer(added[0].title) if added else None
        result["add"] = {
            "articles": len(added),
            "seconds": add_s,
            "found_after_add": bool(probe and probe.found and probe.article.headline == added[0].headline),
            "latency_after_add": _percentiles(_time_each(engine.answer, questions[:100])),
        }
        del engine, probe
        import gc

        gc.collect()
        started = time.perf_counter()
        reloaded = Engine.from_path(Path(spec["corpus_plus"]), settings=settings)
        result["reload_plus_page"] = {
            "seconds": time.perf_counter() - started,
            "cached": reloaded.report.cached,
            "built": reloaded.report.built,
            "articles": len(reloaded.articles),
        }
    _emit("done", **result)


_TOKEN_TEXTS: list[str] = []


def _jieba_chunk(bounds: tuple[int, int]) -> list[list[str]]:
    import jieba

    lo, hi = bounds
    return [[t.lower() for t in jieba.lcut(text) if _WORD_RE.search(t)] for text in _TOKEN_TEXTS[lo:hi]]


def jieba_tokenize(text: str) -> list[str]:
    import jieba

    return [t.lower() for t in jieba.lcut(text) if _WORD_RE.search(t)]


def _jieba_all(texts: list[str], workers: int = WORKERS) -> list[list[str]]:
    """jieba.lcut over every text, on `workers` forked processes (this child is single-threaded)."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    global _TOKEN_TEXTS
    _TOKEN_TEXTS = texts
    if workers <= 1 or len(texts) < 2000:
        return _jieba_chunk((0, len(texts)))
    import multiprocessing

    step = max(500, len(texts) // (workers * 8))
    bounds = [(lo, min(len(texts), lo + step)) for lo in range(0, len(texts), step)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_jieba_chunk, bounds, chunksize=1)
    return [tokens for part in parts for tokens in part]


def _base_build(spec: dict, t0: float) -> None:
    import pickle

    import bm25s

    records = _read_jsonl(Path(spec["plain"]))
    texts = [f"{r['title']}\n{r['body']}" for r in records]
    ids = [r["id"] for r in records]
    out = Path(spec["out"])
    started = time.perf_counter()
    tokens = _jieba_all(texts)
    tokenize_s = time.perf_counter() - started

    started = time.perf_counter()
    (out / "rapidfuzz").mkdir(parents=True, exist_ok=True)
    with (out / "rapidfuzz" / "segmented.pkl").open("wb") as handle:
        pickle.dump({"ids": ids, "texts": [" ".join(t) for t in tokens]}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    fuzz_s = time.perf_counter() - started

    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(out / "bm25s"))
    (out / "bm25s" / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
    bm25_s = time.perf_counter() - started
    _emit(
        "done",
        tokenize_s=tokenize_s,
        rapidfuzz_build_s=tokenize_s + fuzz_s,
        bm25s_build_s=tokenize_s + bm25_s,
        rss=_peak_rss(),
    )


def _bm25s_searcher(folder: Path):
    import bm25s
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    retriever = bm25s.BM25.load(str(folder))
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))

    def search(question: str) -> str | None:
        tokens = [t for t in jieba_tokenize(question) if t in retriever.vocab_dict and t]
        if not tokens:  # nothing of the question is in the corpus
            return None
        docs, _scores = retriever.retrieve([tokens], k=1, show_progress=False, n_threads=1)
        return ids[int(docs[0][0])]

    return search


def _fuzz_searcher(folder: Path):
    import pickle

    import jieba
    from rapidfuzz import fuzz, process

    jieba.setLogLevel(60)
    jieba.initialize()
    with (folder / "segmented.pkl").open("rb") as handle:
        data = pickle.load(handle)
    ids, texts = data["ids"], data["texts"]

    def search(question: str) -> str | None:
        match = process.extractOne(
            " ".join(jieba_tokenize(question)), texts, scorer=fuzz.token_set_ratio, processor=None
        )
        return ids[match[2]] if match else None

    return search


def _base_serve(spec: dict, t0: float, make) -> None:
    search = make(Path(spec["index"]))
    questions = spec["questions"]
    search(questions[0])
    _emit("ready", first_s=time.perf_counter() - t0)
    if not spec.get("latency"):
        return
    timed = questions[: spec.get("sample") or len(questions)]
    times = _time_each(search, timed)
    rss = _peak_rss()
    picks = [search(questions[i]) for i in spec.get("graded") or []]
    _emit("done", latency=_percentiles(times), rss=rss, picks=picks)


def _paired(spec: dict, t0: float) -> None:
    """Ours and bm25s in one process, taking turns question by question.

    Each system's own process gives its cold start and memory, but its latency is measured a
    minute or more apart from the other's, and this shared machine drifts by ±30% in a minute.
    Here both see the same moments: every question goes to one then the other (which goes
    first alternates), each once, ours from a fresh engine (nothing analysed yet).
    """
    from bot.answer import Engine

    engine = Engine.from_path(Path(spec["corpus"]), settings=_settings(spec))
    search = _bm25s_searcher(Path(spec["index"]))
    questions = spec["questions"]
    engine.answer(questions[0])
    search(questions[0])
    ours: list[float] = []
    base: list[float] = []
    for number, question in enumerate(questions):
        for ask, times in ((engine.answer, ours), (search, base))[:: 1 if number % 2 else -1]:
            started = time.perf_counter()
            ask(question)
            times.append((time.perf_counter() - started) * 1000)
    _emit("done", ours=_percentiles(ours), bm25s=_percentiles(base))


def _bm25s_serve(spec: dict, t0: float) -> None:
    _base_serve(spec, t0, _bm25s_searcher)


def _fuzz_serve(spec: dict, t0: float) -> None:
    _base_serve(spec, t0, _fuzz_searcher)


class ChildError(RuntimeError):
    pass


def _run_child(spec: dict, work: Path, *, show_stderr: bool = False) -> dict:
    """Run one measuring child; returns its events by name plus the wall time to `ready`."""
    work.mkdir(parents=True, exist_ok=True)
    spec_path = work / f"spec-{spec['mode']}.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(spec_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None if show_stderr else subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    events: dict[str, dict] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("event") == "ready":
            event["wall_s"] = time.perf_counter() - started
        events[event["event"]] = event
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        raise ChildError(f"bench child {spec['mode']} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return events


# ================================================================ one corpus size


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _prepare_corpus(
    n: int, out: Path, sources: _Sources | None, questions_count: int
) -> tuple[Path, Path, list[str], int, _Sources]:
    """(corpus path for ours, plain JSONL for the baselines, questions, article count)."""
    sources = sources or _Sources()
    out.mkdir(parents=True, exist_ok=True)
    if n == 0:
        corpus = SEEDS_DIR
        records = [
            {"id": a.id, "title": a.headline, "body": a.body, "district": (a.districts or ("",))[0]}
            for a in sources.seed_articles
        ]
        plain = out / "plain.jsonl"
        _write_jsonl(plain, records)
        questions = make_questions(records, questions_count, cmrc_share=0.0, residents=_resident_questions())
        return corpus, plain, questions, len(records), sources
    corpus_dir = out / "corpus"
    corpus = corpus_dir / "articles.jsonl"
    stamp = out / "corpus.stamp"
    want = f"{GENERATOR_VERSION} {SEED} {n} {len(sources.seed_runs)} {len(sources.cmrc_runs)}"
    if corpus.exists() and stamp.exists() and stamp.read_text() == want:
        records = _read_jsonl(corpus)
    else:
        records = generate_articles(n, sources)
        _write_jsonl(corpus, records)
        stamp.write_text(want)
    questions = make_questions(records, questions_count)
    return corpus_dir, corpus, questions, len(records), sources


def bench_size(
    n: int,
    *,
    out: Path,
    questions_count: int,
    sources: _Sources | None = None,
    quiet: bool = False,
    progress: bool = True,
    engine: dict | None = None,
    cold_runs: int = COLD_RUNS,
    latency_runs: int = LATENCY_RUNS,
) -> dict:
    label = "seeds" if n == 0 else f"{n:,}"
    work = out / ("seeds" if n == 0 else str(n))
    _log(f"[{label}] preparing corpus and questions", quiet)
    corpus, plain, questions, count, sources = _prepare_corpus(n, work, sources, questions_count)
    # CMRC questions whose sentences went into the corpus: graded by the answer in the snippet.
    gold = {q: answers for q, _, answers in _cmrc_questions() if answers}
    graded = [i for i, q in enumerate(questions) if q in gold]
    result: dict = {
        "label": label,
        "n": n,
        "articles": count,
        "questions": len(questions),
        "corpus_mb": round(_dir_size(corpus) / 2**20, 2) if corpus.is_dir() else None,
        "systems": {},
    }

    # ---- ours: build from an empty cache, then cold starts and the question set
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    _log(f"[{label}] ours: building the index", quiet)
    built = _run_child(
        {"mode": "ours-build", "corpus": str(corpus), "cache": str(cache), "progress": progress, "engine": engine},
        work,
        show_stderr=progress and not quiet,
    )["done"]
    cache_bytes = _dir_size(cache)
    cache_files = {p.name for p in cache.iterdir()} if cache.exists() else set()
    # A new page (a seed page under another file name, so its articles get new ids): added to the
    # loaded engine with Engine.add, and laid beside the cached corpus for a reload.
    add_page = work / "added" / "zz_added_page.txt"
    add_page.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sorted(SEEDS_DIR.glob("*.txt"))[-1], add_page)
    plus = work / "corpus_plus"
    shutil.rmtree(plus, ignore_errors=True)
    plus.mkdir(parents=True)
    for path in sorted(corpus.iterdir()) if corpus.is_dir() else [corpus]:
        if path.suffix in (".txt", ".jsonl", ".yaml") and path.is_file():
            try:
                os.link(path, plus / path.name)
            except OSError:
                shutil.copyfile(path, plus / path.name)
    shutil.copyfile(add_page, plus / add_page.name)
    _log(f"[{label}] ours: cold starts and {len(questions)} questions", quiet)
    colds = []
    serve: dict = {}
    for run in range(cold_runs):
        last = run == cold_runs - 1
        events = _run_child(
            {
                "mode": "ours-serve",
                "corpus": str(corpus),
                "cache": str(cache),
                "engine": engine,
                "questions": questions,
                "latency": last,
                "graded": graded if last else [],
                "add_page": str(add_page) if last else None,
                "corpus_plus": str(plus),
            },
            work,
        )
        colds.append(events["ready"]["wall_s"])
        if last:
            serve = events["done"]
            serve["ready"] = events["ready"]
    for path in cache.iterdir():  # segments written by the reload-with-a-page run
        if path.name not in cache_files:
            path.unlink()
    bm25s_picks: list[str | None] = []
    result["systems"]["ours"] = {
        "build_s": built["build_s"],
        "build_rss_mb": built["rss"] / 2**20,
        "cache_mb": cache_bytes / 2**20,
        "cold_s": statistics.median(colds),
        "cold_runs": colds,
        "rss_mb": serve["rss"] / 2**20,
        **serve["latency"],
        "answered_of_50": serve.get("answered_of_50"),
        "second_pass": serve.get("latency_second_pass"),
        "search_only": serve.get("search_only"),
    }
    result["incremental"] = {
        "add": serve.get("add"),
        "reload_plus_page": serve.get("reload_plus_page"),
        "note": "one seed page (new file name, new ids) added to the loaded engine",
    }

    # ---- baselines: jieba once (2 processes), then each baseline's own index and queries
    _log(f"[{label}] baselines: jieba over {count} articles, bm25s index", quiet)
    base_dir = work / "baselines"
    shutil.rmtree(base_dir, ignore_errors=True)
    base = _run_child({"mode": "base-build", "plain": str(plain), "out": str(base_dir)}, work)["done"]
    for name, folder, build_s in (
        ("bm25s", base_dir / "bm25s", base["bm25s_build_s"]),
        ("rapidfuzz", base_dir / "rapidfuzz", base["rapidfuzz_build_s"]),
    ):
        sample = None if (name == "bm25s" or count <= FUZZ_FULL_MAX) else FUZZ_SAMPLE
        _log(f"[{label}] {name}: cold starts and {sample or len(questions)} questions", quiet)
        colds = []
        done: dict = {}
        for run in range(cold_runs):
            last = run == cold_runs - 1
            events = _run_child(
                {
                    "mode": f"{name}-serve",
                    "index": str(folder),
                    "questions": questions,
                    "graded": graded if last and name == "bm25s" else [],
                    "latency": last,
                    "sample": sample,
                },
                work,
            )
            colds.append(events["ready"]["wall_s"])
            if last:
                done = events["done"]
        if name == "bm25s":
            bm25s_picks = done.get("picks") or []
        result["systems"][name] = {
            "build_s": build_s,
            "build_rss_mb": base["rss"] / 2**20,
            "cache_mb": _dir_size(folder) / 2**20,
            "cold_s": statistics.median(colds),
            "cold_runs": colds,
            "rss_mb": done["rss"] / 2**20,
            **done["latency"],
            "sampled": sample is not None,
        }
    _latency_runs(result, work, questions, corpus, cache, base_dir / "bm25s", engine, quiet, latency_runs)
    _log(f"[{label}] ours and bm25s taking turns in one process", quiet)
    result["paired"] = _run_child(
        {
            "mode": "paired",
            "corpus": str(corpus),
            "cache": str(cache),
            "engine": engine,
            "index": str(base_dir / "bm25s"),
            "questions": questions,
        },
        work,
    )["done"]
    if graded:
        result["scale_accuracy"] = _scale_accuracy(
            questions, graded, gold, serve.get("snippets") or [], bm25s_picks, plain
        )
    ours = result["systems"]["ours"]
    result["ratios"] = {
        name: {
            key: (result["systems"][name][key] / ours[key]) if ours[key] else None
            for key in ("p50_ms", "p99_ms", "build_s", "cold_s", "rss_mb")
        }
        for name in ("bm25s", "rapidfuzz")
    }
    return result


def _latency_runs(
    result: dict,
    work: Path,
    questions: list[str],
    corpus: Path,
    cache: Path,
    bm25s_index: Path,
    engine: dict | None,
    quiet: bool,
    runs: int = LATENCY_RUNS,
) -> None:
    """Ours and bm25s timed again in fresh processes, alternating (who goes first alternates too);
    each system's p50 and p99 become the medians over all its runs, the first included."""
    _log(f"[{result['label']}] ours and bm25s alternating, {runs} more latency runs each", quiet)
    specs = {
        "ours": {
            "mode": "ours-serve",
            "corpus": str(corpus),
            "cache": str(cache),
            "engine": engine,
            "questions": questions,
            "latency": True,
            "latency_only": True,
        },
        "bm25s": {"mode": "bm25s-serve", "index": str(bm25s_index), "questions": questions, "latency": True},
    }
    measured = {name: [{key: result["systems"][name][key] for key in ("p50_ms", "p99_ms")}] for name in specs}
    for run in range(runs):
        for name in ("ours", "bm25s")[:: 1 if run % 2 else -1]:
            measured[name].append(_run_child(specs[name], work)["done"]["latency"])
    for name, values in measured.items():
        system = result["systems"][name]
        system["latency_runs"] = [v["p50_ms"] for v in values]
        system["p50_ms"] = statistics.median(v["p50_ms"] for v in values)
        system["p99_ms"] = statistics.median(v["p99_ms"] for v in values)


def _scale_accuracy(
    questions: list[str],
    graded: list[int],
    gold: dict[str, tuple[str, ...]],
    snippets: list[str],
    picks: list[str | None],
    plain: Path,
) -> dict:
    """Answer in snippet for the CMRC questions over this corpus: ours vs bm25s's best sentence.

    There is no single right article in a recombined corpus (a sentence may be in several), so
    only the snippet is graded: does the text shown hold an acceptable answer.
    """
    wanted = {p for p in picks if p}
    bodies = {}
    with plain.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["id"] in wanted:
                bodies[record["id"]] = record["body"]

    def holds(text: str, question: str) -> bool:
        return any(answer in re.sub(r"\s+", "", text) for answer in gold[question])

    ours = sum(1 for i, text in zip(graded, snippets, strict=False) if holds(text, questions[i]))
    base = 0
    for i, pick in zip(graded, picks, strict=False):
        if pick in bodies:
            base += holds(_best_sentence(bodies[pick], set(jieba_tokenize(questions[i]))), questions[i])
    return {"questions": len(graded), "ours": ours / len(graded), "bm25s": base / len(graded)}


# ================================================================ accuracy on the CMRC trial


def _best_sentence(body: str, question_tokens: set[str]) -> str:
    best, best_score = "", -1
    for sentence in _sentences(body.splitlines()) or [body]:
        score = len(set(jieba_tokenize(sentence)) & question_tokens)
        if score > best_score:
            best, best_score = sentence, score
    return best[:200]


def bench_accuracy(out: Path, quiet: bool = False, engine: dict | None = None) -> dict:
    """hit@1 and answer-in-snippet on the CMRC trial for ours and the two baselines."""
    if not (CMRC_CORPUS.exists() and CMRC_QA.exists()):
        return {"error": f"missing {CMRC_CORPUS} or {CMRC_QA}"}
    import logging

    import bm25s
    from rapidfuzz import fuzz, process

    from bot.answer import Engine
    from bot.evaluate import evaluate, load_items

    _log("[accuracy] CMRC trial: ours", quiet)
    ours = Engine.from_path(CMRC_CORPUS, settings=_settings({"cache": str(out / "cmrc" / "cache"), "engine": engine}))
    figures = evaluate(ours, load_items(CMRC_QA)).figures()
    result = {"ours": {"hit@1": figures["top1"], "answer_in_snippet": figures["answer_in_snippet"]}}

    _log("[accuracy] CMRC trial: baselines", quiet)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    records = _read_jsonl(CMRC_CORPUS)
    texts = [f"{r['title']}\n{r['body']}" for r in records]
    tokens = _jieba_all(texts, workers=1)
    ids = [r["id"] for r in records]
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    joined = [" ".join(t) for t in tokens]
    items = _cmrc_questions()
    scores = {"bm25s": [0, 0], "rapidfuzz": [0, 0]}
    for question, gold, answers in items:
        q_tokens = jieba_tokenize(question)
        known = [t for t in q_tokens if t in retriever.vocab_dict and t]
        top = None
        if known:
            docs, _ = retriever.retrieve([known], k=1, show_progress=False, n_threads=1)
            top = int(docs[0][0])
        fuzzy = process.extractOne(" ".join(q_tokens), joined, scorer=fuzz.token_set_ratio, processor=None)
        for name, number in (("bm25s", top), ("rapidfuzz", fuzzy[2] if fuzzy else None)):
            if number is None:
                continue
            snippet = re.sub(r"\s+", "", _best_sentence(records[number]["body"], set(q_tokens)))
            scores[name][0] += ids[number] == gold
            scores[name][1] += any(a in snippet for a in answers)
    for name, (hits, in_snippet) in scores.items():
        result[name] = {"hit@1": round(hits / len(items), 4), "answer_in_snippet": round(in_snippet / len(items), 4)}
    result["questions"] = len(items)
    return result


# ================================================================ report


BARS = {  # issue 5, medians on the 2-core machine
    100_000: {"p99_ms": 20.0, "p50_ms": 5.0, "cold_s": 3.0, "rss_mb": 2048.0, "build_s": 300.0},
    0: {"cold_s": 2.0, "p50_ms": 2.0},
}


def _bars(result: dict) -> list[tuple[str, float, str, float, bool]]:
    bars = BARS.get(result["n"])
    if not bars:
        return []
    ours = result["systems"]["ours"]
    checks = [(key, ours[key], "≤", limit, ours[key] <= limit) for key, limit in bars.items()]
    if result["n"] == 100_000:
        rss_build = ours["build_rss_mb"]
        checks.append(("build_rss_mb", rss_build, "≤", 2048.0, rss_build <= 2048.0))
        add = (result.get("incremental") or {}).get("add") or {}
        if add:
            checks.append(("add_page_s", add["seconds"], "≤", 1.0, add["seconds"] <= 1.0))
        bm25 = result["systems"].get("bm25s")
        if bm25:
            checks.append(("p50 vs bm25s", ours["p50_ms"], "≤", bm25["p50_ms"], ours["p50_ms"] <= bm25["p50_ms"]))
        turns = result.get("paired")
        if turns:  # the same comparison with both measured at the same moments
            mine, theirs = turns["ours"]["p50_ms"], turns["bm25s"]["p50_ms"]
            checks.append(("p50 vs bm25s, turns", mine, "≤", theirs, mine <= theirs))
        acc = result.get("scale_accuracy")
        if acc:  # "while more accurate"
            checks.append(("snippet vs bm25s", acc["ours"], "≥", acc["bm25s"], acc["ours"] >= acc["bm25s"]))
    return checks


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def format_report(report: dict) -> str:
    lines = []
    machine = report["machine"]
    lines.append(
        f"district-news-bot bench — {machine['cpus']} CPUs, Python {machine['python']}, "
        f"{report['questions']} questions per corpus (seed {SEED}), load average "
        f"{machine.get('loadavg_start')} → {machine.get('loadavg_end')}"
    )
    header = (
        f"{'corpus':>9} {'system':<10} {'build s':>8} {'build MB':>9} {'cache MB':>9} {'cold s':>7} "
        f"{'RSS MB':>7} {'p50 ms':>8} {'p99 ms':>8} {'timed':>6}"
    )
    lines.append("")
    lines.append(header)
    lines.append("-" * len(header))
    for result in report["sizes"]:
        for name in ("ours", "bm25s", "rapidfuzz"):
            s = result["systems"].get(name)
            if not s:
                continue
            timed = f"{s['timed']}" + ("*" if s.get("sampled") else "")
            lines.append(
                f"{result['label'] if name == 'ours' else '':>9} {name:<10} {_fmt(s['build_s']):>8} "
                f"{_fmt(s['build_rss_mb'], 0):>9} "
                f"{_fmt(s['cache_mb'], 1):>9} {_fmt(s['cold_s']):>7} {_fmt(s['rss_mb'], 0):>7} "
                f"{_fmt(s['p50_ms'], 3):>8} {_fmt(s['p99_ms'], 3):>8} {timed:>6}"
            )
    if any(s.get("sampled") for r in report["sizes"] for s in r["systems"].values()):
        lines.append(f"* rapidfuzz: only the first {FUZZ_SAMPLE} questions timed (seconds each at this size).")
    lines.append(
        "build: empty cache to loaded index (parse + segmentation + save), build MB its peak RSS "
        "(main process; baselines: jieba for both); cold: spawn of a fresh `python -c` to the first "
        "answer, median of the runs; RSS: peak of the serving process after all questions; "
        "latency: one call each (ours: Engine.answer with snippet; baselines: jieba + top-1, no snippet); "
        "ours and bm25s: the median of their fresh processes, run alternately (below)."
    )
    lines.append("")
    lines.append("ratios (baseline / ours; > 1 means ours is faster or smaller):")
    for result in report["sizes"]:
        for name, ratio in result["ratios"].items():
            parts = "  ".join(
                f"{key.replace('_ms', '').replace('_s', '').replace('_mb', '')} "
                f"{_fmt(value, 2) if value is not None else '-'}×"
                for key, value in ratio.items()
            )
            lines.append(f"  {result['label']:>9} vs {name:<10} {parts}")
    lines.append("")
    lines.append("ours, where the time goes (p50 / p99 ms):")
    for result in report["sizes"]:
        ours = result["systems"]["ours"]
        second = ours.get("second_pass") or {}
        search = ours.get("search_only") or {}
        if second.get("p50_ms") is not None:
            lines.append(
                f"  {result['label']:>9}: answer {ours['p50_ms']:.3f} / {ours['p99_ms']:.3f}   "
                f"same questions again (articles already analysed) {second['p50_ms']:.3f} / "
                f"{second['p99_ms']:.3f}   index.search alone (top candidates, no snippet) "
                f"{_fmt(search.get('p50_ms'), 3)} / {_fmt(search.get('p99_ms'), 3)}"
            )
    lines.append("")
    lines.append("incremental (ours):")
    for result in report["sizes"]:
        inc = result.get("incremental") or {}
        add, reload = inc.get("add"), inc.get("reload_plus_page")
        if add:
            lines.append(
                f"  {result['label']:>9}: Engine.add of {add['articles']} articles {add['seconds'] * 1000:.1f} ms "
                f"(found after add: {add['found_after_add']}, p50 after {add['latency_after_add']['p50_ms']:.3f} ms); "
                f"from_path with a new page beside the cache {reload['seconds']:.2f} s "
                f"({reload['cached']} cached + {reload['built']} built)"
            )
    runs = [r for r in report["sizes"] if r["systems"]["ours"].get("latency_runs")]
    if any(len(r["systems"]["ours"]["latency_runs"]) > 1 for r in runs):
        lines.append("")
        lines.append("p50 ms of each fresh process (ours and bm25s alternating; the table has the medians):")
        for result in runs:
            ours, base = (
                ", ".join(f"{v:.3f}" for v in result["systems"][n]["latency_runs"]) for n in ("ours", "bm25s")
            )
            lines.append(f"  {result['label']:>9}: ours {ours}   bm25s {base}")
    paired = [r for r in report["sizes"] if r.get("paired")]
    if paired:
        lines.append("")
        lines.append("ours and bm25s in one process, taking turns on each question (p50 / p99 ms):")
        for result in paired:
            ours, base = result["paired"]["ours"], result["paired"]["bm25s"]
            lines.append(
                f"  {result['label']:>9}: ours {ours['p50_ms']:.3f} / {ours['p99_ms']:.3f}   bm25s "
                f"{base['p50_ms']:.3f} / {base['p99_ms']:.3f}   bm25s/ours p50 "
                f"{base['p50_ms'] / ours['p50_ms']:.2f}×  p99 {base['p99_ms'] / ours['p99_ms']:.2f}×"
            )
    scaled = [r for r in report["sizes"] if r.get("scale_accuracy")]
    if scaled:
        lines.append("")
        lines.append(
            "answer in snippet, CMRC questions over the same corpus (ours: the answer's snippet; "
            "bm25s: best sentence of its top article):"
        )
        for result in scaled:
            acc = result["scale_accuracy"]
            lines.append(
                f"  {result['label']:>9}: {acc['questions']} questions   ours {acc['ours']:.3f}   "
                f"bm25s {acc['bm25s']:.3f}"
            )
    checks = [(r["label"], c) for r in report["sizes"] for c in _bars(r)]
    if checks:
        lines.append("")
        lines.append("issue 5 bars (ours):")
        for label, (key, value, op, limit, ok) in checks:
            lines.append(
                f"  {label:>9} {key:<16} {_fmt(value, 3):>9} {op} {_fmt(limit, 3):<9} {'ok' if ok else 'MISSED'}"
            )
    accuracy = report.get("accuracy")
    if accuracy and "error" not in accuracy:
        lines.append("")
        lines.append(f"CMRC trial accuracy ({accuracy['questions']} questions, same run):")
        for name in ("ours", "bm25s", "rapidfuzz"):
            a = accuracy[name]
            lines.append(f"  {name:<10} hit@1 {a['hit@1']:.4f}   answer in snippet {a['answer_in_snippet']:.4f}")
    elif accuracy:
        lines.append(f"accuracy: {accuracy['error']}")
    return "\n".join(lines)


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _engine_settings(config) -> dict:
    from dataclasses import asdict, is_dataclass

    engine = getattr(config, "engine", None)
    return asdict(engine) if is_dataclass(engine) else {}


def run_bench(args, config=None) -> int:
    sizes = list(args.articles) if getattr(args, "articles", None) else list(DEFAULT_SIZES)
    questions = int(getattr(args, "questions", None) or 300)
    as_json = bool(getattr(args, "json", False))
    out = Path(getattr(args, "out", None) or os.environ.get("DISTRICT_NEWS_BENCH_DIR") or ROOT / "bench-out")
    quiet = bool(getattr(args, "quiet", False))
    progress = not quiet and not bool(getattr(args, "no_progress", False))
    cold_runs = int(getattr(args, "cold_runs", None) or COLD_RUNS)
    latency_runs = getattr(args, "latency_runs", None)
    latency_runs = LATENCY_RUNS if latency_runs is None else int(latency_runs)
    engine = _engine_settings(config)
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "loadavg_start": _loadavg(),
        },
        "questions": questions,
        "seed": SEED,
        "sizes": [],
    }
    sources = None
    started = time.perf_counter()
    for n in sizes:
        if sources is None:
            sources = _Sources()
        report["sizes"].append(
            bench_size(
                int(n),
                out=out,
                questions_count=questions,
                sources=sources,
                quiet=quiet,
                progress=progress,
                engine=engine,
                cold_runs=cold_runs,
                latency_runs=latency_runs,
            )
        )
    if getattr(args, "accuracy", False):
        report["accuracy"] = bench_accuracy(out, quiet, engine)
    report["bench_seconds"] = time.perf_counter() - started
    report["machine"]["loadavg_end"] = _loadavg()
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        print(format_report(report))
    return 0
