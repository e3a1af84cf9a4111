//! `zkinfer build`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::pipeline::{self, BuildOptions};
use zkinfer::quant::QuantConfig;

use super::output::{floats, print_json, Bar};
use super::Exit;

/// Arguments of `build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data: an input JSON ({"input_data": [[...]]}) or JSON lines of them.
    #[arg(long)]
    pub calibration: PathBuf,
    /// Output directory (created; must not exist unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// An SRS in halo2's raw format (e.g. from a ceremony); without it an INSECURE one is generated.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `build`.
pub fn run(a: BuildArgs) -> anyhow::Result<Exit> {
    let opts = BuildOptions {
        model: a.model,
        calibration: a.calibration,
        out: a.out.clone(),
        srs: a.srs,
        force: a.force,
        quant: QuantConfig::default(),
    };
    let r = pipeline::build(&opts, &Bar)?;
    let s = &r.settings;
    let over = s.verifier.verifier_runtime_bytes > s.verifier.size_limit;
    if over {
        eprintln!(
            "WARNING: the halo2 verifier's runtime bytecode is {} bytes, over the EIP-170 limit of {} bytes: it will NOT deploy on mainnet or public testnets (only on a node with the limit lifted)",
            s.verifier.verifier_runtime_bytes, s.verifier.size_limit
        );
    }
    if s.srs.insecure {
        eprintln!("note: built on a locally generated SRS whose secret is known (insecure): fine for tests and local chains; use --srs with a ceremony SRS for a public chain");
    }
    if a.json {
        print_json(&json!({
            "out": a.out,
            "vk_digest": s.vk_digest,
            "logrows": s.circuit.params.k,
            "advice_columns": s.circuit.params.num_advice_per_phase,
            "lookup_bits": s.circuit.params.lookup_bits,
            "macs": s.macs,
            "srs": s.srs,
            "verifier": s.verifier,
            "verifier_over_size_limit": over,
            "evm_verify_gas": r.evm_verify_gas,
            "fidelity": s.fidelity,
            "float_outputs": r.float_outputs,
            "quantized_outputs": r.quant_outputs,
            "instances": s.instances,
            "keygen_secs": r.keygen_secs,
            "total_secs": r.total_secs,
        }));
    } else {
        println!("built {} -> {}", s.model_path, a.out.display());
        println!(
            "  circuit: logrows {}, {} advice column(s), lookup bits {:?}, {} MACs",
            s.circuit.params.k,
            s.circuit.params.num_advice_per_phase[0],
            s.circuit.params.lookup_bits,
            s.macs
        );
        println!("  vk digest: {}", s.vk_digest);
        for (i, (f, q)) in r.float_outputs.iter().zip(&r.quant_outputs).enumerate() {
            println!(
                "  output {i}: float (tract) {}  quantized {}",
                floats(f),
                floats(q)
            );
        }
        println!(
            "  max |float - quantized| over {} calibration sample(s): {:.3e}",
            s.fidelity.samples, s.fidelity.max_abs_error_overall
        );
        println!(
            "  verifier: {} B runtime ({}limit {} B), wrapper {} B, proof {} B, verify gas (in-process EVM) {}",
            s.verifier.verifier_runtime_bytes,
            if over { "OVER the " } else { "within the " },
            s.verifier.size_limit,
            s.verifier.wrapper_runtime_bytes,
            s.verifier.proof_bytes,
            r.evm_verify_gas
        );
        println!("  SRS: {} (insecure: {})", s.srs.source, s.srs.insecure);
        println!(
            "  keygen {:.2} s, total {:.2} s",
            r.keygen_secs, r.total_secs
        );
    }
    Ok(Exit::Ok)
}
