//! `zkinfer deploy`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::chain::{self, Chain};
use zkinfer::pipeline::Build;

use super::output::print_json;
use super::{block_on, Exit};

/// Arguments of `deploy`.
#[derive(Args)]
pub struct DeployArgs {
    /// Build directory.
    pub dir: PathBuf,
    #[command(flatten)]
    pub rpc: super::opts::RpcOpts,
    #[command(flatten)]
    pub key: super::keys::KeyArgs,
    /// Deploy a verifier built on an untrusted SRS (generated locally, or not on zkinfer's
    /// list) to a chain other than a local dev chain.
    #[arg(long)]
    pub allow_insecure_srs: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `deploy`.
pub fn run(a: DeployArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let contracts = build.contracts()?;
    let signer = a.key.signer()?.ok_or_else(|| {
        anyhow::anyhow!("deploy needs a key: set ZKINFER_PRIVATE_KEY or give --keystore FILE")
    })?;
    let (chain_id, pair) = block_on(async {
        let chain = Chain::connect_with(&a.rpc.url()?, Some(&signer)).await?;
        eprintln!("zkinfer: connected to chain id {}", chain.chain_id);
        chain::srs_allowed(
            build.settings.srs.insecure,
            chain.chain_id,
            a.allow_insecure_srs,
        )
        .map_err(anyhow::Error::msg)?;
        eprintln!("zkinfer: deploying Halo2Verifier and ZkinferVerifier ...");
        let pair = chain::deploy_pair(&chain, &contracts).await?;
        anyhow::Ok((chain.chain_id, pair))
    })??;
    if a.json {
        print_json(&json!({
            "chain_id": chain_id,
            "address": format!("{:#x}", pair.wrapper.address),
            "halo2_verifier": format!("{:#x}", pair.verifier.address),
            "deploy_gas": { "halo2_verifier": pair.verifier.gas_used, "wrapper": pair.wrapper.gas_used },
            "tx": { "halo2_verifier": pair.verifier.tx_hash, "wrapper": pair.wrapper.tx_hash },
            "runtime_bytes": { "halo2_verifier": contracts.verifier.runtime_code().len(), "halo2_verifier_tail": contracts.verifier_tail.as_ref().map(|t| t.runtime_code().len()), "wrapper": contracts.wrapper.runtime_code().len() },
        }));
    } else {
        println!("{:#x}", pair.wrapper.address);
        eprintln!(
            "zkinfer: chain {chain_id}: ZkinferVerifier at {:#x} (gas {}), Halo2Verifier at {:#x} (gas {})",
            pair.wrapper.address, pair.wrapper.gas_used, pair.verifier.address, pair.verifier.gas_used
        );
    }
    Ok(Exit::Ok)
}
