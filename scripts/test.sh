#!/usr/bin/env bash
# The test command (README, CI): installs the pinned EVM tools if missing, then runs every test
# optimised, against the committed Cargo.lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo test --release --locked "$@"
