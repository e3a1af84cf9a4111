#!/usr/bin/env bash
# The scripts' one anvil helper: starts the pinned anvil (installed by scripts/setup.sh) on a
# free port with any further anvil arguments, waits until it listens, and prints "PID PORT".
# The caller stops it with `kill PID` (and waits for PID to exit, e.g. for --dump-state).
# Usage: bash scripts/anvil.sh LOG [ANVIL ARGS...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log=$1
shift
for _attempt in 1 2 3; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$root/.tools/bin/anvil" --port "$port" "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 200); do
    if grep -q "Listening on" "$log"; then
      echo "$pid $port"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true # the port was taken meanwhile, or anvil hung: try another
done
echo "anvil.sh: anvil did not start (see $log)" >&2
exit 1
