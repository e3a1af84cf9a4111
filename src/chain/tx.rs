//! Transactions: sending a contract call and waiting for it (estimated first, so a revert comes
//! back decoded before a nonce is spent), broadcasting pre-signed transactions, receipts
//! through alloy's pending-transaction watcher, nonces and blocks.

use alloy::primitives::{FixedBytes, TxHash};
use alloy::providers::{DynProvider, Provider};
use serde::Serialize;

use super::registry::PredictionRegistry;
use super::revert::CallError;
use super::{Address, Chain, Error, Result};

/// A mined transaction.
#[derive(Clone, Debug, Serialize)]
pub struct Mined {
    /// Transaction hash.
    pub tx_hash: TxHash,
    /// Block number.
    pub block: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Predictions the transaction stored (`PredictionStored` events it emitted).
    pub predictions: u64,
}

impl Chain {
    pub(super) async fn mine(
        &self,
        what: &str,
        call: alloy::contract::CallBuilder<
            &&DynProvider,
            std::marker::PhantomData<impl alloy::sol_types::SolCall>,
        >,
    ) -> std::result::Result<Mined, CallError> {
        self.need_key(what)?;
        // Estimate first: a revert then comes back decoded before the provider's nonce filler
        // hands out a nonce that would never be used (leaving a gap that stalls later sends).
        let gas = call
            .estimate_gas()
            .await
            .map_err(|e| self.call_err(what, e))?;
        let call = call.gas(gas + gas / 5);
        let pending = call.send().await.map_err(|e| self.call_err(what, e))?;
        let receipt = pending.get_receipt().await.map_err(|e| self.tx(what, e))?;
        if !receipt.status() {
            return Err(Error::Tx {
                what: what.into(),
                reason: format!("reverted in block {:?}", receipt.block_number),
            }
            .into());
        }
        use alloy::sol_types::SolEvent;
        let predictions = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.topic0() == Some(&PredictionRegistry::PredictionStored::SIGNATURE_HASH))
            .count() as u64;
        Ok(Mined {
            tx_hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            predictions,
        })
    }

    /// Broadcasts a signed transaction. A node that already has it is not an error.
    pub async fn broadcast(&self, raw: &[u8]) -> Result<()> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().to_lowercase().contains("already") => Ok(()),
            Err(e) => Err(self.rpc(e)),
        }
    }

    /// Whether the node knows a transaction (pending or mined).
    pub async fn tx_known(&self, tx_hash: [u8; 32]) -> Result<bool> {
        self.provider
            .get_transaction_by_hash(FixedBytes(tx_hash))
            .await
            .map(|t| t.is_some())
            .map_err(|e| self.rpc(e))
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.rpc(e))
    }

    /// The receipt of a transaction, if mined: `(success, block, gas used)`.
    pub async fn receipt(&self, tx_hash: [u8; 32]) -> Result<Option<(bool, u64, u64)>> {
        let r = self
            .provider
            .get_transaction_receipt(FixedBytes(tx_hash))
            .await
            .map_err(|e| self.rpc(e))?;
        Ok(r.map(|r| (r.status(), r.block_number.unwrap_or_default(), r.gas_used)))
    }

    /// Waits up to `timeout` for a transaction's receipt through alloy's pending-transaction
    /// watcher (the provider's heartbeat): `(success, block, gas used)`, or `None` if it was not
    /// mined in time.
    pub async fn wait_receipt(
        &self,
        tx_hash: [u8; 32],
        timeout: std::time::Duration,
    ) -> Result<Option<(bool, u64, u64)>> {
        use alloy::providers::{PendingTransactionBuilder, PendingTransactionError, WatchTxError};
        let watch = PendingTransactionBuilder::new(self.provider.root().clone(), tx_hash.into())
            .with_timeout(Some(timeout));
        match watch.get_receipt().await {
            Ok(r) => Ok(Some((
                r.status(),
                r.block_number.unwrap_or_default(),
                r.gas_used,
            ))),
            Err(PendingTransactionError::TxWatcher(WatchTxError::Timeout)) => Ok(None),
            // The watcher could not follow it (no heartbeat, a receipt not served yet): ask
            // the node directly.
            Err(_) => self.receipt(tx_hash).await,
        }
    }

    /// The signer's next account nonce (pending transactions included).
    pub async fn account_nonce(&self) -> Result<u64> {
        let from = self.from.ok_or_else(|| Error::Key("no signer".into()))?;
        self.nonce_of(from).await
    }

    /// Another account's next nonce, pending transactions included (an oracle worker settling
    /// a transaction another worker signed).
    pub async fn nonce_of(&self, account: Address) -> Result<u64> {
        self.provider
            .get_transaction_count(account)
            .pending()
            .await
            .map_err(|e| self.rpc(e))
    }

    pub(super) async fn block_time(&self, block: u64) -> Result<u64> {
        let b = self
            .provider
            .get_block_by_number(block.into())
            .await
            .map_err(|e| self.rpc(e))?
            .ok_or_else(|| Error::Tx {
                what: "reading a block's time".into(),
                reason: format!("the node has no block {block}"),
            })?;
        Ok(b.header.timestamp)
    }
}
