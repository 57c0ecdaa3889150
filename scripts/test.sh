#!/usr/bin/env bash
# Everything `make test` runs: lint, then the suite on SQLite (with the browser
# tests) and on a PostgreSQL server started here and stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
work=$(mktemp -d /tmp/patron-test.XXXXXX)
chmod 755 "$work"
export PATRON_VAR_DIR="$work/var"
cleanup() { bash scripts/pg.sh stop "$work/pg" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bash scripts/lint.sh
bash scripts/chromium.sh

echo "== tests on SQLite (with headless Chromium)"
PATRON_DATABASE_URL="sqlite:///$work/test.sqlite3" $BIN/pytest -p no:cacheprovider "$@"

echo "== tests on PostgreSQL"
url=$(bash scripts/pg.sh start "$work/pg")
PATRON_DATABASE_URL="$url" $BIN/pytest -p no:cacheprovider -m "not browser" "$@"
