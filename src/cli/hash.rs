//! `zkinfer hash`: the Poseidon commitment to an input or to the parameters, exactly as a proof
//! with hashed inputs or parameters exposes it.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::circuit::commit::parse_salt;
use zkinfer::field::Fr;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::Build;

use super::output::print_json;
use super::Exit;

/// Arguments of `hash`.
#[derive(Args)]
pub struct HashArgs {
    /// A build directory (its quantization defines the encoding).
    pub dir: PathBuf,
    /// Input JSON to commit to: {"input_data": [[...], ...]}.
    #[arg(long, required_unless_present = "weights", conflicts_with = "weights")]
    pub input: Option<PathBuf>,
    /// Commit to the build's parameters instead (as hashed parameters expose them).
    #[arg(long)]
    pub weights: bool,
    /// The salt the prover will use: 0x + up to 64 hex digits. Never printed.
    #[arg(long, env = "ZKINFER_INPUT_SALT", hide_env_values = true, value_parser = parse_salt)]
    pub salt: Option<Fr>,
    /// Allow an input commitment without a salt (only for data that is public knowledge).
    #[arg(long)]
    pub allow_unsalted: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hash`.
pub fn run(a: HashArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let (what, c) = match &a.input {
        Some(path) => {
            if !a.allow_unsalted && a.salt.is_none_or(|s| s == Fr::zero()) {
                anyhow::bail!(
                    "an input commitment without a salt (--salt) can be inverted by hashing likely inputs; give --salt ({}), or --allow-unsalted for public data",
                    zkinfer::pipeline::SALT_ADVICE
                );
            }
            if let Some(w) = zkinfer::pipeline::weak_salt_warning(a.salt, "--salt") {
                eprintln!("zkinfer: {w}");
            }
            (
                "input_commitment",
                build.input_commitment(&read_input(path)?, a.salt.unwrap_or_default())?,
            )
        }
        None => ("param_commitment", build.param_commitment()),
    };
    let hex = format!("0x{}", hex::encode(zkinfer::field::to_word(&c)));
    if a.json {
        print_json(&json!({ what: hex, "salted": a.salt.is_some() && a.input.is_some() }));
    } else {
        println!("{hex}");
    }
    Ok(Exit::Ok)
}
