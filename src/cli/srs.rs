//! `zkinfer srs`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::pipeline::Progress;
use zkinfer::proof;

use super::output::{print_json, Bar};
use super::Exit;

/// Arguments of `srs`.
#[derive(Args)]
pub struct SrsArgs {
    /// log2 of the number of points.
    #[arg(long)]
    pub logrows: u32,
    /// Output file (halo2 raw format).
    #[arg(long)]
    pub out: PathBuf,
    /// Derive the secret from this number instead of the OS's randomness: the same seed gives
    /// the same SRS (for reproducible fixtures; everyone who knows the seed can forge proofs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `srs`.
pub fn run(a: SrsArgs) -> anyhow::Result<Exit> {
    if !(1..=26).contains(&a.logrows) {
        anyhow::bail!("--logrows {} is out of range: give 1 to 26", a.logrows);
    }
    eprintln!("WARNING: a locally generated SRS is INSECURE: this machine drew its secret, so whoever ran it can forge proofs. Use it for tests and local chains only.");
    let t = std::time::Instant::now();
    Bar.start(&format!("generating SRS with logrows {}", a.logrows));
    let params = match a.seed {
        Some(seed) => proof::generate_srs_seeded(a.logrows, seed),
        None => proof::generate_srs(a.logrows),
    };
    let info = proof::write_srs(&params, &a.out)?;
    Bar.finish("generating SRS", t.elapsed().as_secs_f64());
    if a.json {
        print_json(
            &json!({ "out": a.out, "logrows": info.logrows, "sha256": info.sha256, "insecure": true }),
        );
    } else {
        println!(
            "wrote {} (logrows {}, sha256 {}, INSECURE)",
            a.out.display(),
            info.logrows,
            info.sha256
        );
    }
    Ok(Exit::Ok)
}
