//! `zkinfer demo`: the whole flow on a bundled model, on a managed anvil.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::{read_input, ProofFile};
use zkinfer::chain::registry::parse_model_id;
use zkinfer::chain::{self, spawn_anvil, Chain};
use zkinfer::circuit::{Fr, Secrets};
use zkinfer::pipeline::{self, Build, BuildOptions};
use zkinfer::tools;

use super::output::{floats, print_json, Bar};
use super::{block_on, Exit};

const MODEL: &[u8] = include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/model.onnx");
const INPUT: &[u8] = include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/input.json");
const CALIBRATION: &[u8] =
    include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/calibration.jsonl");

/// Samples per proof of the demo's batch.
const BATCH: usize = 8;

/// Arguments of `demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Keep the demo's files here (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Installs solc and anvil with the project's setup script if they are missing.
fn ensure_tools() -> anyhow::Result<()> {
    if tools::solc().is_ok() && tools::anvil().is_ok() {
        return Ok(());
    }
    let script = tools::setup_script();
    if !script.is_file() {
        tools::solc()?;
        tools::anvil()?;
    }
    eprintln!(
        "zkinfer: solc/anvil missing; installing them with {} (first run only)",
        script.display()
    );
    let status = std::process::Command::new("bash")
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("running {}: {e}", script.display()))?;
    anyhow::ensure!(status.success(), "{} failed ({status})", script.display());
    tools::solc()?;
    tools::anvil()?;
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(p)
}

/// Runs the demo.
pub fn run(a: DemoArgs) -> anyhow::Result<Exit> {
    ensure_tools()?;
    let tmp = tempfile::tempdir()?;
    let work = match &a.keep {
        Some(p) => {
            std::fs::create_dir_all(p)?;
            p.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    eprintln!(
        "zkinfer demo: breast-cancer MLP (30 -> 16 -> 8 -> 2, ReLU), files in {}",
        work.display()
    );
    let model = write(&work, "model.onnx", MODEL)?;
    let input = write(&work, "input.json", INPUT)?;
    let calibration = write(&work, "calibration.jsonl", CALIBRATION)?;
    let out = work.join("build");
    let opts = BuildOptions {
        force: true,
        ..BuildOptions::new(model, calibration, out.clone())
    };
    let built = pipeline::build(&opts, &Bar)?;
    let build = Build::open(&out)?;
    let proof_path = work.join("proof.json");
    let proved = pipeline::prove(
        &build,
        &read_input(&input)?,
        &Default::default(),
        &proof_path,
        &Bar,
    )?;
    let pf = ProofFile::read(&proof_path)?;
    let native = pipeline::verify(&build, &pf, &proof_path)?;
    anyhow::ensure!(
        native.is_ok(),
        "native verification failed: {:?}",
        native.err()
    );

    // The registry part: the same model as a credit check that reveals nothing but
    // "score >= T" about a committed input, its proofs bound to the registry.
    let credit_out = work.join("credit");
    let credit_opts = BuildOptions {
        force: true,
        visibility: zkinfer::visibility::Visibility {
            input: zkinfer::visibility::Vis::Hashed,
            params: zkinfer::visibility::Vis::Fixed,
            output: zkinfer::visibility::Vis::Private,
            binding: true,
        },
        predicate: Some(
            "y[0] >= T"
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))?,
        ),
        ..BuildOptions::new(
            work.join("model.onnx"),
            work.join("calibration.jsonl"),
            credit_out.clone(),
        )
    };
    pipeline::build(&credit_opts, &Bar)?;
    let credit = Build::open(&credit_out)?;
    // The same credit check, BATCH samples per proof: one verification and one transaction.
    let batch_out = work.join("credit-batch");
    pipeline::build(
        &BuildOptions {
            batch: BATCH,
            out: batch_out.clone(),
            ..credit_opts.clone()
        },
        &Bar,
    )?;
    let batch_build = Build::open(&batch_out)?;
    let threshold = batch_build.predicate_params(&[("T".into(), 0.5)])?;
    // Applicants whose score passes the threshold (a false predicate cannot be proven), each
    // with its own salt.
    let batch_samples: Vec<pipeline::Sample> =
        zkinfer::artifacts::read_calibration(&work.join("calibration.jsonl"))?
            .into_iter()
            .enumerate()
            .map(|(i, inputs)| pipeline::Sample {
                inputs,
                secrets: Secrets {
                    input_salt: Fr::from(0xba7c_0000 + i as u64),
                    predicate_params: threshold.clone(),
                    ..Default::default()
                },
            })
            .filter(|s| pipeline::check_sample(&batch_build, s).is_ok())
            .take(BATCH)
            .collect();
    anyhow::ensure!(
        !batch_samples.is_empty(),
        "no calibration sample passes the demo's threshold"
    );
    let batch_len = batch_samples.len();
    let inputs = read_input(&input)?;
    let salt = Fr::from(0x5eed_u64);
    let commitment = zkinfer::verifier::instance_word(&credit.input_commitment(&inputs, salt)?);

    eprintln!("zkinfer: starting anvil ...");
    let anvil = spawn_anvil()?;
    let key = hex::encode(anvil.first_key().to_bytes());
    let contracts = build.contracts()?;
    let (words, proof) = pipeline::verify_calldata(&pf, &proof_path)?;
    let (chain_id, pair, valid, tx, tampered_rejected, registry) = block_on(async {
        let chain = Chain::connect(&anvil.endpoint(), Some(&key)).await?;
        let pair = chain::deploy_pair(&chain, &contracts).await?;
        if let Err(reason) = chain::check_deployed(&chain, &contracts, pair.wrapper.address).await?
        {
            anyhow::bail!("{reason}");
        }
        let valid = chain
            .call_verify(pair.wrapper.address, &words, &proof)
            .await?;
        let tx = chain
            .send_verify(pair.wrapper.address, &words, &proof)
            .await?;
        let mut bad = words.clone();
        bad[0][31] ^= 1;
        let tampered_rejected = !chain
            .call_verify(pair.wrapper.address, &bad, &proof)
            .await?;
        // Registry: deploy, register, a provider attests the input's commitment to a
        // borrower, a bound proof is submitted and read back, a lending gate lets the
        // borrower borrow.
        let registry = chain.deploy_registry().await?;
        let credit_contracts = credit.contracts()?;
        let credit_pair = chain::deploy_pair(&chain, &credit_contracts).await?;
        let model_id = parse_model_id("credit").map_err(anyhow::Error::msg)?;
        let registered = chain
            .register_model(
                registry.address,
                model_id,
                credit_pair.wrapper.address,
                [0; 32],
                [0; 32],
                &credit.settings.instances,
                "zkinfer demo: breast-cancer MLP, y[0] >= T",
            )
            .await?;
        let (provider, borrower) = (anvil.addresses()[1], anvil.addresses()[2]);
        chain.set_provider(registry.address, provider, true).await?;
        let as_provider = Chain::connect(
            &anvil.endpoint(),
            Some(&hex::encode(anvil.keys()[1].to_bytes())),
        )
        .await?;
        as_provider
            .attest(registry.address, commitment, borrower)
            .await?;
        let binding = chain
            .next_binding(registry.address, model_id, chain.from.unwrap_or_default())
            .await?;
        let secrets = Secrets {
            input_salt: salt,
            predicate_params: credit.predicate_params(&[("T".into(), 0.5)])?,
            binding: Some(binding),
            ..Default::default()
        };
        let bound_path = work.join("credit-proof.json");
        tokio::task::block_in_place(|| {
            pipeline::prove(&credit, &inputs, &secrets, &bound_path, &Bar)
                .map_err(anyhow::Error::from)
        })?;
        let bpf = ProofFile::read(&bound_path)?;
        let (bw, bp) = pipeline::verify_calldata(&bpf, &bound_path)?;
        let submitted = chain.submit(registry.address, model_id, &bw, &bp).await?;
        let replay = chain
            .submit(registry.address, model_id, &bw, &bp)
            .await
            .err()
            .and_then(|e| e.revert_name().map(String::from));
        let stored = chain
            .read_latest(registry.address, model_id, Some(commitment), 0)
            .await?;
        let gate_exp = credit
            .settings
            .instances
            .iter()
            .find(|i| i.kind == "predicate_param")
            .map_or(0, |i| i.exp);
        let gate_min = zkinfer::quant::to_fixed(0.4, gate_exp);
        let gate = chain
            .deploy_gate(
                registry.address,
                model_id,
                zkinfer::chain::registry::GateSpec {
                    output: 0,
                    direction: zkinfer::chain::registry::GateDirection::AtLeast,
                    bound: gate_min,
                    exp: gate_exp as i16,
                    max_age: 86_400,
                },
            )
            .await?;
        let (proven, _) = chain.gate_check(gate.address, borrower, commitment).await?;

        // A batch: BATCH credit checks in one proof, one `submitBatch`.
        let batch_contracts = batch_build.contracts()?;
        let batch_pair = chain::deploy_pair(&chain, &batch_contracts).await?;
        let batch_id = parse_model_id("credit-batch").map_err(anyhow::Error::msg)?;
        chain
            .register_model(
                registry.address,
                batch_id,
                batch_pair.wrapper.address,
                [0; 32],
                [0; 32],
                &batch_build.settings.instances,
                "zkinfer demo: breast-cancer MLP, y[0] >= T, batches",
            )
            .await?;
        let binding = chain
            .next_binding(registry.address, batch_id, chain.from.unwrap_or_default())
            .await?;
        let batch_path = work.join("credit-batch-proof.json");
        let batch_proved = tokio::task::block_in_place(|| {
            pipeline::prove_batch(
                &batch_build,
                &batch_samples,
                Some(&binding),
                &batch_path,
                &Bar,
            )
            .map_err(anyhow::Error::from)
        })?;
        let (bw, bp) = pipeline::verify_calldata(&ProofFile::read(&batch_path)?, &batch_path)?;
        let batch_mined = chain.submit(registry.address, batch_id, &bw, &bp).await?;
        let registry_report = json!({
            "batch": {
                "slots": BATCH,
                "predictions": batch_mined.predictions,
                "prove_secs": batch_proved.prove_secs,
                "submit_gas": batch_mined.gas_used,
                "gas_per_prediction": batch_mined.gas_used / batch_mined.predictions.max(1),
            },
            "registry": format!("{:#x}", registry.address),
            "register_gas": registered.gas_used,
            "submit_gas": submitted.gas_used,
            "stored_threshold": stored.floats,
            "input_commitment": format!("0x{}", hex::encode(commitment)),
            "replay_rejected_with": replay,
            "gate": format!("{:#x}", gate.address),
            "borrower_allowed_with_threshold": proven as f64 / 65536.0,
        });
        Ok((
            chain.chain_id,
            pair,
            valid,
            tx,
            tampered_rejected,
            registry_report,
        ))
    })??;
    drop(anvil);
    let s = &built.settings;
    if a.json {
        print_json(&json!({
            "outputs": proved.outputs,
            "float_outputs": built.float_outputs,
            "logrows": s.circuit.params.base.k,
            "build_secs": built.total_secs,
            "prove_secs": proved.prove_secs,
            "proof_bytes": proved.proof_bytes,
            "verifier_runtime_bytes": s.verifier.verifier_runtime_bytes,
            "chain_id": chain_id,
            "address": format!("{:#x}", pair.wrapper.address),
            "valid_on_chain": valid,
            "verify_gas": tx.gas_used,
            "tampered_output_rejected": tampered_rejected,
            "registry": registry,
        }));
    } else {
        println!("model outputs (proven):  {}", floats(&proved.outputs[0]));
        println!(
            "float outputs (tract):   {}",
            floats(&built.float_outputs[0])
        );
        println!(
            "circuit: logrows {}; build {:.1} s; prove {:.2} s; proof {} bytes",
            s.circuit.params.base.k, built.total_secs, proved.prove_secs, proved.proof_bytes
        );
        println!(
            "verifier: {} bytes of runtime bytecode (limit {})",
            s.verifier.verifier_runtime_bytes, s.verifier.size_limit
        );
        println!(
            "anvil (chain {chain_id}): verifier at {:#x}",
            pair.wrapper.address
        );
        println!(
            "on-chain verify: {} ; gas used {} (tx {})",
            if valid { "valid" } else { "INVALID" },
            tx.gas_used,
            tx.tx_hash
        );
        println!(
            "tampered output rejected on-chain: {}",
            if tampered_rejected { "yes" } else { "NO" }
        );
        println!(
            "registry at {}: credit model registered (gas {}); proof that score >= 0.5 for input {} submitted (gas {}), stored threshold {}; replay rejected with {}",
            registry["registry"].as_str().unwrap_or("?"),
            registry["register_gas"],
            registry["input_commitment"].as_str().unwrap_or("?"),
            registry["submit_gas"],
            registry["stored_threshold"],
            registry["replay_rejected_with"].as_str().unwrap_or("NOTHING")
        );
        println!(
            "lending gate at {}: the attested borrower may borrow (proven threshold {})",
            registry["gate"].as_str().unwrap_or("?"),
            registry["borrower_allowed_with_threshold"]
        );
        let b = &registry["batch"];
        println!(
            "batch: {} credit checks in one proof ({:.2} s) and one submitBatch: gas {}, {} per prediction (one at a time: {})",
            b["predictions"],
            b["prove_secs"].as_f64().unwrap_or_default(),
            b["submit_gas"],
            b["gas_per_prediction"],
            registry["submit_gas"]
        );
    }
    let replay_rejected = registry["replay_rejected_with"] == "Replay";
    let batch_stored = registry["batch"]["predictions"] == batch_len as u64;
    Ok(
        if valid && tampered_rejected && replay_rejected && batch_stored {
            Exit::Ok
        } else {
            Exit::Invalid
        },
    )
}
