#!/usr/bin/env bash
# Measures each fixture model end to end (build, prove, verify, anvil verify gas) and prints a
# Markdown table with the machine and date. Not part of CI; numbers go into README.md.
# Needs GNU time (/usr/bin/time; Debian package `time`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --locked --quiet
bin=target/release/zkinfer
work=$(mktemp -d)
read -r anvil_pid port < <(bash scripts/anvil.sh "$work/anvil.log")
trap 'kill $anvil_pid 2>/dev/null; rm -rf "$work"' EXIT
rpc=http://127.0.0.1:$port
# anvil's first well-known development key (public; local chain only).
export ZKINFER_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| model | MACs | logrows | build (s) | build peak RSS (MB) | prove (s) | prove peak RSS (MB) | proof (B) | verifier runtime (B) | verify gas (anvil tx) | max abs error vs float |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
models=$(grep -v '^#' tests/fixtures/models/fixtures.txt)
for m in $models; do
  f=tests/fixtures/models/$m
  /usr/bin/time -f "%e %M" -o "$work/bt" $bin build $f/model.onnx --calibration $f/calibration.jsonl --out "$work/$m" --json > "$work/b.json" 2>/dev/null
  /usr/bin/time -f "%e %M" -o "$work/pt" $bin prove "$work/$m" --input $f/input.json --out "$work/$m.proof.json" --json > "$work/p.json" 2>/dev/null
  addr=$($bin deploy "$work/$m" --rpc-url "$rpc" 2>/dev/null)
  gas=$($bin verify-evm "$work/$m" "$work/$m.proof.json" --address "$addr" --rpc-url "$rpc" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["gas_used"])')
  python3 - "$m" "$work" "$gas" <<'PY'
import json, sys
m, work, gas = sys.argv[1], sys.argv[2], sys.argv[3]
b = json.load(open(f"{work}/b.json")); p = json.load(open(f"{work}/p.json"))
bt, bm = open(f"{work}/bt").read().split(); pt, pm = open(f"{work}/pt").read().split()
json.dump({"logrows": b["logrows"], "prove_secs": p["prove_secs"], "max_err": b["fidelity"]["max_abs_error_overall"]}, open(f"{work}/{m}.row.json", "w"))
print(f"| {m} | {b['macs']} | {b['logrows']} | {float(bt):.2f} | {int(bm)//1024} | {p['prove_secs']:.2f} (process {float(pt):.2f}) | {int(pm)//1024} | {p['proof_bytes']} | {b['verifier']['verifier_runtime_bytes']} | {gas} | {b['fidelity']['max_abs_error_overall']:.1e} |")
PY
done
echo
echo "Accuracy on each fixture's held-out split (test.jsonl): the float model vs the quantized model as"
echo "computed by the bit-exact integer evaluator, i.e. what the circuit proves (\`zkinfer eval\`)."
echo
echo "| model | task | float | quantized (proven) | agreement | max abs error (calibration) | logrows | prove (s) |"
echo "|---|---|---|---|---|---|---|---|"
for m in $models; do
  $bin eval "$work/$m" --data tests/fixtures/models/$m/test.jsonl --json > "$work/e.json"
  python3 - "$m" "$work" <<'PY'
import json, sys
m, work = sys.argv[1], sys.argv[2]
e = json.load(open(f"{work}/e.json")); r = json.load(open(f"{work}/{m}.row.json"))
if e["task"] == "classification":
    f, q, a = f"{100*e['float_accuracy']:.2f}%", f"{100*e['quantized_accuracy']:.2f}%", f"{100*e['agreement']:.2f}%"
else:
    f, q, a = f"MAE {e['float_mae']:.3f}", f"MAE {e['quantized_mae']:.3f}", "-"
print(f"| {m} | {e['task']} ({e['samples']}) | {f} | {q} | {a} | {r['max_err']:.1e} | {r['logrows']} | {r['prove_secs']:.2f} |")
PY
done
