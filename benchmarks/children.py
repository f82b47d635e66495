"""The measuring child processes, and the parent side that runs them.

Every system is measured in fresh `python -c` processes: the parent writes a spec file,
the child prints JSON lines ({"event": "ready"} after its first answer, then {"event": "done"}).
The child imports `benchmarks.children`: it runs with the repository root as its working
directory and on PYTHONPATH, so `benchmarks` and `bot` come from this checkout.

While a child runs, the parent samples the resident memory of the child and of every process
under it (worker processes of a build) four times a second: `tree_rss` is the peak of that sum,
beside the child's own peak (VmHWM, exact, but blind to workers).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from .baselines import bm25s_searcher, fuzz_searcher, jieba_all, tantivy_build, tantivy_searcher
from .common import ROOT, read_jsonl

_CHILD = (
    "import time; T0 = time.perf_counter()\n"
    "import sys\n"
    "from benchmarks.children import child_main\n"
    "child_main(sys.argv[1], T0)\n"
)


def _emit(event: str, **values) -> None:
    sys.stdout.write(json.dumps({"event": event, **values}, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes: VmHWM, the high-water mark of this
    process's own address space.

    Not `ru_maxrss`: Linux carries it over an exec, and the parent spawns children with vfork, so
    a child's ru_maxrss starts at the parent's peak (the bench process's, with its corpus and
    sources: the baselines' RSS at 100k read 443 MB for that reason before).
    """
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _article_count(engine) -> int | None:
    report = getattr(engine, "report", None)
    try:
        return len(engine.articles)
    except (AttributeError, TypeError):
        return getattr(report, "articles", None)


def child_main(spec_path: str, t0: float) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    {
        "ours-build": _ours_build,
        "ours-serve": _ours_serve,
        "base-build": _base_build,
        "bm25s-serve": _bm25s_serve,
        "rapidfuzz-serve": _fuzz_serve,
        "tantivy-build": _tantivy_build,
        "tantivy-serve": _tantivy_serve,
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


def load_ours(spec: dict, corpus: Path, progress=None):
    """The engine as the product loads it: its settings (config/bot.yaml `engine:`), the cache given."""
    from dataclasses import fields

    from bot.config import EngineSettings
    from bot.loader import load_engine

    known = {f.name for f in fields(EngineSettings)}
    values = {k: v for k, v in (spec.get("engine") or {}).items() if k in known}
    return load_engine(corpus, cache_dir=Path(spec["cache"]), settings=EngineSettings(**values), progress=progress)


def _ours_build(spec: dict, t0: float) -> None:
    progress = None
    if spec.get("progress"):
        from tqdm import tqdm

        def progress(name: str, total: int):
            if total < 2000:
                return None
            bar = tqdm(total=total, desc=f"indexing {name}", unit="art", leave=False, file=sys.stderr, mininterval=1.0)
            return bar.update

    started = time.perf_counter()
    engine = load_ours(spec, Path(spec["corpus"]), progress)
    seconds = time.perf_counter() - started
    _emit(
        "done",
        build_s=seconds,
        articles=_article_count(engine),
        built=engine.report.built,
        errors=engine.report.errors,
        rss=_peak_rss(),
    )


def _ours_serve(spec: dict, t0: float) -> None:
    engine = load_ours(spec, Path(spec["corpus"]))
    loaded = time.perf_counter() - t0
    questions = spec["questions"]
    engine.answer(questions[0])
    _emit(
        "ready",
        loaded_s=loaded,
        first_s=time.perf_counter() - t0,
        cached=engine.report.cached,
        built=engine.report.built,
        articles=_article_count(engine),
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
    result = {
        "latency": _percentiles(times),
        "latency_second_pass": _percentiles(again),
        "rss": rss,
        "answered_of_50": found,
        "search_only": _search_only(engine, questions),
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
        engine, added = engine.with_articles(articles)
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
        reloaded = load_ours(spec, Path(spec["corpus_plus"]))
        result["reload_plus_page"] = {
            "seconds": time.perf_counter() - started,
            "cached": reloaded.report.cached,
            "built": reloaded.report.built,
            "articles": _article_count(reloaded),
        }
    _emit("done", **result)


def _search_only(engine, questions: list[str]) -> dict | None:
    """The index alone (what the baselines do): the question's terms, then BM25 top candidates.
    None when the engine has no such parts (they are internals, not the API the bench relies on)."""
    try:
        depth = engine.rerank_depth
        terms = [engine.analyzer.question_terms(q)[1] for q in questions]
        return _percentiles(_time_each(lambda t: engine.index.search(t, k=depth), terms))
    except (AttributeError, TypeError):
        return None


def _base_build(spec: dict, t0: float) -> None:
    import pickle

    import bm25s

    records = read_jsonl(Path(spec["plain"]))
    texts = [f"{r['title']}\n{r['body']}" for r in records]
    ids = [r["id"] for r in records]
    del records
    out = Path(spec["out"])
    started = time.perf_counter()
    tokens = jieba_all(texts)
    tokenize_s = time.perf_counter() - started

    fuzz_s = None
    if spec.get("rapidfuzz", True):
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
        rapidfuzz_build_s=None if fuzz_s is None else tokenize_s + fuzz_s,
        bm25s_build_s=tokenize_s + bm25_s,
        rss=_peak_rss(),
    )


def _tantivy_build(spec: dict, t0: float) -> None:
    tick = None
    total = int(spec.get("total") or 0)
    if spec.get("progress") and total >= 2000:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="tantivy", unit="art", leave=False, file=sys.stderr, mininterval=1.0)
        tick = bar.update
    figures = tantivy_build(Path(spec["plain"]), Path(spec["out"]), tick=tick)
    _emit("done", **figures, rss=_peak_rss())


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
    engine = load_ours(spec, Path(spec["corpus"]))
    search = bm25s_searcher(Path(spec["index"]))
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
    _base_serve(spec, t0, bm25s_searcher)


def _fuzz_serve(spec: dict, t0: float) -> None:
    _base_serve(spec, t0, fuzz_searcher)


def _tantivy_serve(spec: dict, t0: float) -> None:
    _base_serve(spec, t0, tantivy_searcher)


class ChildError(RuntimeError):
    pass


def _parents() -> dict[int, int]:
    """pid → parent pid of every process (this kernel has no /proc/PID/task/TID/children)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
            out[int(name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, summed (pages two of them share,
    e.g. after a fork, are counted in each: an upper bound)."""
    parents = _parents()
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(_rss_of(p) for p in tree)


class TreeSampler(threading.Thread):
    """Samples `tree_rss(pid)` every `interval` seconds until stopped; `peak` is the largest."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def run_child(spec: dict, work: Path, *, show_stderr: bool = False) -> dict:
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
    sampler = TreeSampler(proc.pid)
    sampler.start()
    events: dict[str, dict] = {}
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event.get("event") == "ready":
                event["wall_s"] = time.perf_counter() - started
            event["tree_rss"] = sampler.peak  # the peak so far: of the build, or of start-up
            events[event["event"]] = event
        stderr = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
    finally:
        peak = sampler.stop()
    if code != 0:
        raise ChildError(f"bench child {spec['mode']} failed ({code}):\n{stderr[-3000:]}")
    if "done" in events:  # the sampler's peak can lag the child's own exact one by a sample
        events["done"]["tree_rss"] = max(peak, events["done"].get("rss") or 0)
    return events
