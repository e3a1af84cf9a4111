//! The oracle's journal: an embedded SQLite database that records every input before it is
//! proven and each step after, so a restart resumes without losing or repeating anything.
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
//! One process at a time: [`Journal::open`] takes an OS lock (see [`file`]) that it holds until
//! the journal is dropped or the process dies. The files are private (0600): the `input`
//! column keeps the inputs as received, private ones included, because crash recovery needs
//! them (and `input_key`, their hash, deduplicates requests); reasons and every other column
//! hold no private value.

mod batches;
pub mod file;
mod intake;

pub use intake::{Intake, Recorded, Skipped};

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// Journal errors.
#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {reason}")]
pub struct Error {
    /// The database file.
    pub path: String,
    /// What failed.
    pub reason: String,
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

impl rusqlite::types::FromSql for State {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match v.as_str()? {
            "pending" => Ok(State::Pending),
            "proved" => Ok(State::Proved),
            "sent" => Ok(State::Sent),
            "submitted" => Ok(State::Submitted),
            "failed" => Ok(State::Failed),
            other => Err(rusqlite::types::FromSqlError::Other(
                format!("unknown journal state '{other}'").into(),
            )),
        }
    }
}

impl rusqlite::types::ToSql for State {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
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
    fn select(self) -> (&'static str, rusqlite::types::Value) {
        match self {
            Unit::Input(id) => ("id = ?1", rusqlite::types::Value::Text(id.to_string())),
            Unit::Batch(b) => ("batch = ?1", rusqlite::types::Value::Integer(b)),
        }
    }
}

/// An open journal, held by this process alone until dropped.
pub struct Journal {
    conn: Connection,
    path: String,
    id_key: Vec<u8>,
    /// Held (locked) for the journal's lifetime; the OS releases it when closed.
    _lock: std::fs::File,
}

const COLUMNS: &str = "seq, id, input, state, attempts, proof, binding_nonce, tx_hash, raw_tx, account_nonce, block, gas_used, reason, gas_retries, gas_limit, batch";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get(0)?,
        id: r.get(1)?,
        input: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        proof: r.get(5)?,
        binding_nonce: r.get(6)?,
        tx_hash: r.get(7)?,
        raw_tx: r.get(8)?,
        account_nonce: r.get(9)?,
        block: r.get(10)?,
        gas_used: r.get(11)?,
        reason: r.get(12)?,
        gas_retries: r.get(13)?,
        gas_limit: r.get(14)?,
        batch: r.get(15)?,
    })
}

impl Journal {
    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Opens (creating if needed) the journal at `path`. Refused while another process holds
    /// it. `setup` (chain, registry, model, submitter) is stored on first use; a journal of
    /// another setup is refused. An older schema is migrated.
    pub fn open(path: &Path, setup: &str) -> Result<Self> {
        let p = path.display().to_string();
        let fail = |reason: String| Error {
            path: p.clone(),
            reason,
        };
        let lock = file::lock(path).map_err(fail)?;
        file::make_private(path).map_err(|e| fail(format!("making it private (0600): {e}")))?;
        let mut conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        file::migrate(&mut conn).map_err(fail)?;
        let meta = |key: &str| -> Result<Option<String>> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| fail(e.to_string()))
        };
        let id_key = meta("id_key")?.ok_or_else(|| {
            fail("its meta table has no id_key: not a zkinfer journal, or damaged".into())
        })?;
        let id_key = crate::files::decode_hex(&id_key)
            .ok()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| fail("its meta id_key is not hex: the journal is damaged".into()))?;
        match meta("setup")? {
            Some(s) if s != setup => Err(fail(format!(
                "it belongs to another setup ({s}); this run is {setup}. Use another --journal"
            ))),
            Some(_) => Ok(()),
            None => conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('setup', ?1)",
                    params![setup],
                )
                .map(drop)
                .map_err(|e| fail(e.to_string())),
        }?;
        Ok(Self {
            conn,
            path: p,
            id_key,
            _lock: lock,
        })
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
        self.conn
            .query_row(
                "SELECT position FROM cursors WHERE source = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
            .map(|p| p.unwrap_or(0))
            .map_err(|e| self.err(e))
    }

    /// Rows not yet final, in arrival order.
    pub fn open_rows(&self) -> Result<Vec<Row>> {
        self.query(&format!(
            "SELECT {COLUMNS} FROM inputs WHERE state IN ('pending', 'proved', 'sent') ORDER BY seq"
        ))
    }

    /// One input's row.
    pub fn get(&self, id: &str) -> Result<Option<Row>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM inputs WHERE id = ?1"),
                params![id],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every row, in arrival order.
    pub fn all(&self) -> Result<Vec<Row>> {
        self.query(&format!("SELECT {COLUMNS} FROM inputs ORDER BY seq"))
    }

    fn query(&self, sql: &str) -> Result<Vec<Row>> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<()> {
        let n = self.conn.execute(sql, p).map_err(|e| self.err(e))?;
        if n != 1 {
            return Err(self.err(format!("expected to update one row, updated {n}")));
        }
        Ok(())
    }

    /// Runs `sql` (`WHERE {unit} AND ...`, `?1` the unit's key) on one unit: exactly one row
    /// for an input, at least one for a batch.
    fn exec_unit(&self, unit: Unit<'_>, sql: &str, rest: &[&dyn rusqlite::ToSql]) -> Result<()> {
        let (cond, key) = unit.select();
        let sql = sql.replace("{unit}", cond);
        let mut p: Vec<&dyn rusqlite::ToSql> = vec![&key];
        p.extend_from_slice(rest);
        let n = self
            .conn
            .execute(&sql, p.as_slice())
            .map_err(|e| self.err(e))?;
        match unit {
            Unit::Input(_) if n != 1 => {
                Err(self.err(format!("expected to update one row, updated {n}")))
            }
            Unit::Batch(b) if n == 0 => Err(self.err(format!(
                "batch {b}: no member in the state this step expects"
            ))),
            _ => Ok(()),
        }
    }

    /// `pending` -> `proved`.
    pub fn set_proved(&self, id: &str, proof: &str, binding_nonce: u64) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'proved', proof = ?2, binding_nonce = ?3, attempts = attempts + 1,
             updated_at = strftime('%s', 'now') WHERE id = ?1 AND state = 'pending'",
            params![id, proof, binding_nonce as i64],
        )
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
            "UPDATE inputs SET state = 'sent', tx_hash = ?2, raw_tx = ?3, account_nonce = ?4,
             gas_limit = ?5, updated_at = strftime('%s', 'now') WHERE {unit} AND state = 'proved'",
            &[&tx_hash, &raw, &(account_nonce as i64), &(gas_limit as i64)],
        )
    }

    /// `sent` -> `submitted`.
    pub fn set_submitted<'u>(
        &self,
        unit: impl Into<Unit<'u>>,
        block: u64,
        gas_used: u64,
    ) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'submitted', block = ?2, gas_used = ?3,
             updated_at = strftime('%s', 'now') WHERE {unit} AND state = 'sent'",
            &[&(block as i64), &(gas_used as i64)],
        )
    }

    /// Back to `proved` (the signed transaction was lost: sign again).
    pub fn unsend<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'proved', tx_hash = NULL, raw_tx = NULL, account_nonce = NULL,
             updated_at = strftime('%s', 'now') WHERE {unit} AND state = 'sent'",
            &[],
        )
    }

    /// Back to `proved` with one more gas retry (the transaction ran out of gas: the proof is
    /// still good, sign again with a higher limit).
    pub fn retry_gas<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'proved', tx_hash = NULL, raw_tx = NULL, account_nonce = NULL,
             gas_retries = gas_retries + 1, updated_at = strftime('%s', 'now')
             WHERE {unit} AND state = 'sent'",
            &[],
        )
    }

    /// Back to `pending` (the proof's binding is stale: prove again). A batch keeps its
    /// members.
    pub fn reprove<'u>(&self, unit: impl Into<Unit<'u>>) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'pending', proof = NULL, binding_nonce = NULL, tx_hash = NULL,
             raw_tx = NULL, account_nonce = NULL, updated_at = strftime('%s', 'now')
             WHERE {unit} AND state IN ('proved', 'sent')",
            &[],
        )
    }

    /// Any open state -> `failed`.
    pub fn set_failed<'u>(&self, unit: impl Into<Unit<'u>>, reason: &str) -> Result<()> {
        self.exec_unit(
            unit.into(),
            "UPDATE inputs SET state = 'failed', reason = ?2, updated_at = strftime('%s', 'now')
             WHERE {unit} AND state IN ('pending', 'proved', 'sent')",
            &[&reason],
        )
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
