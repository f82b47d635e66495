"""`python -m benchmarks [--articles N …] [--systems S …] [--questions Q] [--accuracy] [--json]`: see benchmarks/bench.py."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, load_config

from .bench import COLD_RUNS, LATENCY_RUNS, SYSTEMS, run_bench


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="speed and scale benchmark")
    parser.add_argument("--config", type=Path, help="settings file for the engine (default config/bot.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--articles",
        type=int,
        nargs="*",
        help="corpus sizes, 0 = the seed pages (default: 0 10000 100000); e.g. --articles 1000000 "
        "(at 500000 and more: bm25s at 100000, no rapidfuzz)",
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=SYSTEMS,
        help=f"only these systems (default: all, {' '.join(SYSTEMS)})",
    )
    parser.add_argument("--cold-runs", type=int, help=f"fresh processes for the cold start (default {COLD_RUNS})")
    parser.add_argument(
        "--latency-runs", type=int, help=f"more latency processes each, taking turns (default {LATENCY_RUNS})"
    )
    parser.add_argument("--out", type=Path, help="working folder (default bench-out/ or $DISTRICT_NEWS_BENCH_DIR)")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--accuracy", action="store_true", help="also the CMRC accuracy comparison")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return run_bench(args, config)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
