# tmsite: `make run` serves the demo, `make test` runs the whole suite.
# Every target installs what it needs first, so both work on a fresh clone.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 4
# wsgi (default, measured faster: every view is synchronous) or asgi (tmsite/asgi.py).
INTERFACE ?= wsgi

NODE_STAMP := node_modules/.installed
CONTRACTS_STAMP := var/build/contracts/.stamp
CHAIN_URL ?= http://127.0.0.1:8545
# Prometheus metric files of multi-process servers, one directory per server, emptied as it starts.
METRICS_DIR ?= var/metrics
QUEUES ?= indexing,grading,swap,default
METRICS_WORKER_PORT ?= 9808

.PHONY: run serve test lint fmt typecheck install deps-node contracts migrate chain chain-stop chain-status \
	index worker beat clean browser-deps bench-index bench-swap bench-api wrk-deps

$(PIP_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# anvil, the Uniswap V2 / OpenZeppelin artifacts and solc-js, from the committed lock file.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps-node: $(NODE_STAMP)

# The project's own Solidity, compiled with solc-js (skips itself when nothing changed).
contracts: $(NODE_STAMP)
	node scripts/compile_contracts.mjs

install: $(PIP_STAMP) $(NODE_STAMP) contracts

# A local anvil on 127.0.0.1:8545 (chain id 31337) whose state lives in var/chain/; reused if running.
chain: install
	$(PY) -m chain.node start --url $(CHAIN_URL)

chain-stop: install
	$(PY) -m chain.node stop --url $(CHAIN_URL)

chain-status: install
	$(PY) -m chain.node status --url $(CHAIN_URL)

index: migrate chain
	$(PY) manage.py index_chain --rpc $(CHAIN_URL)

migrate: install
	$(PY) manage.py migrate --noinput

# The whole demo: local chain, simulated market, index, grades, then the site (see market/.../demo.py).
run: migrate
	$(PY) manage.py demo --addr $(HOST):$(PORT) --rpc $(CHAIN_URL) $(DEMO_ARGS)

# Production-shaped: the WSGI app under granian, WORKERS processes of THREADS threads each.
# (Every view is synchronous: under ASGI Django runs them one at a time per process on one
# thread, so a process waiting on PostgreSQL or Redis serves nobody; see bench/README.md.)
serve: migrate
	DEBUG=$${DEBUG:-0} $(PY) manage.py collectstatic --noinput --verbosity 0
	rm -rf $(METRICS_DIR)/web-$(PORT) && mkdir -p $(METRICS_DIR)/web-$(PORT)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR)/web-$(PORT) DEBUG=$${DEBUG:-0} \
		$(VENV)/bin/granian --interface $(INTERFACE) --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) $(if $(filter wsgi,$(INTERFACE)),--blocking-threads $(THREADS),--no-ws) \
		tmsite.$(INTERFACE):application

# One worker per workload if you like: `make worker QUEUES=indexing METRICS_WORKER_PORT=9809`.
worker: install
	rm -rf $(METRICS_DIR)/worker-$(METRICS_WORKER_PORT) && mkdir -p $(METRICS_DIR)/worker-$(METRICS_WORKER_PORT)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR)/worker-$(METRICS_WORKER_PORT) METRICS_WORKER_PORT=$(METRICS_WORKER_PORT) \
		$(VENV)/bin/celery -A tmsite worker --loglevel INFO --concurrency $${CONCURRENCY:-2} -Q $(QUEUES)

beat: install
	$(VENV)/bin/celery -A tmsite beat --loglevel INFO

# Debian's Chromium for the browser tests (Playwright drives it; no browser is ever downloaded).
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; }

test: install browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks: each prints its figures; commands and latest figures are in bench/README.md.
bench-index: install
	$(PY) bench/index_bench.py

# Swap quotes: 1,000 random requests over 250+ pools on a fresh anvil vs the routers' getAmountsOut.
bench-swap: install
	$(PY) bench/swap_bench.py

# Load, soak and faults: locust against granian + worker + beat + simulator on free ports (bench/README.md).
# A 60 s run by default; LOAD_ARGS="--soak 1800 --faults" for the soak.
.PHONY: bench-load
bench-load: install
	$(PY) bench/load_bench.py $(LOAD_ARGS)

# Debian's wrk, the load generator of the API benchmark.
wrk-deps:
	@command -v wrk >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }

# Public API: token list and detail (uncached, cached) vs FastAPI + asyncpg and fixed bytes, wrk -c64.
bench-api: install wrk-deps
	$(PY) -m bench.api_bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	$(VENV)/bin/mypy .

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
