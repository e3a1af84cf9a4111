//! The oracle's journal: an embedded SQLite database that records every input before it is
//! proven and each step after, so a restart resumes without losing or repeating anything.
//!
//! States: `pending` (recorded) -> `proved` (proof bound to a registry nonce) -> `sent` (signed
//! transaction and hash recorded *before* broadcasting) -> `submitted` (receipt seen), or
//! `failed` (with a reason) from any of them.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

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

/// One input's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Order of arrival.
    pub seq: i64,
    /// The input's id (its `id` field, or a hash of the line).
    pub id: String,
    /// The input line as received.
    pub input: String,
    /// `pending`, `proved`, `sent`, `submitted` or `failed`.
    pub state: String,
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
}

/// An open journal.
pub struct Journal {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    input TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'proved', 'sent', 'submitted', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    proof TEXT,
    binding_nonce INTEGER,
    tx_hash TEXT,
    raw_tx BLOB,
    account_nonce INTEGER,
    block INTEGER,
    gas_used INTEGER,
    reason TEXT,
    updated_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
";

const COLUMNS: &str = "seq, id, input, state, attempts, proof, binding_nonce, tx_hash, raw_tx, account_nonce, block, gas_used, reason";

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
    })
}

impl Journal {
    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Opens (creating if needed) the journal at `path`. `setup` (chain, registry, model,
    /// submitter) is stored on first use; a journal of another setup is refused.
    pub fn open(path: &Path, setup: &str) -> Result<Self> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| Error {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let j = Self { conn, path: p };
        j.conn.execute_batch(SCHEMA).map_err(|e| j.err(e))?;
        let stored: Option<String> = j
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'setup'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| j.err(e))?;
        match stored {
            Some(s) if s != setup => Err(j.err(format!(
                "it belongs to another setup ({s}); this run is {setup}. Use another --journal"
            ))),
            Some(_) => Ok(j),
            None => {
                j.conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('setup', ?1)",
                        params![setup],
                    )
                    .map_err(|e| j.err(e))?;
                Ok(j)
            }
        }
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

    /// Records new inputs `(id, line)` and moves the source's cursor, in one transaction.
    /// Inputs whose id is already recorded are ignored; returns the ids that were new.
    /// `failed` inputs come with a reason and are recorded as failed at once.
    pub fn record(
        &mut self,
        source: &str,
        position: i64,
        inputs: &[(String, String, Option<String>)],
    ) -> Result<Vec<String>> {
        let path = self.path.clone();
        let e = |e: rusqlite::Error| Error {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(e)?;
        let mut new = Vec::new();
        for (id, line, failure) in inputs {
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO inputs (id, input, state, reason) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id,
                        line,
                        if failure.is_some() { "failed" } else { "pending" },
                        failure
                    ],
                )
                .map_err(e)?;
            if inserted == 1 {
                new.push(id.clone());
            }
        }
        tx.execute(
            "INSERT INTO cursors (source, position) VALUES (?1, ?2)
             ON CONFLICT(source) DO UPDATE SET position = excluded.position",
            params![source, position],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(new)
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

    /// `pending` -> `proved`.
    pub fn set_proved(&self, id: &str, proof: &str, binding_nonce: u64) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'proved', proof = ?2, binding_nonce = ?3, attempts = attempts + 1,
             updated_at = strftime('%s', 'now') WHERE id = ?1 AND state = 'pending'",
            params![id, proof, binding_nonce as i64],
        )
    }

    /// `proved` -> `sent`, before the transaction is broadcast.
    pub fn set_sent(&self, id: &str, tx_hash: &str, raw: &[u8], account_nonce: u64) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'sent', tx_hash = ?2, raw_tx = ?3, account_nonce = ?4,
             updated_at = strftime('%s', 'now') WHERE id = ?1 AND state = 'proved'",
            params![id, tx_hash, raw, account_nonce as i64],
        )
    }

    /// `sent` -> `submitted`.
    pub fn set_submitted(&self, id: &str, block: u64, gas_used: u64) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'submitted', block = ?2, gas_used = ?3,
             updated_at = strftime('%s', 'now') WHERE id = ?1 AND state = 'sent'",
            params![id, block as i64, gas_used as i64],
        )
    }

    /// Back to `proved` (the signed transaction was lost: sign again).
    pub fn unsend(&self, id: &str) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'proved', tx_hash = NULL, raw_tx = NULL, account_nonce = NULL,
             updated_at = strftime('%s', 'now') WHERE id = ?1 AND state = 'sent'",
            params![id],
        )
    }

    /// Back to `pending` (the proof's binding is stale: prove again).
    pub fn reprove(&self, id: &str) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'pending', proof = NULL, binding_nonce = NULL, tx_hash = NULL,
             raw_tx = NULL, account_nonce = NULL, updated_at = strftime('%s', 'now')
             WHERE id = ?1 AND state IN ('proved', 'sent')",
            params![id],
        )
    }

    /// Any open state -> `failed`.
    pub fn set_failed(&self, id: &str, reason: &str) -> Result<()> {
        self.exec(
            "UPDATE inputs SET state = 'failed', reason = ?2, updated_at = strftime('%s', 'now')
             WHERE id = ?1 AND state IN ('pending', 'proved', 'sent')",
            params![id, reason],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    ("a".into(), "{}".into(), None),
                    ("a".into(), "{}".into(), None),
                    ("b".into(), "x".into(), Some("not JSON".into())),
                ],
            )
            .unwrap();
        assert_eq!(n, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(j.cursor("file").unwrap(), 10);
        assert_eq!(j.open_rows().unwrap().len(), 1);
        assert!(
            j.set_sent("a", "0x1", b"raw", 0).is_err(),
            "pending cannot jump to sent"
        );
        j.set_proved("a", "{proof}", 3).unwrap();
        j.set_sent("a", "0x1", b"raw", 0).unwrap();
        j.set_submitted("a", 7, 100).unwrap();
        assert!(
            j.set_failed("a", "late").is_err(),
            "a submitted input stays submitted"
        );
        drop(j);
        assert!(Journal::open(&p, "setup-b").is_err());
        let j = Journal::open(&p, "setup-a").unwrap();
        let rows = j.all().unwrap();
        assert_eq!(rows[0].state, "submitted");
        assert_eq!(rows[0].block, Some(7));
        assert_eq!(rows[1].state, "failed");
    }
}
