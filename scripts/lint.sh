#!/usr/bin/env bash
# Style, types, architecture and migrations, as `make test` runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PATRON_VAR_DIR="${PATRON_VAR_DIR:-$(mktemp -d)}"
echo "== ruff"
$BIN/ruff check src tests benchmarks
$BIN/ruff format --check src tests benchmarks
echo "== mypy"
$BIN/mypy
echo "== import-linter"
$BIN/lint-imports
echo "== migrations up to date"
$BIN/patron makemigrations --check --dry-run
