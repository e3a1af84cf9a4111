//! `zkinfer demo`: the whole flow on a bundled model, on a managed anvil (the scenario is
//! [`zkinfer::demo`]; this file installs the tools, picks the folder and prints).

use std::path::PathBuf;

use clap::Args;
use zkinfer::tools;

use super::output::{floats, print_json, Bar};
use super::Exit;

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
    let Some(script) = tools::setup_script() else {
        tools::solc()?;
        tools::anvil()?;
        return Ok(());
    };
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
    let r = zkinfer::demo::run(&work, &Bar)?;
    if a.json {
        print_json(&serde_json::to_value(&r)?);
    } else {
        println!("model outputs (proven):  {}", floats(&r.outputs[0]));
        println!("float outputs (tract):   {}", floats(&r.float_outputs[0]));
        println!(
            "circuit: logrows {}; build {:.1} s; prove {:.2} s; proof {} bytes",
            r.logrows, r.build_secs, r.prove_secs, r.proof_bytes
        );
        println!(
            "verifier: {} bytes of runtime bytecode (limit {})",
            r.verifier_runtime_bytes, r.size_limit
        );
        println!("anvil (chain {}): verifier at {}", r.chain_id, r.address);
        println!(
            "on-chain verify: {} ; gas used {} (tx {})",
            if r.valid_on_chain { "valid" } else { "INVALID" },
            r.verify_gas,
            r.verify_tx
        );
        println!(
            "tampered output rejected on-chain: {}",
            if r.tampered_output_rejected {
                "yes"
            } else {
                "NO"
            }
        );
        let g = &r.registry;
        println!(
            "registry at {}: credit model registered (gas {}); proof that score >= 0.5 for input {} submitted (gas {}), stored threshold {:?}; replay rejected with {}",
            g.registry,
            g.register_gas,
            g.input_commitment,
            g.submit_gas,
            g.stored_threshold,
            g.replay_rejected_with.as_deref().unwrap_or("NOTHING")
        );
        println!(
            "lending gate at {}: the attested borrower may borrow (proven threshold {})",
            g.gate, g.borrower_allowed_with_threshold
        );
        let b = &g.batch;
        println!(
            "batch: {} credit checks in one proof ({:.2} s) and one submitBatch: gas {}, {} per prediction (one at a time: {})",
            b.predictions, b.prove_secs, b.submit_gas, b.gas_per_prediction, g.submit_gas
        );
    }
    Ok(if r.all_as_expected() {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}
