#!/usr/bin/env bash
# Starts the EAS local cluster (NATS, every service, two agents) and deploys the demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The eas CLI (./eas) runs its build: compile it (and the packages it loads) now, incrementally.
pnpm exec tsc -b cli/tsconfig.json
exec node --conditions=source --import tsx infra/src/main.ts "$@"
