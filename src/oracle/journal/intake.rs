//! Intake: recording what arrives, in one transaction with the source's cursor, and the
//! deduplication rule for requests.

use super::db::{Db, Value};
use super::{file, Journal, Result};

/// What intake decided about one input.
#[derive(Clone, Debug, PartialEq)]
pub enum Intake {
    /// Take it: a `pending` row (unless its id is known, or a duplicate under the dedup rule).
    Take {
        /// The input's id.
        id: String,
        /// The input as received.
        input: String,
    },
    /// Refused as it arrived: a `failed` row with the reason.
    Fail {
        /// The input's id.
        id: String,
        /// What was received (kept for the record).
        input: String,
        /// Why.
        reason: String,
    },
    /// Not served (not an input): recorded in `skipped`.
    Skip {
        /// The request's id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// A request recorded as not served.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    /// The request's id.
    pub id: String,
    /// Why it was not served.
    pub reason: String,
    /// The earlier input that serves it (a duplicate), if any.
    pub served_by: Option<String>,
}

/// What [`Journal::record`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// Ids of new rows (`pending` or `failed`), in order.
    pub new: Vec<String>,
    /// Newly skipped requests, in order.
    pub skipped: Vec<Skipped>,
}

/// Why a duplicate is not served, or `None` to serve it (see [`Journal::record`]).
fn duplicate_of(db: &mut Db, input: &str, min_interval: i64) -> Result<Option<Skipped>, String> {
    // The latest input with the same content.
    let Some(r) = db.row(
        "SELECT id, state, {now} - updated_at FROM inputs
         WHERE input_key = ?1 ORDER BY seq DESC LIMIT 1",
        &[file::input_key(input).into()],
    )?
    else {
        return Ok(None);
    };
    let earlier = r[0].text().unwrap_or_default();
    let state = r[1].text().unwrap_or_default();
    let age = r[2].int().unwrap_or(0).max(0);
    let reason = match state.as_str() {
        "pending" | "proved" | "sent" => {
            format!("same input as {earlier}, which is being served")
        }
        _ if age < min_interval => format!(
            "same input as {earlier}, {state} {age} s ago (served again only {min_interval} s \
             after, --min-interval)"
        ),
        _ => return Ok(None),
    };
    Ok(Some(Skipped {
        id: String::new(),
        reason,
        served_by: Some(earlier),
    }))
}

/// Records a skipped request; false when its id was already known.
fn skip(db: &mut Db, s: &Skipped) -> Result<bool, String> {
    let n = db.exec(
        "INSERT INTO skipped (id, reason, served_by) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
        &[s.id.as_str().into(), s.reason.as_str().into(), s.served_by.clone().into()],
    )?;
    Ok(n == 1)
}

impl Journal {
    /// Records what intake decided and moves the source's cursor, in one transaction.
    /// Ids already recorded are ignored. With `dedup = Some(min_interval)`, an input whose
    /// content equals an earlier input's is skipped (served by it) while that one is open, or
    /// within `min_interval` seconds after it settled (submitted or failed).
    pub fn record(
        &mut self,
        source: &str,
        position: i64,
        items: &[Intake],
        dedup: Option<i64>,
    ) -> Result<Recorded> {
        self.with(|db| db.transaction(|db| record(db, source, position, items, dedup)))
    }

    /// Every skipped request, in the order they were skipped.
    pub fn skipped(&self) -> Result<Vec<Skipped>> {
        self.with(|db| {
            Ok(db
                .rows(
                    "SELECT id, reason, served_by FROM skipped ORDER BY rowid",
                    &[],
                )?
                .iter()
                .map(|r| Skipped {
                    id: r[0].text().unwrap_or_default(),
                    reason: r[1].text().unwrap_or_default(),
                    served_by: r[2].text(),
                })
                .collect())
        })
    }
}

fn record(
    db: &mut Db,
    source: &str,
    position: i64,
    items: &[Intake],
    dedup: Option<i64>,
) -> Result<Recorded, String> {
    let mut out = Recorded::default();
    for item in items {
        let (id, input, state, reason) = match item {
            Intake::Skip { id, reason } => {
                let s = Skipped {
                    id: id.clone(),
                    reason: reason.clone(),
                    served_by: None,
                };
                if skip(db, &s)? {
                    out.skipped.push(s);
                }
                continue;
            }
            Intake::Take { id, input } => (id, input, "pending", None),
            Intake::Fail { id, input, reason } => (id, input, "failed", Some(reason)),
        };
        let known = db
            .row(
                "SELECT COUNT(*) FROM inputs WHERE id = ?1",
                std::slice::from_ref(&Value::from(id)),
            )?
            .and_then(|r| r[0].int())
            .unwrap_or(0)
            + db.row(
                "SELECT COUNT(*) FROM skipped WHERE id = ?1",
                std::slice::from_ref(&Value::from(id)),
            )?
            .and_then(|r| r[0].int())
            .unwrap_or(0);
        if known > 0 {
            continue;
        }
        if let (Some(min), "pending") = (dedup, state) {
            if let Some(mut s) = duplicate_of(db, input, min)? {
                s.id = id.clone();
                skip(db, &s)?;
                out.skipped.push(s);
                continue;
            }
        }
        let n = db.exec(
            "INSERT INTO inputs (id, input, state, reason, input_key) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
            &[
                id.into(),
                input.into(),
                state.into(),
                reason.cloned().into(),
                file::input_key(input).into(),
            ],
        )?;
        if n == 1 {
            out.new.push(id.clone());
        }
    }
    db.exec(
        "INSERT INTO cursors (source, position) VALUES (?1, ?2)
         ON CONFLICT (source) DO UPDATE SET position = excluded.position",
        &[source.into(), position.into()],
    )?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn take(id: &str, input: &str) -> Intake {
        Intake::Take {
            id: id.into(),
            input: input.into(),
        }
    }

    #[test]
    fn duplicates_are_skipped_while_open_and_within_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite"), "s").unwrap();
        let r = j
            .record(
                "events",
                5,
                &[take("r0", "same"), take("r1", "same"), take("r2", "other")],
                Some(3600),
            )
            .unwrap();
        assert_eq!(r.new, vec!["r0".to_string(), "r2".to_string()]);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].id, "r1");
        assert_eq!(r.skipped[0].served_by.as_deref(), Some("r0"));
        assert!(r.skipped[0].reason.contains("being served"));
        // Settled: still a duplicate within the interval, not with a zero interval.
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "r0");
        j.set_failed("r0", "x").unwrap();
        let r = j
            .record("events", 6, &[take("r3", "same")], Some(3600))
            .unwrap();
        assert!(r.skipped[0].reason.contains("--min-interval"), "{r:?}");
        let r = j
            .record("events", 7, &[take("r4", "same")], Some(0))
            .unwrap();
        assert_eq!(r.new, vec!["r4".to_string()]);
        // Without dedup (files, stdin), the same content under another id is taken.
        let r = j.record("file", 1, &[take("f", "same")], None).unwrap();
        assert_eq!(r.new, vec!["f".to_string()]);
        // A skipped id is not recorded twice.
        let r = j
            .record("events", 8, &[take("r1", "same")], Some(3600))
            .unwrap();
        assert_eq!(r, Recorded::default());
        assert_eq!(j.skipped().unwrap().len(), 2);
    }
}
