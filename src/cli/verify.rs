//! `zkinfer verify`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::ProofFile;
use zkinfer::pipeline::{self, Build, Verdict};

use super::output::{instance_lines, print_json};
use super::Exit;

/// Arguments of `verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Build directory.
    pub dir: PathBuf,
    /// Proof file.
    pub proof: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `verify`: exit 0 valid, 1 invalid.
pub fn run(a: VerifyArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let pf = ProofFile::read(&a.proof)?;
    let t = std::time::Instant::now();
    let verdict = pipeline::verify(&build, &pf, &a.proof)?;
    let secs = t.elapsed().as_secs_f64();
    let outputs: Vec<f64> = pf
        .instances
        .iter()
        .filter(|i| i.info.kind == zkinfer::circuit::InstanceKind::Output)
        .filter_map(|i| i.value)
        .collect();
    if a.json {
        print_json(&json!({
            "valid": verdict.is_valid(),
            "reason": verdict.reason(),
            "vk_digest": pf.vk_digest,
            "outputs": outputs,
            "instances": pf.instances,
            "checked": verdict.checked(),
            "verify_secs": secs,
        }));
    } else {
        match &verdict {
            Verdict::Valid { checked } => {
                println!("valid ({secs:.3} s), circuit {}", pf.vk_digest);
                for l in instance_lines(&pf.instances) {
                    println!("  {l}");
                }
                for c in checked {
                    println!("checked {c}");
                }
            }
            Verdict::Invalid { reason } => println!("INVALID: {reason}"),
        }
    }
    Ok(if verdict.is_valid() {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}
