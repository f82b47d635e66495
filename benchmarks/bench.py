"""`python -m benchmarks`: speed and scale of the engine, beside two plain baselines, in one run.

For each corpus size N (the seed pages, then synthetic corpora of N articles) it measures, for
our engine and for two baselines on the very same articles and questions:

- build: from an empty cache to a loaded index, parsing and segmentation included
  (ours: `bot.loader.load_engine` on the corpus file; baselines: jieba over every article, then the
  bm25s index or the list of segmented texts, both saved to disk);
- cache: the size on disk of what a restart reloads;
- cold start: a fresh `python -c` process, from spawn to the first answer returned (imports
  included), the median of three starts;
- peak RSS of that serving process (after the whole question set);
- answer latency, median and p99, over a fixed question set (time.perf_counter around one
  call: `Engine.answer` for ours; jieba + retrieve k=1 for the baselines, no snippet);
- for ours, adding one seed page (≈10 articles) to the loaded engine with `Engine.with_articles`, and
  reloading with `load_engine` when a new page file lies beside the cached one.

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
systems in the same run: hit@1, answer-in-snippet and answer within the snippet's first 100
characters (baselines: the best sentence by token overlap). `--json` prints every figure as one JSON object. Files go to `bench-out/` (or
$DISTRICT_NEWS_BENCH_DIR). This is a command, never a timed test.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from .accuracy import bench_accuracy, scale_accuracy
from .baselines import FUZZ_FULL_MAX, FUZZ_SAMPLE
from .children import run_child
from .common import ROOT, SEEDS_DIR, dir_size, log, read_jsonl, write_jsonl
from .report import format_report
from .synthetic import (
    GENERATOR_VERSION,
    SEED,
    Sources,
    cmrc_questions,
    generate_articles,
    make_questions,
    resident_questions,
)

DEFAULT_SIZES: tuple[int, ...] = (0, 10_000, 100_000)  # 0 = the seed pages themselves
COLD_RUNS = 3
# Latency of ours and bm25s is measured in this many fresh processes each, the two alternating
# back to back, and the median taken: one process of each, a minute apart, drifted by ±30% on
# this shared machine, more than the difference being measured.
LATENCY_RUNS = 3


def _prepare_corpus(
    n: int, out: Path, sources: Sources | None, questions_count: int
) -> tuple[Path, Path, list[str], int, Sources]:
    """(corpus path for ours, plain JSONL for the baselines, questions, article count)."""
    sources = sources or Sources()
    out.mkdir(parents=True, exist_ok=True)
    if n == 0:
        corpus = SEEDS_DIR
        records = [
            {"id": a.id, "title": a.headline, "body": a.body, "district": (a.districts or ("",))[0]}
            for a in sources.seed_articles
        ]
        plain = out / "plain.jsonl"
        write_jsonl(plain, records)
        questions = make_questions(records, questions_count, cmrc_share=0.0, residents=resident_questions())
        return corpus, plain, questions, len(records), sources
    corpus_dir = out / "corpus"
    corpus = corpus_dir / "articles.jsonl"
    stamp = out / "corpus.stamp"
    want = f"{GENERATOR_VERSION} {SEED} {n} {len(sources.seed_runs)} {len(sources.cmrc_runs)}"
    if corpus.exists() and stamp.exists() and stamp.read_text() == want:
        records = read_jsonl(corpus)
    else:
        records = generate_articles(n, sources)
        write_jsonl(corpus, records)
        stamp.write_text(want)
    questions = make_questions(records, questions_count)
    return corpus_dir, corpus, questions, len(records), sources


def bench_size(
    n: int,
    *,
    out: Path,
    questions_count: int,
    sources: Sources | None = None,
    quiet: bool = False,
    progress: bool = True,
    engine: dict | None = None,
    cold_runs: int = COLD_RUNS,
    latency_runs: int = LATENCY_RUNS,
) -> dict:
    label = "seeds" if n == 0 else f"{n:,}"
    work = out / ("seeds" if n == 0 else str(n))
    log(f"[{label}] preparing corpus and questions", quiet)
    corpus, plain, questions, count, sources = _prepare_corpus(n, work, sources, questions_count)
    # CMRC questions whose sentences went into the corpus: graded by the answer in the snippet
    # and within its first 100 characters.
    gold = {q: answers for q, _, answers in cmrc_questions() if answers}
    graded = [i for i, q in enumerate(questions) if q in gold]
    result: dict = {
        "label": label,
        "n": n,
        "articles": count,
        "questions": len(questions),
        "corpus_mb": round(dir_size(corpus) / 2**20, 2) if corpus.is_dir() else None,
        "systems": {},
    }

    # ---- ours: build from an empty cache, then cold starts and the question set
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    log(f"[{label}] ours: building the index", quiet)
    built = run_child(
        {"mode": "ours-build", "corpus": str(corpus), "cache": str(cache), "progress": progress, "engine": engine},
        work,
        show_stderr=progress and not quiet,
    )["done"]
    cache_bytes = dir_size(cache)
    cache_files = {p.name for p in cache.iterdir()} if cache.exists() else set()
    # A new page (a seed page under another file name, so its articles get new ids): added to the
    # loaded engine with Engine.with_articles, and laid beside the cached corpus for a reload.
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
    log(f"[{label}] ours: cold starts and {len(questions)} questions", quiet)
    colds = []
    serve: dict = {}
    for run in range(cold_runs):
        last = run == cold_runs - 1
        events = run_child(
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
    log(f"[{label}] baselines: jieba over {count} articles, bm25s index", quiet)
    base_dir = work / "baselines"
    shutil.rmtree(base_dir, ignore_errors=True)
    base = run_child({"mode": "base-build", "plain": str(plain), "out": str(base_dir)}, work)["done"]
    for name, folder, build_s in (
        ("bm25s", base_dir / "bm25s", base["bm25s_build_s"]),
        ("rapidfuzz", base_dir / "rapidfuzz", base["rapidfuzz_build_s"]),
    ):
        sample = None if (name == "bm25s" or count <= FUZZ_FULL_MAX) else FUZZ_SAMPLE
        log(f"[{label}] {name}: cold starts and {sample or len(questions)} questions", quiet)
        colds = []
        done: dict = {}
        for run in range(cold_runs):
            last = run == cold_runs - 1
            events = run_child(
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
            "cache_mb": dir_size(folder) / 2**20,
            "cold_s": statistics.median(colds),
            "cold_runs": colds,
            "rss_mb": done["rss"] / 2**20,
            **done["latency"],
            "sampled": sample is not None,
        }
    _latency_runs(result, work, questions, corpus, cache, base_dir / "bm25s", engine, quiet, latency_runs)
    log(f"[{label}] ours and bm25s taking turns in one process", quiet)
    result["paired"] = run_child(
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
        result["scale_accuracy"] = scale_accuracy(
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
    log(f"[{result['label']}] ours and bm25s alternating, {runs} more latency runs each", quiet)
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
            measured[name].append(run_child(specs[name], work)["done"]["latency"])
    for name, values in measured.items():
        system = result["systems"][name]
        system["latency_runs"] = [v["p50_ms"] for v in values]
        system["p50_ms"] = statistics.median(v["p50_ms"] for v in values)
        system["p99_ms"] = statistics.median(v["p99_ms"] for v in values)


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
            sources = Sources()
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
