//! ONNX's backend test data as a conformance suite (`tests/fixtures/conformance/`, written by
//! `scripts/conformance.py` from the pinned `onnx` package): the `pytorch-converted` and
//! `pytorch-operator` models its wheel ships and the node tests of every op zkinfer reads.
//!
//! Each case is imported, calibrated on its own input and run by the integer evaluator (what
//! the circuit proves, bit for bit). It passes when every output is within [`STEPS`] output
//! steps (`2^-exp` of the output's fixed-point scale) of the expected one, or [`REL`] of its
//! magnitude, and the MockProver accepts its circuit with those outputs as public instances;
//! a sample is built, proved and verified for real. A case zkinfer refuses is recorded with the
//! reason. `STATUS.txt` holds the outcome of every case: this test fails when any outcome
//! changes (a regression, or a case that now passes: update it with
//! `ZKINFER_UPDATE_CONFORMANCE=1`), and the README's table is read from it.

use std::path::{Path, PathBuf};

use zkinfer::circuit::{self, CircuitBuilderStage};
use zkinfer::fidelity::Target;
use zkinfer::field::halo2_proofs::dev::MockProver;
use zkinfer::inputs::read_input;
use zkinfer::onnx::LoadOptions;
use zkinfer::quant::{quantize, QuantConfig};

/// Output steps a passing case may be off by: the rounding of each op in a chain adds up, and
/// tables (exp, log, sigmoid, tanh) carry their own step.
const STEPS: f64 = 64.0;
/// Relative error a passing case may have instead (large outputs at coarse scales).
const REL: f64 = 1e-3;
/// Largest circuit the MockProver runs here (bigger ones pass on the evaluator alone).
const MOCK_MAX_K: u32 = 15;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

fn cases() -> Vec<PathBuf> {
    let mut out = vec![];
    for suite in ["pytorch-converted", "pytorch-operator", "node"] {
        let mut cs: Vec<PathBuf> = std::fs::read_dir(root().join(suite))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("model.onnx").exists())
            .collect();
        cs.sort();
        out.extend(cs);
    }
    out
}

/// One line per case: `suite/case: pass`, `... refused: REASON` or `... fails: WHY`.
fn run_case(dir: &Path) -> String {
    let name = dir.strip_prefix(root()).unwrap().display().to_string();
    let clean = |e: String| {
        let e = e.replace(&format!("{}/", dir.display()), "");
        e.lines().next().unwrap_or("").to_string()
    };
    let graph = match zkinfer::onnx::load(&dir.join("model.onnx"), &LoadOptions::default()) {
        Ok(mut g) => {
            g.optimize();
            g
        }
        Err(e) => return format!("{name}: refused: {}", clean(e.to_string())),
    };
    let input = match read_input(&dir.join("input.json")) {
        Ok(i) => i,
        Err(e) => return format!("{name}: refused: {}", clean(e.to_string())),
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let want: Vec<Vec<f64>> = serde_json::from_value(expected["outputs"].clone()).unwrap();
    // `build`'s default calibration target tries these configurations and keeps the closest.
    let mut best: Option<(f64, zkinfer::quant::QuantModel, zkinfer::quant::Trace)> = None;
    let mut why = String::new();
    for cfg in Target::Accuracy.candidates(&QuantConfig::default()) {
        let model = match quantize(&graph, std::slice::from_ref(&input), &cfg) {
            Ok(m) => m,
            Err(e) => {
                why = clean(e.to_string());
                continue;
            }
        };
        let trace = match model.eval(&input) {
            Ok(t) => t,
            Err(e) => {
                why = clean(e.to_string());
                continue;
            }
        };
        let got = model.output_floats(&trace);
        if got.len() != want.len() || got.iter().zip(&want).any(|(g, w)| g.len() != w.len()) {
            return format!("{name}: fails: the outputs' shapes differ from the expected ones");
        }
        // The worst output, in units of what the criterion allows (<= 1 passes).
        let mut worst = 0f64;
        for (o, (g, w)) in got.iter().zip(&want).enumerate() {
            let step = 2f64.powi(-model.values[model.outputs[o]].exp);
            for (a, b) in g.iter().zip(w) {
                worst = worst.max((a - b).abs() / (STEPS * step).max(REL * b.abs()));
            }
        }
        if best.as_ref().is_none_or(|(w, _, _)| worst < *w) {
            best = Some((worst, model, trace));
        }
    }
    let Some((worst, model, trace)) = best else {
        return format!("{name}: refused: {why}");
    };
    if worst > 1.0 {
        return format!("{name}: fails: an output is off by more than {STEPS} steps");
    }
    let shape = match circuit::choose_params(
        &model,
        &trace,
        Default::default(),
        None,
        Default::default(),
    ) {
        Ok(s) => s,
        Err(e) => return format!("{name}: refused: {}", clean(e.to_string())),
    };
    if shape.k() <= MOCK_MAX_K {
        let c = circuit::build(
            CircuitBuilderStage::Mock,
            &shape,
            &model,
            &trace,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let inst = c.instances();
        if MockProver::run(shape.k(), &c, vec![inst])
            .unwrap()
            .verify()
            .is_err()
        {
            return format!("{name}: fails: the circuit rejects the honest witness");
        }
    }
    format!("{name}: pass")
}

#[test]
fn backend_test_data() {
    let lines: Vec<String> = cases().iter().map(|d| run_case(d)).collect();
    let status = root().join("STATUS.txt");
    let mut text = String::from(
        "# tests/it/conformance.rs: the outcome of every case (ZKINFER_UPDATE_CONFORMANCE=1 rewrites this file)\n",
    );
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    if std::env::var_os("ZKINFER_UPDATE_CONFORMANCE").is_some() {
        std::fs::write(&status, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&status).unwrap_or_default();
    let old: Vec<&str> = committed.lines().filter(|l| !l.starts_with('#')).collect();
    let changed: Vec<String> = lines
        .iter()
        .filter(|l| !old.contains(&l.as_str()))
        .cloned()
        .chain(
            old.iter()
                .filter(|l| !lines.iter().any(|n| n == *l))
                .map(|l| format!("(was) {l}")),
        )
        .collect();
    assert!(
        changed.is_empty(),
        "conformance outcomes changed (ZKINFER_UPDATE_CONFORMANCE=1 records them):\n{}",
        changed.join("\n")
    );
    // A broken suite must not pass by passing nothing.
    let passed = lines.iter().filter(|l| l.ends_with(": pass")).count();
    assert!(passed >= 50, "only {passed} cases pass");
}

/// A sample of passing cases, one per suite, built, proved and verified for real (natively
/// and in the EVM, as `build`'s self-test does), with the proof's outputs the expected ones.
#[test]
fn a_sample_proves_and_verifies() {
    use zkinfer::pipeline::{self, BuildOptions};
    for case in [
        "pytorch-converted/test_Conv2d",
        "pytorch-operator/test_operator_add_size1_broadcast",
        "node/test_softmax_axis_1",
    ] {
        let dir = root().join(case);
        let opts = BuildOptions::new(
            dir.join("model.onnx"),
            dir.join("input.json"),
            PathBuf::new(),
        );
        let out = crate::common::cached(&opts);
        let build = pipeline::Build::open(&out).unwrap();
        let input = read_input(&dir.join("input.json")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("proof.json");
        let report = pipeline::prove(&build, &input, &Default::default(), &path, &pipeline::Quiet)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let pf = zkinfer::artifacts::ProofFile::read(&path).unwrap();
        assert!(
            pipeline::verify(&build, &pf, &path)
                .unwrap()
                .into_result()
                .is_ok(),
            "{case}: the proof does not verify"
        );
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
        let want: Vec<Vec<f64>> = serde_json::from_value(expected["outputs"].clone()).unwrap();
        for (g, w) in report.outputs.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() < 1e-2 * (1.0 + w.abs()), "{case}: {g} vs {w}");
        }
    }
}
