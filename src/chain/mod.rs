//! The alloy client: a managed anvil, deploying the verifier pair, calling and transacting
//! `verify`, checking deployed code. The registry's client is [`registry`] (a [`Registry`]
//! handle), the lending gate's [`gate`]; [`tx`] sends and watches transactions, [`revert`]
//! decodes why a call failed.

use std::time::Duration;

pub mod contracts;
pub mod deployments;
pub mod gate;
pub mod model_id;
pub mod registry;
mod revert;
mod signer;
mod tx;
mod url;

pub use signer::Signer;
pub use url::redact_url;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolConstructor,
};

pub use alloy::primitives::{Address, TxHash};

sol! {
    /// The wrapper's constructor (its bytecode is per build, so only the arguments are typed).
    contract IZkinferVerifierDeploy {
        constructor(address verifier);
    }
}

sol! {
    /// The wrapper zkinfer generates in front of every halo2 verifier.
    #[sol(rpc)]
    interface IZkinferVerifier {
        function verify(uint256[] calldata instances, bytes calldata proof) external view returns (bool);
        function verifyOrRevert(uint256[] calldata instances, bytes calldata proof) external view;
        function halo2Verifier() external view returns (address);
    }
}

/// The chain id of a local development chain (anvil, hardhat).
pub const LOCAL_CHAIN_ID: u64 = 31337;

/// Chain ids of local development chains (anvil and hardhat; geth --dev and ganache): the only
/// chains a verifier built on an insecure SRS goes to without `--allow-insecure-srs`.
pub const DEV_CHAIN_IDS: [u64; 2] = [31337, 1337];

/// Whether a verifier may go to `chain_id`: always on a local dev chain; elsewhere only when its
/// SRS is trusted or the user allows an insecure one. `Err` says why not and what to do.
pub fn srs_allowed(
    insecure: bool,
    chain_id: u64,
    allow_insecure: bool,
) -> std::result::Result<(), String> {
    if !insecure || allow_insecure || DEV_CHAIN_IDS.contains(&chain_id) {
        return Ok(());
    }
    Err(format!(
        "refusing to put this verifier on chain {chain_id}: it was built on an SRS zkinfer does not trust (generated locally, or a file whose SHA-256 is not on zkinfer's list), so whoever knows its secret can forge proofs. Rebuild with --srs FILE from a ceremony zkinfer lists, or --trusted-srs FILE for one you checked yourself (README: Trusted setup); or pass --allow-insecure-srs for a throwaway test chain"
    ))
}

/// Errors talking to a chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is malformed.
    #[error("--rpc-url {url}: not a valid URL ({reason})")]
    Url {
        /// The URL, redacted (see [`redact_url`]).
        url: String,
        /// Why.
        reason: String,
    },
    /// The node could not be reached or answered with an error.
    #[error("RPC {url}: {reason}")]
    Rpc {
        /// The URL, redacted (see [`redact_url`]).
        url: String,
        /// What failed.
        reason: String,
    },
    /// A private key is needed and was not given, or is malformed.
    #[error("{0}")]
    Key(String),
    /// A transaction reverted or was not mined.
    #[error("transaction {what} failed: {reason}")]
    Tx {
        /// What was sent.
        what: String,
        /// Why.
        reason: String,
    },
    /// anvil could not be started.
    #[error("starting anvil ({path}) failed: {reason}")]
    Anvil {
        /// The binary.
        path: String,
        /// Why.
        reason: String,
    },
    /// anvil was not found.
    #[error(transparent)]
    Tool(#[from] crate::tools::Error),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Starts a managed anvil on a free port, waits until it is ready, and kills it on drop.
pub fn spawn_anvil() -> Result<AnvilInstance> {
    let path = crate::tools::anvil()?;
    Anvil::at(&path).try_spawn().map_err(|e| Error::Anvil {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// How long one RPC request may take before it fails (and is retried by its caller).
pub const RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to a chain, with an optional signer.
pub struct Chain {
    /// The endpoint as shown in messages: redacted, since RPC URLs often carry API keys.
    url: String,
    /// What to scrub from any text a dependency produced (the URL and its secret parts).
    secrets: url::Secrets,
    provider: DynProvider,
    /// The chain id reported by the node.
    pub chain_id: u64,
    /// The signer's address, if a key was given.
    pub from: Option<Address>,
    wallet: Option<EthereumWallet>,
}

/// Gas and address of a deployment.
#[derive(Clone, Debug)]
pub struct Deployed {
    /// Contract address.
    pub address: Address,
    /// Gas used by the creation transaction.
    pub gas_used: u64,
    /// Transaction hash.
    pub tx_hash: TxHash,
}

/// Outcome of a verify transaction.
#[derive(Clone, Debug)]
pub struct VerifyTx {
    /// Transaction hash.
    pub tx_hash: TxHash,
    /// Gas used.
    pub gas_used: u64,
    /// Block it landed in.
    pub block: Option<u64>,
}

impl Chain {
    /// Connects to `rpc_url` with a hex private key (see [`Chain::connect_with`]).
    pub async fn connect(rpc_url: &str, private_key: Option<&str>) -> Result<Self> {
        let signer = private_key.map(Signer::from_hex).transpose()?;
        Self::connect_with(rpc_url, signer.as_ref()).await
    }

    /// Connects to `rpc_url` and asks for the chain id (so an unreachable node fails here).
    /// The signer's key is never printed; the URL appears in messages only redacted.
    pub async fn connect_with(rpc_url: &str, signer: Option<&Signer>) -> Result<Self> {
        let shown = redact_url(rpc_url);
        let secrets = url::secret_parts(rpc_url);
        let scrub = |t: String| url::scrub(&t, &secrets, &shown);
        let url = rpc_url
            .parse::<alloy::transports::http::reqwest::Url>()
            .map_err(|e| Error::Url {
                url: shown.clone(),
                reason: scrub(e.to_string()),
            })?;
        // Every request has a deadline: a node that stops answering (hung, or a connection
        // half-open) fails the call, which the caller retries or reports, instead of holding
        // an oracle worker (and the inputs it claimed) forever.
        let http = alloy::transports::http::reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .build()
            .map_err(|e| Error::Rpc {
                url: shown.clone(),
                reason: format!("HTTP client: {}", scrub(e.to_string())),
            })?;
        let (provider, from, wallet) = match signer {
            Some(s) => {
                let from = s.address();
                let wallet = EthereumWallet::from(s.0.clone());
                let p = ProviderBuilder::new()
                    .wallet(wallet.clone())
                    .connect_reqwest(http, url)
                    .erased();
                (p, Some(from), Some(wallet))
            }
            None => (
                ProviderBuilder::new().connect_reqwest(http, url).erased(),
                None,
                None,
            ),
        };
        let chain_id = tokio::time::timeout(Duration::from_secs(20), provider.get_chain_id())
            .await
            .map_err(|_| Error::Rpc {
                url: shown.clone(),
                reason: "no answer within 20 s".into(),
            })?
            .map_err(|e| Error::Rpc {
                url: shown.clone(),
                reason: format!("cannot reach the node: {}", scrub(e.to_string())),
            })?;
        Ok(Self {
            url: shown,
            secrets,
            provider,
            chain_id,
            from,
            wallet,
        })
    }

    /// `text` with the endpoint's secret parts replaced by its redacted form.
    fn scrub(&self, text: impl std::fmt::Display) -> String {
        url::scrub(&text.to_string(), &self.secrets, &self.url)
    }

    fn rpc(&self, e: impl std::fmt::Display) -> Error {
        Error::Rpc {
            url: self.url.clone(),
            reason: self.scrub(e),
        }
    }

    /// A failed transaction, its reason scrubbed.
    fn tx(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Tx {
            what: what.into(),
            reason: self.scrub(e),
        }
    }

    fn need_key(&self, what: &str) -> Result<()> {
        if self.from.is_none() {
            return Err(Error::Key(format!(
                "{what} sends a transaction: give --private-key or set ZKINFER_PRIVATE_KEY"
            )));
        }
        Ok(())
    }

    /// Deploys creation bytecode and waits for the receipt.
    pub async fn deploy(&self, what: &str, code: Vec<u8>) -> Result<Deployed> {
        self.need_key(what)?;
        let tx = TransactionRequest::default().with_deploy_code(Bytes::from(code));
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| self.tx(what, e))?;
        let receipt = pending.get_receipt().await.map_err(|e| self.tx(what, e))?;
        if !receipt.status() {
            return Err(Error::Tx {
                what: what.into(),
                reason: "reverted".into(),
            });
        }
        let address = receipt.contract_address.ok_or_else(|| Error::Tx {
            what: what.into(),
            reason: "no contract address in the receipt".into(),
        })?;
        Ok(Deployed {
            address,
            gas_used: receipt.gas_used,
            tx_hash: receipt.transaction_hash,
        })
    }

    /// Runtime code at an address.
    pub async fn code_at(&self, address: Address) -> Result<Vec<u8>> {
        self.provider
            .get_code_at(address)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| self.rpc(e))
    }

    fn verifier(
        &self,
        wrapper: Address,
    ) -> IZkinferVerifier::IZkinferVerifierInstance<&DynProvider> {
        IZkinferVerifier::new(wrapper, &self.provider)
    }

    fn args(instances: &[[u8; 32]], proof: &[u8]) -> (Vec<U256>, Bytes) {
        (
            instances.iter().map(|w| U256::from_be_bytes(*w)).collect(),
            Bytes::copy_from_slice(proof),
        )
    }

    /// The halo2 verifier a wrapper points at.
    pub async fn halo2_verifier_of(&self, wrapper: Address) -> Result<Address> {
        self.verifier(wrapper)
            .halo2Verifier()
            .call()
            .await
            .map_err(|e| self.rpc(e))
    }

    /// `eth_call` of `verify`: true iff the proof is accepted.
    pub async fn call_verify(
        &self,
        wrapper: Address,
        instances: &[[u8; 32]],
        proof: &[u8],
    ) -> Result<bool> {
        let (inst, proof) = Self::args(instances, proof);
        self.verifier(wrapper)
            .verify(inst, proof)
            .call()
            .await
            .map_err(|e| self.rpc(e))
    }

    /// Gas a `verify` transaction would use (`eth_estimateGas`).
    pub async fn estimate_verify(
        &self,
        wrapper: Address,
        instances: &[[u8; 32]],
        proof: &[u8],
    ) -> Result<u64> {
        let (inst, proof) = Self::args(instances, proof);
        self.verifier(wrapper)
            .verifyOrRevert(inst, proof)
            .estimate_gas()
            .await
            .map_err(|e| self.rpc(e))
    }

    /// Sends a `verifyOrRevert` transaction and waits for its receipt; a mined, successful
    /// transaction means the proof was verified with all the gas it needed.
    pub async fn send_verify(
        &self,
        wrapper: Address,
        instances: &[[u8; 32]],
        proof: &[u8],
    ) -> Result<VerifyTx> {
        self.need_key("verify-evm")?;
        // Estimate first: an invalid proof then fails here, before the provider's cached nonce
        // manager hands out a nonce that no transaction would use (a gap that would stall
        // every later transaction of this connection).
        let gas = self
            .estimate_verify(wrapper, instances, proof)
            .await
            .map_err(|e| self.tx("verify", e))?;
        let (inst, proof) = Self::args(instances, proof);
        let pending = self
            .verifier(wrapper)
            .verifyOrRevert(inst, proof)
            .gas(gas + gas / 5)
            .send()
            .await
            .map_err(|e| self.tx("verify", e))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| self.tx("verify", e))?;
        Ok(VerifyTx {
            tx_hash: receipt.transaction_hash,
            gas_used: receipt.gas_used,
            block: receipt.block_number,
        })
    }
}

/// The verifier pair as deployed.
#[derive(Clone, Debug)]
pub struct DeployedPair {
    /// The halo2 verifier.
    pub verifier: Deployed,
    /// The checking wrapper (the address users call).
    pub wrapper: Deployed,
}

/// Deploys a build's halo2 verifier, then the wrapper pointing at it.
pub async fn deploy_pair(
    chain: &Chain,
    contracts: &crate::verifier::Compiled,
) -> Result<DeployedPair> {
    let verifier = chain
        .deploy(
            "deploying Halo2Verifier",
            contracts.verifier.creation_code(),
        )
        .await?;
    let mut code = contracts.wrapper.creation_code();
    code.extend(
        IZkinferVerifierDeploy::constructorCall {
            verifier: verifier.address,
        }
        .abi_encode(),
    );
    let wrapper = chain.deploy("deploying ZkinferVerifier", code).await?;
    Ok(DeployedPair { verifier, wrapper })
}

/// What [`check_deployed`] found at an address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum CodeCheck {
    /// Exactly the build's wrapper, pointing at exactly the build's halo2 verifier.
    Matches {
        /// The halo2 verifier behind the wrapper.
        halo2_verifier: Address,
    },
    /// Something else.
    Differs {
        /// What differs.
        reason: String,
    },
}

impl CodeCheck {
    /// The halo2 verifier when the code matches, else why not.
    pub fn into_result(self) -> std::result::Result<Address, String> {
        match self {
            CodeCheck::Matches { halo2_verifier } => Ok(halo2_verifier),
            CodeCheck::Differs { reason } => Err(reason),
        }
    }
}

/// Checks that `wrapper` holds exactly the build's wrapper, pointing at exactly the build's
/// halo2 verifier.
pub async fn check_deployed(
    chain: &Chain,
    contracts: &crate::verifier::Compiled,
    wrapper: Address,
) -> Result<CodeCheck> {
    let differs = |reason: String| Ok(CodeCheck::Differs { reason });
    let code = chain.code_at(wrapper).await?;
    if code.is_empty() {
        return differs(format!(
            "no contract at {wrapper} on chain {}: deploy first (zkinfer deploy DIR --rpc-url URL)",
            chain.chain_id
        ));
    }
    let inner = match chain.halo2_verifier_of(wrapper).await {
        Ok(a) => a,
        Err(_) => {
            return differs(format!(
                "the contract at {wrapper} is not a zkinfer verifier (no halo2Verifier())"
            ))
        }
    };
    if code
        != contracts
            .wrapper
            .runtime_code_with_immutables(inner.into_word().0)
    {
        return differs(format!(
            "the code at {wrapper} is not the ZkinferVerifier of this build"
        ));
    }
    if chain.code_at(inner).await? != contracts.verifier.runtime_code() {
        return differs(format!(
            "the halo2 verifier at {inner} is not the one of this build (another model or build)"
        ));
    }
    // A split verifier calls the contract its constructor created first (verifier::split);
    // code equal to the head's could have come from another constructor, so check it too.
    if let Some(tail) = &contracts.verifier_tail {
        let at = inner.create(1);
        if chain.code_at(at).await? != tail.runtime_code() {
            return differs(format!(
                "the second half of the halo2 verifier at {inner} (the contract at {at}) is not the one of this build"
            ));
        }
    }
    Ok(CodeCheck::Matches {
        halo2_verifier: inner,
    })
}
