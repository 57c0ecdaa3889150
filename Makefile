# Two commands for a new user: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
HOST ?= 127.0.0.1
UV_VERSION = 0.13.8
BIN = $(VENV)/bin

.PHONY: run test install install-dev lint fmt demo bench clean messages

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml uv.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv sync --frozen --inexact --no-dev --quiet
	touch $@

$(VENV)/.installed-dev: $(BIN)/uv pyproject.toml uv.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Install, migrate an embedded SQLite database, load demo data, serve web + API + worker.
run: install
	$(BIN)/patron migrate --no-input -v 0
	$(BIN)/patron demo
	$(BIN)/patron serve --host $(HOST) --port $(PORT)

## Every test: lint, types, architecture, SQLite, PostgreSQL (started here), headless Chromium.
test: install-dev
	bash scripts/test.sh

lint: install-dev
	bash scripts/lint.sh

fmt: install-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## Refresh the catalogs from the source and compile them (translate any new zh_Hans entry, then run it again).
messages: install-dev
	cd src/patron && ../../$(BIN)/patron makemessages -l zh_Hans -l en --no-obsolete --ignore 'migrations/*'
	msgfmt --check --statistics -o /dev/null src/patron/locale/zh_Hans/LC_MESSAGES/django.po
	cd src/patron && ../../$(BIN)/patron compilemessages

bench: install-dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
