#!/usr/bin/env bash
# Installs the Debian tools some tests drive for real, when they are missing:
#   hey        HTTP load generator (stress test of the service, `make bench`)
#   nftables, ipset, fail2ban   load the block-list exports for real (tests/test_exports.py)
# Idempotent; never fails the test run: a tool that cannot be installed makes its tests skip
# with a clear message.
set -uo pipefail

want=()
command -v hey >/dev/null 2>&1 || want+=(hey)
command -v nft >/dev/null 2>&1 || want+=(nftables)
command -v ipset >/dev/null 2>&1 || want+=(ipset)
command -v fail2ban-regex >/dev/null 2>&1 || want+=(fail2ban)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tools.sh: cannot install ${want[*]} (needs root and apt-get); their tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "tools.sh: installing ${want[*]}" >&2
if ! apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null 2>&1 \
    || echo "tools.sh: could not install ${want[*]}; their tests will be skipped" >&2
fi
# fail2ban's package starts its service; tollguard's tests only use fail2ban-regex.
if command -v fail2ban-client >/dev/null 2>&1; then
  (systemctl stop fail2ban || service fail2ban stop || fail2ban-client stop) >/dev/null 2>&1 || true
fi
exit 0
