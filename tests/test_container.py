"""The container files, checked without a Docker engine (none runs here, so the image is never
built in the tests): compose.yaml parses and wires the bot to PostgreSQL, the Dockerfile keeps its
key facts, the entry point adds --workers and seeds the corpus, the container config loads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_dockerfile_slim_python_311_non_root_data_volume_and_the_run_command() -> None:
    rows = instructions()
    assert rows[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in rows if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (word, _) in enumerate(rows) if word == "USER")
    assert all(word != "RUN" for word, _ in rows[last_user:])  # nothing runs as root after it
    assert ("VOLUME", '["/data"]') in rows
    assert any(word == "EXPOSE" and "8443" in args for word, args in rows)
    assert ("CMD", '["python", "-m", "bot", "run"]') in rows
    installs = [args for word, args in rows if word == "RUN" and "pip install" in args]
    assert installs and not any("test" in args for args in installs)  # the package, not the test extra
    env = " ".join(args for word, args in rows if word == "ENV")
    assert "DISTRICT_NEWS_CONFIG=/app/config/container.yaml" in env and "PORT=8443" in env
    assert "NUMBA_CACHE_DIR=/data/" in env  # compiled search loops kept where the non-root user writes
    assert "TELEGRAM_BOT_TOKEN" not in DOCKERFILE.replace("-e TELEGRAM_BOT_TOKEN", "")  # never baked in
    for word, args in rows:  # every file the image copies is in the repository
        if word == "COPY":
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source


def test_dockerignore_keeps_secrets_state_and_the_venv_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".venv", ".git", "state", ".cache", "tests"):
        assert entry in ignored
    for needed in ("bot", "config", "seeds", "docker", "pyproject.toml", "README.md"):
        assert needed not in ignored


def test_the_container_config_puts_corpus_cache_and_state_under_data(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "METRICS_PORT", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(ROOT / "config" / "container.yaml")
    assert config.corpus == Path("/data/corpus")
    assert config.cache_dir == Path("/data/cache")
    assert config.state_db == Path("/data/state/bot.sqlite3")
    assert config.config_dir == ROOT / "config"  # dictionaries and sources.yaml from the image


def test_compose_runs_postgres_15_and_the_bot_against_it() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    db, bot = services["db"], services["bot"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]

    env = bot["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["DATABASE_URL"] == services["migrate"]["environment"]["DATABASE_URL"]
    for secret in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_URL"):
        assert env[secret].startswith("${" + secret)  # from the environment or .env, never written here
    assert env["PORT"] == "8443" and "8443:8443" in bot["ports"]
    assert env["LOG_FORMAT"] == "json" and "WORKERS" in env
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["python", "-m", "bot", "migrate"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert any(v.endswith(":/data") for v in bot["volumes"])


def _entry(tmp_path: Path, *command: str, **env: str) -> list[str]:
    """Run docker/entrypoint.sh with a fake `python` that prints the arguments it was given."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "python").chmod(0o755)
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "101.txt").write_text("标题\n正文。\n", encoding="utf-8")
    environ = {"PATH": f"{fake}:{os.environ['PATH']}", "DATA_DIR": str(tmp_path / "data"), "SEED_CORPUS": str(seeds)}
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()


def test_entrypoint_adds_workers_and_seeds_the_corpus_once(tmp_path: Path) -> None:
    run = ("python", "-m", "bot", "run")
    assert _entry(tmp_path, *run) == ["-m", "bot", "run"]
    assert _entry(tmp_path, *run, WORKERS="0") == ["-m", "bot", "run"]
    assert _entry(tmp_path, *run, WORKERS="3") == ["-m", "bot", "run", "--workers", "3"]
    assert _entry(tmp_path, "python", "-m", "bot", "migrate", WORKERS="3") == ["-m", "bot", "migrate"]
    corpus = tmp_path / "data" / "corpus"
    assert (corpus / "101.txt").read_text(encoding="utf-8") == "标题\n正文。\n"
    (corpus / "102.txt").write_text("新闻\n", encoding="utf-8")  # added by ingest since
    _entry(tmp_path, *run)
    assert sorted(p.name for p in corpus.iterdir()) == ["101.txt", "102.txt"]  # never re-seeded
