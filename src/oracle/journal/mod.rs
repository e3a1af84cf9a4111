//! The oracle's journal: a database that records every input before it is proven and each
//! step after, so a restart resumes without losing or repeating anything. SQLite (a file, the
//! default: one process) or PostgreSQL (a URL: any number of workers on any machines share
//! it); the same schema, statements and state machine on both ([`db`]).
//!
//! States: `pending` (recorded) -> `proved` (proof bound to a registry nonce) -> `sent` (signed
//! transaction and hash recorded *before* broadcasting) -> `submitted` (receipt seen), or
//! `failed` (with a reason) from any of them. A sent transaction that ran out of gas goes back
//! to `proved` (its proof is still good) with `gas_retries` counted. With a batch build, the
//! inputs of one proof form a batch (`batch`, a number): they are checked one by one while
//! `pending` (a bad one fails alone), become `proved` together with the batch's proof, and from
//! then on move together, each transition one SQL statement over the batch, so that a crash at
//! any moment leaves every member in the same state; a stale binding proves the same members
//! again. Requests the oracle decides
//! not to serve (a duplicate input, a requester not allowed) are not inputs: they are recorded
//! in a table of their own, `skipped`, with the reason.
//!
//! Workers: every open input (or formed batch) is worked on by the one worker that claims it
//! ([`claims`]), and every transition below applies only while the worker still holds its
//! claim, so a worker whose lease ran out (it stalled, or lost the database) cannot move a row
//! that another has taken over: its step fails with [`Error::lost_claim`] and it lets the row
//! go. Final states release the claim.
//!
//! A SQLite journal is one process's: [`Journal::open`] takes an OS lock (see [`file`]) that it
//! holds until the journal is dropped or the process dies, and clears the claims a dead process
//! left. Its files are private (0600). On PostgreSQL, the database's own access control
//! protects it (a dedicated role; see the README). Either way the `input` column keeps the
//! inputs as received, private ones included, because crash recovery needs them (and
//! `input_key`, their hash, deduplicates requests); reasons and every other column hold no
//! private value.

mod batches;
pub mod claims;
pub mod db;
pub mod file;
mod intake;
pub mod location;
mod pg;
pub mod status;
mod steps;

pub use claims::Heartbeat;
pub use intake::{Intake, Recorded, Skipped};
pub use location::Location;
pub use status::Status;

use db::{Db, Value};
use sha2::{Digest, Sha256};

/// Journal errors.
#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {reason}")]
pub struct Error {
    /// The journal (a file, or a URL shown without credentials).
    pub path: String,
    /// What failed.
    pub reason: String,
    /// The step needed a claim this worker no longer holds (its lease ran out and another
    /// worker took the row over): let the row go.
    pub lost_claim: bool,
}

/// Result type of the journal.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an input is in the state machine (the module doc has the moves).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Recorded, not proven yet.
    Pending,
    /// Proven, its proof bound to a registry nonce.
    Proved,
    /// Signed (and perhaps sent); the transaction is journaled.
    Sent,
    /// Stored on-chain.
    Submitted,
    /// Given up, with a reason.
    Failed,
}

impl State {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Proved => "proved",
            State::Sent => "sent",
            State::Submitted => "submitted",
            State::Failed => "failed",
        }
    }

    /// Whether the input still needs work (pending, proved or sent).
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Proved | State::Sent)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(State::Pending),
            "proved" => Ok(State::Proved),
            "sent" => Ok(State::Sent),
            "submitted" => Ok(State::Submitted),
            "failed" => Ok(State::Failed),
            other => Err(format!("unknown journal state '{other}'")),
        }
    }
}

/// One input's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Order of arrival.
    pub seq: i64,
    /// The input's id (its `id` field, a keyed hash of the line, or `request-N`).
    pub id: String,
    /// The input line as received.
    pub input: String,
    /// Where it is.
    pub state: State,
    /// Proving attempts so far.
    pub attempts: i64,
    /// The proof file (JSON), once proved.
    pub proof: Option<String>,
    /// The registry nonce the proof is bound to.
    pub binding_nonce: Option<i64>,
    /// The submission's transaction hash, once signed.
    pub tx_hash: Option<String>,
    /// The signed transaction, for re-broadcasting.
    pub raw_tx: Option<Vec<u8>>,
    /// The account nonce it used.
    pub account_nonce: Option<i64>,
    /// Block it landed in.
    pub block: Option<i64>,
    /// Gas it used.
    pub gas_used: Option<i64>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Submissions of it that ran out of gas and were sent again with a higher limit.
    pub gas_retries: i64,
    /// The gas limit of its last signed transaction.
    pub gas_limit: Option<i64>,
    /// The batch it was proven in (batch builds), fixed once proven.
    pub batch: Option<i64>,
    /// The account its proof is bound to (and its transaction signed by), once proved.
    pub submitter: Option<String>,
}

impl Row {
    /// What its state transitions apply to: the row, or every member of its batch.
    pub fn unit(&self) -> Unit<'_> {
        match self.batch {
            Some(b) => Unit::Batch(b),
            None => Unit::Input(&self.id),
        }
    }
}

/// What a state transition applies to: one input, or every member of a batch (one proof, one
/// transaction: they move together, in one statement, so a crash never splits them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit<'a> {
    /// One input, by id.
    Input(&'a str),
    /// A batch's members, by batch number.
    Batch(i64),
}

impl<'a> From<&'a str> for Unit<'a> {
    fn from(id: &'a str) -> Self {
        Unit::Input(id)
    }
}

impl<'a> From<&'a String> for Unit<'a> {
    fn from(id: &'a String) -> Self {
        Unit::Input(id)
    }
}

impl Unit<'_> {
    /// The SQL condition selecting it (`?1` its key) and the key.
    fn select(self) -> (&'static str, Value) {
        match self {
            Unit::Input(id) => ("id = ?1", Value::Text(id.to_string())),
            Unit::Batch(b) => ("batch = ?1", Value::Int(b)),
        }
    }
}

/// An open journal, as one worker.
pub struct Journal {
    db: db::Shared,
    location: Location,
    path: String,
    id_key: Vec<u8>,
    /// This worker's id (claims carry it).
    worker: String,
    /// The account this worker submits with, once registered.
    submitter: Option<String>,
    /// Seconds a claim lasts unless renewed.
    lease: i64,
    /// Whether this process holds the ingestion lock.
    ingesting: std::cell::Cell<bool>,
    /// When (Unix seconds, this machine's clock) the worker last ran a statement: its
    /// heartbeat stops renewing leases when this gets too old (see [`claims`]).
    progress: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// SQLite: held (locked) for the journal's lifetime; the OS releases it when closed.
    _lock: Option<std::fs::File>,
}

const COLUMNS: &str = "seq, id, input, state, attempts, proof, binding_nonce, tx_hash, raw_tx, account_nonce, block, gas_used, reason, gas_retries, gas_limit, batch, submitter";

/// The states that still need work, for SQL.
const OPEN: &str = "('pending', 'proved', 'sent')";

fn row(v: &[Value]) -> std::result::Result<Row, String> {
    let int = |i: usize| v.get(i).and_then(Value::int);
    let text = |i: usize| v.get(i).and_then(Value::text);
    Ok(Row {
        seq: int(0).ok_or("row without seq")?,
        id: text(1).ok_or("row without id")?,
        input: text(2).unwrap_or_default(),
        state: text(3).unwrap_or_default().parse()?,
        attempts: int(4).unwrap_or(0),
        proof: text(5),
        binding_nonce: int(6),
        tx_hash: text(7),
        raw_tx: v.get(8).and_then(Value::blob),
        account_nonce: int(9),
        block: int(10),
        gas_used: int(11),
        reason: text(12),
        gas_retries: int(13).unwrap_or(0),
        gas_limit: int(14),
        batch: int(15),
        submitter: text(16),
    })
}

/// A worker id: host, process and a random suffix (a restarted process is a new worker).
fn worker_id() -> String {
    format!(
        "{}-{}-{}",
        claims::host(),
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    )
}

impl Journal {
    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error {
            path: self.path.clone(),
            reason: e.to_string(),
            lost_claim: false,
        }
    }

    /// Runs `f` on the connection (statements never nest, so the borrow is never contended).
    fn with<T>(&self, f: impl FnOnce(&mut Db) -> std::result::Result<T, String>) -> Result<T> {
        self.progress
            .store(claims::unix_now(), std::sync::atomic::Ordering::Relaxed);
        let mut db = self.db.borrow_mut();
        f(&mut db).map_err(|e| self.err(e))
    }

    /// Opens (creating if needed) the journal at `location`: a SQLite file (refused while
    /// another process holds it) or a PostgreSQL database (shared). `setup` (chain, registry,
    /// model) is stored on first use; a journal of another setup is refused. An older schema
    /// is migrated.
    pub fn open(location: impl Into<Location>, setup: &str) -> Result<Self> {
        let location = location.into();
        let p = location.to_string();
        let fail = |reason: String| Error {
            path: p.clone(),
            reason,
            lost_claim: false,
        };
        let (mut db, lock) = match &location {
            Location::Sqlite(path) => {
                let lock = file::lock(path).map_err(fail)?;
                file::make_private(path)
                    .map_err(|e| fail(format!("making it private (0600): {e}")))?;
                let mut conn = rusqlite::Connection::open(path).map_err(|e| fail(e.to_string()))?;
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .map_err(|e| fail(e.to_string()))?;
                file::migrate(&mut conn).map_err(fail)?;
                let mut db = Db::Sqlite(conn);
                // This process holds the journal alone: what a dead one claimed is free.
                db.exec(
                    "UPDATE inputs SET claimed_by = NULL, lease_until = NULL WHERE claimed_by IS NOT NULL",
                    &[],
                )
                .map_err(fail)?;
                (db, Some(lock))
            }
            Location::Postgres(_) => {
                let mut db = Db::open(&location).map_err(fail)?;
                pg::migrate(&mut db).map_err(fail)?;
                (db, None)
            }
        };
        let mut meta = |key: &str| -> Result<Option<String>> {
            db.row("SELECT value FROM meta WHERE key = ?1", &[key.into()])
                .map(|r| r.and_then(|v| v[0].text()))
                .map_err(fail)
        };
        let id_key = meta("id_key")?.ok_or_else(|| {
            fail("its meta table has no id_key: not a zkinfer journal, or damaged".into())
        })?;
        let id_key = crate::files::decode_hex(&id_key)
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| fail("its meta id_key is not hex: the journal is damaged".into()))?;
        if meta("setup")?.is_none() {
            db.exec(
                "INSERT INTO meta (key, value) VALUES ('setup', ?1) ON CONFLICT (key) DO NOTHING",
                &[setup.into()],
            )
            .map_err(fail)?;
        }
        // Read back: of two workers starting together on a new database, the one whose
        // insert lost must still be refused if its setup differs.
        let stored = db
            .row("SELECT value FROM meta WHERE key = 'setup'", &[])
            .map(|r| r.and_then(|v| v[0].text()))
            .map_err(fail)?;
        match stored {
            Some(s) if s == setup => {}
            Some(s) => {
                return Err(fail(format!(
                    "it belongs to another setup ({s}); this run is {setup}. Use another --journal"
                )))
            }
            None => return Err(fail("its setup could not be recorded".into())),
        }
        Ok(Self {
            db: std::cell::RefCell::new(db),
            path: p,
            location,
            id_key,
            worker: worker_id(),
            submitter: None,
            lease: claims::DEFAULT_LEASE.as_secs() as i64,
            ingesting: std::cell::Cell::new(false),
            progress: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(claims::unix_now())),
            _lock: lock,
        })
    }

    /// Where it lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// This worker's id.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// An id for `text` that reveals nothing about it to whoever lacks the journal: a hash
    /// keyed with a random secret kept in the journal. Used for input lines without an `id`.
    pub fn keyed_id(&self, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.id_key);
        h.update(text.as_bytes());
        format!("line-{}", hex::encode(&h.finalize()[..16]))
    }

    /// A source's cursor (0 when new).
    pub fn cursor(&self, source: &str) -> Result<i64> {
        self.with(|db| {
            Ok(db
                .row(
                    "SELECT position FROM cursors WHERE source = ?1",
                    &[source.into()],
                )?
                .and_then(|r| r[0].int())
                .unwrap_or(0))
        })
    }

    /// Rows not yet final, in arrival order.
    pub fn open_rows(&self) -> Result<Vec<Row>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM inputs WHERE state IN {OPEN} ORDER BY seq"),
            &[],
        )
    }

    /// One input's row.
    pub fn get(&self, id: &str) -> Result<Option<Row>> {
        Ok(self
            .query(
                &format!("SELECT {COLUMNS} FROM inputs WHERE id = ?1"),
                &[id.into()],
            )?
            .into_iter()
            .next())
    }

    /// Every row, in arrival order.
    pub fn all(&self) -> Result<Vec<Row>> {
        self.query(&format!("SELECT {COLUMNS} FROM inputs ORDER BY seq"), &[])
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.with(|db| db.rows(sql, params)?.iter().map(|r| row(r)).collect())
    }
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
    fn states_move_forward_only_and_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.sqlite");
        let mut j = Journal::open(&p, "setup-a").unwrap();
        let n = j
            .record(
                "file",
                10,
                &[
                    take("a", "{}"),
                    take("a", "{}"),
                    Intake::Fail {
                        id: "b".into(),
                        input: "x".into(),
                        reason: "not JSON".into(),
                    },
                ],
                None,
            )
            .unwrap();
        assert_eq!(n.new, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(j.cursor("file").unwrap(), 10);
        assert_eq!(j.open_rows().unwrap().len(), 1);
        assert!(
            j.set_proved("a", "{proof}", 3).unwrap_err().lost_claim,
            "a step needs the worker's claim"
        );
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "a");
        assert!(j.claim_next(false).unwrap().is_none(), "claimed once");
        assert!(
            j.set_sent("a", "0x1", b"raw", 0, 100).is_err(),
            "pending cannot jump to sent"
        );
        j.set_proved("a", "{proof}", 3).unwrap();
        j.set_sent("a", "0x1", b"raw", 0, 100).unwrap();
        j.retry_gas("a").unwrap();
        assert!(j.retry_gas("a").is_err(), "only a sent row is retried");
        j.set_sent("a", "0x2", b"raw2", 1, 150).unwrap();
        j.set_submitted("a", 7, 100).unwrap();
        assert!(
            j.set_failed("a", "late").is_err(),
            "a submitted input stays submitted"
        );
        drop(j);
        assert!(Journal::open(&p, "setup-b").is_err());
        let j = Journal::open(&p, "setup-a").unwrap();
        let rows = j.all().unwrap();
        assert_eq!(rows[0].state, State::Submitted);
        assert_eq!(rows[0].block, Some(7));
        assert_eq!((rows[0].gas_retries, rows[0].gas_limit), (1, Some(150)));
        assert_eq!(rows[1].state, State::Failed);
    }

    #[test]
    fn claims_fence_every_step_and_a_reopened_journal_frees_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.sqlite");
        let mut j = Journal::open(&p, "s").unwrap();
        j.register("0xabc", std::time::Duration::from_secs(30))
            .unwrap();
        j.record("file", 2, &[take("a", "1"), take("b", "2")], None)
            .unwrap();
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "a");
        j.set_proved("a", "{p}", 0).unwrap();
        assert_eq!(
            j.get("a").unwrap().unwrap().submitter.as_deref(),
            Some("0xabc")
        );
        // Another worker took "a" over after this one's lease ran out: this one's steps fail
        // as lost claims and change nothing.
        j.with(|db| db.exec("UPDATE inputs SET claimed_by = 'other' WHERE id = 'a'", &[]))
            .unwrap();
        let e = j.set_sent("a", "0x1", b"raw", 0, 1).unwrap_err();
        assert!(e.lost_claim && e.reason.contains("no longer holds"), "{e}");
        assert_eq!(j.get("a").unwrap().unwrap().state, State::Proved);
        // A lease that ran out is free to take; a live one is not.
        j.with(|db| db.exec("UPDATE inputs SET lease_until = 0 WHERE id = 'a'", &[]))
            .unwrap();
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "a");
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "b");
        assert!(j.claim_next(false).unwrap().is_none());
        j.set_failed("b", "bad").unwrap();
        assert_eq!(j.open_count().unwrap(), 1);
        drop(j);
        // Closed (or killed): the next process on the file holds nothing of the last one's.
        let j = Journal::open(&p, "s").unwrap();
        assert_eq!(j.claim_next(false).unwrap().unwrap().id, "a");
        let s = Status::read(&Location::Sqlite(p.clone())).unwrap();
        assert_eq!(
            (s.states["proved"], s.states["failed"], s.claimed),
            (1, 1, 1)
        );
        assert_eq!(s.workers.len(), 1);
        assert!(s.workers[0].stopped && s.workers[0].settled == 1, "{s:?}");
    }

    #[test]
    fn a_second_opener_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.sqlite");
        let j = Journal::open(&p, "s").unwrap();
        let e = Journal::open(&p, "s").err().unwrap().to_string();
        assert!(e.contains(&p.display().to_string()), "{e}");
        assert!(e.contains("another zkinfer oracle"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        // The same journal through a symlink, or spelled with `..`, is the same journal.
        #[cfg(unix)]
        {
            let link = dir.path().join("link.sqlite");
            std::os::unix::fs::symlink(&p, &link).unwrap();
            let e = Journal::open(&link, "s")
                .err()
                .expect("a symlink took a second lock");
            assert!(e.to_string().contains("another zkinfer oracle"), "{e}");
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let dotted = dir.path().join("sub").join("..").join("j.sqlite");
        let e = Journal::open(&dotted, "s")
            .err()
            .expect("another spelling took a second lock");
        assert!(e.to_string().contains("another zkinfer oracle"), "{e}");
        drop(j);
        Journal::open(&p, "s").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn journal_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.sqlite");
        let mode = |suffix: &str| {
            let f = dir.path().join(format!("j.sqlite{suffix}"));
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777
        };
        let mut j = Journal::open(&p, "s").unwrap();
        j.record("file", 1, &[take("a", "secret")], None).unwrap();
        for suffix in ["", "-wal", "-shm", ".lock"] {
            assert_eq!(mode(suffix), 0o600, "j.sqlite{suffix}");
        }
        drop(j);
        // An existing journal readable by others is made private.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _j = Journal::open(&p, "s").unwrap();
        assert_eq!(mode(""), 0o600);
    }
}
