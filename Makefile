# Set-up: `make run` (the portal with demo data on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench-web vendor clean

install: $(STAMP)

# torch is pinned to the CPU build: a plain `torch` requirement pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[embeddings,test]"
	touch $(STAMP)

run: install
	$(BIN)/ideas-portal db upgrade
	$(BIN)/ideas-portal demo --if-empty
	$(BIN)/ideas-portal embeddings rebuild
	$(BIN)/ideas-portal serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check ideas web ml tests bench
	$(BIN)/mypy

bench-web: install
	$(BIN)/python bench/web.py

# Re-vendor the pinned front-end libraries from the npm registry (package.json).
vendor:
	npm install --no-audit --no-fund
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx-2.0.11.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico-2.1.1.min.css
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart-4.6.1.umd.min.js
	cp node_modules/chart.js/LICENSE.md static/vendor/chart-LICENSE.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
