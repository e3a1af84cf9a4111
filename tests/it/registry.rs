//! The PredictionRegistry on a managed anvil: the full flow through the CLI (deploy, register,
//! attest, request, prove, submit, read, lending gate), every rejection with its custom error
//! and nothing stored, and the committed contract artifacts against a fresh compile.

use crate::common::block_on;

use std::path::Path;
use std::process::Command;

use crate::common::{fixture, registry_build};
use zkinfer::artifacts::ProofFile;
use zkinfer::chain::registry::{parse_model_id, CallError};
use zkinfer::chain::{Address, Chain};
use zkinfer::circuit::Secrets;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Build, Quiet};
use zkinfer::visibility::binding::Binding;

fn zk(args: &[&str], key: &str, deployments: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env("ZKINFER_PRIVATE_KEY", key)
        .env("ZKINFER_DEPLOYMENTS", deployments)
        .output()
        .unwrap()
}

fn ok_json(r: std::process::Output) -> serde_json::Value {
    assert!(
        r.status.success(),
        "stdout {} stderr {}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    serde_json::from_slice(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        )
    })
}

#[test]
fn committed_artifacts_match_the_sources() {
    let solc = zkinfer::tools::solc().expect("solc (run scripts/setup.sh)");
    let fresh = zkinfer::chain::contracts::compile(&solc).unwrap();
    for a in fresh {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contracts/artifacts")
            .join(format!("{}.json", a.contract_name));
        let committed: zkinfer::chain::contracts::Artifact =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            committed,
            a,
            "{} is stale: run scripts/contracts.sh and commit the result",
            path.display()
        );
    }
}

async fn expect_revert(chain: &Chain, registry: Address, calldata: &[u8], want: &str) {
    match chain.registry(registry).estimate_submit(calldata).await {
        Err(e @ CallError::Reverted { .. }) => {
            assert_eq!(e.revert_name(), Some(want), "{e}")
        }
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[test]
fn registry_flow_and_every_rejection_on_anvil() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = registry_build(tmp.path());
    let d = dir.to_str().unwrap();
    let deployments = tmp.path().join("deployments");
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let keys: Vec<String> = anvil
        .keys()
        .iter()
        .map(|k| hex::encode(k.to_bytes()))
        .collect();
    let addrs: Vec<String> = anvil
        .addresses()
        .iter()
        .map(|a| format!("{a:#x}"))
        .collect();
    let (owner, provider, borrower) = (&keys[0], &keys[1], &keys[2]);
    let rpc = ["--rpc-url", url.as_str(), "--json"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(rpc.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[&str], key: &str| {
        let a = with(args);
        zk(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            key,
            &deployments,
        )
    };

    // Owner deploys and registers; a provider attests the borrower's input commitment.
    let j = ok_json(run(&["registry", "deploy"], owner));
    let registry: Address = j["registry"].as_str().unwrap().parse().unwrap();
    let gas_deploy = j["gas_used"].as_u64().unwrap();
    let j = ok_json(run(
        &[
            "registry",
            "register",
            d,
            "--model",
            "credit",
            "--uri",
            "ipfs://credit-model",
        ],
        owner,
    ));
    let gas_register = j["gas_used"].as_u64().unwrap();
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(deployments.join("31337.json")).unwrap()).unwrap();
    assert_eq!(recorded["models"]["credit"]["verifier"], j["verifier"]);
    // Not a provider yet: refused with the custom error.
    let input = fixture("breast_cancer_mlp", "input.json");
    let inp = input.to_str().unwrap();
    let salt = "0x5eed";
    let h = ok_json(zk(
        &["hash", d, "--input", inp, "--salt", salt, "--json"],
        owner,
        &deployments,
    ));
    let commitment = h["input_commitment"].as_str().unwrap().to_string();
    let r = run(
        &[
            "registry",
            "attest",
            "--commitment",
            &commitment,
            "--account",
            &addrs[2],
        ],
        provider,
    );
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("NotProvider"));
    ok_json(run(&["registry", "provider", &addrs[1]], owner));
    ok_json(run(
        &[
            "registry",
            "attest",
            "--commitment",
            &commitment,
            "--account",
            &addrs[2],
        ],
        provider,
    ));
    // A request is an event bots serve.
    let j = ok_json(run(
        &[
            "registry",
            "request",
            "--model",
            "credit",
            "--input-ref",
            "alice.json",
        ],
        borrower,
    ));
    let request_block = j["block"].as_u64().unwrap();

    // Prove bound to the owner as submitter, submit, read.
    let proof = tmp.path().join("p.json");
    let p = proof.to_str().unwrap();
    let r = run(
        &[
            "prove", d, "--input", inp, "--out", p, "--salt", salt, "--param", "T=0.5", "--model",
            "credit",
        ],
        owner,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // The outputs are private: `prove` keeps them off stdout unless asked.
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(j["outputs"].is_null(), "private outputs printed: {j}");
    // The salt and the threshold may come with the input, as in a batch line; a salt given
    // both ways is refused.
    let mut with_secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(inp).unwrap()).unwrap();
    with_secrets["salt"] = salt.into();
    with_secrets["params"] = serde_json::json!({"T": 0.5});
    let inp2 = tmp.path().join("alice-salted.json");
    std::fs::write(&inp2, with_secrets.to_string()).unwrap();
    let inp2 = inp2.to_str().unwrap();
    let shown = tmp.path().join("shown.json");
    let r = run(
        &[
            "prove",
            d,
            "--input",
            inp2,
            "--out",
            shown.to_str().unwrap(),
            "--salt",
            salt,
            "--model",
            "credit",
        ],
        owner,
    );
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("keep the salt in one place"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = run(
        &[
            "prove",
            d,
            "--input",
            inp2,
            "--out",
            shown.to_str().unwrap(),
            "--model",
            "credit",
            "--show-outputs",
        ],
        owner,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["outputs"][0].as_array().map(Vec::len), Some(2), "{j}");
    // Prove one bound to another submitter (for the front-running check below).
    let stolen = tmp.path().join("stolen.json");
    let r = run(
        &[
            "prove",
            d,
            "--input",
            inp,
            "--out",
            stolen.to_str().unwrap(),
            "--salt",
            salt,
            "--param",
            "T=0.5",
            "--model",
            "credit",
            "--submitter",
            &addrs[3],
        ],
        owner,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j = ok_json(run(&["submit", d, p], owner));
    assert_eq!(j["stored"], true);
    let gas_submit = j["gas_used"].as_u64().unwrap();
    let j = ok_json(run(
        &["read", "--model", "credit", "--commitment", &commitment],
        owner,
    ));
    let pred = &j["predictions"][0];
    assert_eq!(pred["input_key"], commitment.as_str());
    assert_eq!(pred["floats"][0], 0.5);
    assert_eq!(pred["submitter"], addrs[0].as_str());
    assert_eq!(pred["nonce"], 0);
    let j = ok_json(run(&["read", "--model", "credit", "--history", "5"], owner));
    assert_eq!(j["predictions"].as_array().unwrap().len(), 1);

    // The lending gate: attested account with a fresh enough proof of score >= 0.5 borrows.
    let j = ok_json(run(
        &[
            "registry",
            "gate",
            "--model",
            "credit",
            "--min-threshold",
            "0.4",
            "--max-age",
            "3600",
        ],
        owner,
    ));
    let gate: Address = j["gate"].as_str().unwrap().parse().unwrap();
    let j = ok_json(run(
        &[
            "registry",
            "gate",
            "--model",
            "credit",
            "--min-threshold",
            "0.9",
            "--max-age",
            "3600",
        ],
        owner,
    ));
    let strict_gate: Address = j["gate"].as_str().unwrap().parse().unwrap();
    let model = parse_model_id("credit").unwrap();
    let c: [u8; 32] = hex::decode(commitment.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let build = Build::open(&dir).unwrap();

    block_on(async {
        let chain = Chain::connect(&url, Some(owner)).await.unwrap();
        // The request event.
        let reqs = chain
            .registry(registry)
            .requests(model, request_block, request_block)
            .await
            .unwrap();
        assert_eq!(reqs, vec![(0, "alice.json".to_string())]);
        let borrower_addr = anvil.addresses()[2];
        let (proven, age) = chain.gate(gate).check(borrower_addr, c).await.unwrap();
        assert_eq!(proven, 1 << 15, "threshold 0.5 at exp 16");
        assert!(age < 3600);
        let e = chain
            .gate(gate)
            .check(anvil.addresses()[4], c)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"));
        let e = chain
            .gate(strict_gate)
            .check(borrower_addr, c)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("ThresholdTooLow"));
        let e = chain
            .gate(gate)
            .check(borrower_addr, [7u8; 32])
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"));
        let as_borrower = Chain::connect(&url, Some(borrower)).await.unwrap();
        as_borrower.gate(gate).borrow(c, 1000).await.unwrap();
        // Registration is the owner's, checked against the verifier.
        let as_borrower_reg = as_borrower
            .registry(registry)
            .register_model(
                parse_model_id("mine").unwrap(),
                Address::ZERO,
                [0; 32],
                [0; 32],
                &build.settings.instances,
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(as_borrower_reg.revert_name(), Some("NotOwner"));
        let verifier: Address = recorded["models"]["credit"]["verifier"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let e = chain
            .registry(registry)
            .register_model(
                model,
                verifier,
                [0; 32],
                [0; 32],
                &build.settings.instances,
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("ModelExists"));
        let e = chain
            .registry(registry)
            .register_model(
                parse_model_id("weights").unwrap(),
                verifier,
                [1; 32],
                [0; 32],
                &build.settings.instances,
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.revert_name(),
            Some("WeightCommitmentMismatch"),
            "fixed weights take no commitment"
        );
        let e = chain
            .registry(registry)
            .register_model(
                parse_model_id("short").unwrap(),
                verifier,
                [0; 32],
                [0; 32],
                &build.settings.instances[1..],
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("LayoutMismatch"));
        let gas_read = chain.registry(registry).read_gas(model, c).await.unwrap();
        eprintln!(
            "GAS registry deploy {gas_deploy}, register {gas_register}, submit (verify + store) {gas_submit}, read latestFor {gas_read}"
        );

        // Rejections. A fresh valid proof for nonce 1, then variations of it.
        let inputs = read_input(&input).unwrap();
        let prove_bound = |b: Binding| {
            let out = tmp
                .path()
                .join(format!("p-{}-{}.json", b.chain_id, b.nonce));
            let secrets = Secrets {
                input_salt: zkinfer::circuit::commit::parse_salt(salt).unwrap(),
                predicate_params: build.predicate_params(&[("T".into(), 0.5)]).unwrap(),
                binding: Some(b),
                ..Default::default()
            };
            tokio::task::block_in_place(|| {
                pipeline::prove(&build, &inputs, &secrets, &out, &Quiet).unwrap()
            });
            let pf = ProofFile::read(&out).unwrap();
            pipeline::verify_calldata(&pf)
        };
        let binding = chain
            .registry(registry)
            .next_binding(model, anvil.addresses()[0])
            .await
            .unwrap();
        assert_eq!(binding.nonce, 1);
        let (words, proof) = prove_bound(binding.clone());
        let before = chain.registry(registry).stored_count(model).await.unwrap();
        let call =
            |w: &[[u8; 32]], p: &[u8]| zkinfer::chain::registry::submit_calldata(model, w, p);

        // The proof binds its binding instance: a front-runner who swaps in the binding for
        // their own address gets a proof that no verifier accepts, natively or on the EVM.
        let their = Binding {
            submitter: anvil.addresses()[3],
            ..binding.clone()
        };
        let mut swapped = words.clone();
        *swapped.last_mut().unwrap() = zkinfer::field::to_word(&their.value());
        let evm = pipeline::verify_in_evm(
            &build,
            &[
                zkinfer::verifier::encode_verify_call(&words, &proof),
                zkinfer::verifier::encode_verify_call(&swapped, &proof),
            ],
        )
        .unwrap();
        assert!(
            evm.calls[0].accepted && !evm.calls[1].accepted,
            "EVM: {evm:?}"
        );
        let good_path = tmp
            .path()
            .join(format!("p-{}-{}.json", binding.chain_id, binding.nonce));
        let mut pf = ProofFile::read(&good_path).unwrap();
        assert!(pipeline::verify(&build, &pf, &good_path)
            .unwrap()
            .into_result()
            .is_ok());
        pf.instances.last_mut().unwrap().field = (*swapped.last().unwrap()).into();
        assert!(
            pipeline::verify(&build, &pf, &good_path)
                .unwrap()
                .into_result()
                .is_err(),
            "a swapped binding must not verify natively"
        );

        // Tampered proof.
        let mut bad = proof.clone();
        bad[proof.len() / 2] ^= 1;
        expect_revert(&chain, registry, &call(&words, &bad), "InvalidProof").await;
        // Instance plus the field modulus (same value mod r).
        let modulus = alloy::primitives::U256::from_str_radix(
            "21888242871839275222246405745257275088548364400416034343698204186575808495617",
            10,
        )
        .unwrap();
        let mut w = words.clone();
        w[0] = (alloy::primitives::U256::from_be_bytes(w[0]) + modulus).to_be_bytes();
        expect_revert(&chain, registry, &call(&w, &proof), "NonCanonicalInstance").await;
        // Wrong lengths: proof, instance count, trailing calldata.
        expect_revert(
            &chain,
            registry,
            &call(&words, &proof[..proof.len() - 32]),
            "WrongProofLength",
        )
        .await;
        expect_revert(
            &chain,
            registry,
            &call(&words[1..], &proof),
            "WrongInstanceCount",
        )
        .await;
        let mut long = call(&words, &proof);
        long.extend_from_slice(&[0u8; 32]);
        expect_revert(&chain, registry, &long, "WrongCalldataLength").await;
        // Another model's proof: the same statement under another model id.
        expect_revert(
            &chain,
            registry,
            &zkinfer::chain::registry::submit_calldata(
                parse_model_id("other").unwrap(),
                &words,
                &proof,
            ),
            "UnknownModel",
        )
        .await;
        // Replay of the stored proof.
        let pf = ProofFile::read(Path::new(p)).unwrap();
        let (w0, p0) = pipeline::verify_calldata(&pf);
        expect_revert(&chain, registry, &call(&w0, &p0), "Replay").await;
        // Bound to another submitter (a front-runner copying it from the mempool).
        let pf = ProofFile::read(&stolen).unwrap();
        let (ws, ps) = pipeline::verify_calldata(&pf);
        expect_revert(&chain, registry, &call(&ws, &ps), "BindingMismatch").await;
        // Bound to another chain.
        let (wc, pc) = prove_bound(Binding {
            chain_id: 1,
            ..binding.clone()
        });
        expect_revert(&chain, registry, &call(&wc, &pc), "BindingMismatch").await;
        // A mined transaction with a tampered proof reverts and stores nothing.
        let data = call(&words, &bad);
        let nonce = chain.account_nonce().await.unwrap();
        let (hash, raw) = chain
            .registry(registry)
            .sign_submit(&data, 3_000_000, nonce)
            .await
            .unwrap();
        chain.broadcast(&raw).await.unwrap();
        let receipt = chain
            .wait_receipt(hash, std::time::Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            receipt.map(|r| r.0),
            Some(false),
            "the tampered submission must revert"
        );
        assert_eq!(
            chain.registry(registry).stored_count(model).await.unwrap(),
            before,
            "nothing stored"
        );
        assert_eq!(
            chain
                .registry(registry)
                .next_nonce(model, anvil.addresses()[0])
                .await
                .unwrap(),
            1
        );

        // A refused transaction leaves no nonce gap: later sends on this connection still go
        // through (the untampered proof below would hang otherwise).
        let wrapper: Address = recorded["models"]["credit"]["verifier"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(chain.send_verify(wrapper, &words, &bad).await.is_err());
        assert!(chain
            .registry(registry)
            .submit(model, &words, &bad)
            .await
            .is_err());

        // The untampered proof is still good.
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            chain.registry(registry).submit(model, &words, &proof),
        )
        .await
        .expect("a nonce gap stalled the submission")
        .unwrap();
        assert_eq!(
            chain.registry(registry).stored_count(model).await.unwrap(),
            before + 1
        );

        // Revoking the provider voids its attestations for good: the registry's read and the
        // gate refuse them, also after the role is granted again; a fresh attestation counts.
        let provider_addr = anvil.addresses()[1];
        chain
            .registry(registry)
            .set_provider(provider_addr, false)
            .await
            .unwrap();
        assert_eq!(chain.registry(registry).attested_to(c).await.unwrap(), None);
        let e = chain.gate(gate).check(borrower_addr, c).await.unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"), "{e}");
        let as_provider = Chain::connect(&url, Some(provider)).await.unwrap();
        let e = as_provider
            .registry(registry)
            .attest(c, borrower_addr)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotProvider"), "{e}");
        chain
            .registry(registry)
            .set_provider(provider_addr, true)
            .await
            .unwrap();
        assert_eq!(
            chain.registry(registry).attested_to(c).await.unwrap(),
            None,
            "granting the role again revives nothing"
        );
        // Commitment 0 is the key of private-input models' records: it commits to nothing.
        let e = as_provider
            .registry(registry)
            .attest([0u8; 32], borrower_addr)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("ZeroCommitment"), "{e}");
        as_provider
            .registry(registry)
            .attest(c, borrower_addr)
            .await
            .unwrap();
        assert_eq!(
            chain.registry(registry).attested_to(c).await.unwrap(),
            Some(borrower_addr)
        );
        chain.gate(gate).check(borrower_addr, c).await.unwrap();

        // An hour later the gate (max age 3600 s) finds the score too old.
        use alloy::providers::Provider;
        let raw = alloy::providers::ProviderBuilder::new().connect_http(url.parse().unwrap());
        let _: serde_json::Value = raw
            .raw_request("evm_increaseTime".into(), (3601u64,))
            .await
            .unwrap();
        let _: serde_json::Value = raw.raw_request("evm_mine".into(), ()).await.unwrap();
        let e = chain.gate(gate).check(borrower_addr, c).await.unwrap_err();
        assert_eq!(e.revert_name(), Some("ScoreTooOld"), "{e}");
    });
}

/// `zkinfer` with `envs` set and the key variables cleared (each call says where its key is).
fn zk_env(args: &[&str], envs: &[(&str, &str)], deployments: &Path) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
    c.args(args)
        .env_remove("ZKINFER_PRIVATE_KEY")
        .env_remove("ZKINFER_KEYSTORE")
        .env_remove("ZKINFER_KEYSTORE_PASSWORD")
        .env("ZKINFER_DEPLOYMENTS", deployments);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn fails_with(r: &std::process::Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    assert!(
        !r.status.success() && err.contains(needle),
        "expected a failure mentioning {needle:?}; stdout {} stderr {err}",
        String::from_utf8_lossy(&r.stdout)
    );
    err
}

/// The rules around a proof that the main flow does not reach, on iris_logreg builds:
/// public weights are pinned at registration and a proof with substituted weights is refused
/// natively and by the registry; a build whose weights nothing pins is refused; a gate refuses
/// a model whose predicate is not the output and direction it relies on, and an at-most gate
/// works; an SRS nobody vouched for stays off chains other than dev chains, also behind
/// `register --verifier`; keys come from an encrypted keystore; salts are required; `verify`
/// prints every instance by name and what it checked.
#[test]
fn weights_predicates_srs_and_keys_on_anvil() {
    use zkinfer::chain::gate::{GateDirection, GateSpec};
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let deployments = t.join("deployments");
    let name = "iris_logreg";
    let (model_onnx, calib) = (
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
    );
    let (m, c) = (model_onnx.to_str().unwrap(), calib.to_str().unwrap());

    // An SRS as `zkinfer srs` writes it: only an explicit --trusted-srs makes it trusted.
    let srs = t.join("srs.bin");
    let s = srs.to_str().unwrap();
    ok_json(zk_env(
        &[
            "srs",
            "--logrows",
            "14",
            "--out",
            s,
            "--seed",
            "7",
            "--json",
        ],
        &[],
        &deployments,
    ));
    let build = |out: &str, extra: &[&str]| {
        let o = t.join(out);
        let mut args = vec!["build", m, "--calibration", c, "--out", o.to_str().unwrap()];
        args.extend([
            "--target",
            "resources",
            "--input-visibility",
            "hashed",
            "--binding",
            "--json",
        ]);
        args.extend(extra);
        ok_json(zk_env(&args, &[], &deployments));
        Build::open(&o).unwrap()
    };
    let le = build(
        "le",
        &[
            "--param-visibility",
            "public",
            "--output-predicate",
            "probabilities[1] <= T",
            "--srs",
            s,
        ],
    );
    let argmax = build(
        "argmax",
        &[
            "--output-predicate",
            "argmax(probabilities) == K",
            "--trusted-srs",
            s,
        ],
    );
    assert!(
        le.settings.srs.insecure,
        "an unlisted SRS file counts as insecure"
    );
    assert!(
        !argmax.settings.srs.insecure,
        "--trusted-srs vouches for the file"
    );
    assert_eq!(
        le.settings.circuit.visibility.output,
        zkinfer::visibility::Vis::Private,
        "a predicate keeps the outputs private by default"
    );
    let unbound_dir = t.join("unbound");
    let mut opts = zkinfer::pipeline::BuildOptions::new(
        model_onnx.clone(),
        calib.clone(),
        unbound_dir.clone(),
    );
    opts.visibility.params = zkinfer::visibility::Vis::Private;
    opts.visibility.binding = true;
    opts.allow_unbound_params = true;
    opts.target = zkinfer::fidelity::Target::Resources;
    crate::common::build_copy(&opts);
    let unbound = Build::open(&unbound_dir).unwrap();
    let (le_dir, unbound_d) = (t.join("le"), unbound_dir.to_str().unwrap().to_string());
    let le_d = le_dir.to_str().unwrap();

    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let url = anvil.endpoint();
    let keys: Vec<String> = anvil
        .keys()
        .iter()
        .map(|k| hex::encode(k.to_bytes()))
        .collect();
    let addrs = anvil.addresses().to_vec();
    let as_key = |k: &str| vec![("ZKINFER_PRIVATE_KEY".to_string(), k.to_string())];
    let run = |args: &[&str], key: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--rpc-url", url.as_str(), "--json"]);
        let env = as_key(key);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        zk_env(&a, &env, &deployments)
    };
    let owner = &keys[0];
    let registry: Address = ok_json(run(&["registry", "deploy"], owner))["registry"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    ok_json(run(&["registry", "register", le_d, "--model", "le"], owner));
    ok_json(run(
        &[
            "registry",
            "register",
            t.join("argmax").to_str().unwrap(),
            "--model",
            "argmax",
        ],
        owner,
    ));
    fails_with(
        &run(
            &["registry", "register", &unbound_d, "--model", "unbound"],
            owner,
        ),
        "nothing pins them",
    );

    // Gates: an at-least gate on an at-most model (or an argmax) is refused by the CLI and by
    // the contract; an at-most gate takes it.
    fails_with(
        &run(
            &[
                "registry",
                "gate",
                "--model",
                "le",
                "--output",
                "2",
                "--min-threshold",
                "0.3",
            ],
            owner,
        ),
        "proves `<=` on output 2",
    );
    // iris_logreg's outputs are `label` (1 value) then `probabilities` (3): the predicate reads
    // the flattened output 2.
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let y = le.model.output_floats(&le.model.eval(&inputs).unwrap())[1][1];
    let threshold = y + 0.1;
    let bound = format!("{}", threshold + 0.05);
    let gate: Address = ok_json(run(
        &[
            "registry",
            "gate",
            "--model",
            "le",
            "--output",
            "2",
            "--max-threshold",
            &bound,
            "--max-age",
            "3600",
        ],
        owner,
    ))["gate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let strict = format!("{}", threshold - 0.05);
    let strict_gate: Address = ok_json(run(
        &[
            "registry",
            "gate",
            "--model",
            "le",
            "--output",
            "2",
            "--max-threshold",
            &strict,
        ],
        owner,
    ))["gate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // A provider attests the input's commitment; proving needs the salt.
    ok_json(run(
        &["registry", "provider", &format!("{:#x}", addrs[1])],
        owner,
    ));
    let input = fixture(name, "input.json");
    let inp = input.to_str().unwrap();
    let salt = "0x5a17";
    let commitment = ok_json(zk_env(
        &["hash", le_d, "--input", inp, "--salt", salt, "--json"],
        &[],
        &deployments,
    ))["input_commitment"]
        .as_str()
        .unwrap()
        .to_string();
    fails_with(
        &zk_env(&["hash", le_d, "--input", inp], &[], &deployments),
        "--salt",
    );
    ok_json(run(
        &[
            "registry",
            "attest",
            "--commitment",
            &commitment,
            "--account",
            &format!("{:#x}", addrs[2]),
        ],
        &keys[1],
    ));
    let proof = t.join("le-proof.json");
    let p = proof.to_str().unwrap();
    let t_param = format!("T={threshold}");
    fails_with(
        &run(
            &[
                "prove", le_d, "--input", inp, "--out", p, "--param", &t_param, "--model", "le",
            ],
            owner,
        ),
        "--salt",
    );
    assert!(!proof.exists(), "a refused prove wrote a proof");
    let r = run(
        &[
            "prove", le_d, "--input", inp, "--out", p, "--param", &t_param, "--model", "le",
            "--salt", salt,
        ],
        owner,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // `verify` names every instance and says what it checked.
    let v = zk_env(&["verify", le_d, p], &[], &deployments);
    let text = String::from_utf8_lossy(&v.stdout).to_string();
    assert!(v.status.success(), "{text}");
    for needle in [
        "input_commitment",
        "param ",
        "probabilities[1] <= T",
        "(holds)",
        "predicate_param",
        "binding: chain 31337",
        "checked weights: all",
    ] {
        assert!(
            text.contains(needle),
            "verify output lacks {needle:?}: {text}"
        );
    }
    let j = ok_json(zk_env(&["verify", le_d, p, "--json"], &[], &deployments));
    assert_eq!(
        j["instances"].as_array().unwrap().len(),
        le.settings.instances.len()
    );
    // The binding instance must be the proof file's binding record, and be explained by one.
    let pj: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let edited = t.join("edited-binding.json");
    // Without a record there is nothing to compare: the proof is valid, and `verify` says the
    // binding is unexplained.
    for (what, needle, valid) in [
        (
            "nonce",
            "not the value of the proof file's binding record",
            false,
        ),
        (
            "none",
            "no binding record; the instance is unexplained",
            true,
        ),
    ] {
        let mut e = pj.clone();
        if what == "nonce" {
            e["binding"]["nonce"] = (e["binding"]["nonce"].as_u64().unwrap() + 1).into();
        } else {
            e.as_object_mut().unwrap().remove("binding");
        }
        std::fs::write(&edited, serde_json::to_vec(&e).unwrap()).unwrap();
        let v = zk_env(
            &["verify", le_d, edited.to_str().unwrap()],
            &[],
            &deployments,
        );
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        assert!(
            v.status.success() == valid && out.contains(needle),
            "{what}: {out}"
        );
    }
    ok_json(run(&["submit", le_d, p], owner));

    let model = |s: &str| parse_model_id(s).unwrap();
    let c: [u8; 32] = hex::decode(commitment.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let le_exp = le
        .settings
        .instances
        .iter()
        .find(|i| i.kind == zkinfer::circuit::InstanceKind::PredicateParam)
        .unwrap()
        .exp as i16;
    block_on(async {
        let chain = Chain::connect(&url, Some(owner)).await.unwrap();
        // Gates the contract refuses: the other direction, another output, an argmax model,
        // and the right predicate at another scale than the model's threshold.
        for (what, id, output, direction, exp, error) in [
            (
                "at-least on <=",
                "le",
                2,
                GateDirection::AtLeast,
                le_exp,
                "WrongPredicate",
            ),
            (
                "another output",
                "le",
                1,
                GateDirection::AtMost,
                le_exp,
                "WrongPredicate",
            ),
            (
                "argmax",
                "argmax",
                0,
                GateDirection::AtLeast,
                0,
                "WrongPredicate",
            ),
            (
                "another scale",
                "le",
                2,
                GateDirection::AtMost,
                le_exp + 1,
                "WrongScale",
            ),
        ] {
            let spec = GateSpec {
                output,
                direction,
                bound: 0,
                exp,
                max_age: 3600,
            };
            let e = chain
                .registry(registry)
                .deploy_gate(model(id), spec)
                .await
                .unwrap_err();
            assert_eq!(e.revert_name(), Some(error), "{what}: {e}");
        }
        let info = chain
            .registry(registry)
            .model_info(model("le"))
            .await
            .unwrap();
        assert_eq!(
            (info.weights, info.predicate_op, info.predicate_output),
            (2, 3, 2)
        );
        // The at-most gate: the proven threshold is within its bound; the stricter one refuses.
        let (proven, _) = chain.gate(gate).check(addrs[2], c).await.unwrap();
        assert_eq!(
            proven,
            zkinfer::quant::to_fixed(threshold, info.predicate_exp)
        );
        let e = chain
            .gate(strict_gate)
            .check(addrs[2], c)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("ThresholdTooHigh"), "{e}");

        // The registry refuses unbound weights, and public weights without their hash.
        let pair = zkinfer::chain::deploy_pair(&chain, &unbound.contracts().unwrap())
            .await
            .unwrap();
        let e = chain
            .registry(registry)
            .register_model(
                model("unbound"),
                pair.wrapper.address,
                [0; 32],
                [0; 32],
                &unbound.settings.instances,
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("UnboundWeights"), "{e}");
        let le_verifier: Address = info.verifier;
        let e = chain
            .registry(registry)
            .register_model(
                model("le-nohash"),
                le_verifier,
                [0; 32],
                [0; 32],
                &le.settings.instances,
                "",
            )
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("WeightsHashMismatch"), "{e}");
        // The layout is the verifier's, not the registrant's: a weight relabelled as an output
        // (so the weights hash would cover one weight less), or the threshold's scale changed.
        let mut relabelled = le.settings.instances.clone();
        let w = relabelled
            .iter()
            .position(|i| i.kind == zkinfer::circuit::InstanceKind::Param)
            .unwrap();
        relabelled[w].kind = zkinfer::circuit::InstanceKind::Output;
        let mut rescaled = le.settings.instances.clone();
        let at = rescaled
            .iter()
            .position(|i| i.kind == zkinfer::circuit::InstanceKind::PredicateParam)
            .unwrap();
        rescaled[at].exp += 4;
        for layout in [relabelled, rescaled] {
            let e = chain
                .registry(registry)
                .register_model(
                    model("le-layout"),
                    le_verifier,
                    [0; 32],
                    le.public_weights_hash(),
                    &layout,
                    "",
                )
                .await
                .unwrap_err();
            assert_eq!(e.revert_name(), Some("NotTheVerifiersLayout"), "{e}");
        }

        // Substituted public weights: a proof valid for its own weights, refused by `verify`
        // against the build and by the registry.
        let cheat = crate::common::with_swapped_weight(&le, &t.join("cheat"));
        let binding = chain
            .registry(registry)
            .next_binding(model("le"), addrs[0])
            .await
            .unwrap();
        let secrets = Secrets {
            input_salt: zkinfer::circuit::commit::parse_salt(salt).unwrap(),
            predicate_params: cheat.predicate_params(&[("T".into(), threshold)]).unwrap(),
            binding: Some(binding),
            ..Default::default()
        };
        let cheat_proof = t.join("cheat.json");
        tokio::task::block_in_place(|| {
            pipeline::prove(&cheat, &inputs, &secrets, &cheat_proof, &Quiet).unwrap()
        });
        let pf = ProofFile::read(&cheat_proof).unwrap();
        assert!(pipeline::verify(&cheat, &pf, &cheat_proof)
            .unwrap()
            .into_result()
            .is_ok());
        let pf = crate::common::claiming(&le, pf, &cheat_proof);
        let reason = pipeline::verify(&le, &pf, &cheat_proof)
            .unwrap()
            .into_result()
            .unwrap_err();
        assert!(reason.contains("public weight"), "{reason}");
        let (w, proof) = pipeline::verify_calldata(&pf);
        expect_revert(
            &chain,
            registry,
            &zkinfer::chain::registry::submit_calldata(model("le"), &w, &proof),
            "WrongWeights",
        )
        .await;
    });

    // Another chain (id 1234): the untrusted build stays off it, deployed or registered, unless
    // allowed; the trusted one goes. The owner's key comes from an encrypted keystore.
    let other = alloy::node_bindings::Anvil::at(zkinfer::tools::anvil().unwrap())
        .chain_id(1234)
        .try_spawn()
        .unwrap();
    let url2 = other.endpoint();
    let ks_dir = t.join("keys");
    std::fs::create_dir_all(&ks_dir).unwrap();
    let signer =
        zkinfer::chain::Signer::from_hex(&hex::encode(other.keys()[0].to_bytes())).unwrap();
    signer
        .to_keystore(&ks_dir, "owner.json", "correct horse")
        .unwrap();
    let ks = ks_dir.join("owner.json");
    let ks = ks.to_str().unwrap();
    let with_ks = |args: &[&str], password: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--rpc-url", url2.as_str(), "--json", "--keystore", ks]);
        zk_env(&a, &[("ZKINFER_KEYSTORE_PASSWORD", password)], &deployments)
    };
    fails_with(&with_ks(&["registry", "deploy"], "wrong"), "wrong password");
    let reg2: Address = ok_json(with_ks(&["registry", "deploy"], "correct horse"))["registry"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    block_on(async {
        let chain = Chain::connect(&url2, None).await.unwrap();
        let owner = chain
            .registry(reg2)
            .contract()
            .owner()
            .call()
            .await
            .unwrap();
        assert_eq!(owner, signer.address(), "the keystore's key deployed it");
    });
    fails_with(
        &with_ks(&["deploy", le_d], "correct horse"),
        "refusing to put this verifier on chain 1234",
    );
    let j = ok_json(with_ks(
        &["deploy", le_d, "--allow-insecure-srs"],
        "correct horse",
    ));
    let addr = j["address"].as_str().unwrap().to_string();
    fails_with(
        &with_ks(
            &[
                "registry",
                "register",
                le_d,
                "--model",
                "le",
                "--verifier",
                &addr,
            ],
            "correct horse",
        ),
        "refusing to put this verifier on chain 1234",
    );
    ok_json(with_ks(
        &[
            "registry",
            "register",
            le_d,
            "--model",
            "le",
            "--verifier",
            &addr,
            "--allow-insecure-srs",
        ],
        "correct horse",
    ));
    // The trusted build deploys; a key given as a flag works but is warned about.
    let key2 = hex::encode(other.keys()[1].to_bytes());
    let r = zk_env(
        &[
            "deploy",
            t.join("argmax").to_str().unwrap(),
            "--rpc-url",
            &url2,
            "--private-key",
            &key2,
        ],
        &[],
        &deployments,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("visible to every local user"));
}

/// Batch proofs in the registry (issue 13): a partial batch stores exactly its real samples,
/// each under its own commitment and readable by `latestFor` and the gate; an unused slot
/// cannot be made to store one; a replayed batch or one that repeats a sample is refused and
/// stores nothing; a later batch restating a stored sample refreshes its age.
#[test]
fn batch_proofs_store_each_real_sample_once() {
    use zkinfer::circuit::commit::input_commitment;
    use zkinfer::field::Fr;
    use zkinfer::inputs::read_calibration;
    use zkinfer::pipeline::{BuildOptions, Sample};
    use zkinfer::visibility::{Vis, Visibility};
    let tmp = tempfile::tempdir().unwrap();
    let batch_build = |name: &str, out: &str, input: Vis, predicate: Option<&str>, batch: usize| {
        let mut opts = BuildOptions::new(
            fixture(name, "model.onnx"),
            fixture(name, "calibration.jsonl"),
            tmp.path().join(out),
        );
        opts.visibility = Visibility {
            input,
            params: Vis::Fixed,
            output: if predicate.is_some() {
                Vis::Private
            } else {
                Vis::Public
            },
            binding: true,
        };
        opts.predicate = predicate.map(|p| p.parse().unwrap());
        opts.batch = batch;
        crate::common::build_copy(&opts);
        Build::open(&opts.out).unwrap()
    };
    let credit = batch_build(
        "breast_cancer_mlp",
        "credit4",
        Vis::Hashed,
        Some("y[0] >= T"),
        4,
    );
    let iris = batch_build("iris_logreg", "iris2", Vis::Public, None, 2);
    // Private inputs: no input key, one shared record; equal instances are two applicants.
    let private = batch_build(
        "breast_cancer_mlp",
        "private2",
        Vis::Private,
        Some("y[0] >= T"),
        2,
    );
    let calib = read_calibration(&fixture("breast_cancer_mlp", "calibration.jsonl")).unwrap();
    let iris_calib = read_calibration(&fixture("iris_logreg", "calibration.jsonl")).unwrap();
    let threshold = credit.predicate_params(&[("T".into(), -20.0)]).unwrap();
    let sample = |i: usize| Sample {
        inputs: calib[i].clone(),
        secrets: zkinfer::circuit::Secrets {
            input_salt: Fr::from(0x5eed_0000 + i as u64),
            predicate_params: threshold.clone(),
            ..Default::default()
        },
    };
    let key_of = |i: usize| {
        zkinfer::field::to_word(
            &input_commitment(&credit.model, &calib[i], Fr::from(0x5eed_0000 + i as u64)).unwrap(),
        )
    };
    let anvil = zkinfer::chain::spawn_anvil().expect("anvil (run scripts/setup.sh)");
    let key = hex::encode(anvil.first_key().to_bytes());
    let me = anvil.addresses()[0];
    block_on(async {
        let chain = Chain::connect(&anvil.endpoint(), Some(&key)).await.unwrap();
        let registry = chain.deploy_registry().await.unwrap().address;
        let mut ids = vec![];
        for (b, id) in [
            (&credit, "credit4"),
            (&iris, "iris2"),
            (&private, "private2"),
        ] {
            let pair = zkinfer::chain::deploy_pair(&chain, &b.contracts().unwrap())
                .await
                .unwrap();
            let model = parse_model_id(id).unwrap();
            chain
                .registry(registry)
                .register_model(
                    model,
                    pair.wrapper.address,
                    [0; 32],
                    [0; 32],
                    &b.settings.instances,
                    "",
                )
                .await
                .unwrap();
            assert_eq!(
                chain
                    .registry(registry)
                    .model_info(model)
                    .await
                    .unwrap()
                    .batch,
                b.settings.circuit.batch as u64
            );
            ids.push(model);
        }
        let (credit_id, iris_id, private_id) = (ids[0], ids[1], ids[2]);
        let prove = |b: &Build, model: [u8; 32], samples: Vec<Sample>, nonce: u64, name: &str| {
            let binding = zkinfer::visibility::binding::Binding {
                chain_id: chain.chain_id,
                registry,
                submitter: me,
                model_id: model.into(),
                nonce,
            };
            let out = tmp.path().join(name);
            tokio::task::block_in_place(|| {
                pipeline::prove_batch(b, &samples, Some(&binding), &out, &Quiet).unwrap()
            });
            let pf = ProofFile::read(&out).unwrap();
            pipeline::verify_calldata(&pf)
        };

        // A partial batch: 3 real samples in 4 slots.
        let (words, proof) = prove(
            &credit,
            credit_id,
            (0..3).map(sample).collect(),
            0,
            "b0.json",
        );
        // The unused slot claims nothing: setting its used bit (instance 10) fails the proof.
        let mut forged = words.clone();
        forged[10] = zkinfer::field::to_word(&Fr::from(1));
        let call =
            |w: &[[u8; 32]], p: &[u8]| zkinfer::chain::registry::submit_calldata(credit_id, w, p);
        expect_revert(&chain, registry, &call(&forged, &proof), "InvalidProof").await;
        // Each real sample's instances tampered in turn: refused.
        for i in 0..9 {
            let mut w = words.clone();
            w[i][31] ^= 1;
            expect_revert(&chain, registry, &call(&w, &proof), "InvalidProof").await;
        }
        let mined = chain
            .registry(registry)
            .submit(credit_id, &words, &proof)
            .await
            .unwrap();
        assert_eq!(mined.predictions, 3);
        eprintln!(
            "GAS batch of 4 with 3 real samples: {} ({} per prediction)",
            mined.gas_used,
            mined.gas_used / 3
        );
        assert_eq!(
            chain
                .registry(registry)
                .stored_count(credit_id)
                .await
                .unwrap(),
            3
        );
        for i in 0..3 {
            let p = chain
                .registry(registry)
                .read_latest(credit_id, Some(key_of(i)), 0)
                .await
                .unwrap();
            assert_eq!(p.floats, vec![-20.0], "sample {i}");
            assert_eq!(p.slot, Some(i as u64));
            assert_eq!(p.nonce, Some(0));
        }
        let e = chain
            .registry(registry)
            .read_latest(credit_id, Some([0; 32]), 0)
            .await
            .unwrap_err();
        assert_eq!(
            e.revert_name(),
            Some("NoPredictionForInput"),
            "the unused slot stored nothing"
        );
        // Replayed: refused.
        expect_revert(&chain, registry, &call(&words, &proof), "Replay").await;

        // A batch repeating a sample (same input, same salt: same commitment) is refused and
        // stores nothing, although its proof is valid.
        let (rw, rp) = prove(
            &credit,
            credit_id,
            vec![sample(3), sample(4), sample(3)],
            1,
            "b1.json",
        );
        expect_revert(&chain, registry, &call(&rw, &rp), "RepeatedSample").await;
        assert_eq!(
            chain
                .registry(registry)
                .stored_count(credit_id)
                .await
                .unwrap(),
            3
        );
        // A valid proof whose every slot is unused (`prove` refuses to make one; the circuit
        // allows it) claims nothing: refused, the nonce not spent.
        let empty = tokio::task::block_in_place(|| {
            use zkinfer::artifacts::BuildDir;
            let shape = &credit.settings.circuit;
            let (params, _) =
                zkinfer::proof::load_srs(&credit.dir.path(BuildDir::SRS), shape.k()).unwrap();
            let pk = zkinfer::proof::read_pk(&credit.dir.path(BuildDir::PK), shape.params.clone())
                .unwrap();
            let trace = credit.model.eval(&calib[0]).unwrap();
            let secrets = sample(0).secrets;
            let slots: Vec<zkinfer::circuit::Slot> = (0..4)
                .map(|_| zkinfer::circuit::Slot {
                    trace: &trace,
                    secrets: &secrets,
                    used: false,
                })
                .collect();
            let binding = zkinfer::visibility::binding::Binding {
                chain_id: chain.chain_id,
                registry,
                submitter: me,
                model_id: credit_id.into(),
                nonce: 1,
            };
            let c = zkinfer::circuit::build_batch(
                zkinfer::circuit::CircuitBuilderStage::Prover,
                shape,
                &credit.model,
                &slots,
                Some(&binding),
            )
            .unwrap();
            let instances = c.instances();
            let proof = zkinfer::proof::prove(&params, &pk, c, &instances).unwrap();
            let words: Vec<[u8; 32]> = instances.iter().map(zkinfer::field::to_word).collect();
            (words, proof)
        });
        expect_revert(
            &chain,
            registry,
            &call(&empty.0, &empty.1),
            "NothingToStore",
        )
        .await;
        assert_eq!(
            chain
                .registry(registry)
                .next_nonce(credit_id, me)
                .await
                .unwrap(),
            1
        );
        // Public inputs without a commitment: the key is their hash; a repeat is refused too.
        let iris_sample = |i: usize| Sample {
            inputs: iris_calib[i].clone(),
            secrets: Default::default(),
        };
        let (iw, ip) = prove(
            &iris,
            iris_id,
            vec![iris_sample(0), iris_sample(0)],
            0,
            "i0.json",
        );
        expect_revert(
            &chain,
            registry,
            &zkinfer::chain::registry::submit_calldata(iris_id, &iw, &ip),
            "RepeatedSample",
        )
        .await;
        let (iw, ip) = prove(
            &iris,
            iris_id,
            vec![iris_sample(0), iris_sample(1)],
            0,
            "i1.json",
        );
        assert_eq!(
            chain
                .registry(registry)
                .submit(iris_id, &iw, &ip)
                .await
                .unwrap()
                .predictions,
            2
        );
        // Two private-input samples under one threshold state equal instances ([1, T] each):
        // both are real predictions, stored (under the model's one key 0), not a repeat.
        let unsalted = |i: usize| Sample {
            inputs: calib[i].clone(),
            secrets: zkinfer::circuit::Secrets {
                predicate_params: threshold.clone(),
                ..Default::default()
            },
        };
        let (pw, pp) = prove(
            &private,
            private_id,
            vec![unsalted(0), unsalted(1)],
            0,
            "p0.json",
        );
        assert_eq!(pw.len(), 5, "[used, T] twice, then the binding");
        assert_eq!(pw[0..2], pw[2..4], "equal per-sample instances");
        let mined = chain
            .registry(registry)
            .submit(private_id, &pw, &pp)
            .await
            .unwrap();
        assert_eq!(mined.predictions, 2);
        let p = chain
            .registry(registry)
            .read_latest(private_id, Some([0; 32]), 0)
            .await
            .unwrap();
        assert_eq!(p.floats, vec![-20.0]);
        let newest = chain
            .registry(registry)
            .read_latest(iris_id, None, 0)
            .await
            .unwrap();
        assert_eq!(newest.slot, Some(1));
        let outputs = iris
            .settings
            .instances
            .iter()
            .filter(|i| i.kind == zkinfer::circuit::InstanceKind::Output && i.sample == Some(0))
            .count();
        assert!(outputs > 0);
        assert_eq!(newest.values.len(), outputs, "iris: its public outputs");

        // An hour later, a batch restating sample 0 refreshes its age; sample 1 keeps its own.
        use alloy::providers::Provider;
        let raw = alloy::providers::ProviderBuilder::new()
            .connect_http(anvil.endpoint().parse().unwrap());
        let _: serde_json::Value = raw
            .raw_request("evm_increaseTime".into(), (3700u64,))
            .await
            .unwrap();
        let _: serde_json::Value = raw.raw_request("evm_mine".into(), ()).await.unwrap();
        let (w2, p2) = prove(&credit, credit_id, vec![sample(0), sample(5)], 1, "b2.json");
        assert_eq!(
            chain
                .registry(registry)
                .submit(credit_id, &w2, &p2)
                .await
                .unwrap()
                .predictions,
            2
        );
        let age = |i: usize| {
            let chain = &chain;
            async move {
                chain
                    .registry(registry)
                    .read_latest(credit_id, Some(key_of(i)), 0)
                    .await
                    .unwrap()
                    .age
                    .unwrap()
            }
        };
        assert!(age(0).await < 60, "restated: fresh");
        assert!(age(1).await >= 3600, "not restated: an hour old");
        let history = chain
            .registry(registry)
            .read_history(credit_id, Some(key_of(0)), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            history.len(),
            2,
            "both statements of sample 0 are in the events"
        );
        assert_eq!(history[0].nonce, Some(1));
        assert_eq!(history[1].nonce, Some(0));

        // The gate reads a batched prediction as a single one.
        let provider = anvil.addresses()[1];
        let borrower = anvil.addresses()[2];
        chain
            .registry(registry)
            .set_provider(me, true)
            .await
            .unwrap();
        chain
            .registry(registry)
            .attest(key_of(5), borrower)
            .await
            .unwrap();
        let gate = chain
            .registry(registry)
            .deploy_gate(
                credit_id,
                zkinfer::chain::gate::GateSpec {
                    output: 0,
                    direction: zkinfer::chain::gate::GateDirection::AtLeast,
                    bound: zkinfer::quant::to_fixed(-30.0, credit.settings.instances[2].exp),
                    exp: credit.settings.instances[2].exp as i16,
                    max_age: 3600,
                },
            )
            .await
            .unwrap()
            .address;
        let (proven, _) = chain.gate(gate).check(borrower, key_of(5)).await.unwrap();
        assert_eq!(
            proven,
            zkinfer::quant::to_fixed(-20.0, credit.settings.instances[2].exp)
        );
        let e = chain
            .gate(gate)
            .check(provider, key_of(5))
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"));
        chain
            .registry(registry)
            .attest(key_of(1), borrower)
            .await
            .unwrap();
        let e = chain
            .gate(gate)
            .check(borrower, key_of(1))
            .await
            .unwrap_err();
        assert_eq!(
            e.revert_name(),
            Some("ScoreTooOld"),
            "sample 1 is an hour old"
        );
    });
}
