//! The command line on bad input: each case exits 2 with a message that says what is wrong,
//! never panics, and leaves no half-written artifact.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{built, fixture};

fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env_remove("ZKINFER_PRIVATE_KEY")
        .output()
        .unwrap()
}

/// Asserts exit code 2, no panic, and that stderr contains every needle.
fn fails_with(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn build_args<'a>(model: &'a str, calib: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["build", model, "--calibration", calib, "--out", out]
}

#[test]
fn build_rejects_bad_models_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let calib = fixture("breast_cancer_mlp", "calibration.jsonl");

    let r = zkinfer(&build_args("/nonexistent/model.onnx", s(&calib), s(&out)));
    fails_with(&r, &["/nonexistent/model.onnx", "No such file"]);

    let not_onnx = tmp.path().join("model.onnx");
    std::fs::write(&not_onnx, b"this is not a protobuf \xff\xfe\x00 at all").unwrap();
    fails_with(
        &zkinfer(&build_args(s(&not_onnx), s(&calib), s(&out))),
        &["not an ONNX model"],
    );

    let unsupported = fixture("unsupported_ops", "model.onnx");
    fails_with(
        &zkinfer(&build_args(s(&unsupported), s(&calib), s(&out))),
        &[
            "unsupported ONNX op",
            "Sin (node 'Sin_0')",
            "Erf (node 'Erf_0')",
        ],
    );

    // Malformed models: each named, with what to do.
    let bad = |f: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bad")
            .join(f)
    };
    let build_bad = |f: &str| zkinfer(&build_args(s(&bad(f)), s(&calib), s(&out)));
    fails_with(
        &build_bad("symbolic_dim.onnx"),
        &["dimension 1 is symbolic ('seq')", "--dim seq=N"],
    );
    fails_with(
        &build_bad("unknown_opset.onnx"),
        &["opset ai.onnx version 99", "re-export"],
    );
    fails_with(
        &build_bad("missing_initializer.onnx"),
        &["(Gemm)", "input 'w'", "missing initializer"],
    );
    fails_with(&build_bad("zero_sized.onnx"), &["(Slice)", "0-sized"]);
    let model = fixture("breast_cancer_mlp", "model.onnx");
    let mut args = build_args(s(&model), s(&calib), s(&out));
    args.extend(["--dim", "nope=3"]);
    fails_with(&zkinfer(&args), &["no symbolic dimension named 'nope'"]);

    // Fidelity thresholds: the build fails with the figures instead of accepting.
    let mut args = build_args(s(&model), s(&calib), s(&out));
    args.extend(["--max-error", "1e-12"]);
    fails_with(
        &zkinfer(&args),
        &[
            "fidelity check failed",
            "max abs error",
            "--max-error",
            "mean",
        ],
    );

    // Calibration of the wrong width for the model.
    let model = fixture("breast_cancer_mlp", "model.onnx");
    let wrong = fixture("digits_mlp", "calibration.jsonl");
    fails_with(
        &zkinfer(&build_args(s(&model), s(&wrong), s(&out))),
        &["sample 1", "64 values", "expects 30"],
    );

    assert!(!out.exists(), "a failed build left {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".zkinfer"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary build directories left behind: {leftovers:?}"
    );
}

#[test]
fn prove_rejects_bad_inputs_and_writes_no_proof() {
    let dir = built("breast_cancer_mlp");
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let prove = |input: &Path| zkinfer(&["prove", s(dir), "--input", s(input), "--out", s(&proof)]);

    fails_with(
        &prove(Path::new("/nonexistent/input.json")),
        &["/nonexistent/input.json"],
    );

    let short = tmp.path().join("short.json");
    std::fs::write(&short, r#"{"input_data": [[1.0, 2.0, 3.0]]}"#).unwrap();
    fails_with(&prove(&short), &["3 values", "expects 30"]);

    let nan = tmp.path().join("nan.json");
    let mut vals = vec!["0.5".to_string(); 30];
    vals[4] = "NaN".into();
    std::fs::write(&nan, format!(r#"{{"input_data": [[{}]]}}"#, vals.join(","))).unwrap();
    fails_with(&prove(&nan), &["NaN or Infinity"]);

    let huge = tmp.path().join("huge.json");
    let mut vals = vec!["0.5".to_string(); 30];
    vals[0] = "1e12".into();
    std::fs::write(
        &huge,
        format!(r#"{{"input_data": [[{}]]}}"#, vals.join(",")),
    )
    .unwrap();
    fails_with(
        &prove(&huge),
        &["outside the range the circuit accepts", "calibration"],
    );

    fails_with(
        &zkinfer(&[
            "prove",
            "/nonexistent-dir",
            "--input",
            s(&short),
            "--out",
            s(&proof),
        ]),
        &["not a zkinfer build directory"],
    );
    assert!(!proof.exists());
}

#[test]
fn verify_exit_codes_and_other_models_proofs() {
    let bc = built("breast_cancer_mlp");
    let dg = built("digits_mlp");
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let input = fixture("breast_cancer_mlp", "input.json");
    let r = zkinfer(&[
        "prove",
        s(bc),
        "--input",
        s(&input),
        "--out",
        s(&proof),
        "--json",
    ]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let j: serde_json::Value =
        serde_json::from_slice(&r.stdout).expect("prove --json prints one JSON object");
    assert_eq!(j["outputs"][0].as_array().unwrap().len(), 2);

    let ok = zkinfer(&["verify", s(bc), s(&proof), "--json"]);
    assert_eq!(ok.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(j["valid"], true);

    // A tampered output: exit 1.
    let mut pf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let field = pf["instances"][0]["field"].as_str().unwrap().to_string();
    let last = u8::from_str_radix(&field[field.len() - 2..], 16).unwrap() ^ 1;
    pf["instances"][0]["field"] = format!("{}{last:02x}", &field[..field.len() - 2]).into();
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&pf).unwrap()).unwrap();
    let r = zkinfer(&["verify", s(bc), s(&bad)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stdout).contains("INVALID"));

    // A proof for another model: exit 2 with a clear message, before any maths.
    fails_with(
        &zkinfer(&["verify", s(dg), s(&proof)]),
        &["another model", "verifying key"],
    );
    // Not a proof file at all.
    fails_with(
        &zkinfer(&["verify", s(bc), s(&input)]),
        &["not a valid zkinfer proof file"],
    );
}

#[test]
fn chain_commands_need_a_reachable_rpc() {
    let bc = built("breast_cancer_mlp");
    // Port 9 (discard) on loopback: nothing listens there.
    let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    fails_with(
        &zkinfer(&[
            "deploy",
            s(bc),
            "--rpc-url",
            "http://127.0.0.1:9",
            "--private-key",
            key,
        ]),
        &["127.0.0.1:9", "cannot reach"],
    );
    fails_with(
        &zkinfer(&[
            "deploy",
            s(bc),
            "--rpc-url",
            "not a url",
            "--private-key",
            key,
        ]),
        &["not a valid URL"],
    );
    let r = zkinfer(&["deploy", s(bc), "--rpc-url", "http://127.0.0.1:9"]);
    fails_with(&r, &["ZKINFER_PRIVATE_KEY", "--keystore"]);
    // RPC URLs often carry API keys (in the path, the query or the user info): no message
    // shows more than the scheme, host and port.
    for url in [
        "http://127.0.0.1:9/v2/SeCrEtKeY42",
        "http://127.0.0.1:9/?apikey=SeCrEtKeY42",
        "http://me:SeCrEtKeY42@127.0.0.1:9",
    ] {
        for args in [
            vec!["registry", "deploy", "--rpc-url", url, "--private-key", key],
            vec![
                "read",
                "--model",
                "m",
                "--registry",
                "0x0000000000000000000000000000000000000001",
                "--rpc-url",
                url,
            ],
        ] {
            let r = zkinfer(&args);
            fails_with(&r, &["127.0.0.1:9", "cannot reach"]);
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(!all.contains("SeCrEtKeY42"), "{url}: {all}");
        }
    }
    let r = zkinfer(&["registry", "deploy", "--rpc-url", "not a url SeCrEtKeY42"]);
    fails_with(&r, &["not a valid URL"]);
    assert!(!String::from_utf8_lossy(&r.stderr).contains("SeCrEtKeY42"));
    // The key is never echoed.
    let r = zkinfer(&[
        "deploy",
        s(bc),
        "--rpc-url",
        "http://127.0.0.1:9",
        "--private-key",
        key,
    ]);
    assert!(!String::from_utf8_lossy(&r.stderr).contains(&key[2..]));
}

/// The README's first command: `zkinfer demo` runs the whole flow on the bundled model and a
/// fresh anvil, single proofs and a batch, and reports what it measured.
#[test]
fn the_demo_runs_end_to_end_with_a_batch() {
    let out = zkinfer(&["demo", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid_on_chain"], true);
    assert_eq!(v["tampered_output_rejected"], true);
    let r = &v["registry"];
    assert_eq!(r["replay_rejected_with"], "Replay");
    let b = &r["batch"];
    let n = b["predictions"].as_u64().unwrap();
    assert!(n >= 2 && n <= b["slots"].as_u64().unwrap(), "{b}");
    let per = b["gas_per_prediction"].as_u64().unwrap();
    assert!(
        per < r["submit_gas"].as_u64().unwrap(),
        "a batch costs less per prediction than a single submission: {r}"
    );
}

/// An installed zkinfer (the binary copied outside any checkout and run from elsewhere) holds
/// no path of the machine it was built on: without its tools it says where it looked and how
/// to install them; it finds them in the directory `ZKINFER_TOOLS` names, and in
/// `~/.zkinfer/bin`.
#[test]
fn an_installed_binary_finds_its_tools_without_the_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("prefix/bin/zkinfer");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_zkinfer"), &bin).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin");
    let model = fixture("iris_logreg", "model.onnx");
    let calib = fixture("iris_logreg", "calibration.jsonl");
    let run = |out: &str, extra: &[(&str, &Path)]| {
        let out = tmp.path().join(out);
        let mut c = Command::new(&bin);
        c.args(build_args(s(&model), s(&calib), s(&out)))
            .current_dir(tmp.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home);
        for (k, v) in extra {
            c.env(k, v);
        }
        (c.output().unwrap(), out)
    };
    let (r, out) = run("none", &[]);
    fails_with(&r, &["solc not found", "~/.zkinfer/bin", "ZKINFER_TOOLS"]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!err.contains(env!("CARGO_MANIFEST_DIR")), "{err}");
    assert!(!out.exists());

    let (r, out) = run("via-env", &[("ZKINFER_TOOLS", &tools)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("settings.json").is_file());

    std::fs::create_dir_all(home.join(".zkinfer")).unwrap();
    std::os::unix::fs::symlink(&tools, home.join(".zkinfer/bin")).unwrap();
    let (r, out) = run("via-home", &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("settings.json").is_file());
}
