//! Deploy and verify on a real, managed anvil (free port, killed on drop) through the CLI.

use std::process::Command;

use crate::common::{built, fixture};

fn zkinfer(args: &[&str], key: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env("ZKINFER_PRIVATE_KEY", key)
        .output()
        .unwrap()
}

#[test]
fn deploy_and_verify_on_anvil() {
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    let dir = built("breast_cancer_mlp");
    let d = dir.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let p = proof.to_str().unwrap();
    let input = fixture("breast_cancer_mlp", "input.json");
    let r = zkinfer(
        &["prove", d, "--input", input.to_str().unwrap(), "--out", p],
        &key,
    );
    assert!(r.status.success());

    let r = zkinfer(&["deploy", d, "--rpc-url", &url, "--json"], &key);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert!(
        !err.contains(&key) && !String::from_utf8_lossy(&r.stdout).contains(&key),
        "private key printed"
    );
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["chain_id"], 31337);
    let addr = j["address"].as_str().unwrap().to_string();

    let r = zkinfer(
        &[
            "verify-evm",
            d,
            p,
            "--address",
            &addr,
            "--rpc-url",
            &url,
            "--json",
        ],
        &key,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["valid"], true);
    assert_eq!(j["gas_source"], "receipt");
    let gas = j["gas_used"].as_u64().unwrap();
    assert!(gas > 100_000 && gas < 1_000_000, "gas {gas}");

    // Tampered output: rejected on-chain, exit 1.
    let mut pf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let q: i128 = pf["instances"][0]["integer"]
        .as_str()
        .unwrap()
        .parse::<i128>()
        .unwrap()
        + 1;
    let f = zkinfer::field::field(q);
    pf["instances"][0]["field"] = format!("0x{}", hex::encode(zkinfer::field::to_word(&f))).into();
    pf["instances"][0]["integer"] = q.to_string().into();
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&pf).unwrap()).unwrap();
    let r = zkinfer(
        &[
            "verify-evm",
            d,
            bad.to_str().unwrap(),
            "--address",
            &addr,
            "--rpc-url",
            &url,
        ],
        &key,
    );
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );

    // Another build's verifier at that address is refused before calling it.
    let other = built("digits_mlp");
    let r = zkinfer(
        &[
            "verify-evm",
            other.to_str().unwrap(),
            p,
            "--address",
            &addr,
            "--rpc-url",
            &url,
        ],
        &key,
    );
    assert_eq!(r.status.code(), Some(2));
    // A codeless address is not a pass.
    let r = zkinfer(
        &[
            "verify-evm",
            d,
            p,
            "--address",
            "0x000000000000000000000000000000000000dEaD",
            "--rpc-url",
            &url,
        ],
        &key,
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no contract"));
}

/// Every fixture model: prove, deploy its verifier, verify in a transaction on anvil.
fn verifies_on_anvil(name: &str) {
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    let dir = built(name);
    let d = dir.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let p = proof.to_str().unwrap();
    let input = fixture(name, "input.json");
    let r = zkinfer(
        &["prove", d, "--input", input.to_str().unwrap(), "--out", p],
        &key,
    );
    assert!(
        r.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = zkinfer(&["deploy", d, "--rpc-url", &url, "--json"], &key);
    assert!(
        r.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let addr = j["address"].as_str().unwrap().to_string();
    let r = zkinfer(
        &[
            "verify-evm",
            d,
            p,
            "--address",
            &addr,
            "--rpc-url",
            &url,
            "--json",
        ],
        &key,
    );
    assert!(
        r.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["valid"], true, "{name}");
}

mod every_fixture_model_verifies_on_anvil {
    crate::common::fixture_tests!(super::verifies_on_anvil, small, dot_lanes);
}

/// A 200-class public softmax output (200 public instances, far past the ~70 that fit the
/// unrolled verifier): built with default settings, deployed and verified on anvil; its last
/// class's probability changed is rejected on-chain.
#[test]
fn a_200_class_public_softmax_verifies_on_anvil() {
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    let name = "softmax_200";
    let dir = built(name);
    let build = zkinfer::pipeline::Build::open(dir).unwrap();
    assert_eq!(build.settings.instances.len(), 200);
    assert!(build.settings.verifier.verifier_runtime_bytes <= 24_576);
    let d = dir.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let p = proof.to_str().unwrap();
    let input = fixture(name, "input.json");
    let r = zkinfer(
        &["prove", d, "--input", input.to_str().unwrap(), "--out", p],
        &key,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = zkinfer(&["deploy", d, "--rpc-url", &url, "--json"], &key);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let addr = j["address"].as_str().unwrap().to_string();
    let verify = |p: &str| {
        zkinfer(
            &[
                "verify-evm",
                d,
                p,
                "--address",
                &addr,
                "--rpc-url",
                &url,
                "--json",
            ],
            &key,
        )
    };
    let r = verify(p);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["valid"], true);
    assert_eq!(j["gas_source"], "receipt");

    let mut pf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let last = &mut pf["instances"][199];
    let q: i128 = last["integer"].as_str().unwrap().parse::<i128>().unwrap() + 1;
    let f = zkinfer::field::field(q);
    last["field"] = format!("0x{}", hex::encode(zkinfer::field::to_word(&f))).into();
    last["integer"] = q.to_string().into();
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&pf).unwrap()).unwrap();
    let r = verify(bad.to_str().unwrap());
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );

    // In the registry: 200 values get one bit each beside the block time, which no
    // probability fits, so the record keeps each value in a slot of its own; read back, they
    // are the proven outputs.
    let out = tmp.path().join("bound");
    let mut opts = zkinfer::pipeline::BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        out.clone(),
    );
    opts.visibility.binding = true;
    crate::common::build_copy(&opts);
    let bound = zkinfer::pipeline::Build::open(&out).unwrap();
    let inputs = zkinfer::inputs::read_input(&input).unwrap();
    crate::common::block_on(async {
        let chain = zkinfer::chain::Chain::connect(&url, Some(&key))
            .await
            .unwrap();
        let me = chain.from.unwrap();
        let registry = chain.deploy_registry().await.unwrap().address;
        let pair = zkinfer::chain::deploy_pair(&chain, &bound.contracts().unwrap())
            .await
            .unwrap();
        let model = zkinfer::chain::registry::parse_model_id("softmax-200").unwrap();
        chain
            .registry(registry)
            .register_model(
                model,
                pair.wrapper.address,
                [0; 32],
                [0; 32],
                &bound.settings.instances,
                "",
            )
            .await
            .unwrap();
        let binding = chain
            .registry(registry)
            .next_binding(model, me)
            .await
            .unwrap();
        let path = tmp.path().join("bound-proof.json");
        let secrets = zkinfer::circuit::Secrets {
            binding: Some(binding),
            ..Default::default()
        };
        tokio::task::block_in_place(|| {
            zkinfer::pipeline::prove(&bound, &inputs, &secrets, &path, &zkinfer::pipeline::Quiet)
                .unwrap()
        });
        let pf = zkinfer::artifacts::ProofFile::read(&path).unwrap();
        let (words, proof) = zkinfer::pipeline::verify_calldata(&pf);
        let mined = chain
            .registry(registry)
            .submit(model, &words, &proof)
            .await
            .unwrap();
        assert_eq!(mined.predictions, 1);
        let stored = chain
            .registry(registry)
            .read_latest(model, Some([0; 32]), 0)
            .await
            .unwrap();
        let proven: Vec<i128> = pf
            .instances
            .iter()
            .filter(|i| i.info.kind == zkinfer::circuit::InstanceKind::Output)
            .map(|i| i.integer.as_deref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(proven.len(), 200);
        assert!(
            proven.iter().any(|&v| v > 1),
            "values that cannot pack in one bit"
        );
        let read: Vec<i128> = stored.values.iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(read, proven);
    });
}

/// foundry's convention: `ETH_RPC_URL` stands in for `--rpc-url` (after `ZKINFER_RPC_URL`), in
/// `deploy` and `verify-evm` as in every chain command; with none of them the error says how to
/// give one.
#[test]
fn eth_rpc_url_is_honoured() {
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    let dir = built("iris_logreg");
    let d = dir.to_str().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
        c.args(args)
            .env("ZKINFER_PRIVATE_KEY", &key)
            .env_remove("ZKINFER_RPC_URL")
            .env_remove("ETH_RPC_URL");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let r = run(&["deploy", d], &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("--rpc-url") && err.contains("ETH_RPC_URL"),
        "{err}"
    );

    let r = run(&["deploy", d, "--json"], &[("ETH_RPC_URL", &url)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let address = j["address"].as_str().unwrap().to_string();

    // ZKINFER_RPC_URL wins over ETH_RPC_URL.
    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let input = fixture("iris_logreg", "input.json");
    let r = run(
        &[
            "prove",
            d,
            "--input",
            input.to_str().unwrap(),
            "--out",
            proof.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = run(
        &[
            "verify-evm",
            d,
            proof.to_str().unwrap(),
            "--address",
            &address,
        ],
        &[
            ("ZKINFER_RPC_URL", &url),
            ("ETH_RPC_URL", "http://127.0.0.1:1"),
        ],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// A hashed input on-chain: the commitment `zkinfer hash` computes is the one verified; a
/// relabelled instance is refused by `verify-evm`.
#[test]
fn a_hashed_input_verifies_on_anvil_with_the_commitment_hash_computes() {
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    // A hashed input on-chain: the commitment `zkinfer hash` computes is the one verified.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("hashed");
    let (ds, m) = (
        d.to_str().unwrap(),
        fixture("breast_cancer_mlp", "model.onnx"),
    );
    let (c, i) = (
        fixture("breast_cancer_mlp", "calibration.jsonl"),
        fixture("breast_cancer_mlp", "input.json"),
    );
    let r = zkinfer(
        &[
            "build",
            m.to_str().unwrap(),
            "--calibration",
            c.to_str().unwrap(),
            "--out",
            ds,
            "--input-visibility",
            "hashed",
        ],
        &key,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let proof = tmp.path().join("proof.json");
    let p = proof.to_str().unwrap();
    let r = zkinfer(
        &[
            "prove",
            ds,
            "--input",
            i.to_str().unwrap(),
            "--out",
            p,
            "--salt",
            "0xabcdef",
        ],
        &key,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = zkinfer(
        &[
            "hash",
            ds,
            "--input",
            i.to_str().unwrap(),
            "--salt",
            "0xabcdef",
        ],
        &key,
    );
    let hash = String::from_utf8_lossy(&r.stdout).trim().to_string();
    let pf: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    assert_eq!(pf["instances"][0]["field"], hash.as_str());
    assert_eq!(pf["instances"][0]["kind"], "input_commitment");
    let r = zkinfer(&["deploy", ds, "--rpc-url", &url, "--json"], &key);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let addr = j["address"].as_str().unwrap().to_string();
    let r = zkinfer(
        &[
            "verify-evm",
            ds,
            p,
            "--address",
            &addr,
            "--rpc-url",
            &url,
            "--json",
        ],
        &key,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["valid"], true);

    // verify-evm checks the instances against the build's names: a relabelled one is invalid.
    let mut pf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    pf["instances"][0]["kind"] = "output".into();
    let bad = tmp.path().join("relabelled.json");
    std::fs::write(&bad, serde_json::to_vec(&pf).unwrap()).unwrap();
    let r = zkinfer(
        &[
            "verify-evm",
            ds,
            bad.to_str().unwrap(),
            "--address",
            &addr,
            "--rpc-url",
            &url,
        ],
        &key,
    );
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A verifier split in two contracts (as `build` splits one over EIP-170) on a real node: one
/// transaction deploys both, the deployed-code check passes, an honest proof verifies and a
/// tampered one does not. A head deployed by a constructor that did not create its tail has the
/// same runtime code, and the check refuses it; the build's one-contract verifier does not
/// match the split deployment either.
#[test]
fn a_split_verifier_deploys_and_verifies_on_anvil() {
    use zkinfer::chain::{check_deployed, deploy_pair, CodeCheck};
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let key = hex::encode(anvil.first_key().to_bytes());
    let name = "wide_gemm_70@gas";
    let build = crate::common::open(name);
    let (split_src, compile) = crate::common::split_verifier_of(&build);
    let split = compile(&split_src);
    let headless = compile(&split_src.replace("new Halo2VerifierTail();", ""));
    assert_eq!(
        headless.verifier.runtime_code(),
        split.verifier.runtime_code()
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("proof.json");
    let inputs =
        zkinfer::inputs::read_input(&crate::common::fixture("wide_gemm_70", "input.json")).unwrap();
    zkinfer::pipeline::prove(
        &build,
        &inputs,
        &Default::default(),
        &path,
        &zkinfer::pipeline::Quiet,
    )
    .unwrap();
    let pf = zkinfer::artifacts::ProofFile::read(&path).unwrap();
    let (words, proof) = zkinfer::pipeline::verify_calldata(&pf);
    let mut bad = proof.clone();
    bad[100] ^= 1;
    crate::common::block_on(async {
        let chain = zkinfer::chain::Chain::connect(&url, Some(&key))
            .await
            .unwrap();
        let pair = deploy_pair(&chain, &split).await.unwrap();
        let w = pair.wrapper.address;
        let check = check_deployed(&chain, &split, w).await.unwrap();
        assert!(matches!(check, CodeCheck::Matches { .. }), "{check:?}");
        assert!(chain.call_verify(w, &words, &proof).await.unwrap());
        assert!(!matches!(
            chain.call_verify(w, &words, &bad).await,
            Ok(true)
        ));
        let whole = build.contracts().unwrap();
        let check = check_deployed(&chain, &whole, w).await.unwrap();
        assert!(matches!(check, CodeCheck::Differs { .. }), "{check:?}");

        let pair = deploy_pair(&chain, &headless).await.unwrap();
        let w = pair.wrapper.address;
        match check_deployed(&chain, &split, w).await.unwrap() {
            CodeCheck::Differs { reason } => assert!(reason.contains("second half"), "{reason}"),
            other => panic!("a head without its tail passed: {other:?}"),
        }
        assert!(!matches!(
            chain.call_verify(w, &words, &proof).await,
            Ok(true)
        ));
    });
}
