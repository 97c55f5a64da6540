#!/usr/bin/env bash
# Installs Kamailio and sipp for tollguard's end-to-end tests (Debian packages).
#
#   scripts/kamailio.sh [install]   # installs what is missing; prints the kamailio path on stdout
#   scripts/kamailio.sh check       # exits 0 when everything is installed, 1 otherwise (no install)
#
# Packages: kamailio, kamailio-utils-modules (http_client), kamailio-extra-modules (jansson) and
# sip-tester (sipp). Idempotent: nothing is done when the binaries and modules are present. The
# packages must not start a system Kamailio that would take port 5060: the install runs under a
# policy-rc.d that forbids starting services, and any kamailio service the packages enabled is
# stopped and disabled afterwards. Everything but the kamailio path goes to stderr; on failure a
# clear message is printed and the exit status is non-zero.
set -euo pipefail

PACKAGES=(kamailio kamailio-utils-modules kamailio-extra-modules sip-tester)
# Modules the shipped config (integrations/kamailio/kamailio.cfg) loads beyond the core package.
MODULES=(http_client.so jansson.so async.so dialog.so htable.so jsonrpcs.so xhttp.so tm.so)

log() { echo "kamailio.sh: $*" >&2; }
die() { echo "kamailio.sh: error: $*" >&2; exit 1; }

module_dir() {
  local d
  for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/aarch64-linux-gnu/kamailio/modules \
    /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules; do
    if [ -d "$d" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

installed() {
  command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || return 1
  command -v sipp >/dev/null 2>&1 || return 1
  local dir m
  dir="$(module_dir)" || return 1
  for m in "${MODULES[@]}"; do
    [ -f "$dir/$m" ] || return 1
  done
  return 0
}

kamailio_path() {
  command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio
}

# Stop and disable a kamailio service the packages may have started or enabled.
quiet_service() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop kamailio >/dev/null 2>&1 || true
    systemctl disable kamailio >/dev/null 2>&1 || true
  fi
  if [ -x /etc/init.d/kamailio ]; then
    # Without systemd the init script only starts with a policy-rc.d that allows it; stop anyway.
    /etc/init.d/kamailio stop >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d kamailio disable >/dev/null 2>&1 || true
  fi
  # Debian's default file gates the init script (RUN_KAMAILIO=yes is needed to start it).
  if [ -f /etc/default/kamailio ] && grep -q '^RUN_KAMAILIO=yes' /etc/default/kamailio; then
    sed -i 's/^RUN_KAMAILIO=yes/#RUN_KAMAILIO=yes/' /etc/default/kamailio || true
  fi
}

install_packages() {
  [ "$(id -u)" -eq 0 ] || die "Kamailio/sipp are not installed and we are not root to install them (apt-get install ${PACKAGES[*]})"
  command -v apt-get >/dev/null 2>&1 || die "Kamailio/sipp are not installed and apt-get is missing"
  export DEBIAN_FRONTEND=noninteractive
  # Forbid service starts during the install; restore whatever policy-rc.d was there before.
  local policy=/usr/sbin/policy-rc.d backup=""
  if [ -e "$policy" ]; then
    backup="$(mktemp)"
    cp -p "$policy" "$backup"
  fi
  restore_policy() {
    if [ -n "$backup" ]; then
      cp -p "$backup" "$policy" && rm -f "$backup"
    else
      rm -f "$policy"
    fi
  }
  printf '#!/bin/sh\n# written by tollguard scripts/kamailio.sh during apt-get install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  log "installing Debian packages: ${PACKAGES[*]}"
  local ok=1
  if ! apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2; then
    log "apt-get install failed; updating the package lists and trying again"
    if ! { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2; }; then
      ok=0
    fi
  fi
  restore_policy
  quiet_service
  [ "$ok" -eq 1 ] || die "apt-get install ${PACKAGES[*]} failed"
}

case "${1:-install}" in
  check)
    installed
    ;;
  install)
    if installed; then
      quiet_service
      kamailio_path
      exit 0
    fi
    install_packages
    installed || die "packages installed but kamailio, sipp or a module (${MODULES[*]}) is still missing"
    kamailio_path
    ;;
  *)
    die "usage: $0 [install|check]"
    ;;
esac
