//! The PredictionRegistry on a managed anvil: the full flow through the CLI (deploy, register,
//! attest, request, prove, submit, read, lending gate), every rejection with its custom error
//! and nothing stored, and the committed contract artifacts against a fresh compile.

mod common;

use common::block_on;

use std::path::Path;
use std::process::Command;

use common::{fixture, registry_build};
use zkinfer::artifacts::{read_input, ProofFile};
use zkinfer::chain::registry::{parse_model_id, CallError};
use zkinfer::chain::{Address, Chain};
use zkinfer::circuit::Secrets;
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
    serde_json::from_slice(&r.stdout).unwrap()
}

#[test]
fn committed_artifacts_match_the_sources() {
    let solc = zkinfer::tools::solc().expect("solc (run scripts/setup.sh)");
    let fresh = zkinfer::chain::contracts::compile(&solc).unwrap();
    for a in fresh {
        let path =
            zkinfer::chain::contracts::artifacts_dir().join(format!("{}.json", a.contract_name));
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
    match chain.estimate_submit(registry, calldata).await {
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
            .requests(registry, model, request_block, request_block)
            .await
            .unwrap();
        assert_eq!(reqs, vec![(0, "alice.json".to_string())]);
        let borrower_addr = anvil.addresses()[2];
        let (proven, age) = chain.gate_check(gate, borrower_addr, c).await.unwrap();
        assert_eq!(proven, 1 << 15, "threshold 0.5 at exp 16");
        assert!(age < 3600);
        let e = chain
            .gate_check(gate, anvil.addresses()[4], c)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"));
        let e = chain
            .gate_check(strict_gate, borrower_addr, c)
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("ThresholdTooLow"));
        let e = chain
            .gate_check(gate, borrower_addr, [7u8; 32])
            .await
            .unwrap_err();
        assert_eq!(e.revert_name(), Some("NotAttestedTo"));
        let as_borrower = Chain::connect(&url, Some(borrower)).await.unwrap();
        as_borrower.gate_borrow(gate, c, 1000).await.unwrap();
        // Registration is the owner's, checked against the verifier.
        let as_borrower_reg = as_borrower
            .register_model(
                registry,
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
            .register_model(
                registry,
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
            .register_model(
                registry,
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
            .register_model(
                registry,
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
        let gas_read = chain.read_gas(registry, model, c).await.unwrap();
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
            pipeline::verify_calldata(&pf, &out).unwrap()
        };
        let binding = chain
            .next_binding(registry, model, anvil.addresses()[0])
            .await
            .unwrap();
        assert_eq!(binding.nonce, 1);
        let (words, proof) = prove_bound(binding.clone());
        let before = chain.prediction_count(registry, model).await.unwrap();
        let call = |w: &[[u8; 32]], p: &[u8]| Chain::submit_calldata(model, w, p);

        // The proof binds its binding instance: a front-runner who swaps in the binding for
        // their own address gets a proof that no verifier accepts, natively or on the EVM.
        let their = Binding {
            submitter: format!("{:#x}", anvil.addresses()[3]),
            ..binding.clone()
        };
        let mut swapped = words.clone();
        *swapped.last_mut().unwrap() = zkinfer::verifier::instance_word(&their.value().unwrap());
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
        assert!(pipeline::verify(&build, &pf, &good_path).unwrap().is_ok());
        pf.instances.last_mut().unwrap().field =
            format!("0x{}", hex::encode(swapped.last().unwrap()));
        assert!(
            pipeline::verify(&build, &pf, &good_path).unwrap().is_err(),
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
            &Chain::submit_calldata(parse_model_id("other").unwrap(), &words, &proof),
            "UnknownModel",
        )
        .await;
        // Replay of the stored proof.
        let pf = ProofFile::read(Path::new(p)).unwrap();
        let (w0, p0) = pipeline::verify_calldata(&pf, Path::new(p)).unwrap();
        expect_revert(&chain, registry, &call(&w0, &p0), "Replay").await;
        // Bound to another submitter (a front-runner copying it from the mempool).
        let pf = ProofFile::read(&stolen).unwrap();
        let (ws, ps) = pipeline::verify_calldata(&pf, &stolen).unwrap();
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
            .sign_submit(registry, &data, 3_000_000, nonce)
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
            chain.prediction_count(registry, model).await.unwrap(),
            before,
            "nothing stored"
        );
        assert_eq!(
            chain
                .next_nonce(registry, model, anvil.addresses()[0])
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
        assert!(chain.submit(registry, model, &words, &bad).await.is_err());

        // The untampered proof is still good.
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            chain.submit(registry, model, &words, &proof),
        )
        .await
        .expect("a nonce gap stalled the submission")
        .unwrap();
        assert_eq!(
            chain.prediction_count(registry, model).await.unwrap(),
            before + 1
        );

        // An hour later the gate (max age 3600 s) finds the score too old.
        use alloy::providers::Provider;
        let raw = alloy::providers::ProviderBuilder::new().connect_http(url.parse().unwrap());
        let _: serde_json::Value = raw
            .raw_request("evm_increaseTime".into(), (3601u64,))
            .await
            .unwrap();
        let _: serde_json::Value = raw.raw_request("evm_mine".into(), ()).await.unwrap();
        let e = chain.gate_check(gate, borrower_addr, c).await.unwrap_err();
        assert_eq!(e.revert_name(), Some("ScoreTooOld"), "{e}");
    });
}
