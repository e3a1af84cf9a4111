//! `zkinfer registry request`: ask bots for a prediction (emits PredictionRequested).

use clap::Args;
use serde_json::json;
use zkinfer::chain::registry::parse_model_id;

use super::report;
use crate::cli::opts::ChainArgs;
use crate::cli::{block_on, Exit};

/// Arguments of `registry request`.
#[derive(Args)]
pub struct RequestArgs {
    /// Model id.
    #[arg(long)]
    model: String,
    /// Where bots find the input: a relative path under the folder the oracle serves (`zkinfer oracle --events INPUT_DIR`).
    #[arg(long)]
    input_ref: String,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry request`.
pub fn run(a: RequestArgs) -> anyhow::Result<Exit> {
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(
            chain
                .registry(registry)
                .request_prediction(model, &a.input_ref)
                .await?,
        )
    })??;
    report(
        a.chain.json,
        json!({ "model": a.model, "input_ref": a.input_ref, "tx": mined.tx_hash, "block": mined.block, "gas_used": mined.gas_used }),
        format!("requested in {}", mined.tx_hash),
    );
    Ok(Exit::Ok)
}
