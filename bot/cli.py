"""Command line: the contract that benchmarks, checks and operators call. Keep it stable.

python -m bot                 Telegram bot when TELEGRAM_BOT_TOKEN is set, else terminal chat
python -m bot ask "问题" [--corpus PATH] [--json] [--batch FILE]
python -m bot articles [--corpus PATH] --json
python -m bot chat | eval QA.yaml | run [--workers N] | ingest PATH… | stats
python -m bot fetch [URL…] [--corpus PATH]   exit 0 all fetched, 1 some URL failed, 2 usage error
python -m bot migrate         upgrade the state's schema (DATABASE_URL, else state_db); 0 ok, 1 failed
python -m bot copy-state [--from PATH] [--to URL] [--replace]   SQLite state → PostgreSQL; 0, 1 refused, 2 usage
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import logs
from .config import Config, ConfigError, load_config
from .library import Library

log = logging.getLogger("bot")


def open_library(config: Config, corpus: Path | None = None, *, quiet: bool = False) -> Library:
    """The configured library, with a progress bar on a terminal and skipped files reported."""
    library = Library.from_config(config, corpus, progress=None if quiet else _progress_factory())
    for error in library.engine.report.errors:
        print(f"warning: skipped {error}", file=sys.stderr)
    return library


def _progress_factory():
    """A progress bar for segments that take a while to build (large feeds), on a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def make(name: str, total: int):
        if total < 2000:
            return None
        bar = tqdm(total=total, desc=f"indexing {name}", unit="art", leave=False)
        return bar.update

    return make


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from .render import reply_json, reply_plain

    library = open_library(config, args.corpus, quiet=True)
    if args.batch:
        # One JSON line per input line, in order, blank lines included (kind "empty"): the
        # output lines up with the input.
        source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        with source:
            for line in source:
                _print_json(reply_json(library.ask(line.rstrip("\r\n"))))
                sys.stdout.flush()
        return 0
    if not args.question:
        print('usage: python -m bot ask "问题" (or --batch FILE)', file=sys.stderr)
        return 2
    reply = library.ask(" ".join(args.question))
    if args.json:
        _print_json(reply_json(reply))
    else:
        print(reply_plain(reply, ansi=sys.stdout.isatty()))
    return 0


def cmd_articles(args: argparse.Namespace, config: Config) -> int:
    library = open_library(config, args.corpus, quiet=True)
    if args.json:
        for article in library.articles:
            _print_json(article.to_json())
    else:
        for article in library.articles:
            district = article.districts[0] if article.districts else "-"
            print(f"{article.id}\t{district}\t{article.headline}")
    return 0


def cmd_chat(args: argparse.Namespace, config: Config) -> int:
    from .chat import run_chat

    return run_chat(open_library(config, args.corpus))


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    from .evaluate import evaluate, load_items

    try:
        items = load_items(Path(args.qa))
    except (OSError, ValueError) as exc:
        print(f"error: {args.qa}: {exc}", file=sys.stderr)
        return 2
    library = open_library(config, args.corpus, quiet=True)
    report = evaluate(library, items)
    figures = report.figures()
    if args.json:
        _print_json(
            {
                "figures": figures,
                "misses": [
                    {
                        "id": o.item.id,
                        "question": o.item.question,
                        "kind": o.item.kind,
                        "right_article": o.right,
                        "answer_in_snippet": o.in_snippet,
                        "returned": o.answer.article.headline if o.answer.article else None,
                        "snippet": o.answer.snippet.text if o.answer.snippet else None,
                    }
                    for o in report.misses()
                ],
            }
        )
        return 0
    print(f"corpus: {len(library.articles)} articles   questions: {figures['questions']}")
    labels = {
        "top1": "top-1 article",
        "answer_in_snippet": "answer in snippet",
        "answer_in_first_100": "answer in first 100 chars",
        "snippet_chars_mean": "mean snippet length",
        "hit@5": "hit@5",
        "mrr": "MRR",
        "abstained_in_scope": "abstained (in scope)",
        "out_of_scope_abstained": "out-of-scope abstained",
        "english_top1": "english top-1 (stretch)",
        "english_in_snippet": "english in snippet",
        "latency_ms_median": "latency median (ms)",
    }
    for key, label in labels.items():
        value = figures.get(key)
        if value is not None:
            print(f"  {label:<26} {value}")
    misses = report.misses()
    if misses and not args.quiet:
        print(f"\nmisses ({len(misses)}):")
        for outcome in misses[: args.show]:
            got = outcome.answer.article.headline if outcome.answer.article else f"<{outcome.answer.status.value}>"
            snippet = outcome.answer.snippet.text if outcome.answer.snippet else ""
            flag = "article" if not outcome.right else "snippet"
            print(f"- [{outcome.item.id} {outcome.item.kind} {flag}] {outcome.item.question}")
            print(f"    got: {got}")
            if snippet:
                print(f"    snippet: {snippet[:120]}")
            print(f"    want: {outcome.item.answers[:1] or outcome.item.titles[:1]}")
    return 0


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    if not config.token:
        print("TELEGRAM_BOT_TOKEN is not set; starting the terminal chat instead.", file=sys.stderr)
        return cmd_chat(args, config)
    from .store import StoreError
    from .telegram.app import run_bot

    try:
        if getattr(args, "workers", None) is not None:
            from .telegram.supervisor import run_supervisor

            return run_supervisor(config, args.workers, _bot_argv(args))
        return run_bot(config)
    except StoreError as exc:  # an empty or damaged state file: the message says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _bot_argv(args: argparse.Namespace) -> list[str]:
    """`python -m bot` with this run's global options, to start workers with."""
    argv = [sys.executable, "-m", "bot"]
    if args.config:
        argv += ["--config", str(args.config)]
    if args.verbose:
        argv.append("-v")
    return argv


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    from .store import StoreError
    from .telegram.worker import run_worker

    try:
        return run_worker(config, args.socket, args.name)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_default(args: argparse.Namespace, config: Config) -> int:
    return cmd_run(args, config) if config.token else cmd_chat(args, config)


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from .ingest_cli import run_ingest

    return run_ingest([Path(p) for p in args.paths], config, corpus=args.corpus)


def cmd_fetch(args: argparse.Namespace, config: Config) -> int:
    from .web.run import run_fetch

    return run_fetch(args.urls, config, corpus=args.corpus)


def cmd_stats(args: argparse.Namespace, config: Config) -> int:
    from .stats import run_stats

    return run_stats(config, as_json=args.json)


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from .store_admin import run_migrate

    return run_migrate(config)


def cmd_copy_state(args: argparse.Namespace, config: Config) -> int:
    from .store_admin import run_copy_state

    return run_copy_state(config, args.source, args.target, replace=args.replace)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Zhengzhou district news bot")
    parser.add_argument("--config", type=Path, help="settings file (default config/bot.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")

    def with_corpus(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--corpus", type=Path, help="folder of pages or a .jsonl file (default seeds/)")
        return p

    ask = with_corpus(sub.add_parser("ask", help="answer one question (or a batch)"))
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--batch", help="file with one question a line ('-' for stdin); writes JSON lines")
    ask.set_defaults(func=cmd_ask)

    articles = with_corpus(sub.add_parser("articles", help="list the articles of the corpus"))
    articles.add_argument("--json", action="store_true")
    articles.set_defaults(func=cmd_articles)

    with_corpus(sub.add_parser("chat", help="terminal chat on the same engine")).set_defaults(func=cmd_chat)

    ev = with_corpus(sub.add_parser("eval", help="accuracy on a QA file"))
    ev.add_argument("qa")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--quiet", action="store_true", help="figures only")
    ev.add_argument("--show", type=int, default=40, help="misses to list")
    ev.set_defaults(func=cmd_eval)

    run = with_corpus(sub.add_parser("run", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)"))
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="webhook mode with N worker processes behind one port (one of them runs the jobs)",
    )
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="(internal) one worker process of `run --workers N`")
    worker.add_argument("--socket", type=Path, required=True)
    worker.add_argument("--name", default="w0")
    worker.set_defaults(func=cmd_worker)

    ingest = with_corpus(sub.add_parser("ingest", help="add page or JSONL files to the corpus"))
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(func=cmd_ingest)

    fetch = with_corpus(sub.add_parser("fetch", help="fetch news pages, e-paper editions or feeds into the corpus"))
    fetch.add_argument("urls", nargs="*", metavar="URL", help="default: every source in config/sources.yaml")
    fetch.set_defaults(func=cmd_fetch)

    stats = sub.add_parser("stats", help="operator view: corpus and usage figures")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    migrate = sub.add_parser("migrate", help="upgrade the state's schema (DATABASE_URL, else the SQLite state_db)")
    migrate.set_defaults(func=cmd_migrate)

    copy = sub.add_parser("copy-state", help="copy the SQLite state into PostgreSQL (refuses a non-empty target)")
    copy.add_argument("--from", dest="source", metavar="PATH", help="the state to copy (default: state_db)")
    copy.add_argument("--to", dest="target", metavar="URL", help="postgresql://… (default: DATABASE_URL)")
    copy.add_argument("--replace", action="store_true", help="empty a target that already holds state first")
    copy.set_defaults(func=cmd_copy_state)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logs.configure(
        logging.DEBUG if args.verbose else logging.INFO if args.command in ("run", "worker") else logging.WARNING
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not hasattr(args, "corpus"):
        args.corpus = None
    func = getattr(args, "func", cmd_default)
    try:
        return func(args, config)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
