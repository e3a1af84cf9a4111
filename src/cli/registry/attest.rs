//! `zkinfer registry attest`: attest that an input commitment stands for an account's data.

use clap::Args;
use serde_json::json;

use super::report;
use crate::cli::opts::{address, word, ChainArgs};
use crate::cli::{block_on, Exit};

/// Arguments of `registry attest`.
#[derive(Args)]
pub struct AttestArgs {
    /// The input commitment (from `zkinfer hash` or a proof file), 0x hex.
    #[arg(long)]
    commitment: String,
    /// Whose data it is.
    #[arg(long)]
    account: String,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry attest`.
pub fn run(a: AttestArgs) -> anyhow::Result<Exit> {
    let account = address("--account", &a.account)?;
    let c = word("--commitment", &a.commitment)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(chain.registry(registry).attest(c, account).await?)
    })??;
    report(
        a.chain.json,
        json!({ "commitment": format!("0x{}", hex::encode(c)), "account": format!("{account:#x}"), "tx": mined.tx_hash, "gas_used": mined.gas_used }),
        format!("attested 0x{} to {account:#x}", hex::encode(c)),
    );
    Ok(Exit::Ok)
}
