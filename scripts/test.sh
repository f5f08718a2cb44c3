#!/usr/bin/env bash
# Runs every check and every test tier; ends with node's counted test summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --tests
echo "== generated code is fresh"; pnpm gen:check
echo "== typecheck and build";     pnpm build
echo "== lint";                    pnpm lint
echo "== format";                  pnpm format:check
echo "== tests: unit, integration, end-to-end"
pnpm test
