# Two commands on a fresh machine (Python 3.11 + pip): `make run` and `make test`.
# Both create .venv/ on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot

test: $(STAMP)
	$(PY) -m ruff check bot tests benchmarks
	$(PY) -m ruff format --check bot tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

# The tests not marked slow (no emulator end to end, no processes, no bench): seconds.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

eval: $(STAMP)
	$(PY) -m bot eval ../shared/qa/questions.yaml
	$(PY) -m bot eval ../shared/bench/cmrc_trial.qa.yaml --corpus ../shared/bench/cmrc_trial.corpus.jsonl --quiet

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .cache
