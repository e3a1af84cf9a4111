//! `zkinfer registry deploy`: a PredictionRegistry owned by the sender, recorded in the deployments file.

use clap::Args;
use serde_json::json;
use zkinfer::chain::{self, deployments::ContractEntry};

use super::report;
use crate::cli::opts::ChainArgs;
use crate::cli::{block_on, Exit};

/// Arguments of `registry deploy`.
#[derive(Args)]
pub struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry deploy`.
pub fn run(a: DeployArgs) -> anyhow::Result<Exit> {
    let (chain_id, d) = block_on(async {
        let chain = a.chain.connect().await?;
        eprintln!(
            "zkinfer: deploying PredictionRegistry to chain {} ...",
            chain.chain_id
        );
        let d = chain.deploy_registry().await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.registry = Some(ContractEntry {
            address: d.address,
            tx: d.tx_hash,
            gas_used: d.gas_used,
        });
        rec.save(&a.chain.at.deployments)
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((chain.chain_id, d))
    })??;
    report(
        a.chain.json,
        json!({ "chain_id": chain_id, "registry": format!("{:#x}", d.address), "tx": d.tx_hash, "gas_used": d.gas_used }),
        format!("{:#x}", d.address),
    );
    eprintln!(
        "zkinfer: recorded in {}",
        chain::deployments::path(&a.chain.at.deployments, chain_id).display()
    );
    Ok(Exit::Ok)
}
