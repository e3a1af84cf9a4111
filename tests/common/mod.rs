//! Shared helpers for the integration tests: fixture paths and one build per fixture.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zkinfer::pipeline::{self, Build, BuildOptions, Quiet};
use zkinfer::visibility::{Vis, Visibility};

pub const FIXTURES: &[&str] = &[
    "breast_cancer_mlp",
    "digits_mlp",
    "breast_cancer_logreg",
    "iris_logreg",
    "breast_cancer_tree",
    "breast_cancer_gbt",
    "diabetes_forest",
    "digits_cnn",
    "digits_sigmoid_tanh",
];

/// Fixture builds with `--optimize-for proving`: their constant-weight dot products go to the
/// dot lane (checked by [`built`]), so every whole-model test covers that gate too.
pub const DOT_LANE_FIXTURES: &[&str] = &["digits_mlp@proving", "digits_cnn@proving"];

/// A fixture file; `name` may carry a build variant after `@`.
pub fn fixture(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name.split('@').next().unwrap())
        .join(file)
}

/// A build directory per fixture, made once per test binary.
pub fn built(name: &str) -> &'static Path {
    static DIRS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, &'static Path>>> =
        OnceLock::new();
    let map = DIRS.get_or_init(Default::default);
    let mut m = map.lock().unwrap();
    if let Some(p) = m.get(name) {
        return p;
    }
    let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let out = tmp.path().join("build");
    let mut opts = BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        out.clone(),
    );
    if name.ends_with("@proving") {
        opts.optimize = zkinfer::circuit::Optimize::Proving;
    }
    if name.ends_with("@gas") {
        opts.optimize = zkinfer::circuit::Optimize::Gas;
    }
    pipeline::build(&opts, &Quiet).unwrap_or_else(|e| panic!("build {name}: {e}"));
    if name.ends_with("@proving") {
        let b = Build::open(&out).unwrap();
        assert!(
            b.settings.circuit.params.dot_width > 0,
            "{name}: expected a dot lane"
        );
    }
    let leaked: &'static Path = Box::leak(out.into_boxed_path());
    m.insert(name.to_string(), leaked);
    leaked
}

pub fn open(name: &str) -> Build {
    Build::open(built(name)).unwrap()
}

/// A registry-ready build: hashed input, private output, `y[0] >= T`, binding.
pub fn registry_build(dir: &Path) -> PathBuf {
    registry_build_with_srs(dir, None)
}

/// [`registry_build`] on a given SRS file.
pub fn registry_build_with_srs(dir: &Path, srs: Option<PathBuf>) -> PathBuf {
    registry_build_batch(dir, srs, 1)
}

/// [`registry_build`] proving `batch` samples per proof.
pub fn registry_build_batch(dir: &Path, srs: Option<PathBuf>, batch: usize) -> PathBuf {
    let name = "breast_cancer_mlp";
    let out = dir.join("credit");
    let mut opts = BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        out.clone(),
    );
    opts.visibility = Visibility {
        input: Vis::Hashed,
        params: Vis::Fixed,
        output: Vis::Private,
        binding: true,
    };
    opts.predicate = Some("y[0] >= T".parse().unwrap());
    opts.srs = srs;
    opts.batch = batch;
    pipeline::build(&opts, &Quiet).unwrap();
    out
}

/// Deploys a registry and the build's verifier on `url` and registers the build as `model`;
/// returns the registry.
pub async fn deploy_registered(
    url: &str,
    key: &str,
    build: &Build,
    model: [u8; 32],
) -> zkinfer::chain::Address {
    let chain = zkinfer::chain::Chain::connect(url, Some(key))
        .await
        .unwrap();
    let reg = chain.deploy_registry().await.unwrap();
    let pair = zkinfer::chain::deploy_pair(&chain, &build.contracts().unwrap())
        .await
        .unwrap();
    chain
        .register_model(
            reg.address,
            model,
            pair.wrapper.address,
            [0; 32],
            [0; 32],
            &build.settings.instances,
            "",
        )
        .await
        .unwrap();
    reg.address
}

/// Copies a build directory and changes one weight of its quantized model, then records the
/// digest of the edited directory: what a prover who swaps weights (and runs a zkinfer that
/// agrees) would run. Its digest is no longer the honest build's.
pub fn with_swapped_weight(b: &Build, dir: &std::path::Path) -> Build {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(b.dir.path("")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let model = add_to_first_weight(&dir.join("model.quant.json"), 12345);
    redigest(b, dir, &model);
    Build::open(dir).unwrap()
}

/// A cheating prover's proof file, as it would present it: its own build's digest replaced by
/// the honest build's (a digest is only a claim). Checks first that with its own digest the
/// honest build refuses it as another build's proof.
pub fn claiming(
    honest: &Build,
    mut pf: zkinfer::artifacts::ProofFile,
    path: &std::path::Path,
) -> zkinfer::artifacts::ProofFile {
    let e = zkinfer::pipeline::verify(honest, &pf, path)
        .err()
        .expect("a swapped-weight build's own digest passed as the honest build's");
    assert!(
        e.to_string().contains("made for another model or build"),
        "{e}"
    );
    pf.vk_digest = honest.settings.vk_digest.clone();
    pf
}

/// Adds `delta` to the first coefficient of the first affine node of a `model.quant.json`;
/// returns the file's new bytes.
pub fn add_to_first_weight(path: &std::path::Path, delta: i64) -> Vec<u8> {
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let node = m["nodes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|n| n["op"].get("Affine").is_some())
        .unwrap();
    let coef = &mut node["op"]["Affine"]["terms"][0]["coef"];
    *coef = (coef.as_i64().unwrap() + delta).into();
    let bytes = serde_json::to_vec(&m).unwrap();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// Rewrites `settings.json`'s `vk_digest` in the copy `dir` of `b` for the model bytes `model`.
pub fn redigest(b: &Build, dir: &std::path::Path, model: &[u8]) {
    use sha2::Digest;
    use zkinfer::artifacts::BuildDir;
    let vk = zkinfer::proof::read_vk(&dir.join(BuildDir::VK), b.settings.circuit.params.clone())
        .unwrap();
    let digest = zkinfer::proof::vk_digest(
        &vk,
        &b.settings.circuit,
        &b.settings.instances,
        zkinfer::proof::DigestFiles::new(
            &hex::encode(sha2::Sha256::digest(model)),
            &b.settings.srs,
        ),
    );
    let sp = dir.join(BuildDir::SETTINGS);
    let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(&sp).unwrap()).unwrap();
    s["vk_digest"] = digest.into();
    std::fs::write(&sp, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
}

/// Runs a future on a multi-threaded runtime (proving inside uses `block_in_place`).
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A fixture's model (`models/NAME` or `ops/NAME`) quantized with the default configuration,
/// with its calibration samples (after `edit`).
pub fn quantized(
    name: &str,
    edit: impl FnOnce(&mut Vec<Vec<Vec<f64>>>),
) -> (zkinfer::quant::QuantModel, Vec<Vec<Vec<f64>>>) {
    use zkinfer::artifacts::read_calibration;
    use zkinfer::onnx::LoadOptions;
    use zkinfer::quant::{quantize, QuantConfig};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = ["models", "ops"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|d| d.exists())
        .unwrap();
    let mut graph = zkinfer::onnx::load(&dir.join("model.onnx"), &LoadOptions::default()).unwrap();
    graph.optimize();
    let mut calib = read_calibration(&dir.join("calibration.jsonl")).unwrap();
    edit(&mut calib);
    let model = quantize(&graph, &calib, &QuantConfig::default()).unwrap();
    (model, calib)
}
