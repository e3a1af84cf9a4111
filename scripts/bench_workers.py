#!/usr/bin/env python3
"""Oracle throughput with 1, 2 and 3 workers on one PostgreSQL journal, and the PostgreSQL
journal's overhead against SQLite for one worker (issue 15's benchmark; not a test).

For each model (the credit model: breast_cancer_mlp with a hashed input, a private output, the
predicate `y[0] >= T` and binding; the digits CNN: public outputs and binding) it builds once,
starts anvil, deploys a registry and registers the model, then for each configuration (SQLite
with one worker; PostgreSQL with 1, 2, 3 workers, each with its own anvil key) writes N fresh
inputs and runs the workers with `--once` until every input is settled. It reports inputs per
minute over the whole run (start of the workers to the last exit) and in the steady state (first
to last settled input, read from the journal afterwards: nothing polls while the workers run).

PostgreSQL is a throwaway server started here (Debian's initdb/pg_ctl, as the tests do; as root it
runs as the `postgres` user). Run alone on an idle machine:

    python3 scripts/bench_workers.py [--models credit,digits_cnn] [--n 24] [--reps 3] [--update]

`--update` writes bench/workers.json and the table in bench/RESULTS.md's "Oracle workers" section.
"""

import argparse
import glob
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZK = os.environ.get("ZKINFER_BIN", os.path.join(ROOT, "target", "release", "zkinfer"))
ANVIL = os.path.join(ROOT, ".tools", "bin", "anvil")
FIX = os.path.join(ROOT, "tests", "fixtures", "models")
# anvil's first development keys (public knowledge; a local chain only).
KEYS = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]
MODELS = {
    "credit": {
        "fixture": "breast_cancer_mlp",
        "flags": ["--input-visibility", "hashed", "--output-visibility", "private",
                  "--output-predicate", "y[0] >= T", "--binding"],
        "params": {"T": -100.0},
        "salted": True,
    },
    "digits_cnn": {
        "fixture": "digits_cnn",
        "flags": ["--binding"],
        "params": {},
        "salted": False,
    },
}


def log(msg):
    print(f"[bench-workers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}...: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postgres:
    """A throwaway server, as tests/it/common/postgres.rs starts it."""

    def __init__(self, tmp):
        found = shutil.which("initdb")
        bins = [os.path.dirname(found)] if found else sorted(
            glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not bins:
            raise SystemExit("initdb not found: run scripts/setup.sh")
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="zkinfer-bench-pg-")
        self.user = "postgres" if os.geteuid() == 0 else None
        pw = os.path.join(self.dir, "pw")
        self.password = "bench-" + os.urandom(6).hex()
        with open(pw, "w") as f:
            f.write(self.password)
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
            shutil.chown(pw, self.user, self.user)
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.tool("initdb", "-D", self.data, "-U", "zkinfer", "--auth=scram-sha-256",
                  f"--pwfile={pw}", "-E", "UTF8")
        self.tool("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}", "start")
        self.n = 0

    def tool(self, name, *args):
        cmd = [os.path.join(self.bin, name), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        run(cmd)

    def fresh_db(self):
        """A new database's URL (each configuration gets an empty journal)."""
        self.n += 1
        name = f"journal{self.n}"
        env = dict(os.environ, PGPASSWORD=self.password)
        run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "zkinfer", "-d", "postgres",
             "-c", f"CREATE DATABASE {name}"], env=env)
        return f"postgres://zkinfer:{self.password}@127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.tool("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")


class Anvil:
    def __init__(self):
        self.port = free_port()
        self.p = subprocess.Popen([ANVIL, "--port", str(self.port)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        for line in self.p.stdout:
            if "Listening on" in line:
                break
        # Keep reading its log: a full pipe would stop anvil mid-run.
        threading.Thread(target=lambda: [None for _ in self.p.stdout], daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.p.kill()
        self.p.wait()


def inputs(model, n, run_id):
    rows = [json.loads(l) for l in open(os.path.join(FIX, MODELS[model]["fixture"], "test.jsonl"))]
    out = []
    for i in range(n):
        v = {"id": f"{run_id}-{i}", "input_data": rows[i % len(rows)]["input_data"],
             "params": MODELS[model]["params"]}
        if MODELS[model]["salted"]:
            v["salt"] = hex(0x10000 + run_id_num(run_id) * 1000 + i)
        out.append(json.dumps(v))
    return "\n".join(out) + "\n"


def run_id_num(run_id):
    return sum(ord(c) for c in run_id)


SPAN = "SELECT MIN(updated_at), MAX(updated_at), COUNT(*) FROM inputs WHERE state = 'submitted'"


def journal_span(journal):
    """(first, last, count) of the submitted inputs' settling times."""
    if journal.startswith("postgres"):
        out = run(["psql", journal, "-At", "-F", ",", "-c", SPAN])
        return tuple(int(x) for x in out.strip().split(","))
    import sqlite3
    with sqlite3.connect(journal) as c:
        return tuple(c.execute(SPAN).fetchone())


def one_config(model, d, anvil, journal, workers, n, work, run_id):
    path = os.path.join(work, f"{run_id}.jsonl")
    with open(path, "w") as f:
        f.write(inputs(model, n, run_id))
    procs = []
    t0 = time.time()
    for w in range(workers):
        env = dict(os.environ, ZKINFER_PRIVATE_KEY=KEYS[w], ZKINFER_JOURNAL=journal,
                   ZKINFER_DEPLOYMENTS=os.path.join(work, "deployments"), ZKINFER_LOG="warn")
        procs.append(subprocess.Popen(
            [ZK, "oracle", d, "--model", model, "--rpc-url", anvil.url, "--input-file", path,
             "--once", "--json", "--poll", "0.2"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.wait()
    wall = time.time() - t0
    outs, per_worker = [], []
    for p in procs:
        o, e = p.communicate()
        mine = [json.loads(l) for l in o.splitlines() if l.strip()]
        outs += mine
        per_worker.append(sum(1 for x in mine if x["status"] == "submitted"))
        if p.returncode != 0:
            raise SystemExit(f"worker exit {p.returncode}: {e[-2000:]}")
    ok = sum(1 for o in outs if o["status"] == "submitted")
    assert ok == n, f"{ok} of {n} submitted: {outs}"
    # Steady state, from the journal (no polling while the workers run): inputs settled
    # after the first one, over the seconds from the first to the last (1 s resolution).
    first, last, count = journal_span(journal)
    steady = (count - 1) / (last - first) * 60 if last > first else None
    return {"model": model, "journal": "postgres" if journal.startswith("postgres") else "sqlite",
            "workers": workers, "inputs": n, "wall_s": round(wall, 2),
            "per_min": round(n / wall * 60, 1),
            "steady_per_min": round(steady, 1) if steady else None, "per_worker": per_worker}


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
            "date": time.strftime("%Y-%m-%d")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="credit,digits_cnn")
    ap.add_argument("--n", type=int, default=30, help="inputs per configuration")
    ap.add_argument("--reps", type=int, default=1,
                    help="repeat every configuration, in turn, this many times (medians reported)")
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(ZK):
        run(["cargo", "build", "--release", "--locked"], cwd=ROOT)
    tmp = tempfile.mkdtemp(prefix="zkinfer-bench-workers-")
    pg = Postgres(tmp)
    results = []
    try:
        for model in args.models.split(","):
            work = os.path.join(tmp, model)
            os.makedirs(work)
            fx = os.path.join(FIX, MODELS[model]["fixture"])
            d = os.path.join(work, "build")
            log(f"{model}: building")
            run([ZK, "build", os.path.join(fx, "model.onnx"), "--calibration",
                 os.path.join(fx, "calibration.jsonl"), "--out", d, *MODELS[model]["flags"]])
            anvil = Anvil()
            env = dict(os.environ, ZKINFER_PRIVATE_KEY=KEYS[0],
                       ZKINFER_DEPLOYMENTS=os.path.join(work, "deployments"))
            try:
                run([ZK, "registry", "deploy", "--rpc-url", anvil.url], env=env)
                run([ZK, "registry", "register", d, "--model", model, "--rpc-url", anvil.url],
                    env=env)
                configs = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]
                for kind, workers in configs * args.reps:
                    journal = (os.path.join(work, f"journal-{len(results)}.sqlite")
                               if kind == "sqlite" else pg.fresh_db())
                    run_id = f"{kind}{workers}-{len(results)}"
                    log(f"{model}: {kind}, {workers} worker(s), {args.n} inputs")
                    r = one_config(model, d, anvil, journal, workers, args.n, work, run_id)
                    log(f"  {r}")
                    results.append(r)
            finally:
                anvil.stop()
    finally:
        pg.stop()
    out = {"machine": machine(), "results": results, "summary": summary(results)}
    print(json.dumps(out, indent=1))
    if args.update:
        with open(os.path.join(ROOT, "bench", "workers.json"), "w") as f:
            json.dump(out, f, indent=1)
        write_md(out)


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def summary(results):
    """Median (and range) per model, journal and worker count."""
    keys = []
    for r in results:
        k = (r["model"], r["journal"], r["workers"])
        if k not in keys:
            keys.append(k)
    out = []
    for k in keys:
        rs = [r for r in results if (r["model"], r["journal"], r["workers"]) == k]
        per = [r["per_min"] for r in rs]
        steady = [r["steady_per_min"] for r in rs if r["steady_per_min"]]
        out.append({"model": k[0], "journal": k[1], "workers": k[2], "runs": len(rs),
                    "inputs": rs[0]["inputs"], "per_min": round(median(per), 1),
                    "per_min_range": [min(per), max(per)],
                    "steady_per_min": round(median(steady), 1) if steady else None,
                    "per_worker": rs[-1]["per_worker"]})
    return out


def write_md(out):
    m = out["machine"]
    lines = [
        "## Oracle workers (PostgreSQL journal)",
        "",
        f"`python3 scripts/bench_workers.py --update`, {m['date']}, {m['cpu']}, {m['cores']} cores. "
        "Each configuration settles the same number of fresh inputs with `--once`; `per min` is "
        "over the whole run (the workers' start-up included), `steady` from the first to the last "
        "settled input (the journal's times, 1 s resolution). The PostgreSQL server runs on the same "
        "machine, with its defaults (fsync on).",
        "",
        "| model | journal | workers | runs x inputs | inputs/min (median) | range | steady inputs/min (median) | settled by each worker (last run) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["summary"]:
        lo, hi = r["per_min_range"]
        lines.append(f"| {r['model']} | {r['journal']} | {r['workers']} | {r['runs']} x {r['inputs']} | "
                     f"{r['per_min']} | {lo}-{hi} | {r['steady_per_min'] or '-'} | "
                     f"{', '.join(map(str, r['per_worker']))} |")
    lines.append("")
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read()
    start = text.find("## Oracle workers (PostgreSQL journal)")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + "\n".join(lines) + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
