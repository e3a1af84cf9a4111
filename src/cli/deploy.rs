//! `zkinfer deploy`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::chain::{self, Chain, LOCAL_CHAIN_ID};
use zkinfer::pipeline::Build;

use super::output::print_json;
use super::{block_on, Exit};

/// Arguments of `deploy`.
#[derive(Args)]
pub struct DeployArgs {
    /// Build directory.
    pub dir: PathBuf,
    /// JSON-RPC endpoint, e.g. http://127.0.0.1:8545 for a local anvil.
    #[arg(long)]
    pub rpc_url: String,
    /// Hex private key of the deployer (or ZKINFER_PRIVATE_KEY). Never printed.
    #[arg(long, env = "ZKINFER_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Deploy a verifier built on an insecure (locally generated) SRS to a non-local chain.
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
    let key = a.private_key.as_deref().ok_or_else(|| {
        anyhow::anyhow!("deploy needs a key: give --private-key or set ZKINFER_PRIVATE_KEY")
    })?;
    let (chain_id, pair) = block_on(async {
        let chain = Chain::connect(&a.rpc_url, Some(key)).await?;
        eprintln!("zkinfer: connected to chain id {}", chain.chain_id);
        if build.settings.srs.insecure && chain.chain_id != LOCAL_CHAIN_ID && !a.allow_insecure_srs
        {
            anyhow::bail!(
                "refusing to deploy to chain {}: this verifier was built on an insecure SRS (its secret is known, so anyone holding it can forge proofs). Rebuild with --srs FILE from a trusted ceremony, or pass --allow-insecure-srs for a throwaway test chain",
                chain.chain_id
            );
        }
        eprintln!("zkinfer: deploying Halo2Verifier and ZkinferVerifier ...");
        let pair = chain::deploy_pair(&chain, &contracts).await?;
        Ok((chain.chain_id, pair))
    })??;
    if a.json {
        print_json(&json!({
            "chain_id": chain_id,
            "address": format!("{:#x}", pair.wrapper.address),
            "halo2_verifier": format!("{:#x}", pair.verifier.address),
            "deploy_gas": { "halo2_verifier": pair.verifier.gas_used, "wrapper": pair.wrapper.gas_used },
            "tx": { "halo2_verifier": pair.verifier.tx_hash, "wrapper": pair.wrapper.tx_hash },
            "runtime_bytes": { "halo2_verifier": contracts.verifier.runtime_code().len(), "wrapper": contracts.wrapper.runtime_code().len() },
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
