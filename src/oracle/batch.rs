//! Batch mode: on a batch build, the oracle proves up to `batch_size` pending inputs in one
//! proof and submits them in one transaction (`submitBatch`).
//!
//! A batch is formed when `batch_size` inputs are pending, when the oldest has waited
//! `max_wait`, or at once when the run drains its source (`--once`, stdin). Each input is first
//! checked alone (its JSON, salts, shape and range, predicate parameters and the predicate
//! itself, as `prove` would): a bad one fails with its reason and never sinks the others. An
//! input whose salt or data is already in the batch being formed waits for the next one (the
//! registry refuses a batch that states one commitment twice). Once proven, the batch's
//! members are fixed in the journal (see [`super::journal::Journal::set_batch_proved`]) and
//! move together through the same steps as a single input: send, settle, and on a stale
//! binding, proving the same members again.
//!
//! With many workers, a batch is formed from inputs the worker claims
//! ([`super::journal::Journal::claim_pending`], under the same rule: N free, or the oldest
//! waited, so idle workers do not shrink batches), and a formed batch is claimed whole; a
//! worker that takes a batch over from a dead one finishes that batch, never re-forms it.

use std::collections::HashSet;

use super::journal::{Row, State, Unit};
use super::submit::{proof_text, Proved};
use super::{input, Oracle, Result};
use crate::circuit::Secrets;
use crate::field::Fr;
use crate::pipeline::{self, Quiet, Sample};

impl Oracle<'_> {
    /// Batch mode's [`Oracle::process_open`]: finishes the batches already formed, then forms
    /// and drives new ones while the rule above allows.
    pub(super) async fn process_batches(&mut self) -> Result<()> {
        while let Some(row) = self.journal.claim_next(true)? {
            let b = row.batch.unwrap_or_default();
            let r = self.drive_batch(b).await;
            if self.let_go(r, Unit::Batch(b))? {
                return Ok(());
            }
        }
        let drain = self.drains();
        loop {
            let pending = self.journal.claim_pending(
                self.batch_size,
                drain,
                self.cfg.max_wait.as_secs_f64(),
            )?;
            if pending.is_empty() {
                return Ok(());
            }
            let first = pending[0].id.clone();
            let r = self.form_batch(pending).await;
            // A formed batch's unit is its number, which `form_batch` journaled: release
            // whatever this worker still holds of it.
            let unit = match self.journal.get(&first)?.and_then(|r| r.batch) {
                Some(b) => Unit::Batch(b),
                None => Unit::Input(&first),
            };
            if self.let_go(r, unit)? {
                return Ok(());
            }
        }
    }

    /// Checks the claimed `pending` inputs, proves the good ones as one batch and drives it;
    /// a bad one fails alone, and one that repeats a member's commitment is let go for the
    /// next batch.
    async fn form_batch(&mut self, pending: Vec<Row>) -> Result<()> {
        {
            let mut members: Vec<(Row, Sample)> = vec![];
            let mut salts = HashSet::new();
            let mut data = HashSet::new();
            for row in pending {
                if members.len() == self.batch_size {
                    break;
                }
                let sample = match self.sample(&row) {
                    Ok(s) => s,
                    Err(reason) => {
                        tracing::warn!("zkinfer oracle: {}: fails alone: {reason}", row.id);
                        self.journal.set_failed(&row.id, &reason)?;
                        self.finish(&row.id)?;
                        continue;
                    }
                };
                let salt = sample.secrets.input_salt;
                let key = format!("{:?}", sample.inputs);
                if (salt != Fr::zero() && salts.contains(&salt)) || data.contains(&key) {
                    // Same commitment (or a reused salt) as a member: the next batch.
                    self.journal.release(&row.id)?;
                    continue;
                }
                salts.insert(salt);
                data.insert(key);
                members.push((row, sample));
            }
            if members.is_empty() {
                return Ok(());
            }
            let Some(b) = self.prove_members(&members, None).await? else {
                return Ok(());
            };
            self.drive_batch(b).await
        }
    }

    /// The sample of a pending row, checked as `prove` checks it; `Err` is the reason it fails
    /// (never a value).
    fn sample(&self, row: &Row) -> std::result::Result<Sample, String> {
        let input = input::parse(&row.input, self.salts)?;
        let predicate_params = self
            .cfg
            .build
            .predicate_params(&input.params)
            .map_err(|e| e.to_string())?;
        let sample = Sample {
            inputs: input.data,
            secrets: Secrets {
                input_salt: input.salt,
                output_salt: input.output_salt,
                predicate_params,
                binding: None,
            },
        };
        pipeline::check_sample(&self.cfg.build, &sample).map_err(|e| e.to_string())?;
        Ok(sample)
    }

    /// Proves `members` as one batch bound to the registry's next nonce and journals it
    /// (`batch`: the number of a formed batch proven again). `None` when the members failed
    /// instead (too many stale proofs, or a proving error, which names no input's value).
    async fn prove_members(
        &mut self,
        members: &[(Row, Sample)],
        batch: Option<i64>,
    ) -> Result<Option<i64>> {
        let fail = |o: &mut Self, reason: &str| -> Result<()> {
            match batch {
                Some(b) => o.journal.set_failed(Unit::Batch(b), reason)?,
                None => {
                    for (row, _) in members {
                        o.journal.set_failed(&row.id, reason)?;
                    }
                }
            }
            // A formed batch's members are reported by `drive_batch`.
            if batch.is_none() {
                for (row, _) in members {
                    o.finish(&row.id)?;
                }
            }
            Ok(())
        };
        let attempts = members.iter().map(|(r, _)| r.attempts).max().unwrap_or(0);
        if attempts >= self.cfg.max_attempts {
            let reason = format!(
                "gave up after {attempts} proofs went stale (another submitter with this key?)"
            );
            fail(self, &reason)?;
            return Ok(None);
        }
        let binding = self.next_binding().await?;
        let nonce = binding.nonce;
        let ids: Vec<String> = members.iter().map(|(r, _)| r.id.clone()).collect();
        tracing::info!(
            "zkinfer oracle: proving {} input(s) as one batch (nonce {nonce}): {}",
            ids.len(),
            ids.join(", ")
        );
        let samples: Vec<Sample> = members.iter().map(|(_, s)| s.clone()).collect();
        let build = &self.cfg.build;
        match proof_text(|path| {
            pipeline::prove_batch(build, &samples, Some(&binding), path, &Quiet)
        })? {
            Proved::Proof(text) => Ok(Some(
                self.journal.set_batch_proved(&ids, batch, &text, nonce)?,
            )),
            Proved::Failed(reason) => {
                fail(self, &reason)?;
                Ok(None)
            }
        }
    }

    /// Drives a formed batch to a final state; reports each member when it gets there.
    async fn drive_batch(&mut self, b: i64) -> Result<()> {
        loop {
            let rows = self.journal.batch_rows(b)?;
            let Some(row) = rows.iter().find(|r| r.state.is_open()).cloned() else {
                for r in &rows {
                    self.finish(&r.id)?;
                }
                return Ok(());
            };
            match row.state {
                State::Pending => {
                    // A stale binding: the same members, proven again.
                    let mut members = vec![];
                    for r in rows.iter().filter(|r| r.state == State::Pending) {
                        match self.sample(r) {
                            Ok(s) => members.push((r.clone(), s)),
                            Err(reason) => {
                                let reason = format!("batch {b} member {}: {reason}", r.id);
                                self.journal.set_failed(Unit::Batch(b), &reason)?;
                                members.clear();
                                break;
                            }
                        }
                    }
                    if !members.is_empty() {
                        self.prove_members(&members, Some(b)).await?;
                    }
                }
                State::Proved => self.send(&row).await?,
                _ => self.settle(&row).await?,
            }
        }
    }
}
