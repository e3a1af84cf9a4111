//! The steps that move one input through the journal: prove (bound to the registry's next
//! nonce), send (estimate, sign, journal, broadcast), settle (receipt, or the registry's
//! record, or a re-broadcast), and what a revert means.
//!
//! A revert is replayed (`eth_estimateGas` of the same calldata from the same sender): if the
//! replay reverts, the registry refused the submission (a stale binding is proven again,
//! anything else fails the input); if it passes, the transaction ran out of gas (inside the
//! verifier this can even surface as the registry's `InvalidProof`, since its staticcall gets
//! only 63/64 of the gas), and the same proof is sent again with the limit raised by half, up to
//! [`MAX_GAS_RETRIES`] times.

use std::path::Path;
use std::time::Duration;

use super::retry::{crash_point, low_gas, retry, retry_plain, Called};
use super::{input, Error, Oracle, Result};
use crate::artifacts::ProofFile;
use crate::chain::registry::CallError;
use crate::circuit::Secrets;
use crate::pipeline::{self, Quiet};

use super::journal::Row;

/// How logs name what a row's transaction carries: the input, or its batch.
pub(super) fn label(row: &Row) -> String {
    match row.batch {
        Some(b) => format!("batch {b}"),
        None => row.id.clone(),
    }
}

/// What proving an input (or a batch) gave: the proof file's JSON, or why it cannot be proven
/// (the input fails, not the oracle).
pub(super) enum Proved {
    /// The proof file, as JSON.
    Proof(String),
    /// Why proving failed.
    Failed(String),
}

/// Runs `prove` (a pipeline prover writing its proof file to the path it is given) into a
/// private temporary file (0600: `prove` replaces it atomically with another one). Passes the
/// `after-prove` crash point.
pub(super) fn proof_text(
    prove: impl FnOnce(&Path) -> pipeline::Result<pipeline::ProveReport>,
) -> Result<Proved> {
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| Error::Source(format!("temporary proof file: {e}")))?;
    match tokio::task::block_in_place(|| prove(tmp.path())) {
        Ok(r) => {
            crash_point("after-prove");
            let text = serde_json::to_string(&r.proof)
                .map_err(|e| Error::Source(format!("proof: {e}")))?;
            Ok(Proved::Proof(text))
        }
        Err(e) => Ok(Proved::Failed(e.to_string())),
    }
}

/// Submissions of one input that may run out of gas before it fails.
pub const MAX_GAS_RETRIES: i64 = 3;

/// The gas limit of a submission: the estimate plus 20%, plus half again per out-of-gas retry.
pub fn gas_limit(estimate: u64, retries: i64) -> u64 {
    (0..retries).fold(estimate.saturating_add(estimate / 5), |g, _| {
        g.saturating_add(g / 2)
    })
}

impl Oracle<'_> {
    pub(super) async fn prove(&mut self, row: &Row) -> Result<()> {
        if row.attempts >= self.cfg.max_attempts {
            let reason = format!(
                "gave up after {} proofs went stale (another submitter with this key?)",
                row.attempts
            );
            return Ok(self.journal.set_failed(&row.id, &reason)?);
        }
        let input = match input::parse(&row.input, self.salts) {
            Ok(i) => i,
            Err(reason) => return Ok(self.journal.set_failed(&row.id, &reason)?),
        };
        let predicate_params = match self.cfg.build.predicate_params(&input.params) {
            Ok(p) => p,
            Err(e) => return Ok(self.journal.set_failed(&row.id, &e.to_string())?),
        };
        let binding = self.next_binding().await?;
        let nonce = binding.nonce;
        let secrets = Secrets {
            input_salt: input.salt,
            output_salt: input.output_salt,
            predicate_params,
            binding: Some(binding),
        };
        tracing::info!("zkinfer oracle: proving {} (nonce {nonce})", row.id);
        let build = &self.cfg.build;
        match proof_text(|path| pipeline::prove(build, &input.data, &secrets, path, &Quiet))? {
            Proved::Proof(text) => self.journal.set_proved(&row.id, &text, nonce)?,
            Proved::Failed(reason) => self.journal.set_failed(&row.id, &reason)?,
        }
        Ok(())
    }

    /// The registry's binding for this submitter's next proof.
    pub(super) async fn next_binding(&self) -> Result<crate::visibility::binding::Binding> {
        let chain = self.chain;
        let (registry, model, submitter) = (self.cfg.registry, self.cfg.model, self.submitter);
        retry_plain("reading the registry nonce", || {
            chain.registry(registry).next_binding(model, submitter)
        })
        .await
    }

    /// The calldata and statement of a journaled proof.
    fn calldata(&self, row: &Row) -> std::result::Result<(Vec<u8>, [u8; 32]), String> {
        let pf: ProofFile = serde_json::from_str(row.proof.as_deref().unwrap_or(""))
            .map_err(|e| format!("journaled proof unreadable: {e}"))?;
        let (words, proof) = pipeline::verify_calldata(&pf);
        Ok((
            crate::chain::registry::submit_calldata(self.cfg.model, &words, &proof),
            crate::chain::registry::statement(self.cfg.model, &words),
        ))
    }

    /// Whether the row's proof is bound to another worker's account (it took the row over).
    fn foreign(&self, row: &Row) -> bool {
        row.submitter
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&format!("{:#x}", self.submitter)))
    }

    pub(super) async fn send(&mut self, row: &Row) -> Result<()> {
        if self.foreign(row) {
            // Its proof is bound to the account of the worker that proved it: only that
            // account can submit it. Prove it again for this one.
            tracing::info!(
                "zkinfer oracle: {}: taken over from another worker's account; proving again",
                label(row)
            );
            return Ok(self.journal.take_over(row.unit())?);
        }
        let chain = self.chain;
        let (registry, model, submitter) = (self.cfg.registry, self.cfg.model, self.submitter);
        let nonce = retry_plain("reading the registry nonce", || {
            chain.registry(registry).next_nonce(model, submitter)
        })
        .await?;
        if Some(nonce as i64) != row.binding_nonce {
            tracing::info!(
                "zkinfer oracle: {}: registry nonce moved to {nonce}; proving again",
                label(row)
            );
            return Ok(self.journal.reprove(row.unit())?);
        }
        let data = match self.calldata(row) {
            Ok((d, _)) => d,
            Err(reason) => return Ok(self.journal.set_failed(row.unit(), &reason)?),
        };
        let estimate = match retry("estimating gas", || {
            chain.registry(registry).estimate_submit(&data)
        })
        .await?
        {
            Called::Done(g) => g,
            Called::Reverted(e) => return self.rejected(row, &e),
        };
        let gas = low_gas(estimate).unwrap_or_else(|| gas_limit(estimate, row.gas_retries));
        let account_nonce =
            retry_plain("reading the account nonce", || chain.account_nonce()).await?;
        let (hash, raw) = retry_plain("signing", || {
            chain
                .registry(registry)
                .sign_submit(&data, gas, account_nonce)
        })
        .await?;
        crash_point("before-journal-write");
        let hash_hex = format!("0x{}", hex::encode(hash));
        self.journal
            .set_sent(row.unit(), &hash_hex, &raw, account_nonce, gas)?;
        tracing::info!(
            "zkinfer oracle: {}: sent {hash_hex} (account nonce {account_nonce}, gas limit {gas})",
            label(row)
        );
        retry_plain("broadcasting", || chain.broadcast(&raw)).await?;
        crash_point("after-send");
        Ok(())
    }

    /// A revert: a stale binding means prove again, anything else fails the input.
    fn rejected(&mut self, row: &Row, e: &CallError) -> Result<()> {
        match e.revert_name() {
            Some("BindingMismatch") => Ok(self.journal.reprove(row.unit())?),
            _ => Ok(self
                .journal
                .set_failed(row.unit(), &format!("registry rejected it: {e}"))?),
        }
    }

    /// A transaction reverted on-chain: replay it to tell a refusal from running out of gas.
    async fn reverted(&mut self, row: &Row, block: u64, gas_used: u64) -> Result<()> {
        let data = match self.calldata(row) {
            Ok((d, _)) => d,
            Err(reason) => return Ok(self.journal.set_failed(row.unit(), &reason)?),
        };
        let chain = self.chain;
        let registry = self.cfg.registry;
        let replay = retry("replaying a reverted submission", || {
            chain.registry(registry).estimate_submit(&data)
        })
        .await?;
        let estimate = match replay {
            Called::Done(g) => g,
            Called::Reverted(e) => return self.rejected(row, &e),
        };
        let hash = row.tx_hash.as_deref().unwrap_or("?");
        let limit = row.gas_limit.unwrap_or_default();
        let what = format!(
            "transaction {hash} reverted in block {block} with gas limit {limit} (used \
             {gas_used}), but the same call passes when replayed (estimate {estimate})"
        );
        if row.gas_retries >= MAX_GAS_RETRIES {
            let reason =
                format!("{what}; gave up after {MAX_GAS_RETRIES} retries with higher gas limits");
            return Ok(self.journal.set_failed(row.unit(), &reason)?);
        }
        tracing::warn!(
            "zkinfer oracle: {}: {what}: out of gas, not a refusal; sending it again with a \
             higher limit (retry {} of {MAX_GAS_RETRIES})",
            label(row),
            row.gas_retries + 1
        );
        Ok(self.journal.retry_gas(row.unit())?)
    }

    /// Waits for the receipt of a sent row (re-broadcasting a lost transaction).
    pub(super) async fn settle(&mut self, row: &Row) -> Result<()> {
        let chain = self.chain;
        let hash_hex = row.tx_hash.clone().unwrap_or_default();
        let hash: [u8; 32] = crate::files::decode_hex(&hash_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Chain(format!("journal: bad tx hash {hash_hex}")))?;
        let mut rebroadcast = true;
        for _ in 0..120 {
            let wait = || chain.wait_receipt(hash, Duration::from_secs(1));
            match retry_plain("waiting for the receipt", wait).await? {
                Some((true, block, gas)) => {
                    crash_point("after-receipt");
                    self.journal.set_submitted(row.unit(), block, gas)?;
                    return Ok(());
                }
                Some((false, block, gas)) => return self.reverted(row, block, gas).await,
                None => {
                    if self.lost(row, hash, &mut rebroadcast).await? {
                        return Ok(());
                    }
                }
            }
        }
        Err(Error::NoReceipt(format!(
            "{}: no receipt for {hash_hex} after 120 s; run again to keep waiting",
            label(row)
        )))
    }

    /// No receipt yet: if the node does not know the transaction, settle the row from the
    /// registry's record, sign again (its account nonce was used), or broadcast it again (once
    /// per settle). True when the row moved.
    async fn lost(&mut self, row: &Row, hash: [u8; 32], rebroadcast: &mut bool) -> Result<bool> {
        let chain = self.chain;
        let hash_hex = row.tx_hash.clone().unwrap_or_default();
        if retry_plain("looking up the transaction", || chain.tx_known(hash)).await? {
            return Ok(false);
        }
        // The account that signed it (another worker's, after a takeover), and its nonce,
        // read *before* the registry: a transaction mined after this read shows in the
        // registry's record below, and one mined after that shows in the second lookup, so
        // a transaction that landed is never taken for a replaced one.
        let signer = match row
            .submitter
            .as_deref()
            .map(str::parse::<crate::chain::Address>)
        {
            Some(Ok(a)) => a,
            _ => self.submitter,
        };
        let account = retry_plain("reading the account nonce", || chain.nonce_of(signer)).await?;
        // The node may have lost the transaction's history (a restart) while keeping its
        // effect: ask the registry whether the statement landed.
        let statement = match self.calldata(row) {
            Ok((_, s)) => s,
            Err(reason) => {
                self.journal.set_failed(row.unit(), &reason)?;
                return Ok(true);
            }
        };
        let registry = self.cfg.registry;
        if let Some((stored, block)) = retry_plain("looking up the statement", || {
            chain.registry(registry).find_statement(statement)
        })
        .await?
        {
            tracing::warn!("zkinfer oracle: {}: no receipt for {hash_hex}, but the registry accepted its proof in block {block} ({stored} stored)", label(row));
            crash_point("after-receipt");
            self.journal.set_submitted(row.unit(), block, 0)?;
            return Ok(true);
        }
        if Some(account as i64) > row.account_nonce {
            if retry_plain("looking up the transaction", || chain.tx_known(hash)).await? {
                // It arrived (or was mined) meanwhile: wait for its receipt.
                return Ok(false);
            }
            // Its account nonce was used by another transaction: sign again.
            tracing::info!(
                "zkinfer oracle: {}: {hash_hex} was replaced; signing again",
                label(row)
            );
            self.journal.unsend(row.unit())?;
            return Ok(true);
        }
        if std::mem::take(rebroadcast) {
            tracing::info!(
                "zkinfer oracle: {}: {hash_hex} is unknown to the node; broadcasting it again",
                label(row)
            );
            let raw = row.raw_tx.clone().unwrap_or_default();
            retry_plain("broadcasting", || chain.broadcast(&raw)).await?;
        }
        Ok(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gas_limits_rise_by_half_per_retry() {
        assert_eq!(gas_limit(1000, 0), 1200);
        assert_eq!(gas_limit(1000, 1), 1800);
        assert_eq!(gas_limit(1000, 2), 2700);
        assert_eq!(gas_limit(u64::MAX, 3), u64::MAX);
    }

    /// `prove` writes its proof file with `artifacts::write_json_atomic`: a private temporary
    /// file renamed over the target, so the result is 0600 whether the target existed or not.
    #[cfg(unix)]
    #[test]
    fn proof_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.json");
        let existing = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        std::fs::set_permissions(existing.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        for p in [fresh.as_path(), existing.path()] {
            crate::files::write_json_atomic(p, &serde_json::json!({"proof": "0x00"})).unwrap();
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
}
