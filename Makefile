# Two commands on a fresh machine: `make run` (install + start the app) and
# `make test` (install everything, lint, run every test, browser tests included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench chromium

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

run: $(VENV)/.runtime
	$(PY) -m streamlit run dashboard/app.py

lint: $(VENV)/.dev
	$(PY) -m ruff check .

test: $(VENV)/.dev chromium lint
	$(PY) -m pytest

bench: $(VENV)/.runtime
	$(PY) -m benchmarks.engine
