//! Shared helpers for the integration tests: fixture paths and one build per fixture and
//! options, cached on disk.

pub mod postgres;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use zkinfer::pipeline::{self, Build, BuildOptions, Quiet};
use zkinfer::visibility::{Vis, Visibility};

/// The whole-model fixtures, from `tests/fixtures/models/fixtures.txt` (the list the scripts
/// read too).
pub fn fixtures() -> Vec<&'static str> {
    include_str!("../../fixtures/models/fixtures.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// One test per whole-model fixture, each calling `$check(name)`; with `dot_lanes`, also one per
/// build with `--optimize-for proving` (`digits_mlp@proving`, `digits_cnn@proving`: their
/// constant-weight dot products go to the dot lane, checked by [`built`], so every whole-model
/// test covers that gate too). It also checks that its list is `fixtures.txt`.
macro_rules! fixture_tests {
    ($check:path) => {
        $crate::common::fixture_tests!(@each $check, [
            breast_cancer_mlp, digits_mlp, breast_cancer_logreg, iris_logreg, breast_cancer_tree,
            breast_cancer_gbt, diabetes_forest, digits_cnn, digits_sigmoid_tanh, lenet_ccd,
            lenet_ccddd
        ]);
    };
    // The LeNets (tens of thousands of weights, logrows 16-17) are left out where a test
    // re-runs what the others already cover at their size: every weight hashed in the
    // circuit, a deployment to anvil.
    ($check:path, small) => {
        $crate::common::fixture_tests!(@each $check, [
            breast_cancer_mlp, digits_mlp, breast_cancer_logreg, iris_logreg, breast_cancer_tree,
            breast_cancer_gbt, diabetes_forest, digits_cnn, digits_sigmoid_tanh
        ], [lenet_ccd, lenet_ccddd]);
    };
    ($check:path, small, dot_lanes) => {
        $crate::common::fixture_tests!($check, small);
        $crate::common::fixture_tests!(@proving $check);
    };
    ($check:path, dot_lanes) => {
        $crate::common::fixture_tests!($check);
        $crate::common::fixture_tests!(@proving $check);
    };
    // The dot-lane variants of two fixtures.
    (@proving $check:path) => {
        #[test]
        fn digits_mlp_proving() {
            $check("digits_mlp@proving")
        }
        #[test]
        fn digits_cnn_proving() {
            $check("digits_cnn@proving")
        }
    };
    (@each $check:path, [$($name:ident),* $(,)?]) => {
        $crate::common::fixture_tests!(@each $check, [$($name),*], []);
    };
    (@each $check:path, [$($name:ident),* $(,)?], [$($skip:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                $check(stringify!($name))
            }
        )*
        #[test]
        fn every_fixture_has_a_test() {
            let mut listed: Vec<&str> = vec![$(stringify!($name)),*];
            let skipped: &[&str] = &[$(stringify!($skip)),*];
            listed.extend(skipped.iter().copied());
            assert_eq!(
                listed,
                $crate::common::fixtures(),
                "tests/fixtures/models/fixtures.txt and fixture_tests! in tests/it/common/mod.rs list other fixtures"
            );
        }
    };
}
pub(crate) use fixture_tests;

/// A fixture file; `name` may carry a build variant after `@`.
pub fn fixture(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name.split('@').next().unwrap())
        .join(file)
}

/// The tags after a fixture name's `@`, `+`-separated (`lenet_ccddd@proving+hashed-output`).
fn tags(name: &str) -> Vec<&str> {
    name.split_once('@')
        .map_or(vec![], |(_, t)| t.split('+').collect())
}

/// The options of a fixture build: `name`'s tags may say `proving` or `gas` (`--optimize-for`)
/// and `hashed-output` (`--output-visibility hashed`).
pub fn fixture_options(name: &str) -> BuildOptions {
    let mut opts = BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        PathBuf::new(),
    );
    let tags = tags(name);
    if tags.contains(&"proving") {
        opts.optimize = zkinfer::circuit::Optimize::Proving;
    }
    if tags.contains(&"gas") {
        opts.optimize = zkinfer::circuit::Optimize::Gas;
    }
    if tags.contains(&"hashed-output") {
        opts.visibility.output = Vis::Hashed;
    }
    opts
}

/// A build directory per fixture, shared by every test (see [`cached`]); looked up once per
/// name and run.
pub fn built(name: &str) -> &'static Path {
    static DIRS: OnceLock<Mutex<HashMap<String, &'static Path>>> = OnceLock::new();
    if let Some(&p) = DIRS.get_or_init(Default::default).lock().unwrap().get(name) {
        return p;
    }
    let out: &'static Path = Box::leak(cached(&fixture_options(name)).into_boxed_path());
    if tags(name).contains(&"proving") {
        let b = Build::open(out).unwrap();
        assert!(
            b.settings.circuit.params.dot_width > 0,
            "{name}: expected a dot lane"
        );
    }
    DIRS.get()
        .unwrap()
        .lock()
        .unwrap()
        .insert(name.to_string(), out);
    out
}

/// SHA-256 over what a build depends on: the `zkinfer` binary this run tests (built from the
/// same sources as the library, in the same cargo invocation, so any change to the crate's
/// sources or its locked dependencies changes it), the pinned tool versions, and the tool
/// overrides in the environment. A build cached under another hash is never reused.
pub fn source_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut h = Sha256::new();
        for f in [
            Path::new(env!("CARGO_BIN_EXE_zkinfer")),
            &root.join("scripts/tools/package-lock.json"),
        ] {
            h.update(std::fs::read(f).unwrap());
            h.update([0]);
        }
        for var in ["ZKINFER_SOLC", "ZKINFER_TOOLS"] {
            h.update(std::env::var(var).unwrap_or_default());
            h.update([0]);
        }
        hex::encode(h.finalize())
    })
}

/// The build of `opts` (its `out` and `force` ignored), made once for this binary and reused by
/// every test and every later run: cached under `target/tmp/zkinfer-builds/SOURCES/KEY`, KEY a
/// hash of the options and of the model, calibration and SRS files, built by one process at a
/// time (a lock file per key) and moved into place whole. Tests must not change what it
/// returns (copy it first, as [`build_copy`] does). Caches of other binaries unused for a day
/// are removed.
pub fn cached(opts: &BuildOptions) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zkinfer-builds");
    let sources = &source_hash()[..16];
    static PRUNED: OnceLock<()> = OnceLock::new();
    PRUNED.get_or_init(|| {
        let day = std::time::Duration::from_secs(24 * 3600);
        for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > day);
            if e.file_name() != sources && old {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let mut key = opts.clone();
    key.out = PathBuf::new();
    key.force = false;
    let mut h = Sha256::new();
    h.update(format!("{key:?}"));
    for f in [
        Some(&opts.model),
        Some(&opts.calibration),
        opts.srs.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        h.update(std::fs::read(f).unwrap());
    }
    let name = opts
        .model
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let dir = root
        .join(sources)
        .join(format!("{name}-{}", &hex::encode(h.finalize())[..16]));
    // One builder per key in this process; other keys build meanwhile.
    type Cells = Mutex<HashMap<PathBuf, Arc<OnceLock<()>>>>;
    static CELLS: OnceLock<Cells> = OnceLock::new();
    let cell = CELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(dir.clone())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let parent = dir.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        // One process at a time per key: the others wait, then find the build.
        let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
        lock.lock().unwrap();
        if Build::open(&dir).is_ok() {
            return;
        }
        let _ = std::fs::remove_dir_all(&dir);
        let tmp = tempfile::tempdir_in(parent).unwrap();
        let mut o = opts.clone();
        o.out = tmp.path().join("build");
        o.force = false;
        pipeline::build(&o, &Quiet).unwrap_or_else(|e| panic!("build {}: {e}", dir.display()));
        std::fs::rename(&o.out, &dir).unwrap();
        assert!(
            Build::open(&dir).is_ok(),
            "{}: cached build unusable",
            dir.display()
        );
    });
    dir
}

/// The build of `opts` (from [`cached`]) copied to `opts.out`, a directory the test owns.
pub fn build_copy(opts: &BuildOptions) {
    copy_build(&cached(opts), &opts.out);
}

/// Copies a build directory (a cached one before a test changes or extends it).
pub fn copy_build(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

pub fn open(name: &str) -> Build {
    Build::open(built(name)).unwrap()
}

/// A build's verifier split in two contracts as `build` splits one over EIP-170
/// (`verifier::split`), and `compile`, which compiles an edit of it beside the build's wrapper.
pub fn split_verifier_of(
    build: &Build,
) -> (String, impl Fn(&str) -> zkinfer::verifier::Compiled + '_) {
    use zkinfer::artifacts::BuildDir;
    let read = |f: &str| std::fs::read_to_string(build.dir.path(f)).unwrap();
    let split = zkinfer::verifier::split_verifier(&read(BuildDir::VERIFIER_SOL)).unwrap();
    let wrapper = read(BuildDir::WRAPPER_SOL);
    let solc = zkinfer::tools::solc().expect("solc (run scripts/setup.sh)");
    let compile = move |src: &str| zkinfer::verifier::compile(src, &wrapper, &solc).unwrap();
    (split, compile)
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
    copy_build(&cached(&opts), &out);
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
        .registry(reg.address)
        .register_model(
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
    copy_build(&b.dir.root, dir);
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
        .expect_err("a swapped-weight build's own digest passed as the honest build's");
    assert!(
        e.to_string().contains("made for another model or build"),
        "{e}"
    );
    pf.vk_digest = honest.settings.vk_digest;
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
    s["vk_digest"] = digest.to_string().into();
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
    use zkinfer::inputs::read_calibration;
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
