# Developer entry points. From a fresh clone only python3 is needed:
#   make run    create .venv, install, migrate, load the demo once, serve on 127.0.0.1:5000
#               with the worker (flask worker) and the local M-Pesa sandbox
#   make test   the whole suite on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set
# `make help` lists every target.

SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
E2E_STAMP := $(VENV)/.installed-e2e
#: Only the locked versions, each checked against its hash.
PIP_INSTALL := $(BIN)/pip install --disable-pip-version-check --require-hashes
#: The lock tool (`make lock`), pinned like everything else.
UV_VERSION := 0.13.8
LOCK_ARGS ?=
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes \
	--python-version 3.11 --custom-compile-command "make lock" $(LOCK_ARGS)
FLASK  := $(BIN)/flask --app wsgi

PO := translations/sw/LC_MESSAGES/messages.po
MO := translations/sw/LC_MESSAGES/messages.mo

HOST ?= 127.0.0.1
PORT ?= 5000
#: The local Daraja sandbox that `make run` starts beside the app.
SANDBOX_PORT ?= 8765
DEMO_USERS    := chair treasurer secretary coordinator auditor member
DEMO_PASSWORD := mtaani-demo

# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k members -x"`.
PYTEST_ARGS ?=
# Browser journeys: `make e2e-full` sets --e2e-full (every journey in every size and language).
E2E_ARGS ?=
# pytest-xdist workers for `make test` (each has its own database), e.g. TEST_WORKERS=1.
TEST_WORKERS ?= auto

.PHONY: run test e2e e2e-full install lock translations extract db-upgrade bench lint clean help

## run: install, compile translations, migrate, seed the demo on first run, serve (with the worker and the local M-Pesa sandbox)
run: install translations
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo
	@echo "Two demo associations on this install: http://$(HOST):$(PORT)/a/mlk/ and"
	@echo "  http://$(HOST):$(PORT)/a/kiambiu/; the host's own pages: http://$(HOST):$(PORT)/"
	@echo "  (host administrator: host / mtaani-demo-host)."
	@echo "Demo logins in each (password for all: $(DEMO_PASSWORD)):"
	@echo "  $(DEMO_USERS)"
	@echo "  or their phone numbers (the member's is 0712 345 678): README, Demo logins."
	@echo "Local M-Pesa (Daraja) sandbox on http://127.0.0.1:$(SANDBOX_PORT)/: log in at /a/mlk/ as"
	@echo "  'member' and choose 'Pay by M-Pesa' (phones ending 1032 cancel, 1037 time out)."
	@echo "The worker (flask worker) processes M-Pesa callbacks beside the app."
	@echo "Starting the worker, the M-Pesa sandbox and the app..."
	@export PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}" \
	MPESA_BASE_URL="$${MPESA_BASE_URL:-http://127.0.0.1:$(SANDBOX_PORT)}"; \
	$(FLASK) mpesa sandbox --port $(SANDBOX_PORT) --quiet & sandbox=$$!; \
	$(FLASK) worker & worker=$$!; \
	$(FLASK) run --host $(HOST) --port $(PORT) & server=$$!; \
	trap 'kill $$server $$sandbox $$worker 2>/dev/null; wait 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/python -m devtools.serving "http://$(HOST):$(PORT)/healthz" --pid $$server || exit 1; \
	echo; echo "Serving on http://$(HOST):$(PORT)/a/mlk/  (Ctrl-C stops all three)"; echo; \
	wait $$server

## test: the suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set
test: install translations
	@echo "== tests on SQLite =="
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== tests on PostgreSQL (TEST_DATABASE_URL) =="; \
		echo "$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)"; \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); \
	else \
		echo "(TEST_DATABASE_URL is not set: PostgreSQL run skipped; .ci/run does both)"; \
	fi

## e2e: browser journeys in Debian's Chromium on SQLite, then on PostgreSQL when E2E_DATABASE_URL is set, each journey once per database, size (phone, laptop) and language (en, sw) alternating so both runs together cover all; screenshots in test-output/e2e/
e2e: install translations $(E2E_STAMP)
	@echo "== browser journeys on SQLite =="
	env -u E2E_DATABASE_URL $(BIN)/python -m pytest e2e $(E2E_ARGS) $(PYTEST_ARGS)
	@if [ -n "$$E2E_DATABASE_URL" ]; then \
		echo "== browser journeys on PostgreSQL (E2E_DATABASE_URL) =="; \
		echo "$(BIN)/python -m pytest e2e $(E2E_ARGS) $(PYTEST_ARGS)"; \
		$(BIN)/python -m pytest e2e $(E2E_ARGS) $(PYTEST_ARGS); \
	else \
		echo "(E2E_DATABASE_URL is not set: PostgreSQL run skipped; .ci/run does both)"; \
	fi

## e2e-full: the browser journeys' whole matrix: every journey at both sizes in both languages, on each database
e2e-full:
	$(MAKE) e2e E2E_ARGS=--e2e-full

$(E2E_STAMP): requirements-e2e.lock $(STAMP)
	$(PIP_INSTALL) -r requirements-e2e.lock
	@touch $@

## install: create .venv and install the locked versions of requirements-dev.lock (again only when it changes)
install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		echo "'$(PYTHON) -m venv' failed. On Debian/Ubuntu: apt-get install python3-venv" >&2; \
		exit 1; }

$(STAMP): requirements-dev.lock | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.lock
	@touch $@

## lock: regenerate requirements*.lock (with hashes) from pyproject.toml; LOCK_ARGS=--upgrade for newer releases
# Runtime (production), tests, browser journeys: the dev lock is resolved first and
# constrains the other two, so a package has the same version in all three.
lock: | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock
	$(UV_COMPILE) -c requirements-dev.lock --extra dev --extra e2e -o requirements-e2e.lock

## translations: compile the Swahili catalogue (the .mo file is not in git)
translations: $(MO)

$(MO): $(PO) | $(STAMP)
	$(BIN)/pybabel compile -d translations -f

## extract: collect new strings into translations/messages.pot and update the .po files
extract: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

## db-upgrade: apply database migrations (APP_ENV / DATABASE_URL pick the database)
db-upgrade: install
	$(FLASK) db upgrade

## bench: time the members list
bench: install translations
	$(BIN)/python bench/members_list.py

## lint: ruff check (only when ruff is installed in .venv; `make install` installs it)
lint:
	@if [ -x $(BIN)/ruff ]; then \
		echo "$(BIN)/ruff check ."; \
		$(BIN)/ruff check .; \
	else \
		echo "ruff is not installed in $(VENV): run 'make install' first"; \
	fi

## clean: remove .venv, instance/ (the development database and secret key!), caches, compiled .mo
clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache test-output bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -f translations/*/LC_MESSAGES/*.mo

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
