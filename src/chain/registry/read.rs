//! Reading stored predictions: the registry's storage (the newest prediction per model or
//! input key) and its `PredictionStored` and `StatementSubmitted` events (the full record and
//! every restatement).

use alloy::primitives::{Address, B256, I256, U256};
use serde::Serialize;

use super::{CallError, PredictionRegistry, Registry};
use crate::chain::Result;

/// A stored prediction, decoded: what the registry keeps (values, output commitment, time)
/// and, where read from its `PredictionStored` and `StatementSubmitted` events, the rest of the
/// record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredPrediction {
    /// Input commitment (or keccak of public inputs, or zero).
    pub input_key: B256,
    /// Output commitment, or zero.
    pub output_commitment: B256,
    /// Block time of the submission.
    pub timestamp: u64,
    /// Signed fixed-point values (outputs and predicate parameters), as decimal strings.
    pub values: Vec<String>,
    /// Their scales (a value v means v * 2^-exp).
    pub exps: Vec<i32>,
    /// The values as floats.
    pub floats: Vec<f64>,
    /// Age in seconds when read (storage reads only).
    pub age: Option<u64>,
    /// Who submitted it (from the events).
    pub submitter: Option<Address>,
    /// The submitter's nonce its proof was bound to (from the events).
    pub nonce: Option<u64>,
    /// keccak256(abi.encode(modelId, instances)) of its proof (from the events).
    pub statement: Option<B256>,
    /// Its sample's place in its proof (from the events).
    pub slot: Option<u64>,
    /// Block number of the submission (from the events).
    pub block: Option<u64>,
    /// Transaction hash of the submission (from the events).
    pub tx_hash: Option<B256>,
}

impl StoredPrediction {
    pub(super) fn new(
        key: B256,
        values: &[I256],
        output_commitment: U256,
        timestamp: u64,
        exps: &[i32],
    ) -> Self {
        let floats = values
            .iter()
            .zip(exps)
            .map(|(v, &e)| {
                let f: f64 = v.to_string().parse().unwrap_or(f64::NAN);
                f * 2f64.powi(-e)
            })
            .collect();
        Self {
            input_key: key,
            output_commitment: output_commitment.into(),
            timestamp,
            values: values.iter().map(I256::to_string).collect(),
            exps: exps.to_vec(),
            floats,
            age: None,
            submitter: None,
            nonce: None,
            statement: None,
            slot: None,
            block: None,
            tx_hash: None,
        }
    }

    /// Fills in what the events say.
    pub(super) fn with_event(
        mut self,
        ev: &PredictionRegistry::PredictionStored,
        log: &alloy::rpc::types::Log,
        submission: Option<&(Address, u64)>,
    ) -> Self {
        self.statement = Some(ev.statement);
        self.slot = Some(ev.slot.saturating_to::<u64>());
        self.block = log.block_number;
        self.tx_hash = log.transaction_hash;
        if let Some((submitter, nonce)) = submission {
            self.submitter = Some(*submitter);
            self.nonce = Some(*nonce);
        }
        self
    }
}

impl Registry<'_> {
    /// The newest prediction of a model, or of a model for one input key, from storage, with
    /// the rest of its record from its events (searched from block `from_block`).
    pub async fn read_latest(
        self,
        model: [u8; 32],
        commitment: Option<[u8; 32]>,
        from_block: u64,
    ) -> std::result::Result<StoredPrediction, CallError> {
        let exps = self.value_exps(model).await?;
        let r = self.contract();
        let (key, p, age) = match commitment {
            None => {
                let out = r
                    .latest(B256::from(model))
                    .call()
                    .await
                    .map_err(|e| self.chain.call_err("latest", e))?;
                (out.inputKey, out.p, out.age)
            }
            Some(c) => {
                let out = r
                    .latestFor(B256::from(model), B256::from(c))
                    .call()
                    .await
                    .map_err(|e| self.chain.call_err("latestFor", e))?;
                (B256::from(c), out.p, out.age)
            }
        };
        let mut s = StoredPrediction::new(key, &p.values, p.outputCommitment, p.timestamp, &exps);
        s.age = Some(age.saturating_to::<u64>());
        // The newest event for this key is the stored record's.
        let events = self.stored_events(model, Some(key.0), from_block).await?;
        if let Some((ev, log)) = events.last() {
            let subs = self.submissions_of(model, from_block).await?;
            s = s.with_event(ev, log, subs.get(&ev.statement));
        }
        Ok(s)
    }

    /// Up to `count` stored predictions of a model (or of one input key), newest first, from
    /// the registry's events since block `from_block`: every restatement, not only the latest.
    pub async fn read_history(
        self,
        model: [u8; 32],
        commitment: Option<[u8; 32]>,
        from_block: u64,
        count: usize,
    ) -> std::result::Result<Vec<StoredPrediction>, CallError> {
        let exps = self.value_exps(model).await?;
        let events = self.stored_events(model, commitment, from_block).await?;
        let subs = self.submissions_of(model, from_block).await?;
        let mut times: std::collections::HashMap<u64, u64> = Default::default();
        let mut out = vec![];
        for (ev, log) in events.iter().rev().take(count) {
            let block = log.block_number.unwrap_or_default();
            let timestamp = match (log.block_timestamp, times.get(&block)) {
                (Some(t), _) | (None, Some(&t)) => t,
                (None, None) => {
                    let t = self.chain.block_time(block).await?;
                    times.insert(block, t);
                    t
                }
            };
            let s = StoredPrediction::new(
                ev.inputKey,
                &ev.values,
                ev.outputCommitment,
                timestamp,
                &exps,
            );
            out.push(s.with_event(ev, log, subs.get(&ev.statement)));
        }
        Ok(out)
    }

    /// `PredictionStored` events of a model (and input key), oldest first.
    async fn stored_events(
        self,
        model: [u8; 32],
        key: Option<[u8; 32]>,
        from_block: u64,
    ) -> Result<Vec<(PredictionRegistry::PredictionStored, alloy::rpc::types::Log)>> {
        let r = self.contract();
        let filter = r
            .PredictionStored_filter()
            .topic1(B256::from(model))
            .from_block(from_block);
        let filter = match key {
            Some(k) => filter.topic2(B256::from(k)),
            None => filter,
        };
        filter.query().await.map_err(|e| self.chain.rpc(e))
    }

    /// Submitter and nonce of each statement of a model accepted since `from_block`.
    async fn submissions_of(
        self,
        model: [u8; 32],
        from_block: u64,
    ) -> Result<std::collections::HashMap<B256, (Address, u64)>> {
        let logs = self
            .contract()
            .StatementSubmitted_filter()
            .topic1(B256::from(model))
            .from_block(from_block)
            .query()
            .await
            .map_err(|e| self.chain.rpc(e))?;
        Ok(logs
            .into_iter()
            .map(|(ev, _)| (ev.statement, (ev.submitter, ev.nonce)))
            .collect())
    }

    /// Gas of reading the newest prediction for a commitment (`latestFor`), as a contract
    /// calling the registry would pay it (transaction intrinsic cost included).
    pub async fn read_gas(
        self,
        model: [u8; 32],
        commitment: [u8; 32],
    ) -> std::result::Result<u64, CallError> {
        self.contract()
            .latestFor(B256::from(model), B256::from(commitment))
            .estimate_gas()
            .await
            .map_err(|e| self.chain.call_err("latestFor", e))
    }

    /// Number of predictions of a model stored so far (restatements included), counted from
    /// its `PredictionStored` events.
    pub async fn stored_count(self, model: [u8; 32]) -> Result<u64> {
        Ok(self.stored_events(model, None, 0).await?.len() as u64)
    }
}
