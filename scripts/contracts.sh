#!/usr/bin/env bash
# Regenerates contracts/artifacts/*.json from contracts/*.sol with the pinned solc (installed by
# scripts/setup.sh). The artifacts are committed: the typed bindings are generated from them, and
# a test (tests/it/registry.rs) fails when they no longer match the sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo run --release --locked --example compile_contracts
