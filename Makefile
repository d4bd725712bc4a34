# bantin — the two front-door commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/bantin db upgrade
	$(BIN)/bantin run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot jobs storage tests bench
	$(BIN)/ruff format --check bot jobs storage tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/summary_quality.py ../shared/data/vnds-dev-2000.jsonl
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/poll.py --sizes 500 --runs 3
	if pg_isready -q -h 127.0.0.1; then $(BIN)/python bench/scale.py; \
	else echo "bench/scale.py skipped: no PostgreSQL at 127.0.0.1:5432"; fi

clean:
	rm -rf $(VENV) bantin.db bantin.db-wal bantin.db-shm .pytest_cache .mypy_cache .ruff_cache
