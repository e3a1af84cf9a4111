//! `zkinfer registry provider`: grant or revoke the data-provider role.

use clap::Args;
use serde_json::json;

use super::report;
use crate::cli::opts::{address, ChainArgs};
use crate::cli::{block_on, Exit};

/// Arguments of `registry provider`.
#[derive(Args)]
pub struct ProviderArgs {
    /// The provider's address.
    account: String,
    /// Revoke instead of grant.
    #[arg(long)]
    revoke: bool,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry provider`.
pub fn run(a: ProviderArgs) -> anyhow::Result<Exit> {
    let who = address("ACCOUNT", &a.account)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(
            chain
                .registry(registry)
                .set_provider(who, !a.revoke)
                .await?,
        )
    })??;
    report(
        a.chain.json,
        json!({ "provider": format!("{who:#x}"), "allowed": !a.revoke, "tx": mined.tx_hash, "gas_used": mined.gas_used }),
        if a.revoke {
            format!("revoked {who:#x}: its attestations no longer count")
        } else {
            format!("granted {who:#x}")
        },
    );
    Ok(Exit::Ok)
}
