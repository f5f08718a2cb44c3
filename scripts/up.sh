#!/usr/bin/env bash
# Starts the EAS local cluster (NATS, every service, two agents) and deploys the demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec node --conditions=source --import tsx infra/src/main.ts "$@"
