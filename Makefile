# The two commands of README.md, `make run` and `make test`, and beside them `make check` (the
# edit-test loop) and `make soak`. Each creates .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.caucus-run
DEV_STAMP := $(VENV)/.caucus-dev
ARGS ?=
PYTEST := $(BIN)/python -m pytest
# Test processes (pytest-xdist): one more than the cores, as the tests mostly wait on Synapse,
# the emulator and subprocesses. Measured on two cores: 2 workers 8.8 min, 3 workers 7.8, 4 9.0.
WORKERS ?= $(shell expr $$(nproc 2>/dev/null || echo 2) + 1)

.PHONY: run test check soak lint typecheck tests unit bench clean lock lock-check

# Every package installed is pinned by the lock; `make lock` writes it anew.
LOCK := constraints.txt
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK)

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip setuptools

$(RUN_STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@$(PIP) -e . >&2
	@touch $@

$(DEV_STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@$(PIP) -e '.[dev]' >&2
	@touch $@ $(RUN_STAMP)

## run: set up .venv and start the bot (console + SQLite in ./data/ without a config file)
run: $(RUN_STAMP)
	@$(BIN)/caucus run $(ARGS)

## test: set up .venv with the dev extra, then lint, type-check and run every test, in parallel
test: lock-check lint typecheck tests

## check: lint, type-check and the unit tests (no database, no server): under a minute
check: lint typecheck unit

## soak: the long soaks in full (1,000 messages each way through faults and a homeserver restart), on every database
soak: $(DEV_STAMP)
	$(PYTEST) -m soak --full-soak -n 2 $(ARGS)

## lock: pin anew every package caucus[dev] needs, after a change to pyproject.toml's dependencies
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	{ echo "# The versions make installs, for CPython 3.11 on Linux: written by make lock, checked by"; \
	  echo "# make test (scripts/check_lock.py). Edit pyproject.toml, then run make lock."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

lock-check: $(DEV_STAMP)
	@$(BIN)/python scripts/check_lock.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

tests: $(DEV_STAMP)
	$(PYTEST) -n $(WORKERS) --dist worksteal $(ARGS)

unit: $(DEV_STAMP)
	$(PYTEST) -m unit $(ARGS)

## bench: the relay benchmark (bench/relay.py): the emulator and a real Synapse, bridge vs. bare baseline
bench: $(DEV_STAMP)
	$(BIN)/python bench/relay.py $(ARGS)

## bench-cases: /casestats over 100,000 generated case reports, on SQLite and PostgreSQL
.PHONY: bench-cases
bench-cases: $(RUN_STAMP)
	$(BIN)/python bench/casestats.py $(ARGS)

## bench-outbox: answers under an 8,000-message backlog vs. an idle bot, and one outbox pass at 10-10,000 pending
.PHONY: bench-outbox
bench-outbox: $(DEV_STAMP)
	$(BIN)/python bench/outbox.py $(ARGS)

## bench-alerts: a consultation alert to 1,000 Telegram subscribers on the emulator, 0% and 20% faults
.PHONY: bench-alerts
bench-alerts: $(DEV_STAMP)
	$(BIN)/python bench/alerts.py $(ARGS)

## bench-statements: who signs for whom and the list at closing for 200 organizations, vs. reading the rows once
.PHONY: bench-statements
bench-statements: $(DEV_STAMP)
	$(BIN)/python bench/statements.py $(ARGS)

## bench-chart: drawing a 12-option poll result PNG (English and Arabic) vs. encoding a blank PNG of its size
.PHONY: bench-chart
bench-chart: $(RUN_STAMP)
	$(BIN)/python bench/chart.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
