//! Batches in the journal: forming one (its members fixed once proven) and finding the open
//! ones. The steps after proving are the journal's usual transitions on a [`Unit::Batch`].

use super::db::Value;
use super::{Journal, Result, Row, COLUMNS};

impl Journal {
    /// `pending` -> `proved` for a batch's members, in one transaction: the batch (`batch`, or
    /// a new number) is fixed from here on; a stale binding proves the same members again,
    /// never another set. Every member must be claimed by this worker. Returns the batch
    /// number.
    pub fn set_batch_proved(
        &self,
        ids: &[String],
        batch: Option<i64>,
        proof: &str,
        binding_nonce: u64,
    ) -> Result<i64> {
        let me = Value::from(self.worker.as_str());
        let submitter = Value::from(self.submitter.clone());
        let r = self.with(|db| {
            db.transaction(|db| {
                let b = match batch {
                    Some(b) => b,
                    None => db
                        .row(
                            "INSERT INTO batches (formed_by) VALUES (?1) RETURNING id",
                            std::slice::from_ref(&me),
                        )?
                        .and_then(|r| r[0].int())
                        .ok_or("no batch number")?,
                };
                for id in ids {
                    let n = db.exec(
                        "UPDATE inputs SET state = 'proved', proof = ?2, binding_nonce = ?3,
                         attempts = attempts + 1, batch = ?4, submitter = ?7, updated_at = {now}
                         WHERE id = ?1 AND state = 'pending' AND batch IS NOT DISTINCT FROM ?5
                         AND claimed_by = ?6",
                        &[
                            id.into(),
                            proof.into(),
                            (binding_nonce as i64).into(),
                            b.into(),
                            batch.into(),
                            me.clone(),
                            submitter.clone(),
                        ],
                    )?;
                    if n != 1 {
                        return Err(format!(
                            "{id}: not a pending input of batch {b} claimed by this worker"
                        ));
                    }
                }
                let left = db
                    .row(
                        "SELECT COUNT(*) FROM inputs WHERE batch = ?1 AND state = 'pending'",
                        &[b.into()],
                    )?
                    .and_then(|r| r[0].int())
                    .unwrap_or(0);
                if left != 0 {
                    return Err(format!(
                        "batch {b}: {left} member(s) left out; a batch is proven whole"
                    ));
                }
                Ok(b)
            })
        });
        r.map_err(|mut e| {
            e.lost_claim = e.reason.contains("claimed by this worker");
            e
        })
    }

    /// Batches with open members, oldest first.
    pub fn open_batches(&self) -> Result<Vec<i64>> {
        self.with(|db| {
            Ok(db
                .rows(
                    "SELECT batch FROM inputs WHERE batch IS NOT NULL
                     AND state IN ('pending', 'proved', 'sent') GROUP BY batch ORDER BY MIN(seq)",
                    &[],
                )?
                .iter()
                .filter_map(|r| r[0].int())
                .collect())
        })
    }

    /// A batch's members, in arrival order.
    pub fn batch_rows(&self, batch: i64) -> Result<Vec<Row>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM inputs WHERE batch = ?1 ORDER BY seq"),
            &[batch.into()],
        )
    }

    /// Pending inputs in no batch yet, in arrival order, and how many seconds the oldest has
    /// waited.
    pub fn unbatched(&self) -> Result<(Vec<Row>, i64)> {
        let rows = self.query(
            &format!(
                "SELECT {COLUMNS} FROM inputs WHERE state = 'pending' AND batch IS NULL ORDER BY seq"
            ),
            &[],
        )?;
        let waited = self.with(|db| {
            Ok(db
                .row(
                    "SELECT {now} - MIN(updated_at) FROM inputs WHERE state = 'pending' AND batch IS NULL",
                    &[],
                )?
                .and_then(|r| r[0].int()))
        })?;
        Ok((rows, waited.unwrap_or(0)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{Intake, State, Unit};
    use super::*;

    fn take(id: &str, input: &str) -> Intake {
        Intake::Take {
            id: id.into(),
            input: input.into(),
        }
    }

    #[test]
    fn a_batch_is_fixed_once_proved_and_moves_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite"), "s").unwrap();
        let takes: Vec<Intake> = ["a", "b", "c", "d"].iter().map(|i| take(i, i)).collect();
        j.record("file", 4, &takes, None).unwrap();
        let (pending, _) = j.unbatched().unwrap();
        assert_eq!(pending.len(), 4);
        assert!(
            j.claim_pending(5, false, 60.0).unwrap().is_empty(),
            "4 of 5 and none waited long: the batch fills first"
        );
        assert_eq!(j.claim_pending(4, false, 60.0).unwrap().len(), 4);
        assert!(
            j.claim_pending(4, true, 0.0).unwrap().is_empty(),
            "all claimed"
        );
        // "b" fails alone before the batch is formed; a, c form batch 1.
        j.set_failed("b", "wrong length").unwrap();
        let ids = vec!["a".to_string(), "c".to_string()];
        let b = j.set_batch_proved(&ids, None, "{proof}", 0).unwrap();
        assert_eq!(b, 1);
        assert_eq!(j.open_batches().unwrap(), vec![1]);
        let (pending, _) = j.unbatched().unwrap();
        assert_eq!(
            pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        assert!(
            j.set_batch_proved(&["d".to_string()], Some(1), "{p}", 0)
                .is_err(),
            "a proved batch takes no new member"
        );
        let row = j.get("a").unwrap().unwrap();
        assert_eq!(row.unit(), Unit::Batch(1));
        j.set_sent(row.unit(), "0x1", b"raw", 0, 100).unwrap();
        // A stale binding: back to pending, still batch 1, proven again with the same members.
        j.reprove(Unit::Batch(1)).unwrap();
        let rows = j.batch_rows(1).unwrap();
        assert!(rows
            .iter()
            .all(|r| r.state == State::Pending && r.batch == Some(1)));
        assert!(j.unbatched().unwrap().0.iter().all(|r| r.id == "d"));
        assert!(
            j.set_batch_proved(&["a".to_string(), "d".to_string()], Some(1), "{p}", 1)
                .is_err(),
            "another set of members is refused"
        );
        assert!(
            j.set_batch_proved(&["a".to_string()], Some(1), "{p}", 1)
                .is_err(),
            "so is a part of it"
        );
        j.set_batch_proved(&ids, Some(1), "{p2}", 1).unwrap();
        j.set_sent(Unit::Batch(1), "0x2", b"raw2", 1, 100).unwrap();
        j.set_submitted(Unit::Batch(1), 9, 500).unwrap();
        let rows = j.batch_rows(1).unwrap();
        assert_eq!(rows.len(), 2);
        for r in rows {
            assert_eq!(
                (r.state, r.block, r.attempts),
                (State::Submitted, Some(9), 2)
            );
        }
        assert!(j.open_batches().unwrap().is_empty());
        assert!(
            j.set_failed(Unit::Batch(1), "late").is_err(),
            "submitted stays submitted"
        );
    }
}
