#!/usr/bin/env python3
"""One EZKL step per process, so that scripts/bench can measure each step's wall time and peak RSS.

Usage: bench_ezkl.py STEP WORKDIR [ARGS...]   (run with the bench venv's python)

Steps (all files live in WORKDIR):
  settings CONFIG           gen_settings with zkinfer's visibility (private input, fixed params,
                            public output); CONFIG=resources also runs calibrate_settings on cal.json
  compile                   compile_circuit
  srs SRS_PATH              gen_srs for the settings' logrows (local, no download)
  setup SRS_PATH            setup (key generation); prints {"secs"}
  prove SRS_PATH IN OUT     gen_witness + prove of one input; prints {"witness_secs", "prove_secs", "outputs"}
  verify SRS_PATH PROOF     verify; prints {"secs", "valid"}
  verifier SRS_PATH         create_evm_verifier -> Verifier.sol, encode_evm_calldata for proof_0.json
  witness SRS_PATH DATA     gen_witness for each line of a JSON-lines file; prints {"outputs": [...]}

Each step prints one JSON object on stdout; EZKL's own logs go to stderr.
"""
import asyncio
import json
import os
import sys
import time

import ezkl


def out(obj):
    print(json.dumps(obj), flush=True)


def rescaled_outputs(witness):
    pretty = witness.get("pretty_elements") or {}
    outs = pretty.get("rescaled_outputs")
    return [[float(v) for v in o] for o in outs] if outs is not None else None


def main():
    step, work = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    os.chdir(work)
    if step == "settings":
        ra = ezkl.PyRunArgs()
        ra.input_visibility = "private"
        ra.param_visibility = "fixed"
        ra.output_visibility = "public"
        t = time.time()
        ezkl.gen_settings("model.onnx", "settings.json", py_run_args=ra)
        if args[0] == "resources":
            ezkl.calibrate_settings("cal.json", "model.onnx", "settings.json", "resources")
        elif args[0] != "default":
            raise SystemExit(f"unknown config {args[0]}")
        s = json.load(open("settings.json"))
        out({"secs": time.time() - t, "logrows": s["run_args"]["logrows"], "input_scale": s["run_args"]["input_scale"],
             "param_scale": s["run_args"]["param_scale"], "lookup_range": s["run_args"]["lookup_range"]})
    elif step == "compile":
        t = time.time()
        ezkl.compile_circuit("model.onnx", "model.compiled", "settings.json")
        out({"secs": time.time() - t})
    elif step == "srs":
        s = json.load(open("settings.json"))
        t = time.time()
        ezkl.gen_srs(args[0], s["run_args"]["logrows"])
        out({"secs": time.time() - t})
    elif step == "setup":
        t = time.time()
        ezkl.setup("model.compiled", "vk.key", "pk.key", args[0])
        out({"secs": time.time() - t})
    elif step == "prove":
        srs, inp, proof = args
        t = time.time()
        ezkl.gen_witness(inp, "model.compiled", proof + ".witness.json", "vk.key", srs)
        t1 = time.time()
        w = json.load(open(proof + ".witness.json"))
        ezkl.prove(proof + ".witness.json", "model.compiled", "pk.key", proof, srs)
        t2 = time.time()
        out({"witness_secs": t1 - t, "prove_secs": t2 - t1, "outputs": rescaled_outputs(w),
             "proof_bytes": len(bytes.fromhex(json.load(open(proof))["hex_proof"].removeprefix("0x")))})
    elif step == "verify":
        srs, proof = args
        t = time.time()
        ok = ezkl.verify(proof, "settings.json", "vk.key", srs)
        out({"secs": time.time() - t, "valid": bool(ok)})
    elif step == "verifier":
        srs = args[0]

        async def gen():
            return await ezkl.create_evm_verifier("vk.key", "settings.json", "Verifier.sol", "Verifier.abi", srs, False)

        t = time.time()
        try:
            asyncio.run(gen())
        except RuntimeError as e:
            # EZKL writes the Solidity source, then tries to download solc for the ABI (offline here);
            # scripts/bench compiles the source itself with zkinfer's pinned solc.
            if not os.path.exists("Verifier.sol"):
                raise
            print(f"bench_ezkl: ignoring after Verifier.sol was written: {e}", file=sys.stderr)
        secs = time.time() - t
        calldata = ezkl.encode_evm_calldata("proof_0.json", "calldata_0.bin", None)
        out({"secs": secs, "calldata_bytes": len(calldata)})
    elif step == "witness":
        srs, data = args
        outs = []
        for i, line in enumerate(open(data)):
            if not line.strip():
                continue
            with open("wit_in.json", "w") as f:
                json.dump({"input_data": json.loads(line)["input_data"]}, f)
            ezkl.gen_witness("wit_in.json", "model.compiled", "wit_out.json", "vk.key", srs)
            outs.append(rescaled_outputs(json.load(open("wit_out.json"))))
        out({"outputs": outs})
    else:
        raise SystemExit(f"unknown step {step}")


if __name__ == "__main__":
    main()
    # EZKL's native runtime sometimes aborts while the interpreter finalizes (after create_evm_verifier
    # in particular), turning a finished step into exit 134; the step's JSON is already out.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
