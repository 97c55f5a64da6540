#!/usr/bin/env bash
# Known vulnerabilities in the pinned dependencies (requirements.lock), with pip-audit in a venv
# of its own (.venv-audit) so that its dependencies never mix with tollguard's.
# Offline-tolerant: when pip-audit cannot reach a vulnerability database (a closed network),
# it says so and exits 0; a vulnerability found exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
AUDIT=.venv-audit
if [ ! -x "$AUDIT/bin/pip-audit" ]; then
  python3 -m venv "$AUDIT" && "$AUDIT/bin/pip" install -q pip-audit \
    || { echo "audit-deps: pip-audit could not be installed; dependencies not audited" >&2; exit 0; }
fi
out=$("$AUDIT/bin/pip-audit" -r requirements.lock --no-deps --disable-pip --progress-spinner off 2>&1)
rc=$?
echo "$out" | grep -v "^WARNING:pip_audit" | tail -n 40
if echo "$out" | grep -q "Found [0-9]* known vulnerabilit"; then
  exit 1
fi
if [ $rc -ne 0 ] || echo "$out" | grep -q "could not be audited"; then
  echo "audit-deps: the vulnerability database was not (fully) reachable from here; not a failure" >&2
fi
exit 0
