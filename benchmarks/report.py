"""The printed table, ratios and issue 5 bars, all from the report dict (`--json` prints that dict)."""

from __future__ import annotations

import itertools

from .baselines import FUZZ_SAMPLE
from .synthetic import SEED

BARS = {  # issue 5, medians on the 2-core machine
    100_000: {"p99_ms": 20.0, "p50_ms": 5.0, "cold_s": 3.0, "rss_mb": 2048.0, "build_s": 300.0},
    0: {"cold_s": 2.0, "p50_ms": 2.0},
}
# Issue 14 (a million articles on a 2-core machine). MB are MiB, as everywhere in this report.
BARS_14 = {
    1_000_000: {
        "p50_ms": 2.0,
        "p99_ms": 20.0,
        "rss_mb": 3072.0,
        "cold_s": 5.0,
        "build_s": 900.0,
        "build_rss_mb": 4096.0,
        "add_page_s": 0.2,
    },
    100_000: {"rss_mb": 600.0, "cold_s": 1.5},
}
SYSTEM_ORDER = ("ours", "tantivy", "bm25s", "rapidfuzz")


def _check(key: str, value: float | None, op: str, limit: float) -> dict:
    ok = value is not None and (value <= limit if op == "≤" else value >= limit)
    return {"key": key, "value": value, "op": op, "limit": limit, "ok": ok}


def _bars(result: dict) -> list[dict]:
    """Issue 5's bars for ours at this size (none without ours)."""
    bars = BARS.get(result["n"])
    ours = result["systems"].get("ours")
    if not bars or not ours:
        return []
    checks = [_check(key, ours[key], "≤", limit) for key, limit in bars.items()]
    if result["n"] == 100_000:
        checks.append(_check("build_rss_mb", ours["build_rss_mb"], "≤", 2048.0))
        add = (result.get("incremental") or {}).get("add") or {}
        if add:
            checks.append(_check("add_page_s", add["seconds"], "≤", 1.0))
        bm25 = result["systems"].get("bm25s")
        if bm25 and not bm25.get("n"):
            checks.append(_check("p50 vs bm25s", ours["p50_ms"], "≤", bm25["p50_ms"]))
        turns = result.get("paired")
        if turns:  # the same comparison with both measured at the same moments
            checks.append(_check("p50 vs bm25s, turns", turns["ours"]["p50_ms"], "≤", turns["bm25s"]["p50_ms"]))
        acc = result.get("scale_accuracy")
        if acc and "ours" in acc and "bm25s" in acc:  # "while more accurate"
            checks.append(_check("snippet vs bm25s", acc["ours"], "≥", acc["bm25s"]))
    return checks


def _bars_14(result: dict) -> list[dict]:
    """Issue 14's bars for ours at 1,000,000 and 100,000 articles."""
    bars = BARS_14.get(result["n"])
    ours = result["systems"].get("ours")
    if not bars or not ours:
        return []
    add = ((result.get("incremental") or {}).get("add") or {}).get("seconds")
    return [_check(key, add if key == "add_page_s" else ours.get(key), "≤", limit) for key, limit in bars.items()]


def add_checks(report: dict) -> None:
    """Each size's bar checks, into the report (so `--json` carries them too)."""
    for result in report["sizes"]:
        result["checks"] = {"issue5": _bars(result), "issue14": _bars_14(result)}


def growth(report: dict) -> dict:
    """How each figure grows with N, per system measured at N, over the synthetic sizes.

    `per_article`: cache and peak RSS over the article count at each size; `steps`: between
    each pair of consecutive sizes (and smallest → largest when there are more than two), the
    cost of each added article (build ms, cache and RSS KB, cold start µs) and the latency ratios.
    """
    sized = [r for r in report["sizes"] if r["n"] > 0]
    per_article = []
    for result in sized:
        for name, s in result["systems"].items():
            if s.get("n"):
                continue
            per_article.append(
                {
                    "n": result["n"],
                    "system": name,
                    "build_ms": 1000 * s["build_s"] / result["articles"],
                    "cache_kb": 1024 * s["cache_mb"] / result["articles"],
                    "rss_kb": 1024 * s["rss_mb"] / result["articles"],
                    "build_rss_kb": 1024 * s["build_rss_mb"] / result["articles"],
                }
            )
    pairs = list(itertools.pairwise(sized))
    if len(sized) > 2:
        pairs.append((sized[0], sized[-1]))
    steps = []
    for small, large in pairs:
        added = large["articles"] - small["articles"]
        if added <= 0:
            continue
        for name in SYSTEM_ORDER:
            a, b = small["systems"].get(name), large["systems"].get(name)
            if not a or not b or a.get("n") or b.get("n"):
                continue

            def per(key: str, scale: float, a=a, b=b, added=added) -> float:
                return scale * (b[key] - a[key]) / added

            def ratio(key: str, a=a, b=b) -> float | None:
                return b[key] / a[key] if a.get(key) and b.get(key) is not None else None

            steps.append(
                {
                    "from": small["n"],
                    "to": large["n"],
                    "system": name,
                    "build_ms_per_article": per("build_s", 1000),
                    "cache_kb_per_article": per("cache_mb", 1024),
                    "rss_kb_per_article": per("rss_mb", 1024),
                    "build_rss_kb_per_article": per("build_rss_mb", 1024),
                    "cold_us_per_article": per("cold_s", 1e6),
                    "p50_ratio": ratio("p50_ms"),
                    "p99_ratio": ratio("p99_ms"),
                }
            )
    return {"per_article": per_article, "steps": steps}


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:+,.{digits}f}"


def _system_label(name: str, s: dict) -> str:
    at = s.get("n")
    return f"{name}@{at // 1000}k" if at and at % 1000 == 0 else (f"{name}@{at}" if at else name)


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
        first = True
        for name in SYSTEM_ORDER:
            s = result["systems"].get(name)
            if not s:
                continue
            timed = f"{s['timed']}" + ("*" if s.get("sampled") else "")
            lines.append(
                f"{result['label'] if first else '':>9} {_system_label(name, s):<10} {_fmt(s['build_s']):>8} "
                f"{_fmt(s['build_rss_mb'], 0):>9} "
                f"{_fmt(s['cache_mb'], 1):>9} {_fmt(s['cold_s']):>7} {_fmt(s['rss_mb'], 0):>7} "
                f"{_fmt(s['p50_ms'], 3):>8} {_fmt(s['p99_ms'], 3):>8} {timed:>6}"
            )
            first = False
    if any(s.get("sampled") for r in report["sizes"] for s in r["systems"].values()):
        lines.append(f"* rapidfuzz: only the first {FUZZ_SAMPLE} questions timed (seconds each at this size).")
    reused = sorted({s["n"] for r in report["sizes"] for s in r["systems"].values() if s.get("n")})
    for at in reused:
        lines.append(
            f"{_system_label('bm25s', {'n': at})}: bm25s measured on the {at:,}-article corpus (its own questions), not at N: "
            "it holds every token list and its score matrix in memory and cannot index a million here; "
            "rapidfuzz (seconds a question at 100k) is left out at N ≥ 500,000."
        )
    lines.append(
        "build: empty cache to loaded index (parse + segmentation + save); build MB: its peak RSS, the "
        "building process and its worker processes summed (sampled 4×/s; baselines: jieba for bm25s and "
        "rapidfuzz, rjieba for tantivy, on 2 processes); cold: spawn of a fresh `python -c` to the first "
        "answer, median of the runs (page cache warm); RSS: peak of the serving process after all questions (its VmHWM); "
        "latency: one call each (ours: Engine.answer with snippet; baselines: tokenize + top-1, no snippet); "
        "ours and the baselines at N: the median of their fresh processes, run taking turns (below)."
    )
    segments = [(r["label"], r["systems"]["tantivy"]) for r in report["sizes"] if "tantivy" in r["systems"]]
    if segments:
        lines.append(
            "tantivy: rjieba tokens (jieba's), whitespace tokenizer, term frequencies without positions, "
            "2 indexing threads, 256 MB writer heap, default merge policy; searched memory-mapped, OR of the "
            "question's terms, top-1 with its stored id. Segments after build: "
            + ", ".join(f"{label} {s.get('segments')}" for label, s in segments)
            + "."
        )
    ratios = [r for r in report["sizes"] if r.get("ratios")]
    if ratios:
        lines.append("")
        lines.append("ratios (baseline / ours; > 1 means ours is faster or smaller):")
        for result in ratios:
            for name, ratio in result["ratios"].items():
                parts = "  ".join(
                    f"{key.replace('_ms', '').replace('_s', '').replace('_mb', '')} "
                    f"{_fmt(value, 2) if value is not None else '-'}×"
                    for key, value in ratio.items()
                )
                lines.append(f"  {result['label']:>9} vs {name:<10} {parts}")
    grown = report.get("growth") or {}
    if grown.get("steps"):
        lines.append("")
        lines.append("how it grows with N — per article at each size:")
        for row in grown["per_article"]:
            lines.append(
                f"  {row['n']:>9,} {row['system']:<10} build {row['build_ms']:.3f} ms   cache {row['cache_kb']:.2f} KB"
                f"   RSS {row['rss_kb']:.2f} KB   build RSS {row['build_rss_kb']:.2f} KB"
            )
        lines.append("each article added between two sizes (latency: the ratio of the two):")
        for row in grown["steps"]:
            span = f"{row['from']:,} → {row['to']:,}"
            lines.append(
                f"  {span:>21} {row['system']:<10} build {_signed(row['build_ms_per_article'], 3)} ms   cache "
                f"{_signed(row['cache_kb_per_article'], 2)} KB   RSS {_signed(row['rss_kb_per_article'], 2)} KB   build RSS "
                f"{_signed(row['build_rss_kb_per_article'], 2)} KB   cold {_signed(row['cold_us_per_article'], 2)} µs   "
                f"p50 ×{_fmt(row['p50_ratio'], 2)}  p99 ×{_fmt(row['p99_ratio'], 2)}"
            )
    times = [r for r in report["sizes"] if ((r["systems"].get("ours") or {}).get("second_pass") or {}).get("p50_ms")]
    if times:
        lines.append("")
        lines.append("ours, where the time goes (p50 / p99 ms):")
        for result in times:
            ours = result["systems"]["ours"]
            second = ours["second_pass"]
            search = ours.get("search_only") or {}
            lines.append(
                f"  {result['label']:>9}: answer {ours['p50_ms']:.3f} / {ours['p99_ms']:.3f}   "
                f"same questions again (articles already analysed) {second['p50_ms']:.3f} / "
                f"{second['p99_ms']:.3f}   index.search alone (top candidates, no snippet) "
                f"{_fmt(search.get('p50_ms'), 3)} / {_fmt(search.get('p99_ms'), 3)}"
            )
    added = [r for r in report["sizes"] if (r.get("incremental") or {}).get("add")]
    if added:
        lines.append("")
        lines.append("incremental (ours):")
        for result in added:
            inc = result["incremental"]
            add, reload = inc["add"], inc.get("reload_plus_page") or {}
            lines.append(
                f"  {result['label']:>9}: Engine.with_articles of {add['articles']} articles {add['seconds'] * 1000:.1f} ms "
                f"(found after add: {add['found_after_add']}, p50 after {add['latency_after_add']['p50_ms']:.3f} ms); "
                f"load_engine with a new page beside the cache {_fmt(reload.get('seconds'))} s "
                f"({reload.get('cached')} cached + {reload.get('built')} built)"
            )
    runs = [
        r
        for r in report["sizes"]
        if any(len(s.get("latency_runs") or []) > 1 and not s.get("n") for s in r["systems"].values())
    ]
    if runs:
        lines.append("")
        lines.append("p50 ms of each fresh process (systems taking turns; the table has the medians):")
        for result in runs:
            parts = [
                f"{name} " + ", ".join(f"{v:.3f}" for v in result["systems"][name]["latency_runs"])
                for name in SYSTEM_ORDER
                if result["systems"].get(name, {}).get("latency_runs") and not result["systems"][name].get("n")
            ]
            lines.append(f"  {result['label']:>9}: " + "   ".join(parts))
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
            "(ours: the answer's snippet; baselines: best sentence of their top article, cut to 100 for the second):"
        )
        for result in scaled:
            acc = result["scale_accuracy"]
            parts = [
                f"{name} {acc[name]:.3f} / {acc.get(f'{name}_first_100', 0.0):.3f}"
                for name in SYSTEM_ORDER
                if name in acc
            ]
            lines.append(f"  {result['label']:>9}: {acc['questions']} questions   " + "   ".join(parts))
    for issue, title in (("issue5", "issue 5 bars (ours)"), ("issue14", "issue 14 bars (ours; MB are MiB)")):
        checks = [(r["label"], c) for r in report["sizes"] for c in (r.get("checks") or {}).get(issue, [])]
        if not checks:
            continue
        lines.append("")
        lines.append(f"{title}:")
        for label, check in checks:
            lines.append(
                f"  {'✓' if check['ok'] else '✗'} {label:>9} {check['key']:<20} {_fmt(check['value'], 3):>9} "
                f"{check['op']} {_fmt(check['limit'], 3)}"
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
    generated = [r for r in report["sizes"] if r.get("corpus_generate_s")]
    if generated:
        lines.append("")
        lines.append(
            "corpora generated in this run: "
            + ", ".join(f"{r['label']} in {r['corpus_generate_s']:.0f} s" for r in generated)
            + " (reused after, by their corpus.stamp)"
        )
    return "\n".join(lines)
