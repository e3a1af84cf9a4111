//! Batches in the journal: forming one (its members fixed once proven) and finding the open
//! ones. The steps after proving are the journal's usual transitions on a [`Unit::Batch`].

use rusqlite::params;

use super::{row, Journal, Result, Row, COLUMNS};

impl Journal {
    /// `pending` -> `proved` for a batch's members, in one transaction: the batch (`batch`, or
    /// a new number) is fixed from here on; a stale binding proves the same members again,
    /// never another set. Returns the batch number.
    pub fn set_batch_proved(
        &self,
        ids: &[String],
        batch: Option<i64>,
        proof: &str,
        binding_nonce: u64,
    ) -> Result<i64> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let b = match batch {
            Some(b) => b,
            None => tx
                .query_row("SELECT COALESCE(MAX(batch), 0) + 1 FROM inputs", [], |r| {
                    r.get(0)
                })
                .map_err(|e| self.err(e))?,
        };
        for id in ids {
            let n = tx
                .execute(
                    "UPDATE inputs SET state = 'proved', proof = ?2, binding_nonce = ?3,
                     attempts = attempts + 1, batch = ?4, updated_at = strftime('%s', 'now')
                     WHERE id = ?1 AND state = 'pending' AND batch IS ?5",
                    params![id, proof, binding_nonce as i64, b, batch],
                )
                .map_err(|e| self.err(e))?;
            if n != 1 {
                return Err(self.err(format!("{id}: not a pending input of batch {b}")));
            }
        }
        let left: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM inputs WHERE batch = ?1 AND state = 'pending'",
                [b],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if left != 0 {
            return Err(self.err(format!(
                "batch {b}: {left} member(s) left out; a batch is proven whole"
            )));
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(b)
    }

    /// Batches with open members, oldest first.
    pub fn open_batches(&self) -> Result<Vec<i64>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT batch FROM inputs WHERE batch IS NOT NULL
                 AND state IN ('pending', 'proved', 'sent') GROUP BY batch ORDER BY MIN(seq)",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(|e| self.err(e));
        rows
    }

    /// A batch's members, in arrival order.
    pub fn batch_rows(&self, batch: i64) -> Result<Vec<Row>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM inputs WHERE batch = ?1 ORDER BY seq"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([batch], row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    /// Pending inputs in no batch yet, in arrival order, and how many seconds the oldest has
    /// waited.
    pub fn unbatched(&self) -> Result<(Vec<Row>, i64)> {
        let rows = self.query(&format!(
            "SELECT {COLUMNS} FROM inputs WHERE state = 'pending' AND batch IS NULL ORDER BY seq"
        ))?;
        let waited: Option<i64> = self
            .conn
            .query_row(
                "SELECT CAST(strftime('%s', 'now') AS INTEGER) - MIN(updated_at) FROM inputs
                 WHERE state = 'pending' AND batch IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
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
