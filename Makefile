# reconsent: two commands do everything on a fresh machine.
#   make demo   installs, then runs the whole re-consent loop on SQLite + a file outbox
#   make test   installs (Python packages, PostgreSQL server binaries, Chromium, espeak-ng,
#               axe-core from npm), then runs the suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2  # both cores (each worker starts its own PostgreSQL)

.PHONY: install system-packages demo test test-fast lint typecheck bench up clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

system-packages:
	@bash scripts/ensure-system-packages.sh chromium espeak-ng npm

# Checkers the browser tests inject (axe-core), pinned by package-lock.json.
NODE_STAMP := node_modules/.installed-stamp
$(NODE_STAMP): package.json package-lock.json | system-packages
	npm ci --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

demo: install
	$(BIN)/reconsent demo

# A Prefect server (UI at http://127.0.0.1:4200) serving the launcher and the wave schedule:
# on RECONSENT_DATABASE_URL when set, else on the demo's database when `make demo` made one
# (with the demo's data folder, which holds the keys its links and hashes were made with).
DEMO_DB := $(CURDIR)/demo-data/reconsent.db
up: install
	@if [ -z "$$RECONSENT_DATABASE_URL" ] && [ -f "$(DEMO_DB)" ]; then \
	  echo "make up: serving the demo's database $(DEMO_DB)"; \
	  RECONSENT_DATABASE_URL=sqlite:///$(DEMO_DB) RECONSENT_DATA_DIR=$(CURDIR)/demo-data/var \
	    RECONSENT_DEV_KEYS=true RECONSENT_CHANNEL_MODE=outbox $(BIN)/reconsent deploy; \
	else $(BIN)/reconsent deploy; fi

test: install system-packages $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "unit" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

bench: install system-packages
	@bash scripts/ensure-system-packages.sh wrk
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) node_modules demo-data var .pytest_cache .mypy_cache .ruff_cache
