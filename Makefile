# The README's commands. `make run` serves on the embedded SQLite default; `make test`
# runs the whole suite (and on PostgreSQL too when DATABASE_URL points at one).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test bench faults lint format install dev-install clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `idp`: the development e-ID provider `make run` starts (never needed in production).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[idp]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

# The message catalogues, compiled here rather than committed (*.mo is in .gitignore).
TRANSLATIONS := platform/samverkan/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
BABEL_EXTRACT = $(BIN)/pybabel -q extract -F babel.cfg -k _l --add-location=file --sort-output \
	--project=Samverkan --copyright-holder=Samverkan

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

install: $(VENV)/.installed $(COMPILED)
dev-install: $(VENV)/.dev-installed $(COMPILED)

# After changing a text in a template or in the code: the catalogues take in new texts
# (untranslated, never guessed: no fuzzy matching), drop removed ones, and are compiled.
# tests/test_languages.py fails until every new text has its English translation.
translations: dev-install
	$(BABEL_EXTRACT) -o $(TRANSLATIONS)/messages.pot platform
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete \
		-i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)
	rm $(TRANSLATIONS)/messages.pot
	$(BIN)/pybabel -q compile -d $(TRANSLATIONS)

# Citizens sign in with e-ID at a development provider on 127.0.0.1:9400 (oidc-provider-mock),
# started beside the app unless CITIZEN_OIDC_ISSUER names another. Two test people can sign
# in with one click (Skatteverket's example samordningsnummer for the second); any other
# name typed there signs in as a foreign e-ID user, who has no personnummer.
PNR_CLAIM := https://id.oidc.se/claim/personalIdentityNumber
DEV_PEOPLE := \
	--user-claims '{"sub": "tolvan", "$(PNR_CLAIM)": "191212121212", "name": "Tolvan Tolvansson", "given_name": "Tolvan", "family_name": "Tolvansson"}' \
	--user-claims '{"sub": "samordning", "$(PNR_CLAIM)": "197010632391", "name": "Sam Ordning", "given_name": "Sam", "family_name": "Ordning"}'

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask sync
	@if [ "$(DEMO)" = "1" ]; then $(BIN)/flask users demo; fi
# The outbox worker delivers e-mail beside the web server: when either stops, both do (a
# server whose receipts pile up unsent is not running). The development e-ID provider only
# in development, unless CITIZEN_OIDC_ISSUER names a real one.
	$(BIN)/flask outbox run & worker=$$!; provider=; \
	if [ -z "$$CITIZEN_OIDC_ISSUER" ] && [ "$$SAMVERKAN_ENV" != "production" ]; then \
		$(BIN)/oidc-provider-mock --host 127.0.0.1 --port 9400 --require-nonce $(DEV_PEOPLE) & provider=$$!; \
	fi; \
	$(BIN)/gunicorn --config config/gunicorn.conf.py wsgi:app & server=$$!; \
	trap 'kill $$server $$worker $$provider 2>/dev/null' EXIT INT TERM; \
	while kill -0 $$server 2>/dev/null && kill -0 $$worker 2>/dev/null; do sleep 1; done; \
	if ! kill -0 $$worker 2>/dev/null; then \
		echo "make run: the e-mail worker stopped (see above), so the web server stops too" >&2; \
		kill $$server 2>/dev/null; wait $$server; exit 1; \
	fi; \
	wait $$server

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
