# Set-up: `make run` (the portal with demo data on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench-web scale load faults vendor clean

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

# bench/scale.py on PostgreSQL databases of its own, seeded once and kept: 100,000 ideas through
# 1 and 4 web processes, then the database work at 1,000,000 (docs/benchmarks.md, docs/scaling.md).
SCALE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale
scale: install
	$(BIN)/python bench/scale.py --database-url $(SCALE_URL)
	$(BIN)/python bench/scale.py --database-only --ideas 1000000 --votes 10000000 \
		--comments 2000000 --users 500000 --database-url $(SCALE_URL)_10x

# The full size of tests/load (`make test` runs it small), on DATABASE_URL as `make test` is:
# members' clients at once, for how long, through how many web processes.
LOAD_CLIENTS ?= 200
LOAD_SECONDS ?= 30
LOAD_PROCESSES ?= 4
LOAD_SIZE = LOAD_CLIENTS=$(LOAD_CLIENTS) LOAD_SECONDS=$(LOAD_SECONDS) LOAD_PROCESSES=$(LOAD_PROCESSES)

load: install
	$(LOAD_SIZE) $(BIN)/python -m pytest -s tests/load/test_votes_under_load.py

faults: install
	LOAD_FAULTS=1 $(LOAD_SIZE) $(BIN)/python -m pytest -s tests/load/test_server_kill.py \
		tests/load/test_worker_kill.py tests/load/test_postgres_restart.py

# Re-vendor the pinned front-end libraries from the npm registry (package.json). axe-core is
# for the browser tests' accessibility checks only: it goes beside them, never to users.
vendor:
	npm install --no-audit --no-fund
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx-2.0.11.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico-2.1.1.min.css
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart-4.6.1.umd.min.js
	cp node_modules/chart.js/LICENSE.md static/vendor/chart-LICENSE.md
	mkdir -p tests/browser/vendor
	cp node_modules/axe-core/axe.min.js tests/browser/vendor/axe-4.14.1.min.js
	cp node_modules/axe-core/LICENSE tests/browser/vendor/axe-LICENSE
	cp node_modules/axe-core/LICENSE-3RD-PARTY.txt tests/browser/vendor/axe-LICENSE-3RD-PARTY.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
