//! Options the chain commands share (as foundry's `opts`): the RPC endpoint (with
//! `ETH_RPC_URL` honoured), the signer, the registry's location, and parsers of addresses and
//! words that name the flag on error.

use std::path::PathBuf;

use clap::Args;
use zkinfer::chain::deployments::Deployments;
use zkinfer::chain::{Address, Chain};

/// The JSON-RPC endpoint: `--rpc-url`, else `ZKINFER_RPC_URL`, else `ETH_RPC_URL` (foundry's).
#[derive(Args, Clone, Debug)]
pub struct RpcOpts {
    /// JSON-RPC endpoint, e.g. http://127.0.0.1:8545 for a local anvil (also from
    /// ZKINFER_RPC_URL or ETH_RPC_URL). Shown in messages only as scheme, host and port (API
    /// keys in URLs stay out of logs).
    #[arg(long = "rpc-url", env = "ZKINFER_RPC_URL", hide_env_values = true)]
    rpc_url: Option<String>,
}

impl RpcOpts {
    /// The endpoint, if one is given anywhere.
    pub fn get(&self) -> Option<String> {
        self.rpc_url
            .clone()
            .or_else(|| std::env::var("ETH_RPC_URL").ok())
            .filter(|u| !u.trim().is_empty())
    }

    /// The endpoint, or an error saying how to give one.
    pub fn url(&self) -> anyhow::Result<String> {
        self.get().ok_or_else(|| {
            anyhow::anyhow!(
                "no JSON-RPC endpoint: give --rpc-url URL, or set ZKINFER_RPC_URL or ETH_RPC_URL"
            )
        })
    }
}

/// Where the chain is and who signs.
#[derive(Args, Clone)]
pub struct ChainArgs {
    #[command(flatten)]
    pub rpc: RpcOpts,
    #[command(flatten)]
    pub key: super::keys::KeyArgs,
    #[command(flatten)]
    pub at: RegistryLocation,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Which registry: given, or recorded in the deployments file of the chain.
#[derive(Args, Clone)]
pub struct RegistryLocation {
    /// The registry; default: the one recorded in the deployments file for this chain.
    #[arg(long)]
    pub registry: Option<String>,
    /// Folder of deployments files, one per chain id (`<chain id>.json`).
    #[arg(long, env = "ZKINFER_DEPLOYMENTS", default_value = "deployments")]
    pub deployments: PathBuf,
}

impl RegistryLocation {
    /// The registry: `--registry` when given, else the one the deployments file records for
    /// the chain.
    pub fn resolve(&self, chain: &Chain) -> anyhow::Result<Address> {
        match &self.registry {
            Some(r) => address("--registry", r),
            None => {
                let d = Deployments::load(&self.deployments, chain.chain_id)
                    .map_err(anyhow::Error::msg)?;
                d.registry_address(&self.deployments)
                    .map_err(anyhow::Error::msg)
            }
        }
    }
}

/// Parses an address, naming the flag on error.
pub fn address(flag: &str, s: &str) -> anyhow::Result<Address> {
    s.trim()
        .parse::<Address>()
        .map_err(|_| anyhow::anyhow!("{flag} '{s}' is not a 20-byte 0x address"))
}

/// Parses a 32-byte `0x` hex word (a commitment), naming the flag on error.
pub fn word(flag: &str, s: &str) -> anyhow::Result<[u8; 32]> {
    zkinfer::files::decode_word(s).map_err(|e| anyhow::anyhow!("{flag} '{s}': {e}"))
}

impl ChainArgs {
    /// Connects (with the key when given).
    pub async fn connect(&self) -> anyhow::Result<Chain> {
        self.key.connect(&self.rpc.url()?).await
    }

    /// The deployments record of the connected chain.
    pub fn deployments(&self, chain: &Chain) -> anyhow::Result<Deployments> {
        Deployments::load(&self.at.deployments, chain.chain_id).map_err(anyhow::Error::msg)
    }

    /// The registry: `--registry`, else the deployments file's.
    pub fn registry(&self, chain: &Chain) -> anyhow::Result<Address> {
        self.at.resolve(chain)
    }
}
