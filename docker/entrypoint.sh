#!/bin/sh
# Container entry point: seed the corpus on first start, add --workers from WORKERS, run the command.
set -eu

DATA_DIR="${DATA_DIR:-/data}"
SEED_CORPUS="${SEED_CORPUS:-/app/seeds}"

# The corpus is data (ingest and source polling add to it): a copy of the seed pages the first
# time, in the volume, and never overwritten afterwards.
if [ ! -e "$DATA_DIR/corpus" ] && [ -d "$SEED_CORPUS" ]; then
    mkdir -p "$DATA_DIR"
    cp -R "$SEED_CORPUS" "$DATA_DIR/corpus.tmp"
    mv "$DATA_DIR/corpus.tmp" "$DATA_DIR/corpus"
fi

# WORKERS=N (N > 0): N worker processes behind the webhook port, one of them running the jobs.
if [ "$*" = "python -m bot run" ] && [ -n "${WORKERS:-}" ] && [ "${WORKERS}" != "0" ]; then
    set -- "$@" --workers "$WORKERS"
fi

exec "$@"
