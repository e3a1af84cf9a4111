//! The journal on disk: who may open it (an OS lock held for the journal's lifetime), who may
//! read it (the database, its `-wal` and `-shm`, and the lock file are private to the user:
//! mode 0600, since the journal keeps private inputs), and its schema with the migrations from
//! older versions.
//!
//! Schema versions (in `meta`, key `schema`; a journal without one is version 1):
//! 1. `meta`, `cursors`, `inputs`.
//! 2. `inputs` gains `input_key` (SHA-256 of the input, for deduplication; backfilled),
//!    `gas_retries` and `gas_limit` (out-of-gas retries); a `skipped` table (requests not
//!    served, and why); an index on `input_key`.
//! 3. `inputs` gains `batch` (the batch a row was proven in, fixed once proven: see
//!    [`super::Journal::set_batch_proved`]) and an index on it.
//! 4. Workers: `inputs` gains `claimed_by` and `lease_until` (a worker's claim, see
//!    [`super::claims`]) and `submitter` (the account a proof is bound to); a `workers` table
//!    (heartbeats and throughput) and a `batches` table (batch numbers, taken by insertion so
//!    that concurrent workers never share one; existing numbers are carried over). The
//!    `setup` no longer names the submitter, since each worker submits with its own key: a
//!    version-3 setup's submitter moves to the rows it proved or sent. PostgreSQL journals
//!    start at this version ([`super::pg`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// The schema version this zkinfer writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Version 1, as journals were first written (kept verbatim: migrations start from it).
pub(super) const SCHEMA_V1: &str = "
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

/// Columns version 2 adds to `inputs`.
const V2_COLUMNS: &[(&str, &str)] = &[
    ("input_key", "TEXT"),
    ("gas_retries", "INTEGER NOT NULL DEFAULT 0"),
    ("gas_limit", "INTEGER"),
];

const V2_TABLES: &str = "
CREATE TABLE IF NOT EXISTS skipped (
    id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    served_by TEXT,
    at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX IF NOT EXISTS inputs_by_key ON inputs (input_key);
";

/// Columns version 3 adds to `inputs`.
const V3_COLUMNS: &[(&str, &str)] = &[("batch", "INTEGER")];

const V3_TABLES: &str = "CREATE INDEX IF NOT EXISTS inputs_by_batch ON inputs (batch);";

/// Columns version 4 adds to `inputs`.
const V4_COLUMNS: &[(&str, &str)] = &[
    ("claimed_by", "TEXT"),
    ("lease_until", "INTEGER"),
    ("submitter", "TEXT"),
];

const V4_TABLES: &str = "
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    submitter TEXT,
    lease INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at INTEGER,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    formed_by TEXT,
    at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
INSERT OR IGNORE INTO batches (id) SELECT DISTINCT batch FROM inputs WHERE batch IS NOT NULL;
CREATE INDEX IF NOT EXISTS inputs_by_state ON inputs (state, seq);
CREATE INDEX IF NOT EXISTS inputs_by_claim ON inputs (claimed_by);
";

/// Version 4's setup: version 3's without its ` submitter 0x...`, and that address.
pub(super) fn split_setup(setup: &str) -> (&str, Option<&str>) {
    match setup.split_once(" submitter ") {
        Some((s, who)) => (s, Some(who)),
        None => (setup, None),
    }
}

/// The dedup key of an input: SHA-256 of its text. It stays inside the journal, which holds
/// the input itself anyway.
pub(super) fn input_key(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// The lock file beside a journal: `<journal>.lock`, next to the file the path resolves to, so
/// a symlink or another spelling of the same journal takes the same lock. (A hard link under
/// another name is not recognised: do not hard-link journals.)
pub fn lock_path(journal: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(journal).or_else(|_| {
        let dir = match journal.parent() {
            Some(d) if !d.as_os_str().is_empty() => std::fs::canonicalize(d),
            _ => std::env::current_dir(),
        };
        dir.map(|d| d.join(journal.file_name().unwrap_or_default()))
    });
    let journal = resolved.as_deref().unwrap_or(journal);
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    journal.with_file_name(name)
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Takes the journal's lock (non-blocking) and writes this process's id into the lock file.
/// The OS releases it when the file is closed or the process dies, however it dies.
pub(super) fn lock(journal: &Path) -> Result<File, String> {
    let lp = lock_path(journal);
    let mut f = open_private(&lp).map_err(|e| format!("lock file {}: {e}", lp.display()))?;
    match f.try_lock() {
        Ok(()) => {
            // Best effort: the pid only makes the other process's message more helpful.
            let _ = f.set_len(0);
            let _ = writeln!(f, "{}", std::process::id());
            let _ = f.flush();
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            let pid = text.trim().parse::<u32>().ok();
            let (who, stop) = match pid {
                Some(p) => (format!(" (pid {p})"), format!(" (kill {p})")),
                None => (String::new(), String::new()),
            };
            Err(format!(
                "another zkinfer oracle{who} is running on this journal (it holds {}); two oracles \
                 on one journal would race each other. Let it finish or stop it{stop}, or give this \
                 run another --journal",
                lp.display()
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("locking {}: {e}", lp.display())),
    }
}

/// Creates the database file 0600 if it does not exist (SQLite gives its `-wal` and `-shm` the
/// database file's mode), and tightens the mode of existing files that others could read.
pub(super) fn make_private(journal: &Path) -> std::io::Result<()> {
    drop(open_private(journal)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = journal.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        let p = journal.with_file_name(name);
        if let Ok(m) = std::fs::metadata(&p) {
            if m.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = st
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names.iter().any(|n| n == column))
}

/// Adds to `inputs` each of `columns` it does not have yet.
fn add_columns(conn: &Connection, columns: &[(&str, &str)]) -> rusqlite::Result<()> {
    for (column, ty) in columns {
        if !has_column(conn, "inputs", column)? {
            conn.execute_batch(&format!("ALTER TABLE inputs ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction (creating it when new).
/// `Err` names what is wrong; a journal of a newer zkinfer is refused, not downgraded.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let e = |e: rusqlite::Error| e.to_string();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        .map_err(e)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(e)?;
    tx.execute_batch(SCHEMA_V1).map_err(e)?;
    let version: i64 = tx
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()
        .map_err(e)?
        .map_or(Ok(1), |v| v.parse::<i64>())
        .map_err(|_| "its schema version is not a number".to_string())?;
    if version > SCHEMA_VERSION {
        return Err(format!(
            "it was written by a newer zkinfer (schema {version}; this one knows up to \
             {SCHEMA_VERSION}): run that version, or use another --journal"
        ));
    }
    if version < 2 {
        add_columns(&tx, V2_COLUMNS).map_err(e)?;
        tx.execute_batch(V2_TABLES).map_err(e)?;
        let rows: Vec<(i64, String)> = {
            let mut st = tx
                .prepare("SELECT seq, input FROM inputs WHERE input_key IS NULL")
                .map_err(e)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(e)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(e)?;
            rows
        };
        for (seq, input) in rows {
            tx.execute(
                "UPDATE inputs SET input_key = ?2 WHERE seq = ?1",
                params![seq, input_key(&input)],
            )
            .map_err(e)?;
        }
    }
    if version < 3 {
        add_columns(&tx, V3_COLUMNS).map_err(e)?;
        tx.execute_batch(V3_TABLES).map_err(e)?;
    }
    if version < 4 {
        add_columns(&tx, V4_COLUMNS).map_err(e)?;
        tx.execute_batch(V4_TABLES).map_err(e)?;
        let setup: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'setup'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(e)?;
        if let Some(old) = setup {
            let (new, who) = split_setup(&old);
            if let Some(who) = who {
                tx.execute(
                    "UPDATE inputs SET submitter = ?1 WHERE proof IS NOT NULL OR tx_hash IS NOT NULL",
                    params![who],
                )
                .map_err(e)?;
            }
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'setup'",
                params![new],
            )
            .map_err(e)?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![SCHEMA_VERSION.to_string()],
    )
    .map_err(e)?;
    // The key of default input ids (see `Journal::keyed_id`), made once per journal.
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('id_key', ?1)",
        params![hex::encode(rand::random::<[u8; 32]>())],
    )
    .map_err(e)?;
    tx.commit().map_err(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_journal_is_migrated_and_its_inputs_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.sqlite");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(SCHEMA_V1).unwrap();
            c.execute(
                "INSERT INTO inputs (id, input, state) VALUES ('a', '{\"x\": 1}', 'submitted')",
                [],
            )
            .unwrap();
        }
        let mut c = Connection::open(&p).unwrap();
        migrate(&mut c).unwrap();
        // Twice is a no-op.
        migrate(&mut c).unwrap();
        let (key, retries): (String, i64) = c
            .query_row("SELECT input_key, gas_retries FROM inputs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(key, input_key("{\"x\": 1}"));
        assert_eq!(retries, 0);
        let batch: Option<i64> = c
            .query_row("SELECT batch FROM inputs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(batch, None, "version 3: rows proven alone have no batch");
        let claim: Option<String> = c
            .query_row("SELECT claimed_by FROM inputs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(claim, None, "version 4: nobody holds it");
        let v: String = c
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION.to_string());
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
            .unwrap();
        assert!(migrate(&mut c).unwrap_err().contains("newer zkinfer"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod v3 {
    use super::super::{Journal, State};
    use super::*;

    /// A journal as version 3 wrote it: its setup names the submitter, a batch is formed and
    /// proved, and an input is pending.
    #[test]
    fn a_version_3_journal_opens_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v3.sqlite");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(SCHEMA_V1).unwrap();
            add_columns(&c, V2_COLUMNS).unwrap();
            c.execute_batch(V2_TABLES).unwrap();
            add_columns(&c, V3_COLUMNS).unwrap();
            c.execute_batch(V3_TABLES).unwrap();
            c.execute_batch(
                "INSERT INTO meta VALUES ('schema', '3');
                 INSERT INTO meta VALUES ('id_key', 'abcd');
                 INSERT INTO meta VALUES ('setup', 'chain 31337 registry 0x1 model 0x2 submitter 0xf39f');
                 INSERT INTO inputs (id, input, state, proof, binding_nonce, batch)
                     VALUES ('a', '1', 'proved', '{p}', 0, 7);
                 INSERT INTO inputs (id, input, state, proof, binding_nonce, batch)
                     VALUES ('b', '2', 'proved', '{p}', 0, 7);
                 INSERT INTO inputs (id, input, state) VALUES ('c', '3', 'pending');",
            )
            .unwrap();
        }
        let mut j = Journal::open(&p, "chain 31337 registry 0x1 model 0x2").unwrap();
        j.register("0xf39f", std::time::Duration::from_secs(60))
            .unwrap();
        let a = j.get("a").unwrap().unwrap();
        assert_eq!(
            a.submitter.as_deref(),
            Some("0xf39f"),
            "the old setup's submitter"
        );
        assert_eq!(j.get("c").unwrap().unwrap().submitter, None);
        // The formed batch is claimed whole, and goes on.
        let first = j.claim_next(true).unwrap().unwrap();
        assert_eq!(first.batch, Some(7));
        j.set_sent(first.unit(), "0x1", b"raw", 0, 100).unwrap();
        j.set_submitted(first.unit(), 3, 10).unwrap();
        // New batches are numbered after the carried-over ones.
        let c = j.claim_pending(1, true, 0.0).unwrap();
        let b = j
            .set_batch_proved(&[c[0].id.clone()], None, "{p}", 1)
            .unwrap();
        assert_eq!(b, 8);
        assert!(j
            .all()
            .unwrap()
            .iter()
            .filter(|r| r.id != "c")
            .all(|r| r.state == State::Submitted));
        drop(j);
        // The old setup's spelling is no longer this journal's.
        assert!(Journal::open(&p, "chain 31337 registry 0x1 model 0x2 submitter 0xf39f").is_err());
    }
}
