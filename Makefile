# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1:8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo serve test test-fast test-postgres lint format browser benchmarks clean-demo

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## demo: install, migrate, train the model and generate the maps when missing, start a small KAR run
## in the background, then serve the site. DEBUG is on for the local demo only (the settings default to off).
demo: export DJANGO_DEBUG := 1
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py prepare_demo --host $(HOST)
	$(BIN)/python manage.py runserver $(HOST)

serve: export DJANGO_DEBUG := 1
serve: $(STAMP)
	$(BIN)/python manage.py runserver $(HOST)

## browser: Debian's Chromium and its driver for the end-to-end test (needs root or sudo)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

## test: the whole suite with pytest (SQLite unless DATABASE_URL says otherwise)
test: $(STAMP) browser
	$(BIN)/python -m pytest

## test-fast: the quick loop while working: every test but those marked slow (training, browser, servers)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

## lint: ruff's checks and its formatting, as CI runs them (`make format` rewrites the files)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## test-postgres: the database-touching tests again, against PostgreSQL on 127.0.0.1:5432
test-postgres: $(STAMP) browser
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -m django_db

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/lime_throughput.py

clean-demo:
	rm -rf var/
