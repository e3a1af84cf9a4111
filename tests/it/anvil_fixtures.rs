//! The committed chain in `anvil-fixtures/` (made by `scripts/anvil-fixtures.sh`): loaded with
//! `anvil --load-state`, it holds the registry, the credit model's verifier, an attestation, a
//! lending gate and one prediction. Its verifier must be byte for byte what a fresh build makes,
//! its registry what the committed artifact holds, and the chain must accept the next proof.

use std::path::Path;

use crate::common::{fixture, registry_build_with_srs};
use alloy::node_bindings::Anvil;
use zkinfer::artifacts::ProofFile;
use zkinfer::chain::registry::parse_model_id;
use zkinfer::chain::{Address, Chain};
use zkinfer::circuit::{commit::parse_salt, Secrets};
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Build, Quiet};

#[test]
fn fixture_chain_matches_a_fresh_build_and_accepts_the_next_proof() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("anvil-fixtures");
    let dep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("deployments.json")).unwrap()).unwrap();
    let fx = &dep["fixture"];

    // A fresh build exactly as the script makes it (seeded SRS).
    let tmp = tempfile::tempdir().unwrap();
    let srs = tmp.path().join("srs.bin");
    zkinfer::proof::write_srs(&zkinfer::proof::generate_srs_seeded(14, 1), &srs).unwrap();
    let name = "breast_cancer_mlp";
    let build = Build::open(&registry_build_with_srs(tmp.path(), Some(srs))).unwrap();
    assert_eq!(
        dep["models"]["credit"]["vk_digest"],
        build.settings.vk_digest.to_string(),
        "the fixture was made from another build: run scripts/anvil-fixtures.sh"
    );

    let anvil = Anvil::at(zkinfer::tools::anvil().expect("anvil (run scripts/setup.sh)"))
        .args(["--load-state", root.join("state.json").to_str().unwrap()])
        .try_spawn()
        .unwrap();
    let key = hex::encode(anvil.first_key().to_bytes());
    let addr = |v: &serde_json::Value| v.as_str().unwrap().parse::<Address>().unwrap();
    let registry = addr(&dep["registry"]["address"]);
    let verifier = addr(&dep["models"]["credit"]["verifier"]);
    let gate = addr(&dep["gates"]["credit"]["address"]);
    let model = parse_model_id("credit").unwrap();
    let commitment: [u8; 32] = hex::decode(
        fx["input_commitment"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let borrower = addr(&fx["borrower"]);

    crate::common::block_on(async {
        let chain = Chain::connect(&anvil.endpoint(), Some(&key)).await.unwrap();
        // The verifier pair on the chain is exactly the fresh build's.
        let contracts = build.contracts().unwrap();
        let inner = zkinfer::chain::check_deployed(&chain, &contracts, verifier)
            .await
            .unwrap()
            .into_result()
            .unwrap_or_else(|e| panic!("fixture verifier differs from a fresh build: {e}"));
        assert_eq!(inner, addr(&dep["models"]["credit"]["halo2_verifier"]));
        // The registry is the committed artifact's code.
        let art: zkinfer::chain::contracts::Artifact = serde_json::from_slice(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("contracts/artifacts")
                    .join("PredictionRegistry.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            chain.code_at(registry).await.unwrap(),
            art.deployed_bytecode.to_vec(),
            "the fixture's registry is not the committed artifact: run scripts/anvil-fixtures.sh"
        );
        // The stored prediction and the gate's view of it.
        let p = chain
            .registry(registry)
            .read_latest(model, Some(commitment), 0)
            .await
            .unwrap();
        assert_eq!(p.floats, vec![fx["threshold"].as_f64().unwrap()]);
        let (proven, _age) = chain.gate(gate).check(borrower, commitment).await.unwrap();
        assert_eq!(proven, 1 << 15);

        // The next proof (nonce 1) from the fresh build is accepted.
        let b = chain
            .registry(registry)
            .next_binding(model, chain.from.unwrap())
            .await
            .unwrap();
        assert_eq!(b.nonce, 1);
        let inputs = read_input(&fixture(name, "input.json")).unwrap();
        let secrets = Secrets {
            input_salt: parse_salt(fx["salt"].as_str().unwrap()).unwrap(),
            predicate_params: build.predicate_params(&[("T".into(), 0.6)]).unwrap(),
            binding: Some(b),
            ..Default::default()
        };
        let path = tmp.path().join("p.json");
        tokio::task::block_in_place(|| {
            pipeline::prove(&build, &inputs, &secrets, &path, &Quiet).unwrap()
        });
        let pf = ProofFile::read(&path).unwrap();
        let (w, proof) = pipeline::verify_calldata(&pf);
        chain
            .registry(registry)
            .submit(model, &w, &proof)
            .await
            .unwrap();
        let p = chain
            .registry(registry)
            .read_latest(model, Some(commitment), 0)
            .await
            .unwrap();
        assert_eq!(
            p.floats,
            vec![0.6f64.mul_add(65536.0, 0.0).round() / 65536.0]
        );
        assert_eq!(
            chain.registry(registry).stored_count(model).await.unwrap(),
            2
        );
    });
}
