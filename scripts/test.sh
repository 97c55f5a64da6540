#!/usr/bin/env bash
# Runs every test: lint, types, the unit/integration suites, and the PostgreSQL suite when a server
# can be started here (scripts/postgres.sh installs and starts Debian's PostgreSQL on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff"; $BIN/ruff check src tests bench
echo "== mypy"; $BIN/mypy
if [ -z "${TOLLGUARD_TEST_PG:-}" ] && [ -x scripts/postgres.sh ]; then
  if url=$(bash scripts/postgres.sh start); then
    export TOLLGUARD_TEST_PG="$url"
    trap 'bash scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
  else
    echo "PostgreSQL could not be started here; the postgres-marked tests will be skipped."
  fi
fi
bash scripts/tools.sh
# Kamailio and sipp for the SIP tests (tests/e2e, tests/test_switch_kamailio.py).
if [ -x scripts/kamailio.sh ] && ! bash scripts/kamailio.sh >/dev/null; then
  echo "Kamailio/sipp could not be installed here; the Kamailio tests will be skipped."
fi
if chromium=$(TOLLGUARD_CJK_FONT=1 bash scripts/chromium.sh); then export TOLLGUARD_CHROMIUM="$chromium"; else echo "Chromium could not be installed here; the browser tests will be skipped."; fi
echo "== pytest"
$BIN/python -m pytest -q -p no:cacheprovider
echo "== dependency audit"
bash scripts/audit-deps.sh
