//! What a journal says about the work: inputs per state, the oldest pending one, and each
//! worker's heartbeat and throughput (`zkinfer oracle status`). Read without the SQLite lock
//! and without migrating, so it can watch running oracles; it holds no input, output or salt.

use std::collections::BTreeMap;

use serde::Serialize;

use super::db::{Db, Value};
use super::file::SCHEMA_VERSION;
use super::location::Location;
use super::{Error, Result, OPEN};

/// A journal's state.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The journal (a URL shown without credentials).
    pub journal: String,
    /// Inputs per state (every state listed, 0 included).
    pub states: BTreeMap<String, i64>,
    /// Requests not served.
    pub skipped: i64,
    /// Open inputs a worker holds a live claim on.
    pub claimed: i64,
    /// The oldest pending input, if any.
    pub oldest_pending: Option<Oldest>,
    /// Every worker that ever registered, newest first.
    pub workers: Vec<Worker>,
}

/// The oldest pending input.
#[derive(Clone, Debug, Serialize)]
pub struct Oldest {
    /// Its id.
    pub id: String,
    /// Seconds since it was recorded (or last sent back to pending).
    pub waiting_s: i64,
}

/// One worker.
#[derive(Clone, Debug, Serialize)]
pub struct Worker {
    /// Its id (host, process id and a random suffix).
    pub id: String,
    /// Its host.
    pub host: String,
    /// The account it submits with.
    pub submitter: Option<String>,
    /// Seconds since its last heartbeat.
    pub heartbeat_s_ago: i64,
    /// Running: it exited cleanly (`stopped`) or its heartbeat is older than its lease.
    pub alive: bool,
    /// It exited cleanly.
    pub stopped: bool,
    /// Its lease, seconds.
    pub lease_s: i64,
    /// Inputs it settled (submitted or failed).
    pub settled: i64,
    /// Seconds it ran (to its last heartbeat).
    pub ran_s: i64,
    /// Inputs settled per minute over its run.
    pub per_minute: f64,
    /// Open inputs it holds now.
    pub claimed: i64,
}

fn int(r: &[Value], i: usize) -> i64 {
    r.get(i).and_then(Value::int).unwrap_or(0)
}

impl Status {
    /// Reads it. A SQLite journal must exist; either kind must be at this zkinfer's schema.
    pub fn read(loc: &Location) -> Result<Status> {
        let fail = |reason: String| Error {
            path: loc.to_string(),
            reason,
            lost_claim: false,
        };
        if let Location::Sqlite(p) = loc {
            if !p.exists() {
                return Err(fail("no such journal file".into()));
            }
        }
        let mut db = Db::open(loc).map_err(fail)?;
        let schema = db
            .row("SELECT value FROM meta WHERE key = 'schema'", &[])
            .map_err(|e| fail(format!("not a zkinfer journal ({e})")))?
            .and_then(|r| r[0].text())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1);
        if schema != SCHEMA_VERSION {
            return Err(fail(format!(
                "schema {schema}, this zkinfer reads {SCHEMA_VERSION}: run this zkinfer's oracle \
                 on it once to migrate it"
            )));
        }
        let q = |db: &mut Db, sql: &str| db.rows(sql, &[]).map_err(fail);
        let mut states: BTreeMap<String, i64> =
            ["pending", "proved", "sent", "submitted", "failed"]
                .iter()
                .map(|s| (s.to_string(), 0))
                .collect();
        for r in q(&mut db, "SELECT state, COUNT(*) FROM inputs GROUP BY state")? {
            states.insert(r[0].text().unwrap_or_default(), int(&r, 1));
        }
        let skipped = int(&q(&mut db, "SELECT COUNT(*) FROM skipped")?[0], 0);
        let claimed = int(
            &q(
                &mut db,
                &format!(
                    "SELECT COUNT(*) FROM inputs WHERE state IN {OPEN} AND claimed_by IS NOT NULL
                     AND lease_until >= {{now}}"
                ),
            )?[0],
            0,
        );
        let oldest_pending = q(
            &mut db,
            "SELECT id, {now} - updated_at FROM inputs WHERE state = 'pending' ORDER BY seq LIMIT 1",
        )?
        .first()
        .map(|r| Oldest {
            id: r[0].text().unwrap_or_default(),
            waiting_s: int(r, 1).max(0),
        });
        let workers = q(
            &mut db,
            &format!(
                "SELECT w.id, w.host, w.submitter, {{now}} - w.heartbeat_at, w.stopped_at, w.lease,
                 w.settled, w.heartbeat_at - w.started_at,
                 (SELECT COUNT(*) FROM inputs i WHERE i.claimed_by = w.id AND i.state IN {OPEN})
                 FROM workers w ORDER BY w.started_at DESC, w.id"
            ),
        )?
        .iter()
        .map(|r| {
            let (ago, stopped, lease) = (int(r, 3).max(0), !matches!(r[4], Value::Null), int(r, 5));
            let (settled, ran) = (int(r, 6), int(r, 7).max(0));
            Worker {
                id: r[0].text().unwrap_or_default(),
                host: r[1].text().unwrap_or_default(),
                submitter: r[2].text(),
                heartbeat_s_ago: ago,
                alive: !stopped && ago <= lease,
                stopped,
                lease_s: lease,
                settled,
                ran_s: ran,
                per_minute: if ran > 0 {
                    settled as f64 * 60.0 / ran as f64
                } else {
                    0.0
                },
                claimed: int(r, 8),
            }
        })
        .collect();
        Ok(Status {
            journal: loc.to_string(),
            states,
            skipped,
            claimed,
            oldest_pending,
            workers,
        })
    }

    /// Open inputs (pending, proved or sent).
    pub fn open(&self) -> i64 {
        ["pending", "proved", "sent"]
            .iter()
            .map(|s| self.states.get(*s).copied().unwrap_or(0))
            .sum()
    }
}
