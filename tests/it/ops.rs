//! One small ONNX model per op form (tests/fixtures/ops, made by scripts/gen_fixtures.py with
//! onnxruntime's outputs): zkinfer's f64 import matches onnxruntime and tract, the quantized
//! model matches within tolerance, and the circuit accepts the honest witness and rejects a
//! wrong public output (MockProver).

use std::path::{Path, PathBuf};

use zkinfer::circuit::{self, CircuitBuilderStage};
use zkinfer::field::halo2_proofs::dev::MockProver;
use zkinfer::field::Fr;
use zkinfer::graph::eval_f64;
use zkinfer::inputs::{read_calibration, read_input};
use zkinfer::onnx::{self, FloatModel, LoadOptions};
use zkinfer::quant::{quantize, QuantConfig};

fn expected(dir: &Path) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    serde_json::from_value(v["outputs"].clone()).unwrap()
}

fn close(name: &str, what: &str, got: &[Vec<f64>], want: &[Vec<f64>], tol: f64) {
    assert_eq!(got.len(), want.len(), "{name} {what}: output count");
    for (o, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{name} {what}: output {o} length");
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= tol * (1.0 + b.abs()),
                "{name} {what}: output {o}[{i}] = {a}, expected {b}"
            );
        }
    }
}

fn op_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ops")
        .join(name)
}

/// One test per op fixture, and a test that the list is every directory of `tests/fixtures/ops`.
macro_rules! op_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_op(&op_dir(stringify!($name)));
            }
        )*

        #[test]
        fn every_op_fixture_has_a_test() {
            let listed: std::collections::BTreeSet<String> =
                [$(stringify!($name)),*].iter().map(|s| s.to_string()).collect();
            let on_disk: std::collections::BTreeSet<String> =
                std::fs::read_dir(op_dir(""))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect();
            assert_eq!(listed, on_disk, "add the new op fixture to op_tests! in tests/it/ops.rs");
        }
    };
}

op_tests!(
    add_sub_mul_broadcast,
    argmax_axis,
    avgpool_exclude_pad,
    avgpool_include_pad,
    batchnorm,
    clip_hardsigmoid,
    clip_opset9_relu6,
    concat_slice_split,
    conv_1d,
    conv_depthwise_same,
    conv_stride_pad_dilation,
    conv_transpose,
    div_const_and_dynamic,
    flatten_transpose,
    gather_expand_tile,
    gemm_trans_alpha_beta,
    global_pools,
    log_softmax,
    matmul_batched_const,
    matmul_dynamic,
    maxpool_pad_ceil,
    misc_identity_dropout_constant_pow,
    pad_modes,
    reduce_mean_sum_max,
    relu_leaky_prelu,
    reshape_from_shape_chain,
    sigmoid_tanh_exp,
    softmax_axis,
    softmax_opset11,
    squeeze_unsqueeze,
);

/// zkinfer's f64 import matches onnxruntime and tract, the quantized model matches within
/// tolerance, and the circuit accepts the honest witness and rejects a wrong public output.
fn check_op(dir: &Path) {
    {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let model_path = dir.join("model.onnx");
        let want = expected(dir);
        let input = read_input(&dir.join("input.json")).unwrap();
        let mut graph = onnx::load(&model_path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = |g: &zkinfer::graph::Graph| -> Vec<Vec<f64>> {
            let vals = eval_f64(g, &input).unwrap();
            g.outputs.iter().map(|&v| vals[v].clone()).collect()
        };
        close(
            &name,
            "f64 import vs onnxruntime",
            &out(&graph),
            &want,
            1e-5,
        );
        let shapes: Vec<Vec<usize>> = graph
            .inputs
            .iter()
            .map(|&v| graph.values[v].shape.clone())
            .collect();
        let tract =
            FloatModel::load(&model_path, &shapes).unwrap_or_else(|e| panic!("{name}: {e}"));
        close(
            &name,
            "f64 import vs tract",
            &out(&graph),
            &tract.run(&input).unwrap(),
            1e-5,
        );
        graph.optimize();
        close(
            &name,
            "optimized graph vs onnxruntime",
            &out(&graph),
            &want,
            1e-5,
        );

        let calib = read_calibration(&dir.join("calibration.jsonl")).unwrap();
        let model = quantize(&graph, &calib, &QuantConfig::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let trace = model.eval(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Tables at the default 2^12 rows step e^x by 2^-7 near its calibrated top: 1% relative.
        close(
            &name,
            "quantized vs onnxruntime",
            &model.output_floats(&trace),
            &want,
            1e-2,
        );

        let shape =
            circuit::choose_params(&model, &trace, Default::default(), None, Default::default())
                .unwrap();
        let inst: Vec<Fr> = trace
            .outputs(&model)
            .into_iter()
            .map(zkinfer::field::field)
            .collect();
        let run = |inst: Vec<Fr>| {
            let c = circuit::build(
                CircuitBuilderStage::Mock,
                &shape,
                &model,
                &trace,
                &Default::default(),
            )
            .unwrap();
            MockProver::run(shape.k(), &c, vec![inst])
                .unwrap()
                .verify()
                .is_ok()
        };
        assert!(run(inst.clone()), "{name}: honest witness rejected");
        let mut bad = inst.clone();
        bad[0] += Fr::one();
        assert!(!run(bad), "{name}: wrong public output accepted");
    }
}
