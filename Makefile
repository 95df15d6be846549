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

.PHONY: run serve test lint fmt typecheck install migrate worker beat clean

$(PIP_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(PIP_STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py create_demo_user
	@echo "Serving http://$(HOST):$(PORT)/ (admin at /admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# Production-shaped: the ASGI app under granian with several worker processes.
serve: migrate
	DEBUG=$${DEBUG:-0} $(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-0} $(VENV)/bin/granian --interface asgi --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --no-ws tmsite.asgi:application

worker: install
	$(VENV)/bin/celery -A tmsite worker --loglevel INFO --concurrency $${CONCURRENCY:-2}

beat: install
	$(VENV)/bin/celery -A tmsite beat --loglevel INFO

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

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
