//! `zkinfer submit`: send a bound proof to the registry.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::ProofFile;
use zkinfer::chain::registry::CallError;
use zkinfer::pipeline::{self, Build};

use super::opts::ChainArgs;
use super::output::print_json;
use super::{block_on, Exit};

/// Arguments of `submit`.
#[derive(Args)]
pub struct SubmitArgs {
    /// Build directory.
    pub dir: PathBuf,
    /// Proof file (from `zkinfer prove ... --model ID --rpc-url URL`).
    pub proof: PathBuf,
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Runs `submit`: exit 0 stored, 1 rejected by the registry.
pub fn run(a: SubmitArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let pf = ProofFile::read(&a.proof)?;
    build.check_proof_file(&pf, &a.proof)?;
    pipeline::proof_instances(&build, &pf)
        .map_err(|r| anyhow::anyhow!("{}: {r}", a.proof.display()))?;
    let binding = pf.binding.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the proof is not bound to a registry; prove with --model ID --rpc-url URL",
            a.proof.display()
        )
    })?;
    let model: [u8; 32] = binding.model_id.0;
    let (words, proof) = pipeline::verify_calldata(&pf);
    let res = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        let from = chain.from.ok_or_else(|| {
            anyhow::anyhow!(
                "submit sends a transaction: give --private-key or set ZKINFER_PRIVATE_KEY"
            )
        })?;
        // Say plainly when the proof was made for someone or somewhere else.
        if binding.chain_id != chain.chain_id
            || binding.registry != registry
            || binding.submitter != from
        {
            eprintln!(
                "zkinfer: warning: the proof is bound to chain {}, registry {}, submitter {}; sending from {from:#x} to {registry:#x} on chain {} (the registry will refuse it)",
                binding.chain_id, binding.registry, binding.submitter, chain.chain_id
            );
        }
        anyhow::Ok(chain.registry(registry).submit(model, &words, &proof).await)
    })??;
    match res {
        Ok(m) => {
            if a.chain.json {
                print_json(
                    &json!({ "stored": true, "predictions": m.predictions, "tx": m.tx_hash, "block": m.block, "gas_used": m.gas_used, "gas_per_prediction": m.gas_used / m.predictions.max(1), "nonce": binding.nonce }),
                );
            } else {
                println!(
                    "stored {} prediction(s) in block {} (tx {}, gas {}, {} per prediction)",
                    m.predictions,
                    m.block,
                    m.tx_hash,
                    m.gas_used,
                    m.gas_used / m.predictions.max(1)
                );
            }
            Ok(Exit::Ok)
        }
        Err(CallError::Reverted { revert, .. }) => {
            if a.chain.json {
                print_json(
                    &json!({ "stored": false, "error": revert.name, "detail": revert.detail }),
                );
            } else {
                println!("REJECTED: {}", revert.detail);
            }
            Ok(Exit::Invalid)
        }
        Err(e) => Err(e.into()),
    }
}
