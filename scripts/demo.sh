#!/usr/bin/env bash
# Runs `zkinfer demo` (tools are installed on first use by the demo itself).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release --locked --quiet -- demo "$@"
