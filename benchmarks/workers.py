"""What a second worker costs: N processes serving one archive through one cache.

    python -m benchmarks.workers [--corpus bench-out/100000/corpus] [--workers 2] [--questions 300]

Each worker is a fresh process as `python -m bot run --workers N` starts them: it imports the
Telegram application (python-telegram-bot and the bot's handlers), opens the library through the
shared cache with the impact cache off (as the supervisor sets it), and answers the question set
through `Library.ask`. When all have answered, each one's memory is read from
/proc/PID/smaps_rollup: RSS, PSS (shared pages divided among the processes that map them) and
private memory (pages no other process shares: what one more worker adds to the machine). The
corpus and its cache come from `python -m benchmarks` (build it first: the cache is reused).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .common import ROOT

_CHILD = """
import json, sys, time
from pathlib import Path
import bot.telegram.app  # the worker's code, as loaded in `python -m bot worker`
from bot.library import Library
library = Library.open(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))
questions = json.loads(Path(sys.argv[3]).read_text(encoding="utf-8"))
time.sleep(1.0)  # the background warm-up and checks finish
for question in questions:
    library.ask(question)
print("ready", flush=True)
sys.stdin.read()  # stay up until the bench has read every worker's memory
"""


def _memory(pid: int) -> dict[str, int]:
    """KB figures of smaps_rollup: Rss, Pss, Private_Clean + Private_Dirty."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name.strip()] = int(value.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"], "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench-out" / "100000" / "corpus")
    parser.add_argument("--cache", type=Path, help="default: the corpus's bench cache (CORPUS/../cache)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--questions", type=Path, help="JSON list of questions (default: the bench's set)")
    args = parser.parse_args()
    cache = args.cache or args.corpus.parent / "cache"
    questions = args.questions or args.corpus.parent / "spec-ours-serve.json"
    if not questions.exists():
        print(f"no question set at {questions}: run python -m benchmarks at that size first", file=sys.stderr)
        return 2
    listed = json.loads(questions.read_text(encoding="utf-8"))
    listed = listed["questions"] if isinstance(listed, dict) else listed
    question_file = cache.parent / "workers-questions.json"
    question_file.write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "DISTRICT_NEWS_IMPACT_CACHE_MB": os.environ.get("DISTRICT_NEWS_IMPACT_CACHE_MB", "0")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    procs = []
    started = time.perf_counter()
    for _ in range(args.workers):  # one after another, as a supervisor restarts or adds them
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(args.corpus), str(cache), str(question_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            print("a worker failed to start", file=sys.stderr)
            return 1
        procs.append(proc)
    figures = [_memory(p.pid) for p in procs]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(
        f"{args.workers} workers over {args.corpus} ({len(listed)} questions each, {time.perf_counter() - started:.0f} s)"
    )
    print(f"{'worker':>8} {'RSS MB':>8} {'PSS MB':>8} {'private MB':>11}")
    for number, figure in enumerate(figures, 1):
        print(f"{number:>8} {figure['rss'] / 1024:8.0f} {figure['pss'] / 1024:8.0f} {figure['private'] / 1024:11.0f}")
    extra = figures[-1]["private"] / 1024
    print(f"one more worker adds {extra:.0f} MB (its private memory; the index and articles are shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
