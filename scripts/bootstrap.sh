#!/usr/bin/env bash
# Installs what EAS needs on a fresh Debian/Ubuntu machine with Node 20+, or says exactly what is missing.
set -euo pipefail
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

if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ] && [ -z "${NATS_SERVER_BIN:-}" ]; then
  if command -v apt-get >/dev/null; then
    echo "bootstrap: installing nats-server with apt-get"
    need_root apt-get update -qq
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "error: nats-server is missing: install it (https://docs.nats.io) or set NATS_SERVER_BIN" >&2
    exit 1
  fi
fi

pnpm install --frozen-lockfile --reporter=silent
