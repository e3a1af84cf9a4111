//! `zkinfer prove`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::read_input;
use zkinfer::pipeline::{self, Build};

use super::output::{floats, print_json, Bar};
use super::Exit;

/// Arguments of `prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// Build directory (from `zkinfer build`).
    pub dir: PathBuf,
    /// Input JSON: {"input_data": [[...], ...]}, one flattened list per model input.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the proof file.
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `prove`.
pub fn run(a: ProveArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let inputs = read_input(&a.input)?;
    let r = pipeline::prove(&build, &inputs, &a.out, &Bar)?;
    if a.json {
        print_json(&json!({
            "proof": a.out,
            "outputs": r.outputs,
            "instances": r.proof.instances,
            "proof_bytes": r.proof_bytes,
            "prove_secs": r.prove_secs,
            "vk_digest": r.proof.vk_digest,
        }));
    } else {
        for (i, o) in r.outputs.iter().enumerate() {
            println!("output {i}: {}", floats(o));
        }
        println!(
            "proof: {} ({} bytes, {:.2} s)",
            a.out.display(),
            r.proof_bytes,
            r.prove_secs
        );
    }
    Ok(Exit::Ok)
}
