"""The printed table, ratios and issue 5 bars, all from the report dict (`--json` prints that dict)."""

from __future__ import annotations

from .baselines import FUZZ_SAMPLE
from .synthetic import SEED

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
                f"  {result['label']:>9}: Engine.with_articles of {add['articles']} articles {add['seconds'] * 1000:.1f} ms "
                f"(found after add: {add['found_after_add']}, p50 after {add['latency_after_add']['p50_ms']:.3f} ms); "
                f"load_engine with a new page beside the cache {reload['seconds']:.2f} s "
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
            "answer in snippet / within its first 100 chars, CMRC questions over the same corpus "
            "(ours: the answer's snippet; bm25s: best sentence of its top article, cut to 100 for the second):"
        )
        for result in scaled:
            acc = result["scale_accuracy"]
            lines.append(
                f"  {result['label']:>9}: {acc['questions']} questions   ours {acc['ours']:.3f} / "
                f"{acc.get('ours_first_100', 0.0):.3f}   bm25s {acc['bm25s']:.3f} / {acc.get('bm25s_first_100', 0.0):.3f}"
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
            lines.append(
                f"  {name:<10} hit@1 {a['hit@1']:.4f}   answer in snippet {a['answer_in_snippet']:.4f}"
                f"   in its first 100 chars {a.get('answer_in_first_100', 0.0):.4f}"
            )
    elif accuracy:
        lines.append(f"accuracy: {accuracy['error']}")
    return "\n".join(lines)
