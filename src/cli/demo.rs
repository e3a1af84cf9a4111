//! `zkinfer demo`: the whole flow on a bundled model, on a managed anvil.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::{read_input, ProofFile};
use zkinfer::chain::{self, spawn_anvil, Chain};
use zkinfer::pipeline::{self, Build, BuildOptions};
use zkinfer::tools;

use super::output::{floats, print_json, Bar};
use super::{block_on, Exit};

const MODEL: &[u8] = include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/model.onnx");
const INPUT: &[u8] = include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/input.json");
const CALIBRATION: &[u8] =
    include_bytes!("../../tests/fixtures/models/breast_cancer_mlp/calibration.jsonl");

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

    eprintln!("zkinfer: starting anvil ...");
    let anvil = spawn_anvil()?;
    let key = hex::encode(anvil.first_key().to_bytes());
    let contracts = build.contracts()?;
    let (words, proof) = pipeline::verify_calldata(&pf, &proof_path)?;
    let (chain_id, pair, valid, tx, tampered_rejected) = block_on(async {
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
        Ok((chain.chain_id, pair, valid, tx, tampered_rejected))
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
    }
    Ok(if valid && tampered_rejected {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}
