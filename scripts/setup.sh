#!/usr/bin/env bash
# Installs zkinfer's pinned EVM tools (solc 0.8.19 as solcjs/WebAssembly, anvil 1.7.1) from npm
# into .tools/ at the repository root (git-ignored). Idempotent: does nothing when the installed
# versions already match scripts/tools/package-lock.json. Needs node >= 20 and npm.
#
# Afterwards: .tools/bin/solc and .tools/bin/anvil. zkinfer finds them there, or through
# ZKINFER_SOLC / ZKINFER_ANVIL, or on PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
lock="$root/scripts/tools/package-lock.json"
stamp="$tools/.installed-lock"

if [ -x "$tools/bin/solc" ] && [ -x "$tools/bin/anvil" ] && [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
  exit 0
fi
command -v npm >/dev/null || { echo "setup: npm is missing; install Node.js >= 20 (Debian: apt-get install nodejs npm)" >&2; exit 2; }

echo "setup: installing solc 0.8.19 and anvil 1.7.1 from npm into $tools" >&2
mkdir -p "$tools/bin"
cp "$root/scripts/tools/package.json" "$lock" "$tools/"
(cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >&2)

# solcjs prints a banner before its JSON and rejects --allow-paths, so a small node script stands in
# for the native `solc` CLI: --version, and --standard-json on stdin with base/include paths.
cp "$root/scripts/tools/solc.js" "$tools/bin/solc"
chmod +x "$tools/bin/solc"
ln -sf "../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" "$tools/bin/anvil"
chmod +x "$tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

"$tools/bin/solc" --version >/dev/null
"$tools/bin/anvil" --version >/dev/null
cp "$lock" "$stamp"
echo "setup: done ($("$tools/bin/solc" --version | tail -n1); $("$tools/bin/anvil" --version | head -n1))" >&2
