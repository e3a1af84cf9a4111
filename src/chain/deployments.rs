//! The deployments file: what zkinfer deployed where, one JSON file per chain id
//! (`DIR/<chain id>.json`, DIR from `--deployments` or `ZKINFER_DEPLOYMENTS`, default
//! `deployments/`). Written atomically; read by every command that needs an address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, TxHash};
use serde::{Deserialize, Serialize};

/// A registered model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// The zkinfer verifier (wrapper) address.
    pub verifier: Address,
    /// The halo2 verifier behind it.
    #[serde(default)]
    pub halo2_verifier: Address,
    /// Digest of the verifying key.
    pub vk_digest: alloy::primitives::B256,
    /// The build directory it was registered from, as given.
    pub build_dir: String,
    /// The registration transaction.
    pub tx: TxHash,
}

/// A deployed contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContractEntry {
    /// Address.
    pub address: Address,
    /// Creation transaction.
    pub tx: TxHash,
    /// Gas used to deploy.
    pub gas_used: u64,
}

/// Everything on one chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployments {
    /// The chain id.
    pub chain_id: u64,
    /// The registry, once deployed.
    #[serde(default)]
    pub registry: Option<ContractEntry>,
    /// Registered models by id (as given on the command line).
    #[serde(default)]
    pub models: BTreeMap<String, ModelEntry>,
    /// Lending gates by model id.
    #[serde(default)]
    pub gates: BTreeMap<String, ContractEntry>,
}

/// The deployments file of `chain_id` under `dir`.
pub fn path(dir: &Path, chain_id: u64) -> PathBuf {
    dir.join(format!("{chain_id}.json"))
}

impl Deployments {
    /// Reads the file, or an empty record when there is none.
    pub fn load(dir: &Path, chain_id: u64) -> Result<Self, String> {
        let p = path(dir, chain_id);
        match crate::files::read_json_opt::<Deployments>(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?
        {
            Some(d) if d.chain_id != chain_id => Err(format!(
                "{}: records chain {}, not {chain_id}; fix or move the file",
                p.display(),
                d.chain_id
            )),
            Some(d) => Ok(d),
            None => Ok(Self {
                chain_id,
                ..Default::default()
            }),
        }
    }

    /// Writes the file atomically.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let p = path(dir, self.chain_id);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        crate::files::write_json_atomic(&p, self).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// The registry address, or a message saying how to get one.
    pub fn registry_address(&self, dir: &Path) -> Result<Address, String> {
        self.registry.as_ref().map(|r| r.address).ok_or_else(|| {
            format!(
                "no registry recorded for chain {} in {}: deploy one with `zkinfer registry deploy`, or give --registry ADDRESS",
                self.chain_id,
                path(dir, self.chain_id).display()
            )
        })
    }
}
