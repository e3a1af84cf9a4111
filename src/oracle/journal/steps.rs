//! The state machine's steps (see the module doc of [`super`]): each one statement over a unit
//! this worker has claimed, so that a worker whose claim ran out changes nothing.

use super::db::Value;
use super::{Journal, Result, Unit, OPEN};

impl Journal {
    /// Runs `sql` (`WHERE {unit} AND ...`; `?1` the unit's key, `?2` this worker) on one unit
    /// this worker has claimed: exactly one row for an input, at least one for a batch.
    /// `rest` binds `?3` on. A final state's count goes to the worker's throughput.
    fn exec_unit(&self, unit: Unit<'_>, sql: &str, rest: &[Value]) -> Result<u64> {
        let (cond, key) = unit.select();
        let sql = sql.replace("{unit}", &format!("{cond} AND claimed_by = ?2"));
        let mut p = vec![key.clone(), self.worker.as_str().into()];
        p.extend_from_slice(rest);
        let n = self.with(|db| db.exec(&sql, &p))?;
        if n == 0 || matches!(unit, Unit::Input(_)) && n != 1 {
            let held = self.with(|db| {
                db.row(
                    &format!("SELECT COUNT(*) FROM inputs WHERE {cond} AND claimed_by = ?2"),
                    &[key.clone(), self.worker.as_str().into()],
                )
            })?;
            if held.and_then(|r| r[0].int()).unwrap_or(0) == 0 {
                let what = match unit {
                    Unit::Input(id) => id.to_string(),
                    Unit::Batch(b) => format!("batch {b}"),
                };
                let mut e = self.err(format!(
                    "{what}: this worker ({}) no longer holds its claim (its lease ran out; \
                     another worker has it)",
                    self.worker
                ));
                e.lost_claim = true;
                return Err(e);
            }
            return Err(match unit {
                Unit::Input(_) => self.err(format!("expected to update one row, updated {n}")),
                Unit::Batch(b) => self.err(format!(
                    "batch {b}: no member in the state this step expects"
                )),
            });
        }
        Ok(n)
    }

    /// `pending` -> `proved`.
    pub fn set_proved(&self, id: &str, proof: &str, binding_nonce: u64) -> Result<()> {
        self.exec_unit(
            Unit::Input(id),
            "UPDATE inputs SET state = 'proved', proof = ?3, binding_nonce = ?4, submitter = ?5,
             attempts = attempts + 1, updated_at = {now} WHERE {unit} AND state = 'pending'",
            &[
                proof.into(),
                (binding_nonce as i64).into(),
                self.submitter.clone().into(),
            ],
        )
        .map(drop)
    }

    /// `proved` -> `sent`, before the transaction is broadcast.
    pub fn set_sent<'u>(
        &self,
        unit: impl Into<Unit<'u>>,
        tx_hash: &str,
        raw: &[u8],
        account_nonce: u64,
        gas_limit: u64,
    ) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'sent', tx_hash = ?3, raw_tx = ?4, account_nonce = ?5,
             gas_limit = ?6, updated_at = {now} WHERE {unit} AND state = 'proved'",
            &[
                tx_hash.into(),
                raw.into(),
                (account_nonce as i64).into(),
                (gas_limit as i64).into(),
            ],
        )
        .map(drop)
    }

    /// `sent` -> `submitted`; releases the claim.
    pub fn set_submitted<'u>(
        &self,
        unit: impl Into<Unit<'u>>,
        block: u64,
        gas_used: u64,
    ) -> Result<()> {
        let n = self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'submitted', block = ?3, gas_used = ?4,
             claimed_by = NULL, lease_until = NULL, updated_at = {now}
             WHERE {unit} AND state = 'sent'",
            &[(block as i64).into(), (gas_used as i64).into()],
        )?;
        self.count_settled(n)
    }

    /// Back to `proved` (the signed transaction was lost: sign again).
    pub fn unsend<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'proved', tx_hash = NULL, raw_tx = NULL, account_nonce = NULL,
             updated_at = {now} WHERE {unit} AND state = 'sent'",
            &[],
        )
        .map(drop)
    }

    /// Back to `proved` with one more gas retry (the transaction ran out of gas: the proof is
    /// still good, sign again with a higher limit).
    pub fn retry_gas<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'proved', tx_hash = NULL, raw_tx = NULL, account_nonce = NULL,
             gas_retries = gas_retries + 1, updated_at = {now}
             WHERE {unit} AND state = 'sent'",
            &[],
        )
        .map(drop)
    }

    /// Back to `pending` (the proof's binding is stale, or bound to another worker's account:
    /// prove again). A batch keeps its members.
    pub fn reprove<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'pending', proof = NULL, binding_nonce = NULL, tx_hash = NULL,
             raw_tx = NULL, account_nonce = NULL, submitter = NULL, updated_at = {now}
             WHERE {unit} AND state IN ('proved', 'sent')",
            &[],
        )
        .map(drop)
    }

    /// Back to `pending` because this worker took the unit over from another whose proof is
    /// bound to that worker's account: like [`Journal::reprove`], but the proof did not go
    /// stale, so it does not count against the proving attempts.
    pub fn take_over<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'pending', proof = NULL, binding_nonce = NULL, tx_hash = NULL,
             raw_tx = NULL, account_nonce = NULL, submitter = NULL,
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = {now}
             WHERE {unit} AND state IN ('proved', 'sent')",
            &[],
        )
        .map(drop)
    }

    /// Any open state -> `failed`; releases the claim.
    pub fn set_failed<'u>(&self, unit: impl Into<Unit<'u>>, reason: &str) -> Result<()> {
        let n = self.exec_unit(
            unit.into(),
            &format!(
                "UPDATE inputs SET state = 'failed', reason = ?3, claimed_by = NULL,
                 lease_until = NULL, updated_at = {{now}} WHERE {{unit}} AND state IN {OPEN}"
            ),
            &[reason.into()],
        )?;
        self.count_settled(n)
    }
}
