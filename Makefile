# The README's commands. `make run` serves on the embedded SQLite default; `make test`
# runs the whole suite (and on PostgreSQL too when DATABASE_URL points at one).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test bench faults lint format install dev-install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev-install: $(VENV)/.dev-installed

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask sync
	@if [ "$(DEMO)" = "1" ]; then $(BIN)/flask users demo; fi
# The outbox worker delivers e-mail beside the web server and stops when it stops.
	$(BIN)/flask outbox run & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config config/gunicorn.conf.py wsgi:app

test: dev-install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

# Speed, measured (not part of `make test`): see README, Benchmarks. BENCH_ARGS=--large for
# 290 members and 10 000 000 cases.
bench: dev-install
	$(BIN)/python tests/bench/run.py $(BENCH_ARGS)

# Fault tests against a real gunicorn and PostgreSQL (DATABASE_URL names the server).
faults: dev-install
	SAMVERKAN_FAULTS=1 $(BIN)/pytest tests/faults $(PYTEST_ARGS)

lint: dev-install
	$(BIN)/ruff check .

format: dev-install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
