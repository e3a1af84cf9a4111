#!/usr/bin/env bash
# Installs zkinfer's pinned EVM tools (solc 0.8.19 as solcjs/WebAssembly, anvil 1.7.1) from npm
# into .tools/ at the repository root (git-ignored), and Debian's postgresql and libssl-dev when
# missing (as root; otherwise it says what to install). Idempotent: does nothing when the
# installed versions already match scripts/tools/package-lock.json. Needs node >= 20 and npm.
#
# Afterwards: .tools/bin/solc and .tools/bin/anvil. zkinfer finds them there, or through
# ZKINFER_SOLC / ZKINFER_ANVIL, or on PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
lock="$root/scripts/tools/package-lock.json"
stamp="$tools/.installed-lock"

# Debian packages: PostgreSQL's server (the tests start a throwaway one for the oracle's shared
# journal) and OpenSSL's headers (TLS of the PostgreSQL client), when missing.
pg_found() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
need=()
pg_found || need+=(postgresql)
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need[@]}" >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
  else
    echo "setup: missing ${need[*]}: install them (Debian: sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
fi

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
