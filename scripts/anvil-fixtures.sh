#!/usr/bin/env bash
# Regenerates anvil-fixtures/: a chain with the PredictionRegistry, the credit model's verifier
# (breast_cancer_mlp: hashed input, private output, proves 'y[0] >= T', binding) registered as
# "credit", a data provider, an attested input, a LendingGate, and one submitted prediction.
# Saves anvil's state (state.json, for `anvil --load-state`) and deployments.json.
# Deterministic inputs: seeded SRS (seed 1), anvil's default dev accounts, fixed salt.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cargo build --release --locked
z="$root/target/release/zkinfer"
out="$root/anvil-fixtures"
work=$(mktemp -d)
trap '[ -n "${anvil_pid:-}" ] && kill -TERM "$anvil_pid" 2>/dev/null; rm -rf "$work"' EXIT

fx="$root/tests/fixtures/models/breast_cancer_mlp"
"$z" srs --logrows 14 --seed 1 --out "$work/srs.bin"
"$z" build "$fx/model.onnx" --calibration "$fx/calibration.jsonl" --srs "$work/srs.bin" \
  --input-visibility hashed --output-visibility private --output-predicate 'y[0] >= T' \
  --binding --out "$work/credit" >/dev/null

read -r anvil_pid port < <(bash "$root/scripts/anvil.sh" "$work/anvil.log" --dump-state "$work/state.json")

# anvil's well-known development keys (accounts 0, 1, 2): owner and submitter, data provider,
# borrower. Public knowledge: for local chains only.
owner=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
provider=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
provider_addr=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
borrower_addr=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
export ZKINFER_RPC_URL="http://127.0.0.1:$port" ZKINFER_DEPLOYMENTS="$work/deployments"
ZKINFER_PRIVATE_KEY=$owner "$z" registry deploy >/dev/null
ZKINFER_PRIVATE_KEY=$owner "$z" registry register "$work/credit" --model credit --uri "zkinfer:breast_cancer_mlp y[0]>=T" >/dev/null
ZKINFER_PRIVATE_KEY=$owner "$z" registry provider "$provider_addr" >/dev/null
commitment=$("$z" hash "$work/credit" --input "$fx/input.json" --salt 0x5eed)
ZKINFER_PRIVATE_KEY=$provider "$z" registry attest --commitment "$commitment" --account "$borrower_addr" >/dev/null
ZKINFER_PRIVATE_KEY=$owner "$z" registry gate --model credit --output 0 --min-threshold 0.4 --max-age 31536000000 >/dev/null
ZKINFER_PRIVATE_KEY=$owner "$z" prove "$work/credit" --input "$fx/input.json" --out "$work/proof.json" --salt 0x5eed --param T=0.5 --model credit >/dev/null
ZKINFER_PRIVATE_KEY=$owner "$z" submit "$work/credit" "$work/proof.json" >/dev/null

kill -TERM "$anvil_pid"
# anvil writes --dump-state as it exits.
for _ in $(seq 300); do kill -0 "$anvil_pid" 2>/dev/null || break; sleep 0.1; done
anvil_pid=
mkdir -p "$out"
cp "$work/state.json" "$out/state.json"
python3 - "$work/deployments/31337.json" "$out/deployments.json" "$commitment" "$borrower_addr" "$("$root/.tools/bin/anvil" --version | head -1)" "$(grep -o '"solc": *"[^"]*"' "$work/credit/contracts.json" | head -1 | cut -d'"' -f4)" <<'PY'
import json, sys
src, dst, commitment, borrower, anvil, solc = sys.argv[1:]
d = json.load(open(src))
for m in d["models"].values():
    m["build_dir"] = "rebuild: scripts/anvil-fixtures.sh (seeded SRS, seed 1)"
d["fixture"] = {
    "model": "credit",
    "source_model": "tests/fixtures/models/breast_cancer_mlp/model.onnx",
    "build": "--srs (zkinfer srs --logrows 14 --seed 1) --input-visibility hashed --output-visibility private --output-predicate 'y[0] >= T' --binding",
    "input_commitment": commitment,
    "salt": "0x5eed",
    "threshold": 0.5,
    "borrower": borrower.lower(),
    "anvil": anvil,
    "solc": solc,
}
with open(dst, "w") as f:
    json.dump(d, f, indent=2)
    f.write("\n")
PY
echo "anvil-fixtures: wrote $out/state.json and $out/deployments.json" >&2
