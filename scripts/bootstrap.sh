#!/usr/bin/env bash
# Installs what EAS needs on a fresh Debian/Ubuntu machine with Node 20+, or says exactly what is missing.
# --tests: also what the tests need besides: promtool (Debian's prometheus package), python3 and chromium.
set -euo pipefail
for_tests=false
[ "${1:-}" = "--tests" ] && for_tests=true
cd "$(dirname "$0")/.."

need_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root; run it as root or install sudo" >&2; exit 1; fi
}

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "       Install it from your distribution or nodejs.org, then run this again." >&2
  exit 1
fi

if ! command -v pnpm >/dev/null || [ "$(pnpm --version | cut -d. -f1)" -lt 12 ]; then
  echo "bootstrap: installing pnpm 12.4.2 with npm"
  need_root npm install -g -E --allow-scripts=pnpm pnpm@12.4.2 >/dev/null 2>&1 || need_root npm install -g -E pnpm@12.4.2
fi

apt_updated=false
# apt_install PACKAGE WHY: installs a Debian package, or stops naming it when there is no apt-get.
apt_install() {
  if command -v apt-get >/dev/null; then
    echo "bootstrap: installing $1 with apt-get ($2)"
    if [ "$apt_updated" = false ]; then need_root apt-get update -qq; apt_updated=true; fi
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "error: $1 is missing ($2): install it with your package manager" >&2
    exit 1
  fi
}

if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ] && [ -z "${NATS_SERVER_BIN:-}" ]; then
  apt_install nats-server "the NATS server; or set NATS_SERVER_BIN"
fi

if [ "$for_tests" = true ]; then
  # promtool lints every process's /metrics in the tests. The package also holds a Prometheus server,
  # which a systemd machine enables: `systemctl disable --now prometheus` if you do not want it.
  command -v promtool >/dev/null || apt_install prometheus "promtool, to lint /metrics"
  # A NATS subscriber written in Python checks the public event subjects from outside JavaScript.
  command -v python3 >/dev/null || apt_install python3 "the black-box NATS subscriber test"
  # The stress report's page is opened in headless Chromium (driven by playwright-core, which downloads nothing).
  [ -x /usr/bin/chromium ] || apt_install chromium "headless Chromium for the stress report's page test"
fi

pnpm install --frozen-lockfile --reporter=silent
