#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's `chromium` package if missing.
# Used by tests/test_report_render.py to render the backtest HTML report to PNG.
# Exit status 1 (and a message on stderr) when Chromium cannot be found or installed.
set -euo pipefail

find_chromium() {
  local name
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

# Japanese text (reasons, descriptions) needs a CJK font to render; best effort, never fatal.
install_cjk_font() {
  if command -v fc-list >/dev/null 2>&1 && fc-list :lang=ja 2>/dev/null | grep -q .; then
    return 0
  fi
  $SUDO apt-get install -y -qq fonts-ipafont-gothic >&2 || true
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi

if path=$(find_chromium); then
  if [ -n "${TOLLGUARD_CJK_FONT:-}" ]; then install_cjk_font; fi
  echo "$path"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
  echo "chromium is not installed and this user cannot install packages" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed and apt-get is not available" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Another process may hold the dpkg lock for a while; retry a few times.
for attempt in 1 2 3 4 5; do
  if $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq chromium >&2; then
    break
  fi
  echo "apt-get failed (attempt $attempt); retrying" >&2
  sleep 10
done

if path=$(find_chromium); then
  install_cjk_font
  echo "$path"
  exit 0
fi
echo "chromium could not be installed" >&2
exit 1
