#!/usr/bin/env python3
"""zkinfer vs EZKL on the same models and inputs, in one run. Started by `scripts/bench`.

Writes bench/RESULTS.md and bench/results.json (or --out DIR). Not part of CI.

Per model: zkinfer builds once (calibration, key generation, verifier); EZKL is set up twice,
with its defaults (gen_settings, no calibration) and calibrated for resources
(calibrate_settings target=resources), both with zkinfer's default visibility (private input,
fixed weights, public output). Then for each repetition the tools prove the same input in turn
(zkinfer, EZKL default, EZKL resources), each in its own process so peak RSS is that step's.
Verifiers go to one anvil (code size limit lifted, so an oversized verifier is still measured;
the 24,576-byte EIP-170 limit is reported per verifier). Accuracy: each tool's outputs on the
first --acc-samples held-out samples against onnxruntime's float outputs.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

import numpy as np
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# ZKINFER_BIN: another zkinfer binary (e.g. an older commit's, for a before/after study).
ZK = os.environ.get("ZKINFER_BIN") or os.path.join(ROOT, "target", "release", "zkinfer")
PY = sys.executable
EZ = os.path.join(ROOT, "scripts", "bench_ezkl.py")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "models")
with open(os.path.join(FIXTURES, "fixtures.txt")) as f:
    FIXTURE_MODELS = [l.strip() for l in f if l.strip() and not l.startswith("#")]
EXTRA_MODELS = ["wide_mlp", "small_cnn", "logreg_sigmoid"]
SCALE_MODELS = ["mlp_w64", "mlp_w128", "mlp_w256", "mlp_w512", "mlp_w1024", "mlp_w2048",
                "cnn_c4", "cnn_c16", "cnn_c64", "cnn_c256"]
INSTANCE_COUNTS = [1, 16, 64, 256, 1024]
BATCH_SIZES = [1, 4, 16, 32, 64]
# The batch study's models: fixture, build flags, predicate parameters of every sample (a
# threshold far below any score, so the predicate holds), the main benchmark's model for EZKL.
BATCH_MODELS = {
    "credit": {"fixture": "breast_cancer_mlp", "params": {"T": -1000},
               "flags": ["--input-visibility", "hashed", "--output-predicate", "y[0] >= T", "--binding"]},
    "digits": {"fixture": "digits_mlp", "params": None,
               "flags": ["--input-visibility", "hashed", "--output-visibility", "public", "--binding"]},
}
FRESH_SLOT_GAS = 22100  # SSTORE of a zero slot (20,000) + its cold access (2,100)
VALUE_BITS = 215  # PredictionRegistry.VALUE_BITS: values packed beside the block time
EIP170 = 24576
EIP3860 = 49152
# anvil's first well-known development key (public; local chain only).
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class StepFailed(Exception):
    pass


def run(cmd, cwd=None, env=None, timeout=None):
    """Runs cmd under GNU time; returns (stdout, wall seconds, peak RSS in MB)."""
    tfile = os.path.join(WORK, "time.txt")
    full = ["/usr/bin/time", "-f", "%e %M", "-o", tfile] + cmd
    p = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or "").strip().splitlines()[-4:])
        raise StepFailed(f"{os.path.basename(cmd[1] if cmd[0] == PY else cmd[0])} {cmd[2] if cmd[0] == PY else cmd[1]} "
                         f"failed (exit {p.returncode}): {tail}")
    wall, rss = open(tfile).read().split()[-2:]
    return p.stdout, float(wall), int(rss) / 1024.0


def jrun(cmd, **kw):
    out, wall, rss = run(cmd, **kw)
    return json.loads(out), wall, rss


class Anvil:
    def __init__(self):
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "anvil.sh"), os.path.join(WORK, "anvil.log"),
                              "--disable-code-size-limit", "--gas-limit", "1000000000"],
                             check=True, capture_output=True, text=True).stdout.split()
        self.pid, self.port = int(out[0]), int(out[1])
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                self.rpc("eth_chainId")
                break
            except OSError:
                time.sleep(0.05)
        self.account = self.rpc("eth_accounts")[0]

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        r = json.load(urllib.request.urlopen(req, timeout=120))
        if "error" in r:
            raise StepFailed(f"{method}: {r['error']}")
        return r["result"]

    def send(self, to, data):
        tx = {"from": self.account, "data": data, "gas": hex(900_000_000)}
        if to:
            tx["to"] = to
        h = self.rpc("eth_sendTransaction", tx)
        for _ in range(600):
            rec = self.rpc("eth_getTransactionReceipt", h)
            if rec:
                return rec
            time.sleep(0.05)
        raise StepFailed(f"no receipt for {h}")

    def close(self):
        os.kill(self.pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except OSError:
                break
            time.sleep(0.05)


def solc_compile(sol_path):
    """Compiles EZKL's verifier with zkinfer's pinned solc (optimizer on, 1 run, as EZKL deploys)."""
    src = open(sol_path).read()
    inp = {"language": "Solidity", "sources": {"Verifier.sol": {"content": src}},
           "settings": {"optimizer": {"enabled": True, "runs": 1},
                        "outputSelection": {"*": {"*": ["evm.bytecode.object", "evm.deployedBytecode.object"]}}}}
    p = subprocess.run([os.path.join(ROOT, ".tools", "bin", "solc"), "--standard-json"], input=json.dumps(inp),
                       capture_output=True, text=True)
    out = json.loads(p.stdout)
    errs = [e["formattedMessage"] for e in out.get("errors", []) if e["severity"] == "error"]
    if errs:
        raise StepFailed("solc: " + errs[0][:300])
    best = max((c for f in out["contracts"].values() for c in f.values()),
               key=lambda c: len(c["evm"]["deployedBytecode"]["object"]))
    return best["evm"]["bytecode"]["object"]


def prepare(name, models_dir):
    """The model's files: model.onnx, calibration.jsonl, test.jsonl."""
    src = os.path.join(FIXTURES, name) if name in FIXTURE_MODELS else os.path.join(models_dir, name)
    if not os.path.exists(os.path.join(src, "model.onnx")):
        subprocess.run([PY, os.path.join(ROOT, "scripts", "bench_models.py"), models_dir, name], check=True)
    return src


def read_rows(path, n):
    rows = []
    for line in open(path):
        if line.strip():
            rows.append(json.loads(line))
        if len(rows) == n:
            break
    return rows


def float_outputs(model_path, x):
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    arr = np.asarray(x, dtype=np.float32).reshape([d if isinstance(d, int) else 1 for d in inp.shape])
    outs = sess.run(None, {inp.name: arr})
    return [np.asarray(o, dtype=np.float64).reshape(-1).tolist() for o in outs if np.asarray(o).dtype.kind in "fiu"]


def flat(outs):
    return [v for o in outs for v in o]


def summarize_acc(outputs, floats, labels, classification):
    """max abs error vs float over all outputs; accuracy (argmax of the last output) or MAE."""
    errs, hits, mae = [], 0, []
    for o, f, y in zip(outputs, floats, labels):
        if o is None:
            continue
        # Tools drop integer outputs (labels); compare the float outputs they have, from the end.
        fo = f[-len(o):] if len(o) <= len(f) else f
        errs.append(max(abs(a - b) for a, b in zip(flat(o), flat(fo))) if o else 0.0)
        last = o[-1]
        if classification:
            pred = int(np.argmax(last)) if len(last) > 1 else int(last[0] > 0.5)
            hits += int(pred == int(y))
        else:
            mae.append(abs(last[0] - y))
    n = len(errs)
    res = {"samples": n, "max_abs_error": max(errs) if errs else None}
    if classification:
        res["accuracy"] = hits / n if n else None
    else:
        res["mae"] = float(np.mean(mae)) if mae else None
    return res


def bench_zkinfer(name, src, d, inputs, anvil, acc_rows):
    r = {"tool": "zkinfer", "config": "default"}
    b, wall, rss = jrun([ZK, "build", os.path.join(src, "model.onnx"), "--calibration",
                         os.path.join(src, "calibration.jsonl"), "--out", os.path.join(d, "build"), "--json"])
    r.update(build_secs=wall, setup_secs=b["keygen_secs"], setup_rss_mb=rss, logrows=b["logrows"],
             verifier_bytes=b["verifier"]["verifier_runtime_bytes"] + b["verifier"].get("tail_runtime_bytes", 0)
             + b["verifier"]["wrapper_runtime_bytes"],
             # EIP-170 applies per contract: a split verifier's largest half.
             halo2_verifier_bytes=max(b["verifier"]["verifier_runtime_bytes"], b["verifier"].get("tail_runtime_bytes", 0)))
    r["_build"] = os.path.join(d, "build")
    return r


def zk_prove(r, d, i, inp):
    p, wall, rss = jrun([ZK, "prove", r["_build"], "--input", inp, "--out", os.path.join(d, f"proof_{i}.json"), "--json"])
    r.setdefault("prove_secs_all", []).append(p["prove_secs"])
    r.setdefault("prove_process_secs_all", []).append(wall)
    r.setdefault("prove_rss_mb_all", []).append(rss)
    r["proof_bytes"] = p["proof_bytes"]
    r.setdefault("outputs", []).append(p["outputs"])


def zk_finish(r, d, anvil, acc_path, n_acc):
    v, _, _ = jrun([ZK, "verify", r["_build"], os.path.join(d, "proof_0.json"), "--json"])
    if not v["valid"]:
        raise StepFailed("zkinfer verify rejected its own proof")
    r["verify_secs"] = v["verify_secs"]
    env = dict(os.environ, ZKINFER_PRIVATE_KEY=DEV_KEY)
    dep, _, _ = jrun([ZK, "deploy", r["_build"], "--rpc-url", anvil.url, "--json"], env=env)
    r["deploy_gas"] = sum(dep["deploy_gas"].values())
    ve, _, _ = jrun([ZK, "verify-evm", r["_build"], os.path.join(d, "proof_0.json"), "--address", dep["address"],
                     "--rpc-url", anvil.url, "--json"], env=env)
    r["verify_gas"] = ve["gas_used"]
    ev, _, _ = jrun([ZK, "eval", r["_build"], "--data", acc_path, "--json"])
    r["accuracy_eval"] = ev


def bench_ezkl_setup(config, src, d, cal_rows, srs_dir):
    r = {"tool": "ezkl", "config": config}
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(src, "model.onnx"), os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "cal.json"), "w") as f:
        json.dump({"input_data": [[v for row in cal_rows for v in row["input_data"][0]]]}, f)
    s, wall, _ = jrun([PY, EZ, "settings", d, config])
    r.update(settings_secs=wall, logrows=s["logrows"], input_scale=s["input_scale"], param_scale=s["param_scale"])
    jrun([PY, EZ, "compile", d])
    srs = os.path.join(srs_dir, f"k{s['logrows']}.srs")
    if not os.path.exists(srs):
        jrun([PY, EZ, "srs", d, srs])
    r["_srs"] = srs
    st, _, rss = jrun([PY, EZ, "setup", d, srs])
    r.update(setup_secs=st["secs"], setup_rss_mb=rss)
    r["_dir"] = d
    return r


def ez_prove(r, i, inp):
    d = r["_dir"]
    p, wall, rss = jrun([PY, EZ, "prove", d, r["_srs"], inp, f"proof_{i}.json"])
    # Witness generation is part of proving an input (zkinfer's prove includes it too).
    r.setdefault("prove_secs_all", []).append(p["witness_secs"] + p["prove_secs"])
    r.setdefault("prove_process_secs_all", []).append(wall)
    r.setdefault("prove_rss_mb_all", []).append(rss)
    r["proof_bytes"] = p["proof_bytes"]
    r.setdefault("outputs", []).append(p["outputs"])


def ez_finish(r, anvil, acc_path):
    d = r["_dir"]
    v, _, _ = jrun([PY, EZ, "verify", d, r["_srs"], "proof_0.json"])
    if not v["valid"]:
        raise StepFailed("EZKL verify rejected its own proof")
    r["verify_secs"] = v["secs"]
    jrun([PY, EZ, "verifier", d, r["_srs"]])
    code = solc_compile(os.path.join(d, "Verifier.sol"))
    rec = anvil.send(None, "0x" + code)
    if rec["status"] != "0x1":
        raise StepFailed("EZKL verifier deployment reverted")
    addr = rec["contractAddress"]
    r["deploy_gas"] = int(rec["gasUsed"], 16)
    r["verifier_bytes"] = (len(anvil.rpc("eth_getCode", addr, "latest")) - 2) // 2
    calldata = "0x" + open(os.path.join(d, "calldata_0.bin"), "rb").read().hex()
    ok = anvil.rpc("eth_call", {"to": addr, "data": calldata}, "latest")
    if int(ok, 16) != 1:
        raise StepFailed("EZKL's verifier rejected its proof on-chain")
    rec = anvil.send(addr, calldata)
    r["verify_gas"] = int(rec["gasUsed"], 16)
    w, _, _ = jrun([PY, EZ, "witness", d, r["_srs"], acc_path])
    r["_acc_outputs"] = w["outputs"]


def median(xs):
    return statistics.median(xs) if xs else None


def finalize(r):
    for k in ("prove_secs", "prove_process_secs", "prove_rss_mb"):
        if k + "_all" in r:
            r[k] = median(r[k + "_all"])
    r["prove_rss_mb"] = max(r.get("prove_rss_mb_all") or [0]) or None
    # EIP-170 applies per contract: zkinfer's halo2 verifier and its wrapper are two contracts.
    largest = r.get("halo2_verifier_bytes", r.get("verifier_bytes"))
    r["fits_eip170"] = largest is not None and largest <= EIP170
    return {k: v for k, v in r.items() if not k.startswith("_")}


METRICS = [  # key, label, lower is better, format
    ("setup_secs", "setup (keygen) s", "{:.2f}"),
    ("setup_rss_mb", "setup peak RSS MB", "{:.0f}"),
    ("prove_secs", "prove s (median)", "{:.2f}"),
    ("prove_rss_mb", "prove peak RSS MB", "{:.0f}"),
    ("verify_secs", "verify s", "{:.3f}"),
    ("proof_bytes", "proof B", "{:.0f}"),
    ("verifier_bytes", "verifier runtime B", "{:.0f}"),
    ("deploy_gas", "deploy gas", "{:.0f}"),
    ("verify_gas", "verify gas", "{:.0f}"),
    ("logrows", "logrows", "{:.0f}"),
    ("max_abs_error", "max abs error vs float", "{:.1e}"),
]


def bench_model(name, args, anvil, srs_dir):
    src = prepare(name, os.path.join(WORK, "models"))
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    test_rows = read_rows(os.path.join(src, "test.jsonl"), max(args.reps, args.acc_samples))
    cal_rows = read_rows(os.path.join(src, "calibration.jsonl"), 20)
    inputs = []
    for i in range(args.reps):
        p = os.path.join(d, f"input_{i}.json")
        json.dump({"input_data": test_rows[i]["input_data"]}, open(p, "w"))
        inputs.append(p)
    acc_rows = test_rows[:args.acc_samples]
    acc_path = os.path.join(d, "acc.jsonl")
    with open(acc_path, "w") as f:
        for row in acc_rows:
            f.write(json.dumps(row) + "\n")
    model_path = os.path.join(src, "model.onnx")
    floats = [float_outputs(model_path, row["input_data"]) for row in acc_rows]
    labels = [row.get("label", 0) for row in acc_rows]
    classification = all(float(y).is_integer() for y in labels) and name != "diabetes_forest"  # until zkinfer eval says
    runs = []
    log(f"{name}: zkinfer build")
    try:
        zr = bench_zkinfer(name, src, os.path.join(d, "zkinfer"), inputs, anvil, acc_rows)
        runs.append(zr)
    except StepFailed as e:
        runs.append({"tool": "zkinfer", "config": "default", "error": str(e)})
    for cfg in args.ezkl_configs:
        log(f"{name}: EZKL {cfg} setup")
        try:
            runs.append(bench_ezkl_setup(cfg, src, os.path.join(d, f"ezkl_{cfg}"), cal_rows, srs_dir))
        except (StepFailed, subprocess.TimeoutExpired) as e:
            runs.append({"tool": "ezkl", "config": cfg, "error": str(e)[:400]})
    for i, inp in enumerate(inputs):
        for r in runs:
            if "error" in r:
                continue
            log(f"{name}: {r['tool']} {r['config']} prove {i + 1}/{len(inputs)}")
            try:
                zk_prove(r, os.path.join(d, "zkinfer"), i, inp) if r["tool"] == "zkinfer" else ez_prove(r, i, inp)
            except StepFailed as e:
                r["error"] = str(e)[:400]
    for r in runs:
        if "error" in r:
            continue
        log(f"{name}: {r['tool']} {r['config']} verify, deploy, accuracy")
        try:
            if r["tool"] == "zkinfer":
                zk_finish(r, os.path.join(d, "zkinfer"), anvil, acc_path, args.acc_samples)
                acc = r["accuracy_eval"]
                # Score EZKL the way zkinfer eval scored this model (class scores or regression).
                classification = acc["task"] == "classification"
                r["accuracy"] = {"samples": acc["samples"], "max_abs_error": acc["max_abs_error"],
                                 "accuracy": acc.get("quantized_accuracy"), "mae": acc.get("quantized_mae"),
                                 "float_accuracy": acc.get("float_accuracy"), "float_mae": acc.get("float_mae")}
            else:
                ez_finish(r, anvil, acc_path)
                r["accuracy"] = summarize_acc(r["_acc_outputs"], floats, labels, classification)
            r["max_abs_error"] = r["accuracy"]["max_abs_error"]
        except (StepFailed, subprocess.TimeoutExpired, OSError) as e:
            r["error"] = str(e)[:400]
    out = [finalize(r) for r in runs]
    return {"model": name, "classification": classification, "runs": out, "ratios": ratios(out)}


def ratios(runs):
    """zkinfer / the better EZKL run, per metric (lower is better for all of them)."""
    zk = next((r for r in runs if r["tool"] == "zkinfer" and "error" not in r), None)
    ez = [r for r in runs if r["tool"] == "ezkl" and "error" not in r]
    if not zk or not ez:
        return {}
    out = {}
    for key, _, _ in METRICS:
        vals = [r[key] for r in ez if r.get(key) is not None]
        if zk.get(key) is not None and vals and min(vals) > 0:
            out[key] = zk[key] / min(vals)
    best = min(ez, key=lambda r: r.get("prove_secs") or float("inf"))
    out["faster_ezkl_config"] = best["config"]
    return out


def short(err):
    """The telling line of a failed step's message."""
    lines = [l.strip() for l in err.replace(" File ", "\nFile ").splitlines() if l.strip()]
    pick = next((l for l in reversed(lines) if "Error" in l or "Exception" in l), lines[-1] if lines else err)
    step = err.split(" failed")[0].replace("bench_ezkl.py ", "")
    return f"{step}: {pick.split(': ', 1)[-1][:110]}".replace("|", "/")


def fmt(v, f):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f.format(v)


def scale(args, srs_dir):
    rows = []
    for name in args.scale_models:
        src = prepare(name, os.path.join(WORK, "models"))
        d = os.path.join(WORK, "scale", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        row = {"model": name}
        try:
            log(f"scale: {name} build")
            b, wall, rss = jrun([ZK, "build", os.path.join(src, "model.onnx"), "--calibration",
                                 os.path.join(src, "calibration.jsonl"), "--out", os.path.join(d, "build"), "--json"])
            row.update(macs=b["macs"], logrows=b["logrows"], build_secs=wall, build_rss_mb=rss, setup_secs=b["keygen_secs"],
                       verifier_bytes=b["verifier"]["verifier_runtime_bytes"] + b["verifier"]["wrapper_runtime_bytes"])
            inp = os.path.join(d, "input.json")
            json.dump({"input_data": read_rows(os.path.join(src, "test.jsonl"), 1)[0]["input_data"]}, open(inp, "w"))
            log(f"scale: {name} prove")
            p, wall, rss = jrun([ZK, "prove", os.path.join(d, "build"), "--input", inp, "--out", os.path.join(d, "proof.json"), "--json"])
            row.update(prove_secs=p["prove_secs"], prove_rss_mb=rss)
        except (StepFailed, subprocess.TimeoutExpired) as e:
            row["error"] = str(e)[:300]
        shutil.rmtree(os.path.join(d, "build"), ignore_errors=True)
        rows.append(row)
        log(f"scale: {row}")
    return rows


def calldata_gas(data):
    """Intrinsic calldata gas (EIP-2028): 4 per zero byte, 16 per other byte."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def tx_split(anvil, tx_hash, gas_used):
    """(calldata bytes, calldata gas, execution gas = gas used - 21,000 - calldata gas)."""
    data = bytes.fromhex(anvil.rpc("eth_getTransactionByHash", tx_hash)["input"][2:])
    cg = calldata_gas(data)
    return len(data), cg, gas_used - 21000 - cg


def instance_study(args, anvil, srs_dir):
    """Verifier size and verify gas against the number of public instances: Gemm 8 -> 1024 ->
    Relu, first K values (`inst_K`), public outputs, `--optimize-for gas`, so that only K
    changes; EZKL's verifier for the same model (default settings, public output) beside it."""
    rows = []
    for k in args.instance_counts:
        name = f"inst_{k}"
        src = prepare(name, os.path.join(WORK, "models"))
        d = os.path.join(WORK, "instances", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        inp = os.path.join(d, "input.json")
        json.dump({"input_data": read_rows(os.path.join(src, "test.jsonl"), 1)[0]["input_data"]}, open(inp, "w"))
        row = {"instances": k, "label": args.label}
        build = os.path.join(d, "build")
        log(f"instances: {name} zkinfer ({args.label})")
        try:
            b, wall, _ = jrun([ZK, "build", os.path.join(src, "model.onnx"), "--calibration",
                               os.path.join(src, "calibration.jsonl"), "--out", build, "--optimize-for", "gas", "--json"])
            c = json.load(open(os.path.join(build, "contracts.json")))
            row.update(logrows=b["logrows"], build_secs=wall,
                       verifier_bytes=b["verifier"]["verifier_runtime_bytes"],
                       wrapper_bytes=b["verifier"]["wrapper_runtime_bytes"],
                       verifier_initcode_bytes=(len(c["verifier"]["bytecode"]) - 2) // 2,
                       wrapper_initcode_bytes=(len(c["wrapper"]["bytecode"]) - 2) // 2)
            jrun([ZK, "prove", build, "--input", inp, "--out", os.path.join(d, "proof.json"), "--json"])
            env = dict(os.environ, ZKINFER_PRIVATE_KEY=DEV_KEY)
            dep, _, _ = jrun([ZK, "deploy", build, "--rpc-url", anvil.url, "--json"], env=env)
            ve, _, _ = jrun([ZK, "verify-evm", build, os.path.join(d, "proof.json"), "--address", dep["address"],
                             "--rpc-url", anvil.url, "--json"], env=env)
            if not ve["valid"]:
                raise StepFailed("zkinfer's verifier rejected its own proof on anvil")
            n, cg, eg = tx_split(anvil, ve["tx"], ve["gas_used"])
            row.update(verify_gas=ve["gas_used"], calldata_bytes=n, calldata_gas=cg, execution_gas=eg)
        except StepFailed as e:
            m = re.search(r"is (\d+) bytes of runtime code \((\d+) of creation code\)", str(e))
            if m:
                row.update(verifier_bytes=int(m.group(1)), verifier_initcode_bytes=int(m.group(2)))
            row["error"] = short(str(e))
        if args.ezkl_configs:
            log(f"instances: {name} EZKL")
            ez = {}
            try:
                r = bench_ezkl_setup("default", src, os.path.join(d, "ezkl"), read_rows(os.path.join(src, "calibration.jsonl"), 20), srs_dir)
                ez_prove(r, 0, inp)
                ed = r["_dir"]
                jrun([PY, EZ, "verifier", ed, r["_srs"]])
                code = solc_compile(os.path.join(ed, "Verifier.sol"))
                rec = anvil.send(None, "0x" + code)
                addr = rec["contractAddress"]
                ez["verifier_bytes"] = (len(anvil.rpc("eth_getCode", addr, "latest")) - 2) // 2
                ez["verifier_initcode_bytes"] = len(code) // 2
                data = open(os.path.join(ed, "calldata_0.bin"), "rb").read()
                rec = anvil.send(addr, "0x" + data.hex())
                if rec["status"] != "0x1":
                    raise StepFailed("EZKL's verifier rejected its proof on anvil")
                gas = int(rec["gasUsed"], 16)
                cg = calldata_gas(data)
                ez.update(verify_gas=gas, calldata_bytes=len(data), calldata_gas=cg, execution_gas=gas - 21000 - cg, logrows=r["logrows"])
            except (StepFailed, subprocess.TimeoutExpired, OSError) as e:
                ez["error"] = short(str(e))
            row["ezkl"] = ez
        rows.append(row)
        log(f"instances: {row}")
    return rows


def instance_md(rows):
    """The instance study's section of RESULTS.md."""
    labels = sorted({r["label"] for r in rows}, key=lambda l: (l != "before", l))
    counts = sorted({r["instances"] for r in rows})
    at = {(r["label"], r["instances"]): r for r in rows}
    L = ["", "## Verifier size and verify gas against public instances", "",
         "Gemm 8 -> 1024 -> Relu, then its first K values (`inst_K`, seeded random weights), private input, fixed "
         "weights, K public outputs, `--optimize-for gas`: the same circuit (logrows, columns) for every K, only the "
         "instance count changes. zkinfer's runtime bytes are the halo2 verifier's "
         "(the wrapper, 1.7 KB after the change, 2.4 KB before, does not grow either); verify gas is an anvil transaction through the wrapper, "
         "split into calldata (4 gas per zero byte, 16 per other) and execution (the rest above 21,000). EZKL: "
         "its verifier for the same model (default settings, public output). Generated by "
         "`scripts/bench --models '' --update --instances [--label L]` (`ZKINFER_BIN` for an older binary).", ""]
    head = "| instances | logrows | " + " | ".join(f"{l}: runtime B | {l}: initcode B | {l}: verify gas | {l}: execution gas | {l}: calldata gas" for l in labels) \
        + " | EZKL runtime B | EZKL verify gas | EZKL execution gas | EZKL calldata gas |"
    L += [head, "|---|---|" + "---|" * (5 * len(labels) + 4)]
    for k in counts:
        cells = []
        for l in labels:
            r = at.get((l, k), {})
            note = " (refused: over EIP-170)" if r.get("error") and r.get("verifier_bytes") else (" (" + r["error"][:60] + ")" if r.get("error") else "")
            cells += [fmt(r.get("verifier_bytes"), "{:,}") + note, fmt(r.get("verifier_initcode_bytes"), "{:,}"),
                      fmt(r.get("verify_gas"), "{:,}"), fmt(r.get("execution_gas"), "{:,}"), fmt(r.get("calldata_gas"), "{:,}")]
        ez = next((at[(l, k)].get("ezkl") for l in reversed(labels) if (l, k) in at and at[(l, k)].get("ezkl")), {}) or {}
        cells += [fmt(ez.get("verifier_bytes"), "{:,}") if "error" not in ez else short(ez["error"])[:60], fmt(ez.get("verify_gas"), "{:,}"),
                  fmt(ez.get("execution_gas"), "{:,}"), fmt(ez.get("calldata_gas"), "{:,}")]
        lr = next((at[(l, k)].get("logrows") for l in labels if (l, k) in at and at[(l, k)].get("logrows")), None)
        L.append(f"| {k:,} | {fmt(lr, '{}')} | " + " | ".join(cells) + " |")
    for l in labels:
        ok = [at[(l, k)] for k in counts if (l, k) in at and at[(l, k)].get("execution_gas") is not None]
        if len(ok) >= 2:
            slopes = [(b["execution_gas"] - a["execution_gas"]) / (b["instances"] - a["instances"]) for a, b in zip(ok, ok[1:])]
            sizes = [r["verifier_bytes"] for r in ok]
            L.append("")
            L.append(f"{l}: runtime bytes {min(sizes):,}-{max(sizes):,} (spread {max(sizes) - min(sizes):,}) over "
                     f"{ok[0]['instances']:,}-{ok[-1]['instances']:,} instances; execution gas per additional instance "
                     + ", ".join(f"{x:.0f}" for x in slopes) + " between consecutive counts; measured "
                     + ok[0].get("measured", "?") + ".")
    return L


def batch_samples(cal_rows, n, params, rng):
    """n samples for one batch proof: distinct calibration rows, then rows perturbed by a relative
    1e-3 (fresh inputs), each with its own random salt (so every input commitment is new)."""
    out, salts = [], set()
    for i in range(n):
        x = cal_rows[i % len(cal_rows)]["input_data"]
        if i >= len(cal_rows):
            x = [[float(v) * (1 + 1e-3 * rng.standard_normal()) for v in t] for t in x]
        salt = "0x" + os.urandom(31).hex()
        assert salt not in salts
        salts.add(salt)
        s = {"input_data": x, "salt": salt}
        if params:
            s["params"] = params
        out.append(s)
    return out


def sample_costs(instances):
    """Per real sample of a proof (prove --json's instances): calldata gas of its instances and
    fresh storage slots of its record, as PredictionRegistry._write stores it (one slot when the
    outputs and parameters pack into VALUE_BITS beside the block time, else one more per non-zero
    value; one more for an output commitment)."""
    per = {}
    for ins in instances:
        k = ins["kind"]
        if k == "binding" or (k.startswith("weight") or k == "param"):
            continue
        per.setdefault(ins.get("sample", 0), []).append(ins)
    out = []
    for s, ins in sorted(per.items()):
        cg = sum(calldata_gas(bytes.fromhex(i["field"][2:].rjust(64, "0"))) for i in ins)
        vals = [int(i["integer"]) for i in ins if i["kind"] in ("output", "predicate_param") and "integer" in i]
        bits = VALUE_BITS // len(vals) if vals else 0
        packs = not vals or (bits > 0 and all(-(1 << (bits - 1)) <= v < (1 << (bits - 1)) for v in vals))
        slots = 1 + (0 if packs else sum(1 for v in vals if v)) + sum(1 for i in ins if i["kind"] == "output_commitment")
        out.append({"calldata_gas": cg, "slots": slots, "values": len(vals), "packed": packs})
    return out


def ezkl_verify_gas(out_dir):
    """EZKL's verify gas for one proof per main-benchmark model (the cheaper EZKL run), from
    OUT/results.json, else the committed bench/results.json."""
    for path in (os.path.join(out_dir, "results.json"), os.path.join(ROOT, "bench", "results.json")):
        if not os.path.exists(path):
            continue
        got = {}
        for mr in json.load(open(path)).get("models", []):
            gas = [r["verify_gas"] for r in mr["runs"] if r["tool"] == "ezkl" and "error" not in r and r.get("verify_gas")]
            if gas:
                got[mr["model"]] = {"verify_gas": min(gas), "source": os.path.relpath(path, ROOT) if path.startswith(ROOT) else path,
                                    "measured": mr.get("measured")}
        if got:
            return got
    return {}


def batch_study(args, anvil):
    """Cost per verified prediction against the batch size: per model and N, build --batch N,
    register in a fresh PredictionRegistry on anvil, prove N samples bound to it, submit; prove
    time and memory, submit gas, split into calldata and execution, and the per-prediction floor
    (fresh storage, event, calldata) beside it."""
    rng = np.random.default_rng(0)
    ezkl = ezkl_verify_gas(args.out)
    base = os.path.join(WORK, "batches")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    env = dict(os.environ, ZKINFER_PRIVATE_KEY=DEV_KEY, ZKINFER_RPC_URL=anvil.url)
    deployments = os.path.join(base, "deployments")
    chain = ["--rpc-url", anvil.url, "--deployments", deployments]
    log("batches: registry deploy")
    reg, _, _ = jrun([ZK, "registry", "deploy", *chain, "--json"], env=env)
    rows = []
    for model in args.batch_models:
        spec = BATCH_MODELS[model]
        src = os.path.join(FIXTURES, spec["fixture"])
        cal_rows = read_rows(os.path.join(src, "calibration.jsonl"), 10**9)
        ez = ezkl.get(spec["fixture"], {})
        for n in args.batch_sizes:
            row = {"model": model, "fixture": spec["fixture"], "batch": n, "build_flags": " ".join(spec["flags"]),
                   "registry": reg["registry"], "ezkl_verify_gas": ez.get("verify_gas"), "ezkl_source": ez.get("source")}
            d = os.path.join(base, f"{model}_b{n}")
            os.makedirs(d)
            build = os.path.join(d, "build")
            mid = f"{model}-b{n}"
            try:
                log(f"batches: {model} N={n} build")
                b, wall, rss = jrun([ZK, "build", os.path.join(src, "model.onnx"), "--calibration", os.path.join(src, "calibration.jsonl"),
                                     "--out", build, *spec["flags"], *(["--batch", str(n)] if n > 1 else []), "--json"])
                c = json.load(open(os.path.join(build, "contracts.json")))
                row.update(logrows=b["logrows"], build_secs=wall, build_rss_mb=rss, keygen_secs=b["keygen_secs"],
                           verifier_bytes=b["verifier"]["verifier_runtime_bytes"], wrapper_bytes=b["verifier"]["wrapper_runtime_bytes"],
                           verifier_initcode_bytes=(len(c["verifier"]["bytecode"]) - 2) // 2,
                           wrapper_initcode_bytes=(len(c["wrapper"]["bytecode"]) - 2) // 2,
                           proof_bytes=b["verifier"]["proof_bytes"], evm_verify_gas=b.get("evm_verify_gas"))
                log(f"batches: {model} N={n} register as {mid}")
                rg, wall, _ = jrun([ZK, "registry", "register", build, "--model", mid, *chain, "--json"], env=env)
                row.update(model_id=mid, register_gas=rg["gas_used"], register_secs=wall)
                samples = batch_samples(cal_rows, n + 1, spec["params"], rng)
                warm, samples = samples[-1:], samples[:-1]
                # An oracle's steady state: the submitter's nonce slot and the model's newest-key
                # slot exist after its first submission. A warm-up proof (one real sample, its
                # own fresh commitment) pays for them; its gas is reported apart.
                for name, batch in (("warmup", warm), ("input", samples)):
                    with open(os.path.join(d, f"{name}.jsonl"), "w") as f:
                        for smp in batch:
                            f.write(json.dumps(smp) + "\n")
                log(f"batches: {model} N={n} warm-up proof and submission")
                jrun([ZK, "prove", build, "--input", os.path.join(d, "warmup.jsonl"), "--out", os.path.join(d, "warmup-proof.json"),
                      "--model", mid, *chain, "--json"], env=env)
                w, _, _ = jrun([ZK, "submit", build, os.path.join(d, "warmup-proof.json"), *chain, "--json"], env=env)
                row.update(first_submit_gas=w["gas_used"])
                inp = os.path.join(d, "input.jsonl")
                log(f"batches: {model} N={n} prove")
                p, wall, rss = jrun([ZK, "prove", build, "--input", inp, "--out", os.path.join(d, "proof.json"),
                                     "--model", mid, *chain, "--json"], env=env)
                row.update(prove_secs=p["prove_secs"], prove_process_secs=wall, prove_rss_mb=rss,
                           prove_secs_per_prediction=p["prove_secs"] / n)
                costs = sample_costs(p["instances"])
                log(f"batches: {model} N={n} submit")
                sub, wall, _ = jrun([ZK, "submit", build, os.path.join(d, "proof.json"), *chain, "--json"], env=env)
                if not sub.get("stored") or sub.get("predictions") != n:
                    raise StepFailed(f"submit stored {sub.get('predictions')} predictions of {n}")
                nb, cg, eg = tx_split(anvil, sub["tx"], sub["gas_used"])
                rec = anvil.rpc("eth_getTransactionReceipt", sub["tx"])
                # PredictionStored, one per prediction; the proof's StatementSubmitted comes last.
                logs = rec["logs"]
                per = [l for l in logs if l["topics"][0] != logs[-1]["topics"][0]] if len(logs) > 1 else []
                log_gas = sum(375 * (1 + len(l["topics"])) + 8 * ((len(l["data"]) - 2) // 2) for l in per)
                row.update(submit_gas=sub["gas_used"], submit_secs=wall, predictions=sub["predictions"],
                           gas_per_prediction=sub["gas_used"] / n, calldata_bytes=nb, calldata_gas=cg, execution_gas=eg,
                           calldata_gas_per_prediction=cg / n,
                           sample_calldata_gas=statistics.mean(x["calldata_gas"] for x in costs),
                           slots_per_prediction=statistics.mean(x["slots"] for x in costs),
                           values_packed=all(x["packed"] for x in costs),
                           event_gas_per_prediction=log_gas / len(per) if per else None)
            except (StepFailed, subprocess.TimeoutExpired, OSError, KeyError) as e:
                row["error"] = str(e)[:600]
            for f in ("pk.bin", "srs.bin"):  # the large files; settings, contracts and the proof stay
                try:
                    os.remove(os.path.join(build, f))
                except OSError:
                    pass
            rows.append(row)
            log(f"batches: {json.dumps({k: v for k, v in row.items() if k not in ('build_flags', 'registry')})}")
    batch_marginals(rows)
    return rows


def batch_marginals(rows):
    """Per model, the marginal gas of one more prediction between successive measured sizes
    ((gas(N) - gas(N')) / (N - N')) and the fixed part it leaves (gas(N) - N * marginal); the
    smallest size takes the next pair's marginal. Then the floor: fixed / N + fresh slots +
    event + the sample's calldata."""
    for model in {r["model"] for r in rows}:
        ok = sorted((r for r in rows if r["model"] == model and r.get("submit_gas") is not None), key=lambda r: r["batch"])
        for i, r in enumerate(ok):
            pair = (ok[i - 1], r) if i > 0 else (r, ok[1]) if len(ok) > 1 else None
            if not pair:
                continue
            a, b = pair
            m = (b["submit_gas"] - a["submit_gas"]) / (b["batch"] - a["batch"])
            fixed = r["submit_gas"] - r["batch"] * m
            r.update(marginal_gas_per_prediction=m, fixed_gas=fixed, fixed_gas_per_prediction=fixed / r["batch"])
            if r.get("event_gas_per_prediction") is not None:
                r["floor_gas_per_prediction"] = (fixed / r["batch"] + FRESH_SLOT_GAS * r["slots_per_prediction"]
                                                 + r["event_gas_per_prediction"] + r["sample_calldata_gas"])
    return rows


def batch_md(rows):
    """The batch study's section of RESULTS.md."""
    batch_marginals(rows)
    L = ["", "## Cost per verified prediction against the batch size", "",
         "`build --batch N` (one proof for up to N predictions), registered in a PredictionRegistry on anvil, N "
         "samples proven (bound to the registry) and submitted in one `submitBatch` transaction. "
         "`credit`: breast_cancer_mlp, hashed input, private output, `y[0] >= T` (T = -1000, so it holds), binding; "
         "`digits`: digits_mlp, hashed input, 10 public outputs, binding. Every sample has its own random salt, "
         "so every prediction is a fresh record. Submit gas is an oracle's steady state: each model's first "
         "submission (a warm-up proof of one sample, which also creates the submitter's nonce slot and the "
         "model's newest-key slot, about 34,000 gas more) is made before and reported apart (first submit gas, "
         "one sample). Prove s: in-process proving (witness included) of the "
         "whole batch; ratio: prove s per prediction over the N = 1 build's. Verifier bytes: the halo2 verifier's "
         "runtime and creation code (the wrapper does not grow with N). Submit gas: the receipt's; calldata gas "
         "(4 per zero byte, 16 per other) per prediction is the whole transaction's over N. Marginal: "
         "(gas(N) - gas(N')) / (N - N') against the previous measured size (the smallest size: the next one); "
         "fixed = gas(N) - N * marginal. Floor per prediction: fixed / N + 22,100 per fresh storage slot "
         "(one when the values pack beside the block time, more when they do not, one more for an output "
         "commitment) + the PredictionStored event (375 per log and topic, 8 per data byte) + the sample's "
         "instances' calldata: what storing and announcing the prediction costs at least, beside the proof's "
         "fixed cost shared by the batch. EZKL verify gas (one proof, from the main benchmark): its cheaper "
         "run's verifier call for the same model at the main benchmark's visibility (private input, public "
         "output, no registry), i.e. the cost of one prediction verified without batching or storage. "
         "Generated by `scripts/bench --models '' --update --batches`.", ""]
    head = ("| model | N | logrows | verifier runtime B | initcode B | prove s | prove s/prediction | ratio to N=1 | "
            "peak RSS MB | submit gas | gas/prediction | calldata gas/prediction | marginal gas/prediction | "
            "fixed gas/N | floor gas/prediction | first submit gas (1 sample) | EZKL verify gas (one proof, from the main benchmark) | note |")
    L += [head, "|" + "---|" * head.count(" | ") + "---|"]
    notes = []
    for model in dict.fromkeys(r["model"] for r in rows):
        rs = sorted((r for r in rows if r["model"] == model), key=lambda r: r["batch"])
        one = next((r for r in rs if r["batch"] == 1 and r.get("prove_secs")), None)
        for r in rs:
            ratio = r["prove_secs_per_prediction"] / one["prove_secs"] if one and r.get("prove_secs_per_prediction") else None
            note = short(r["error"]) if r.get("error") else ""
            L.append(f"| {model} | {r['batch']} | {fmt(r.get('logrows'), '{}')} | {fmt(r.get('verifier_bytes'), '{:,}')} | "
                     f"{fmt(r.get('verifier_initcode_bytes'), '{:,}')} | {fmt(r.get('prove_secs'), '{:.2f}')} | "
                     f"{fmt(r.get('prove_secs_per_prediction'), '{:.3f}')} | {fmt(ratio, '{:.2f}')} | {fmt(r.get('prove_rss_mb'), '{:.0f}')} | "
                     f"{fmt(r.get('submit_gas'), '{:,}')} | {fmt(r.get('gas_per_prediction'), '{:,.0f}')} | "
                     f"{fmt(r.get('calldata_gas_per_prediction'), '{:,.0f}')} | {fmt(r.get('marginal_gas_per_prediction'), '{:,.0f}')} | "
                     f"{fmt(r.get('fixed_gas_per_prediction'), '{:,.0f}')} | {fmt(r.get('floor_gas_per_prediction'), '{:,.0f}')} | "
                     f"{fmt(r.get('first_submit_gas'), '{:,}')} | {fmt(r.get('ezkl_verify_gas'), '{:,}')} | {note} |")
        ok = [r for r in rs if r.get("submit_gas") is not None]
        refused = [r for r in rs if r.get("error") and r.get("logrows") is None]
        if ok:
            big = ok[-1]
            notes += ["", f"{model}: largest N measured {big['batch']} (logrows {big['logrows']}, prove {big['prove_secs']:.1f} s at "
                      f"{big['prove_rss_mb']:,.0f} MB peak), {big['gas_per_prediction']:,.0f} gas per prediction against "
                      f"{ok[0]['gas_per_prediction']:,.0f} at N = {ok[0]['batch']}; {big['slots_per_prediction']:g} fresh slot(s) "
                      f"and {fmt(big.get('event_gas_per_prediction'), '{:,.0f}')} event gas per prediction"
                      + (f"; refused from N = {refused[0]['batch']}: {short(refused[0]['error'])}" if refused else "")
                      + f"; measured {big.get('measured', '?')}."]
    return L + notes


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    ez = subprocess.run([PY, "-c", "import importlib.metadata as m; print(m.version('ezkl'))"], capture_output=True, text=True).stdout.strip()
    zk = subprocess.run([ZK, "--version"], capture_output=True, text=True).stdout.strip()
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem / 2**20, 1),
            "ezkl": ez, "zkinfer": zk, "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                                                 capture_output=True, text=True).stdout.strip()}


def write_md(path, res):
    m = res["machine"]
    L = [f"# zkinfer vs EZKL", "",
         f"Measured {m['date']} on {m['cpus']} cores ({m['cpu']}), {m['mem_gib']} GiB; {m['zkinfer']} at {m['commit']}, "
         f"EZKL {m['ezkl']}; {res['reps']} proofs per model and tool (median). Generated by `scripts/bench`; "
         "raw figures in `results.json`."
         + (f" Models re-measured later (`--update`) say so in their row." if res.get("updated") else ""), "",
         "Same ONNX model, same inputs, same visibility on both sides (private input, fixed weights, public "
         "output). EZKL runs twice: `default` (gen_settings, no calibration) and `resources` "
         "(calibrate_settings target=resources). Prove time is witness generation plus proving, in-process; "
         "peak RSS is the proving process's. Setup is key generation only (SRS generation excluded on both "
         "sides). Verify gas is an anvil transaction calling the verifier (zkinfer: through its "
         "instance-checking wrapper). Verifier bytes: runtime bytecode (zkinfer: verifier + wrapper); "
         "EIP-170 allows 24,576 per contract. Accuracy: outputs on held-out samples against onnxruntime's "
         "float outputs.", "",
         "## Ratios zkinfer / faster EZKL run (targets: prove <= 0.33, prove RSS <= 0.5, setup <= 0.5, verify gas <= 1)", "",
         "| model | EZKL run | prove time | prove RSS | setup time | verify gas | verifier B (zkinfer, EZKL) | max abs error (zkinfer, EZKL) | accuracy (zkinfer, EZKL) |",
         "|---|---|---|---|---|---|---|---|---|"]
    for mr in res["models"]:
        ra = mr["ratios"]
        zk = next((r for r in mr["runs"] if r["tool"] == "zkinfer"), {})
        ez = [r for r in mr["runs"] if r["tool"] == "ezkl" and "error" not in r]
        if not ra:
            why = "; ".join(sorted({short(r["error"]) for r in mr["runs"] if r["tool"] == "ezkl" and "error" in r}))
            L.append(f"| {mr['model']} | no valid EZKL proof: {why} | - | - | - | - | {fmt(zk.get('verifier_bytes'), '{:.0f}')}, - | "
                     f"{fmt(zk.get('max_abs_error'), '{:.1e}')}, - | - |")
            continue
        best = next(r for r in ez if r["config"] == ra["faster_ezkl_config"])
        acc = lambda r: fmt((r.get("accuracy") or {}).get("accuracy"), "{:.1%}") if mr["classification"] else "MAE " + fmt((r.get("accuracy") or {}).get("mae"), "{:.3f}")
        measured = mr.get("measured", f"{m['date']} at {m['commit']}")
        again = f" (re-measured {measured})" if measured.split(" at ")[-1] != m["commit"] else ""
        L.append(f"| {mr['model']}{again} | {ra['faster_ezkl_config']} | {fmt(ra.get('prove_secs'), '{:.3f}')} | {fmt(ra.get('prove_rss_mb'), '{:.3f}')} | "
                 f"{fmt(ra.get('setup_secs'), '{:.3f}')} | {fmt(ra.get('verify_gas'), '{:.3f}')} | "
                 f"{fmt(zk.get('verifier_bytes'), '{:.0f}')}, {fmt(min((r.get('verifier_bytes') for r in ez if r.get('verifier_bytes')), default=None), '{:.0f}')} | "
                 f"{fmt(zk.get('max_abs_error'), '{:.1e}')}, {fmt(min((r.get('max_abs_error') for r in ez if r.get('max_abs_error') is not None), default=None), '{:.1e}')} | "
                 f"{acc(zk)}, {acc(best)} |")
    comparable = [mr for mr in res["models"] if mr["ratios"]]
    targets = [("prove_secs", 1 / 3, "prove time <= 1/3"), ("prove_rss_mb", 0.5, "prove RSS <= 1/2"),
               ("setup_secs", 0.5, "setup <= 1/2"), ("verify_gas", 1.0, "verify gas <= 1")]
    met = [f"{lbl}: {sum(1 for mr in comparable if mr['ratios'].get(k, 99) <= lim)} of {len(comparable)}" for k, lim, lbl in targets]
    fits = sum(1 for mr in res["models"] for r in mr["runs"] if r["tool"] == "zkinfer" and r.get("fits_eip170"))
    L += ["", f"Targets met, over the {len(comparable)} models EZKL proved: " + "; ".join(met) + ". "
          f"zkinfer verifiers within EIP-170: {fits} of {len(res['models'])}. "
          "Where EZKL produced no valid proof, the reason is its own error message."]
    L += ["", "## Per model and tool", ""]
    head = "| model | tool | " + " | ".join(lbl for _, lbl, _ in METRICS) + " | fits EIP-170 | note |"
    L += [head, "|" + "---|" * (len(METRICS) + 4)]
    for mr in res["models"]:
        for r in mr["runs"]:
            cells = [fmt(r.get(k), f) for k, _, f in METRICS]
            note = short(r["error"]) if "error" in r else ""
            L.append(f"| {mr['model']} | {r['tool']} {r['config']} | " + " | ".join(cells) + f" | {fmt(r.get('fits_eip170'), '')} | {note} |")
    if res.get("scale"):
        ok = [r for r in res["scale"] if "error" not in r and r.get("prove_secs") is not None]
        big = max(ok, key=lambda r: r["macs"], default=None)
        L += ["", "## Scale (zkinfer)", "",
              "MLPs 256 -> W -> W -> 10 (`mlp_wW`) and 8x8 digit CNNs with C channels (`cnn_cC`), default build "
              "(`--optimize-for balanced`), one proof each; build peak RSS includes solcjs."
              + (f" Largest that proved: {big['model']} ({big['macs']:,} MACs, logrows {big['logrows']}, "
                 f"prove {big['prove_secs']:.1f} s at {big['prove_rss_mb'] / 1024:.2f} GiB peak)." if big else ""), "",
              "| model | MACs | logrows | setup s | build peak RSS MB | prove s | prove peak RSS MB | verifier B | note |",
              "|---|---|---|---|---|---|---|---|---|"]
        for r in res["scale"]:
            L.append(f"| {r['model']} | {fmt(r.get('macs'), '{:.0f}')} | {fmt(r.get('logrows'), '{:.0f}')} | {fmt(r.get('setup_secs'), '{:.2f}')} | "
                     f"{fmt(r.get('build_rss_mb'), '{:.0f}')} | {fmt(r.get('prove_secs'), '{:.2f}')} | {fmt(r.get('prove_rss_mb'), '{:.0f}')} | "
                     f"{fmt(r.get('verifier_bytes'), '{:.0f}')} | {r.get('error', '')[:160]} |")
    if res.get("instances"):
        L += instance_md(res["instances"])
    if res.get("batches"):
        L += batch_md(res["batches"])
    # Sections other scripts own (scripts/bench_workers.py) are kept as they are.
    if os.path.exists(path):
        old = open(path).read()
        start = old.find("## Oracle workers (PostgreSQL journal)")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            L += ["", old[start:end if end >= 0 else len(old)].rstrip("\n")]
    tmp = path + ".tmp"
    open(tmp, "w").write("\n".join(L) + "\n")
    os.replace(tmp, path)


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(FIXTURE_MODELS + EXTRA_MODELS), help="comma-separated model names")
    ap.add_argument("--reps", type=int, default=3, help="proofs per model and tool")
    ap.add_argument("--acc-samples", type=int, default=32, help="held-out samples for the accuracy comparison")
    ap.add_argument("--ezkl-configs", default="default,resources")
    ap.add_argument("--scale", action="store_true", help="also run the zkinfer scale study")
    ap.add_argument("--scale-models", default=",".join(SCALE_MODELS))
    ap.add_argument("--instances", action="store_true",
                    help="also run the instance study (verifier bytes and verify gas against public instances)")
    ap.add_argument("--instance-counts", default=",".join(map(str, INSTANCE_COUNTS)))
    ap.add_argument("--label", default="after",
                    help="name of this instance-study run (e.g. before/after a verifier change; ZKINFER_BIN picks the binary)")
    ap.add_argument("--batches", action="store_true",
                    help="also run the batch study (cost per verified prediction: prove time, memory and registry gas "
                         "against build --batch N)")
    ap.add_argument("--batch-sizes", default=",".join(map(str, BATCH_SIZES)), help="batch sizes N of the batch study")
    ap.add_argument("--batch-models", default=",".join(BATCH_MODELS), help="models of the batch study: " + ", ".join(BATCH_MODELS))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench"))
    ap.add_argument("--report-only", action="store_true", help="rewrite OUT/RESULTS.md from OUT/results.json")
    ap.add_argument("--update", action="store_true",
                    help="keep the other models' (and the scale study's) figures of OUT/results.json; "
                         "replace only those benchmarked now")
    args = ap.parse_args()
    args.ezkl_configs = [c for c in args.ezkl_configs.split(",") if c]
    args.scale_models = [m for m in args.scale_models.split(",") if m]
    args.instance_counts = [int(c) for c in args.instance_counts.split(",") if c]
    args.batch_sizes = sorted({int(c) for c in args.batch_sizes.split(",") if c})
    args.batch_models = [m for m in args.batch_models.split(",") if m]
    unknown = [m for m in args.batch_models if m not in BATCH_MODELS]
    if unknown:
        ap.error(f"unknown --batch-models {','.join(unknown)} (known: {','.join(BATCH_MODELS)})")
    if args.report_only:
        write_md(os.path.join(args.out, "RESULTS.md"), json.load(open(os.path.join(args.out, "results.json"))))
        return
    WORK = os.path.join(args.out, "work")
    os.makedirs(WORK, exist_ok=True)
    # A private copy of the binary: rebuilding zkinfer while the benchmark runs changes nothing.
    # Outside the checkout it finds the pinned tools through ZKINFER_TOOLS.
    os.environ.setdefault("ZKINFER_TOOLS", os.path.join(ROOT, ".tools", "bin"))
    global ZK
    shutil.copy(ZK, os.path.join(WORK, "zkinfer"))
    ZK = os.path.join(WORK, "zkinfer")
    srs_dir = os.path.join(WORK, "srs")
    os.makedirs(srs_dir, exist_ok=True)
    res = {"machine": machine(), "reps": args.reps, "models": []}
    prev = os.path.join(args.out, "results.json")
    if args.update and os.path.exists(prev):
        old = json.load(open(prev))
        res["models"], res["scale"], res["instances"] = old["models"], old.get("scale"), old.get("instances")
        res["batches"] = old.get("batches")
        res["updated"] = res["machine"]
        res["machine"] = old["machine"]
    anvil = Anvil()
    try:
        for name in [m for m in args.models.split(",") if m]:
            mr = bench_model(name, args, anvil, srs_dir)
            mr["measured"] = res.get("updated", res["machine"])["date"] + " at " + res.get("updated", res["machine"])["commit"]
            idx = next((i for i, m in enumerate(res["models"]) if m["model"] == name), None)
            if idx is None:
                res["models"].append(mr)
            else:
                res["models"][idx] = mr
            json.dump(res, open(os.path.join(args.out, "results.json.tmp"), "w"), indent=1)
            os.replace(os.path.join(args.out, "results.json.tmp"), os.path.join(args.out, "results.json"))
            write_md(os.path.join(args.out, "RESULTS.md"), res)
    finally:
        anvil.close()
    if args.instances:
        anvil = Anvil()
        try:
            rows = instance_study(args, anvil, srs_dir)
        finally:
            anvil.close()
        stamp = res.get("updated", res["machine"])
        for r in rows:
            r["measured"] = f"{stamp['date']} at {stamp['commit']}"
        res["instances"] = [r for r in (res.get("instances") or []) if r["label"] != args.label] + rows
    if args.batches:
        anvil = Anvil()
        try:
            rows = batch_study(args, anvil)
        finally:
            anvil.close()
        stamp = res.get("updated", res["machine"])
        for r in rows:
            r["measured"] = f"{stamp['date']} at {stamp['commit']}"
        done = {r["model"] for r in rows}
        res["batches"] = [r for r in (res.get("batches") or []) if r["model"] not in done] + rows
    if args.scale:
        rows = scale(args, srs_dir)
        stamp = res.get("updated", res["machine"])
        for r in rows:
            r["measured"] = f"{stamp['date']} at {stamp['commit']}"
        new = {r["model"] for r in rows}
        res["scale"] = [r for r in (res.get("scale") or []) if r["model"] not in new] + rows
    json.dump(res, open(os.path.join(args.out, "results.json.tmp"), "w"), indent=1)
    os.replace(os.path.join(args.out, "results.json.tmp"), os.path.join(args.out, "results.json"))
    write_md(os.path.join(args.out, "RESULTS.md"), res)
    print(os.path.join(args.out, "RESULTS.md"))


if __name__ == "__main__":
    main()
