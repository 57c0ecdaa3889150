#!/usr/bin/env bash
# Make sure Debian's chromium is there for the browser tests (Playwright drives it).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1
fi
