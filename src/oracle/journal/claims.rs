//! Workers and their claims.
//!
//! A worker is one `zkinfer oracle` process; [`Journal::register`] records it (host, account,
//! lease) in `workers`. Before it works on an open input, or on a formed batch (all its open
//! members at once), it claims it: `claimed_by` is its id and `lease_until` the database's
//! clock plus its lease. The claim is taken in one transaction that locks the rows it reads
//! and skips rows other transactions hold (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two
//! workers never claim the same unit, and a claim whose lease ran out is free to take. A
//! [`Heartbeat`] thread, on a connection of its own, renews the worker's leases and its
//! `heartbeat_at` every third of the lease while the worker proves; a worker that dies
//! (SIGKILL, machine gone) stops renewing, and another worker takes its units over when the
//! lease runs out. Final states release the claim; so does a worker that exits. A worker whose
//! main thread has run no journal statement for [`STALL`] (or 30 leases, if longer) is taken
//! for wedged: its heartbeat stops renewing, so its units pass to others.
//!
//! Forming a batch ([`Journal::claim_pending`]) claims up to N unbatched pending inputs, and
//! only when N are free to claim, or the oldest has waited `max_wait`, or the run drains its
//! source: idle workers do not split a filling batch into one-input proofs.
//!
//! Ingestion runs in one process at a time: [`Journal::try_ingest`] takes PostgreSQL's
//! session advisory lock, which the process keeps until it exits (the server releases it when
//! the connection drops, however the process died). A SQLite journal has one process anyway.

use std::sync::mpsc;
use std::time::Duration;

use super::db::{Db, Dialect, Value};
use super::{pg, Journal, Result, Row, OPEN};

/// How long a claim lasts unless renewed, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a worker may go without a journal statement (a proof in progress) before its
/// heartbeat stops renewing its leases, at least.
pub const STALL: Duration = Duration::from_secs(1800);

/// Unix seconds on this machine's clock.
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This machine's name, for worker ids and status.
pub fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect()
}

/// What one claiming transaction found.
enum Claim {
    /// Nothing free.
    None,
    /// Claimed: the unit's first row.
    Got(String),
    /// A batch with some members held by another transaction: try another.
    Busy(i64),
}

/// Claim-free: unclaimed, or its lease ran out.
const FREE: &str = "(claimed_by IS NULL OR lease_until < {now})";

impl Journal {
    /// Records this process as a worker submitting with `submitter` (an address), whose
    /// claims last `lease` unless renewed.
    pub fn register(&mut self, submitter: &str, lease: Duration) -> Result<()> {
        self.lease = lease.as_secs().max(1) as i64;
        self.submitter = Some(submitter.to_string());
        let p = [
            self.worker.as_str().into(),
            host().into(),
            submitter.into(),
            self.lease.into(),
        ];
        self.with(|db| {
            db.exec(
                "INSERT INTO workers (id, host, submitter, lease, started_at, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, {now}, {now})",
                &p,
            )
        })
        .map(drop)
    }

    /// Claims the oldest open unit no live worker holds: an input (`batched` false) or a
    /// formed batch's open members (`batched` true). Its first row, or `None`.
    pub fn claim_next(&self, batched: bool) -> Result<Option<Row>> {
        let filter = if batched {
            "batch IS NOT NULL"
        } else {
            "batch IS NULL"
        };
        let (me, lease) = (Value::from(self.worker.as_str()), Value::Int(self.lease));
        let mut busy: Vec<i64> = vec![];
        loop {
            let not_busy = match busy.is_empty() {
                true => String::new(),
                false => format!(
                    " AND batch NOT IN ({})",
                    busy.iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let got = self.with(|db| {
                db.transaction(|db| {
                    let Some(c) = db.row(
                        &format!(
                            "SELECT id, batch FROM inputs WHERE state IN {OPEN} AND {filter}{not_busy}
                             AND {FREE} ORDER BY seq LIMIT 1 {{skip_locked}}"
                        ),
                        &[],
                    )?
                    else {
                        return Ok(Claim::None);
                    };
                    let id = c[0].text().unwrap_or_default();
                    let Some(b) = c[1].int() else {
                        db.exec(
                            "UPDATE inputs SET claimed_by = ?1, lease_until = {now} + ?2 WHERE id = ?3",
                            &[me.clone(), lease.clone(), id.as_str().into()],
                        )?;
                        return Ok(Claim::Got(id));
                    };
                    let free = db
                        .rows(
                            &format!(
                                "SELECT id FROM inputs WHERE batch = ?1 AND state IN {OPEN} AND {FREE}
                                 {{skip_locked}}"
                            ),
                            &[b.into()],
                        )?
                        .len();
                    let open = db
                        .row(
                            &format!("SELECT COUNT(*) FROM inputs WHERE batch = ?1 AND state IN {OPEN}"),
                            &[b.into()],
                        )?
                        .and_then(|r| r[0].int())
                        .unwrap_or(0);
                    if free as i64 != open {
                        return Ok(Claim::Busy(b));
                    }
                    db.exec(
                        &format!(
                            "UPDATE inputs SET claimed_by = ?1, lease_until = {{now}} + ?2
                             WHERE batch = ?3 AND state IN {OPEN}"
                        ),
                        &[me.clone(), lease.clone(), b.into()],
                    )?;
                    Ok(Claim::Got(id))
                })
            })?;
            match got {
                Claim::None => return Ok(None),
                Claim::Busy(b) => busy.push(b),
                Claim::Got(id) => return self.get(&id),
            }
        }
    }

    /// Claims up to `n` pending inputs in no batch yet, oldest first, to form a batch: only
    /// when `n` are free to claim, or the oldest of them has waited `max_wait` seconds, or
    /// `drain` (the run proves what is there now). Empty otherwise.
    pub fn claim_pending(&self, n: usize, drain: bool, max_wait: f64) -> Result<Vec<Row>> {
        let (me, lease) = (Value::from(self.worker.as_str()), Value::Int(self.lease));
        let ids = self.with(|db| {
            db.transaction(|db| {
                // The decision is made on the rows this transaction locked, not on a count
                // taken before: inputs another worker is locking to form its own batch are
                // skipped here, and must not make this one form a short batch.
                let locked = db.rows(
                    &format!(
                        "SELECT id, {{now}} - updated_at FROM inputs
                         WHERE state = 'pending' AND batch IS NULL AND {FREE}
                         ORDER BY seq LIMIT ?1 {{skip_locked}}"
                    ),
                    &[(n as i64).into()],
                )?;
                let waited = locked.first().and_then(|r| r[1].int()).unwrap_or(0);
                if locked.is_empty() || !(locked.len() >= n || drain || waited as f64 >= max_wait) {
                    return Ok(vec![]);
                }
                let ids: Vec<String> = locked.iter().filter_map(|r| r[0].text()).collect();
                for id in &ids {
                    db.exec(
                        "UPDATE inputs SET claimed_by = ?1, lease_until = {now} + ?2 WHERE id = ?3",
                        &[me.clone(), lease.clone(), id.as_str().into()],
                    )?;
                }
                Ok(ids)
            })
        })?;
        let mut rows = vec![];
        for id in ids {
            rows.extend(self.get(&id)?);
        }
        Ok(rows)
    }

    /// Lets go of an input this worker claimed but will not work on now.
    pub fn release(&self, id: &str) -> Result<()> {
        let p = [id.into(), self.worker.as_str().into()];
        self.with(|db| {
            db.exec(
                "UPDATE inputs SET claimed_by = NULL, lease_until = NULL WHERE id = ?1 AND claimed_by = ?2",
                &p,
            )
        })
        .map(drop)
    }

    /// Lets go of a unit (an input, or a batch's open members) this worker holds.
    pub fn release_unit(&self, unit: super::Unit<'_>) -> Result<()> {
        let (cond, key) = unit.select();
        let p = [key, self.worker.as_str().into()];
        self.with(|db| {
            db.exec(
                &format!(
                    "UPDATE inputs SET claimed_by = NULL, lease_until = NULL
                     WHERE {cond} AND claimed_by = ?2"
                ),
                &p,
            )
        })
        .map(drop)
    }

    /// Whether this process may ingest: it holds (now, or since earlier) the ingestion lock.
    pub fn try_ingest(&self) -> Result<bool> {
        if self.ingesting.get() {
            return Ok(true);
        }
        let got = self.with(|db| match db.dialect() {
            Dialect::Sqlite => Ok(true),
            Dialect::Postgres => Ok(db
                .row("SELECT pg_try_advisory_lock(?1)", &[pg::INGEST_LOCK.into()])?
                .and_then(|r| r[0].int())
                == Some(1)),
        })?;
        self.ingesting.set(got);
        Ok(got)
    }

    /// Open inputs, whoever holds them.
    pub fn open_count(&self) -> Result<i64> {
        self.with(|db| {
            Ok(db
                .row(
                    &format!("SELECT COUNT(*) FROM inputs WHERE state IN {OPEN}"),
                    &[],
                )?
                .and_then(|r| r[0].int())
                .unwrap_or(0))
        })
    }

    /// Counts `n` inputs this worker settled (its throughput).
    pub(super) fn count_settled(&self, n: u64) -> Result<()> {
        let p = [self.worker.as_str().into(), (n as i64).into()];
        self.with(|db| {
            db.exec(
                "UPDATE workers SET settled = settled + ?2, heartbeat_at = {now} WHERE id = ?1",
                &p,
            )
        })
        .map(drop)
    }

    /// Starts renewing this worker's leases and heartbeat on a connection of its own, every
    /// third of the lease, until the returned handle is dropped.
    pub fn heartbeat(&self) -> Result<Heartbeat> {
        let mut db = Db::open(&self.location).map_err(|e| self.err(e))?;
        let (loc, me, lease) = (self.location.clone(), self.worker.clone(), self.lease);
        let progress = self.progress.clone();
        let stall = STALL.as_secs().max(30 * lease as u64);
        let every = Duration::from_secs_f64((lease as f64 / 3.0).max(0.5));
        let (tx, rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || loop {
            match rx.recv_timeout(every) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let idle =
                unix_now().saturating_sub(progress.load(std::sync::atomic::Ordering::Relaxed));
            if idle > stall {
                tracing::warn!(
                    "zkinfer oracle: worker {me} has run no journal step for {idle} s; its \
                     leases are no longer renewed, so other workers take its inputs over"
                );
                continue;
            }
            if let Err(e) = renew(&mut db, &me, lease) {
                tracing::warn!(
                    "zkinfer oracle: renewing this worker's leases on journal {loc}: {e}; \
                     reconnecting"
                );
                if let Ok(fresh) = Db::open(&loc) {
                    db = fresh;
                }
            }
        });
        Ok(Heartbeat {
            stop: Some(tx),
            handle: Some(handle),
        })
    }
}

/// One heartbeat: the worker's `heartbeat_at`, and its open claims' leases.
fn renew(db: &mut Db, me: &str, lease: i64) -> std::result::Result<(), String> {
    db.exec(
        "UPDATE workers SET heartbeat_at = {now} WHERE id = ?1",
        &[me.into()],
    )?;
    db.exec(
        &format!(
            "UPDATE inputs SET lease_until = {{now}} + ?2 WHERE claimed_by = ?1 AND state IN {OPEN}"
        ),
        &[me.into(), lease.into()],
    )
    .map(drop)
}

/// Renews a worker's leases while it lives (see [`Journal::heartbeat`]); stops when dropped.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Journal {
    /// A worker that exits lets go of its claims and is marked stopped (best effort: a dead
    /// one's claims run out instead).
    fn drop(&mut self) {
        let me = Value::from(self.worker.as_str());
        let _ = self.with(|db| {
            db.exec(
                &format!(
                    "UPDATE inputs SET claimed_by = NULL, lease_until = NULL
                     WHERE claimed_by = ?1 AND state IN {OPEN}"
                ),
                std::slice::from_ref(&me),
            )?;
            db.exec(
                "UPDATE workers SET stopped_at = {now}, heartbeat_at = {now} WHERE id = ?1",
                std::slice::from_ref(&me),
            )
        });
    }
}
