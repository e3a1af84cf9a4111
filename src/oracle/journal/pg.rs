//! The journal on PostgreSQL: its schema, the migrations between versions, and the advisory
//! locks that make one-at-a-time steps (migrating, ingesting) safe among many workers.
//!
//! The tables and columns are SQLite's (see [`super::file`]) in PostgreSQL's types: `BIGINT`
//! for integers, `BYTEA` for the raw transaction, `BIGSERIAL` for arrival order, batch numbers
//! and the skipped requests' order (`skipped.rowid`, SQLite's implicit column made explicit).
//! PostgreSQL journals start at schema 4; each later version is one more step in
//! [`MIGRATIONS`], run in one transaction under an advisory lock, so workers started together
//! migrate once.

use super::db::Db;
use super::file::SCHEMA_VERSION;

/// Advisory lock keys (per database: one journal per database).
pub(super) const MIGRATE_LOCK: i64 = 0x7a6b_696e_6665_7201;
/// Held by the one process that ingests (see [`super::Journal::try_ingest`]).
pub(super) const INGEST_LOCK: i64 = 0x7a6b_696e_6665_7202;

/// Schema 4, the first PostgreSQL schema.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, position BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    input TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'proved', 'sent', 'submitted', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    proof TEXT,
    binding_nonce BIGINT,
    tx_hash TEXT,
    raw_tx BYTEA,
    account_nonce BIGINT,
    block BIGINT,
    gas_used BIGINT,
    reason TEXT,
    updated_at BIGINT NOT NULL DEFAULT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT),
    input_key TEXT,
    gas_retries BIGINT NOT NULL DEFAULT 0,
    gas_limit BIGINT,
    batch BIGINT,
    claimed_by TEXT,
    lease_until BIGINT,
    submitter TEXT
);
CREATE INDEX IF NOT EXISTS inputs_by_key ON inputs (input_key);
CREATE INDEX IF NOT EXISTS inputs_by_batch ON inputs (batch);
CREATE INDEX IF NOT EXISTS inputs_by_state ON inputs (state, seq);
CREATE INDEX IF NOT EXISTS inputs_by_claim ON inputs (claimed_by);
CREATE TABLE IF NOT EXISTS skipped (
    rowid BIGSERIAL,
    id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    served_by TEXT,
    at BIGINT NOT NULL DEFAULT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    submitter TEXT,
    lease BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at BIGINT,
    settled BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batches (
    id BIGSERIAL PRIMARY KEY,
    formed_by TEXT,
    at BIGINT NOT NULL DEFAULT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)
);
";

/// `(version, statements)`: what brings a journal from the version before to this one.
const MIGRATIONS: &[(i64, &str)] = &[(4, SCHEMA_V4)];

/// Brings the schema to [`SCHEMA_VERSION`] (creating it when new), in one transaction under
/// an advisory lock. A journal of a newer zkinfer is refused, not downgraded.
pub(super) fn migrate(db: &mut Db) -> Result<(), String> {
    db.transaction(|db| {
        db.exec("SELECT pg_advisory_xact_lock(?1)", &[MIGRATE_LOCK.into()])?;
        db.batch("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")?;
        let version = match db.row("SELECT value FROM meta WHERE key = 'schema'", &[])? {
            None => 0,
            Some(v) => v[0]
                .text()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or("its schema version is not a number")?,
        };
        if version > SCHEMA_VERSION {
            return Err(format!(
                "it was written by a newer zkinfer (schema {version}; this one knows up to \
                 {SCHEMA_VERSION}): run that version, or use another --journal"
            ));
        }
        for (v, sql) in MIGRATIONS {
            if version < *v {
                db.batch(sql)?;
            }
        }
        db.exec(
            "INSERT INTO meta (key, value) VALUES ('schema', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[SCHEMA_VERSION.to_string().into()],
        )?;
        db.exec(
            "INSERT INTO meta (key, value) VALUES ('id_key', ?1) ON CONFLICT (key) DO NOTHING",
            &[hex::encode(rand::random::<[u8; 32]>()).into()],
        )?;
        Ok(())
    })
}
