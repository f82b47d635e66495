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
Both tokenize with jieba on 2 worker processes, like our build.
(c) `tantivy` (tantivy-py): the corpus streamed through rjieba (jieba's tokens) on 2 worker
processes into a whitespace-tokenized index on disk, 2 indexing threads; searched memory-mapped,
OR of the question's terms, top-1 (benchmarks/baselines.py).

At N ≥ 500,000 (`--articles 1000000`): bm25s holds every token list and its matrix in memory and
cannot index a million here, so it is measured at 100,000 (the 100k corpus is the first 100,000
articles of any larger one; its figures are reused when 100k ran in the same run, and the table
labels the row); rapidfuzz is left out; Tantivy runs at N. The corpus file is written streaming
(never all N articles in memory) and questions are made from it by offset. Build peak RSS is the
building process with its worker processes (their resident memory summed, sampled 4× a second).
`--systems` runs only some of ours, bm25s, rapidfuzz, tantivy (e.g. Tantivy alone at 1M).

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
from .common import ROOT, SEEDS_DIR, JsonlRecords, dir_size, log, write_jsonl
from .report import add_checks, format_report, growth
from .synthetic import (
    GENERATOR_VERSION,
    SEED,
    Sources,
    cmrc_questions,
    iter_articles,
    make_questions,
    resident_questions,
)

DEFAULT_SIZES: tuple[int, ...] = (0, 10_000, 100_000)  # 0 = the seed pages themselves
SYSTEMS: tuple[str, ...] = ("ours", "bm25s", "rapidfuzz", "tantivy")
BIG_N = 500_000  # from this size on: bm25s at BM25S_BIG_N, no rapidfuzz
BM25S_BIG_N = 100_000
COLD_RUNS = 3
# Latency of ours and the baselines measured at N (bm25s, tantivy) is measured in this many more
# fresh processes each, taking turns back to back, and the median taken: one process of each, a
# minute apart, drifted by ±30% on this shared machine, more than the difference being measured.
LATENCY_RUNS = 3


def _prepare_corpus(
    n: int, out: Path, sources: Sources | None, questions_count: int, quiet: bool = True
) -> tuple[Path, Path, list[str], int, Sources, float | None]:
    """(corpus path for ours, plain JSONL for the baselines, questions, article count, sources,
    seconds spent generating the corpus or None when the stamped one was reused)."""
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
        return corpus, plain, questions, len(records), sources, None
    corpus_dir = out / "corpus"
    corpus = corpus_dir / "articles.jsonl"
    stamp = out / "corpus.stamp"
    want = f"{GENERATOR_VERSION} {SEED} {n} {len(sources.seed_runs)} {len(sources.cmrc_runs)}"
    generate_s = None
    if not (corpus.exists() and stamp.exists() and stamp.read_text() == want):
        stamp.unlink(missing_ok=True)
        log(f"  generating {n:,} articles into {corpus}", quiet)
        started = time.perf_counter()
        write_jsonl(corpus, iter_articles(n, sources), total=n if n >= 100_000 else 0, quiet=quiet)
        generate_s = time.perf_counter() - started
        stamp.write_text(want)
    records = JsonlRecords(corpus)  # line offsets only: questions read the few articles they use
    questions = make_questions(records, questions_count)
    return corpus_dir, corpus, questions, len(records), sources, generate_s


def _serve_runs(spec: dict, work: Path, cold_runs: int) -> tuple[list[float], dict]:
    """`cold_runs` fresh serving processes (spawn → first answer each); the last one also runs
    the question set. Returns the cold-start times and the last one's `done` (with its `ready`)."""
    colds = []
    done: dict = {}
    for run in range(cold_runs):
        last = run == cold_runs - 1
        events = run_child({**spec, **({} if last else _first_only(spec))}, work)
        colds.append(events["ready"]["wall_s"])
        if last:
            done = events.get("done") or {}
            done["ready"] = events["ready"]
    return colds, done


def _first_only(spec: dict) -> dict:
    return {"latency": False, "graded": [], "add_page": None}


def _bench_ours(
    label: str, work: Path, corpus: Path, questions: list[str], graded: list[int], *, engine, progress, quiet, cold_runs
) -> tuple[dict, dict, dict]:
    """Ours: build from an empty cache, then cold starts and the question set, then a page added."""
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
    colds, serve = _serve_runs(
        {
            "mode": "ours-serve",
            "corpus": str(corpus),
            "cache": str(cache),
            "engine": engine,
            "questions": questions,
            "latency": True,
            "graded": graded,
            "add_page": str(add_page),
            "corpus_plus": str(plus),
        },
        work,
        cold_runs,
    )
    if cache.exists():
        for path in cache.iterdir():  # segments written by the reload-with-a-page run
            if path.name not in cache_files:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    ours = {
        "build_s": built["build_s"],
        # The building process with its workers (sampled sum), never less than its own exact peak.
        "build_rss_mb": max(built.get("tree_rss") or 0, built["rss"]) / 2**20,
        "build_rss_self_mb": built["rss"] / 2**20,
        "cache_mb": cache_bytes / 2**20,
        "cold_s": statistics.median(colds),
        "cold_runs": colds,
        "loaded_s": serve["ready"].get("loaded_s"),
        "rss_mb": serve["rss"] / 2**20,
        **serve["latency"],
        "answered_of_50": serve.get("answered_of_50"),
        "second_pass": serve.get("latency_second_pass"),
        "search_only": serve.get("search_only"),
        "n": None,
    }
    incremental = {
        "add": serve.get("add"),
        "reload_plus_page": serve.get("reload_plus_page"),
        "note": "one seed page (new file name, new ids) added to the loaded engine",
    }
    return ours, incremental, serve


def _bench_tantivy(
    label: str,
    work: Path,
    plain: Path,
    count: int,
    questions: list[str],
    graded: list[int],
    *,
    progress,
    quiet,
    cold_runs,
) -> tuple[dict, list]:
    folder = work / "baselines" / "tantivy"
    shutil.rmtree(folder, ignore_errors=True)
    log(f"[{label}] tantivy: rjieba over {count:,} articles (2 processes), index (2 threads)", quiet)
    built = run_child(
        {"mode": "tantivy-build", "plain": str(plain), "out": str(folder), "total": count, "progress": progress},
        work,
        show_stderr=progress and not quiet,
    )["done"]
    log(f"[{label}] tantivy: cold starts and {len(questions)} questions", quiet)
    colds, done = _serve_runs(
        {"mode": "tantivy-serve", "index": str(folder), "questions": questions, "latency": True, "graded": graded},
        work,
        cold_runs,
    )
    figures = {
        "build_s": built["build_s"],
        "build_rss_mb": max(built.get("tree_rss") or 0, built["rss"]) / 2**20,
        "build_rss_self_mb": built["rss"] / 2**20,
        "cache_mb": dir_size(folder) / 2**20,
        "cold_s": statistics.median(colds),
        "cold_runs": colds,
        "rss_mb": done["rss"] / 2**20,
        **done["latency"],
        "segments": built.get("segments"),
        "docs": built.get("docs"),
        "n": None,
    }
    return figures, done.get("picks") or []


def _bench_bm25s_rapidfuzz(
    label: str,
    work: Path,
    plain: Path,
    count: int,
    questions: list[str],
    graded: list[int],
    names: list[str],
    *,
    quiet: bool,
    cold_runs: int,
) -> tuple[dict, list]:
    """bm25s and/or rapidfuzz over `plain` (jieba once on 2 processes, then each index)."""
    log(f"[{label}] baselines: jieba over {count:,} articles, {' and '.join(names)}", quiet)
    base_dir = work / "baselines"
    for name in ("bm25s", "rapidfuzz"):
        shutil.rmtree(base_dir / name, ignore_errors=True)
    base = run_child(
        {"mode": "base-build", "plain": str(plain), "out": str(base_dir), "rapidfuzz": "rapidfuzz" in names}, work
    )["done"]
    systems: dict = {}
    picks: list = []
    for name in names:
        folder = base_dir / name
        sample = None if (name == "bm25s" or count <= FUZZ_FULL_MAX) else FUZZ_SAMPLE
        log(f"[{label}] {name}: cold starts and {sample or len(questions)} questions", quiet)
        colds, done = _serve_runs(
            {
                "mode": f"{name}-serve",
                "index": str(folder),
                "questions": questions,
                "graded": graded if name == "bm25s" else [],
                "latency": True,
                "sample": sample,
            },
            work,
            cold_runs,
        )
        if name == "bm25s":
            picks = done.get("picks") or []
        systems[name] = {
            "build_s": base[f"{name}_build_s"],
            "build_rss_mb": max(base.get("tree_rss") or 0, base["rss"]) / 2**20,
            "build_rss_self_mb": base["rss"] / 2**20,
            "cache_mb": dir_size(folder) / 2**20,
            "cold_s": statistics.median(colds),
            "cold_runs": colds,
            "rss_mb": done["rss"] / 2**20,
            **done["latency"],
            "sampled": sample is not None,
            "n": None,
        }
    return systems, picks


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
    systems: tuple[str, ...] = SYSTEMS,
    earlier: dict[int, dict] | None = None,
) -> dict:
    """Every figure of one corpus size. `earlier`: results of smaller sizes of this run by N (a
    big N reuses bm25s's figures at 100,000 from there)."""
    label = "seeds" if n == 0 else f"{n:,}"
    work = out / ("seeds" if n == 0 else str(n))
    log(f"[{label}] preparing corpus and questions", quiet)
    corpus, plain, questions, count, sources, generate_s = _prepare_corpus(n, work, sources, questions_count, quiet)
    # CMRC questions whose sentences went into the corpus: graded by the answer in the snippet
    # and within its first 100 characters.
    gold = {q: answers for q, _, answers in cmrc_questions() if answers}
    graded = [i for i, q in enumerate(questions) if q in gold]
    big = n >= BIG_N
    result: dict = {
        "label": label,
        "n": n,
        "articles": count,
        "questions": len(questions),
        "corpus_mb": round(dir_size(corpus) / 2**20, 2) if corpus.is_dir() else None,
        "corpus_generate_s": generate_s,
        "systems": {},
    }
    picks: dict[str, list] = {}
    serve: dict = {}
    cache = work / "cache"
    if "ours" in systems:
        ours, result["incremental"], serve = _bench_ours(
            label,
            work,
            corpus,
            questions,
            graded,
            engine=engine,
            progress=progress,
            quiet=quiet,
            cold_runs=cold_runs,
        )
        result["systems"]["ours"] = ours
    if "tantivy" in systems:
        result["systems"]["tantivy"], picks["tantivy"] = _bench_tantivy(
            label, work, plain, count, questions, graded, progress=progress, quiet=quiet, cold_runs=cold_runs
        )
    names = [name for name in ("bm25s", "rapidfuzz") if name in systems and not (big and name == "rapidfuzz")]
    if names and not big:
        found, picks["bm25s"] = _bench_bm25s_rapidfuzz(
            label, work, plain, count, questions, graded, names, quiet=quiet, cold_runs=cold_runs
        )
        result["systems"].update(found)
        if "bm25s" not in names:
            del picks["bm25s"]
    elif names:  # bm25s cannot hold N here: measured at BM25S_BIG_N, labelled so
        reuse = (earlier or {}).get(BM25S_BIG_N, {}).get("systems", {}).get("bm25s")
        if reuse is not None:
            log(f"[{label}] bm25s: the {BM25S_BIG_N:,} figures of this run", quiet)
            result["systems"]["bm25s"] = {**reuse, "n": BM25S_BIG_N}
        else:
            small = out / str(BM25S_BIG_N)
            log(f"[{label}] bm25s at {BM25S_BIG_N:,}: preparing that corpus", quiet)
            _, plain_small, questions_small, count_small, sources, _ = _prepare_corpus(
                BM25S_BIG_N, small, sources, questions_count, quiet
            )
            found, _ = _bench_bm25s_rapidfuzz(
                f"{label} (bm25s at {BM25S_BIG_N:,})",
                small,
                plain_small,
                count_small,
                questions_small,
                [],
                ["bm25s"],
                quiet=quiet,
                cold_runs=cold_runs,
            )
            result["systems"]["bm25s"] = {**found["bm25s"], "n": BM25S_BIG_N}
    # Systems measured on this very corpus, timed again taking turns.
    at_n = [name for name in ("ours", "bm25s", "tantivy") if name in result["systems"]]
    at_n = [name for name in at_n if not result["systems"][name].get("n")]
    if latency_runs and at_n:
        rivals = {
            "bm25s": {
                "mode": "bm25s-serve",
                "index": str(work / "baselines" / "bm25s"),
                "questions": questions,
                "latency": True,
            },
            "tantivy": {
                "mode": "tantivy-serve",
                "index": str(work / "baselines" / "tantivy"),
                "questions": questions,
                "latency": True,
            },
            "ours": {
                "mode": "ours-serve",
                "corpus": str(corpus),
                "cache": str(cache),
                "engine": engine,
                "questions": questions,
                "latency": True,
                "latency_only": True,
            },
        }
        _latency_runs(result, work, {name: rivals[name] for name in at_n}, quiet, latency_runs)
    if "ours" in at_n and "bm25s" in at_n:
        log(f"[{label}] ours and bm25s taking turns in one process", quiet)
        result["paired"] = run_child(
            {
                "mode": "paired",
                "corpus": str(corpus),
                "cache": str(cache),
                "engine": engine,
                "index": str(work / "baselines" / "bm25s"),
                "questions": questions,
            },
            work,
        )["done"]
    if graded and picks:
        result["scale_accuracy"] = scale_accuracy(
            questions, graded, gold, serve.get("snippets") if serve else None, picks, plain
        )
    ours_figures = result["systems"].get("ours")
    if ours_figures:
        result["ratios"] = {
            name: {
                key: (figures[key] / ours_figures[key]) if ours_figures[key] and figures[key] is not None else None
                for key in ("p50_ms", "p99_ms", "build_s", "cold_s", "rss_mb")
            }
            for name, figures in result["systems"].items()
            if name != "ours" and not figures.get("n")
        }
    return result


def _latency_runs(result: dict, work: Path, specs: dict[str, dict], quiet: bool, runs: int = LATENCY_RUNS) -> None:
    """The systems timed again in fresh processes, taking turns (who goes first rotates); each
    system's p50 and p99 become the medians over all its runs, the first included."""
    names = list(specs)
    log(f"[{result['label']}] {', '.join(names)} taking turns, {runs} more latency runs each", quiet)
    measured = {name: [{key: result["systems"][name][key] for key in ("p50_ms", "p99_ms")}] for name in specs}
    for run in range(runs):
        for name in turn_order(names, run):
            measured[name].append(run_child(specs[name], work)["done"]["latency"])
    for name, values in measured.items():
        system = result["systems"][name]
        system["latency_runs"] = [v["p50_ms"] for v in values]
        system["p50_ms"] = statistics.median(v["p50_ms"] for v in values)
        system["p99_ms"] = statistics.median(v["p99_ms"] for v in values)


def turn_order(names: list[str], run: int) -> list[str]:
    """Who runs when in latency run `run`: the first place rotates, so that no system always runs
    first or always right after another (the machine's speed drifts over a run); with three or
    more, every other run also reverses who follows whom."""
    shift = run % len(names)
    order = names[shift:] + names[:shift]
    return order[::-1] if len(names) > 2 and run % 2 else order


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
    given = getattr(args, "articles", None)
    sizes = sorted({int(n) for n in given}) if given else list(DEFAULT_SIZES)
    systems = tuple(getattr(args, "systems", None) or SYSTEMS)
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
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
        "generator": GENERATOR_VERSION,
        "systems": list(systems),
        "sizes": [],
    }
    sources = None
    started = time.perf_counter()
    done: dict[int, dict] = {}
    for n in sizes:
        if sources is None:
            sources = Sources()
        done[n] = bench_size(
            n,
            out=out,
            questions_count=questions,
            sources=sources,
            quiet=quiet,
            progress=progress,
            engine=engine,
            cold_runs=cold_runs,
            latency_runs=latency_runs,
            systems=systems,
            earlier=done,
        )
        report["sizes"].append(done[n])
    report["growth"] = growth(report)
    add_checks(report)
    if getattr(args, "accuracy", False):
        report["accuracy"] = bench_accuracy(out, quiet, engine)
    report["bench_seconds"] = time.perf_counter() - started
    report["machine"]["loadavg_end"] = _loadavg()
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        print(format_report(report))
    return 0
