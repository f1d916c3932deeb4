# Two commands on a fresh machine: `make run` (install + start the app) and
# `make test` (install everything, lint, run every test, browser tests included).
# Only the root requirements*.txt files are read here; dashboard/requirements.txt is Community Cloud's.
# requirements.txt declares ranges (what `pip install .` needs); constraints.txt pins the exact versions every
# install here uses, so the tests always run on the same torch and streamlit.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q
PINNED := -c constraints.txt

.PHONY: run test lint bench chromium

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt constraints.txt | $(PY)
	$(PIP) -r requirements.txt $(PINNED)
	touch $@

# Lint needs ruff alone, not the runtime.
$(VENV)/.lint: requirements-lint.txt | $(PY)
	$(PIP) -r requirements-lint.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) -r requirements-dev.txt $(PINNED)
	touch $@

# Optional for users (the sweep's --backend ray); the tests start a local Ray cluster through it.
$(VENV)/.ray: $(VENV)/.runtime requirements-ray.txt
	$(PIP) -r requirements-ray.txt $(PINNED)
	touch $@

# Browser tests drive the system's Chromium (Debian's package), so Playwright needs no browser download.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

run: $(VENV)/.runtime
	$(PY) -m streamlit run dashboard/app.py

lint: $(VENV)/.lint
	$(PY) -m ruff check .

test: $(VENV)/.dev $(VENV)/.ray chromium lint
	$(PY) -m pytest

bench: $(VENV)/.runtime
	$(PY) -m benchmarks.engine
