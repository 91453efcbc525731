# Loyalty platform: every day-to-day command. `make demo` and `make test` are the quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo run worker migrate test test-any-day test-engine lint format typecheck migrations-check check clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

## Quick start 1/2: set up, load the Complete Journey demo (once), queue its first scoring run,
## then run the web server and the workers (which execute that run in the background).
## Without DATABASE_URL every step uses the embedded PostgreSQL in var/pgdata (started on the
## first connection, stopped when its last process exits; loyalty_site/embedded_pg).
demo: migrate
	DJANGO_DEBUG=1 $(BIN)/python manage.py load_demo --if-missing
	DJANGO_DEBUG=1 $(BIN)/python manage.py score --retailer demo --if-none
	DJANGO_DEBUG=1 $(BIN)/python manage.py setup_schedules
	DJANGO_DEBUG=1 HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

## Web server and both django-q2 queues, on whatever data the database has.
run: migrate
	DJANGO_DEBUG=1 HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

worker: install
	$(BIN)/python manage.py qcluster

## Quick start 2/2: the whole test suite, on the embedded PostgreSQL unless DATABASE_URL is set.
test: install
	$(BIN)/pytest -q

## The date-sensitive tests on every weekday at 23:30 (and once at 00:30) in the retailers' zone.
test-any-day: install
	scripts/test_any_day.sh

test-engine: install
	$(BIN)/pytest -q tests/optimizer/engine

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # apps are layers: imports only point down (pyproject.toml)

## mypy with django-stubs and djangorestframework-stubs ([tool.mypy] in pyproject.toml).
typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
