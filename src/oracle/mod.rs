//! The oracle bot: takes inputs from a source (a JSON-lines file it follows, stdin, or the
//! registry's `PredictionRequested` events), proves each bound to the registry, and submits
//! it, keeping a [`journal`] so that every input ends submitted exactly once or failed with a
//! reason, across crashes and restarts. On a SQLite journal one oracle runs at a time (a second
//! is refused while the first runs); on a PostgreSQL journal any number of oracles, on any
//! machines, work as one pool ([`journal::claims`]): each claims an input or a batch, proves
//! it, submits it with its own key and settles it, and takes over what a dead one held once
//! its lease runs out. One of them at a time ingests.
//!
//! An input is one JSON object:
//! `{"id": "...", "input_data": [[...]], "salt": "0x...", "output_salt": "0x...", "params": {"T": 0.5}}`.
//! `id` defaults to a hash of the line keyed with a secret of the journal (so it reveals
//! nothing about the line); `params` (the predicate's parameters) to none. `salt` is required,
//! and must not be 0, when the build hashes its input, and `output_salt` when it hashes its
//! outputs: a fresh random value per input, `0x` and up to 62 hex digits (for example
//! `openssl rand -hex 31`), kept with the data since it opens the commitment. Without it,
//! anyone who can guess the data can check a guess against the public commitment; an input
//! without one fails at intake, unless the oracle runs with `allow_unsalted`
//! (`--allow-unsalted`). Salts are otherwise unused (0).
//!
//! Events (`--events DIR`): each request's `inputRef` names a file in DIR holding one such
//! object. Only requests from allowed requesters are served ([`Requesters`]); others are
//! skipped (recorded, logged and reported with status `skipped`, never proven). A request whose
//! input (the file's content) is the same as an earlier input's is skipped as served by that
//! one while it is in flight, and for `min_interval` after it settled; later it is served
//! again. Logs are read in ranges of at most `max_block_range` blocks and only
//! `confirmations` blocks behind the head (default [`default_confirmations`]).
//!
//! Nothing the oracle prints or journals as a reason or log line contains an input, output or
//! score value: reasons name fields and rules, never values. The journal's `input` column is
//! the one place inputs are kept (crash recovery needs them), and the journal files are 0600.
//!
//! For tests only: `ZKINFER_ORACLE_CRASH=POINT[:N]` exits the process (code 86) the Nth time
//! (default the first) it reaches POINT: `after-prove` (proof made, not journaled),
//! `before-journal-write` (transaction signed, not journaled nor sent), `after-send` (journaled
//! and broadcast, receipt not awaited), `after-receipt` (receipt seen, not journaled).
//! `ZKINFER_ORACLE_LOW_GAS=PERCENT` gives the first submission the process signs that
//! percentage of its estimated gas, so that it runs out of gas on-chain.

mod batch;
mod input;
pub mod journal;
mod retry;
mod sources;
mod submit;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::chain::{Address, Chain};
use crate::pipeline::Build;
use journal::{Journal, State};

pub use input::SaltRules;
pub use submit::{gas_limit, MAX_GAS_RETRIES};

/// Exit code of a deliberate crash (`ZKINFER_ORACLE_CRASH`).
pub const CRASH_EXIT: i32 = 86;

/// Where inputs come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A JSON-lines file, read from where the last run stopped; followed for new lines
    /// unless `--once`.
    File(PathBuf),
    /// Standard input until EOF.
    Stdin,
    /// `PredictionRequested` events of the model; `inputRef` names a file under the folder.
    Events(PathBuf),
}

/// Whose `PredictionRequested` events are served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requesters {
    /// Everyone's (`--any-requester`).
    Anyone,
    /// Only these requesters' (`--requester ADDR`, repeated); empty serves no one.
    Only(Vec<Address>),
}

/// Confirmations the oracle waits for before it reads a block's requests, by default: none on
/// a local development chain ([`crate::chain::DEV_CHAIN_IDS`]), 12 elsewhere.
pub fn default_confirmations(chain_id: u64) -> u64 {
    if crate::chain::DEV_CHAIN_IDS.contains(&chain_id) {
        0
    } else {
        12
    }
}

/// What the oracle needs.
pub struct Config {
    /// The model's build.
    pub build: Build,
    /// The model id.
    pub model: [u8; 32],
    /// The registry.
    pub registry: Address,
    /// The journal: a SQLite file or a PostgreSQL database.
    pub journal: journal::Location,
    /// Where inputs come from (`None`: this worker only works on what others ingest; a
    /// PostgreSQL journal only).
    pub source: Option<Source>,
    /// How long this worker's claims last unless its heartbeat renews them.
    pub lease: Duration,
    /// Process what is there, then exit.
    pub once: bool,
    /// Polling interval of a followed file or of events.
    pub poll: Duration,
    /// Proving attempts per input before it fails (a stale binding needs another).
    pub max_attempts: i64,
    /// Accept hashed inputs and outputs without a salt (salt 0).
    pub allow_unsalted: bool,
    /// Whose requests are served (events).
    pub requesters: Requesters,
    /// A request for the same input as one submitted (or failed) less than this long ago is
    /// not served again (events).
    pub min_interval: Duration,
    /// Most blocks per log query (events).
    pub max_block_range: u64,
    /// Blocks behind the head that requests are read up to (events); `None`:
    /// [`default_confirmations`].
    pub confirmations: Option<u64>,
    /// Inputs per proof on a batch build (`None`: the build's batch size); see [`batch`].
    pub batch_size: Option<usize>,
    /// How long the oldest pending input waits for a batch to fill before a partial batch is
    /// proven (batch builds).
    pub max_wait: Duration,
}

/// A final outcome, printed as one JSON line with `--json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// The input's id.
    pub id: String,
    /// `submitted`, `failed`, or `skipped` (a request not served).
    pub status: String,
    /// Transaction hash (submitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// Block (submitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    /// Gas used (submitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<u64>,
    /// The registry nonce the proof was bound to (submitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// The batch it was proven and submitted in (batch builds), and how many inputs that
    /// batch carried (`gas_used` is the whole transaction's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<i64>,
    /// Inputs in its batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_inputs: Option<usize>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The earlier input that serves a skipped duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

/// Oracle errors: the run stops, the journal keeps every input's state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] journal::Error),
    /// The chain kept failing after retries.
    #[error("{0}")]
    Chain(String),
    /// A sent transaction got no receipt in time (it may still land).
    #[error("{0}")]
    NoReceipt(String),
    /// The source could not be read.
    #[error("input source {0}")]
    Source(String),
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
}

/// Result type of the oracle.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The bot.
pub struct Oracle<'a> {
    cfg: Config,
    chain: &'a Chain,
    /// Renews this worker's claims while it lives (dropped before the journal).
    _heartbeat: journal::Heartbeat,
    journal: Journal,
    submitter: Address,
    emit: Box<dyn FnMut(&Outcome) + 'a>,
    salts: SaltRules,
    confirmations: u64,
    /// Inputs per proof: 1 on a one-sample build.
    batch_size: usize,
}

impl<'a> Oracle<'a> {
    /// Opens the journal (bound to this chain, registry, model and submitter; refused while
    /// another process holds it).
    pub fn new(cfg: Config, chain: &'a Chain, emit: Box<dyn FnMut(&Outcome) + 'a>) -> Result<Self> {
        let submitter = chain.from.ok_or_else(|| {
            Error::Chain("the oracle submits: give --private-key or set ZKINFER_PRIVATE_KEY".into())
        })?;
        if matches!(cfg.source, Some(Source::Events(_)))
            && cfg.requesters == Requesters::Only(vec![])
        {
            return Err(Error::Config(
                "serving events needs a list of requesters (--requester ADDR, repeatable) or \
                 --any-requester: requesting is free, and every request served costs a proof \
                 and gas"
                    .into(),
            ));
        }
        if cfg.source.is_none() && !cfg.journal.is_shared() {
            return Err(Error::Config(
                "say where inputs come from: --input-file FILE, --stdin, or --events INPUT_DIR \
                 (a worker without a source needs a shared PostgreSQL --journal)"
                    .into(),
            ));
        }
        // Each worker submits with its own key, so the setup does not name the submitter.
        let setup = format!(
            "chain {} registry {:#x} model 0x{}",
            chain.chain_id,
            cfg.registry,
            hex::encode(cfg.model)
        );
        let slots = cfg.build.settings.circuit.batch.max(1);
        let batch_size = cfg.batch_size.unwrap_or(slots);
        if batch_size == 0 || batch_size > slots {
            return Err(Error::Config(format!(
                "--batch-size {batch_size}: this build proves {slots} sample(s) per proof; give                  1 to {slots}, or rebuild with `zkinfer build --batch N`"
            )));
        }
        let mut journal = Journal::open(&cfg.journal, &setup)?;
        journal.register(&format!("{submitter:#x}"), cfg.lease)?;
        let heartbeat = journal.heartbeat()?;
        tracing::info!(
            "zkinfer oracle: worker {} on journal {} (lease {} s)",
            journal.worker(),
            journal.location(),
            cfg.lease.as_secs()
        );
        let salts = SaltRules::of(cfg.build.settings.circuit.visibility, cfg.allow_unsalted);
        let confirmations = cfg
            .confirmations
            .unwrap_or_else(|| default_confirmations(chain.chain_id));
        Ok(Self {
            cfg,
            chain,
            _heartbeat: heartbeat,
            journal,
            submitter,
            emit,
            salts,
            confirmations,
            batch_size,
        })
    }

    /// The journal (for reports).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Whether the run proves what is there now rather than waiting for batches to fill
    /// (`--once`, stdin).
    fn drains(&self) -> bool {
        self.cfg.once || matches!(self.cfg.source, Some(Source::Stdin))
    }

    /// Runs until the source is exhausted and nothing is open (`--once`, stdin) or forever (a
    /// followed file, events, or a worker without a source).
    pub async fn run(&mut self) -> Result<()> {
        // Settle what a previous run left open before taking anything new.
        self.process_open().await?;
        let mut ingested = self.cfg.source.is_none();
        let mut waiting_said = false;
        loop {
            if let Some(source) = self.cfg.source.clone() {
                if self.journal.try_ingest()? {
                    match source {
                        Source::File(p) => self.ingest_file(&p)?,
                        Source::Stdin if !ingested => self.ingest_stdin()?,
                        Source::Stdin => {}
                        Source::Events(dir) => self.ingest_events(&dir).await?,
                    }
                    ingested = true;
                } else if !std::mem::replace(&mut waiting_said, true) {
                    tracing::info!(
                        "zkinfer oracle: another worker is ingesting on this journal; this one \
                         works on what is recorded and takes over ingestion if that one stops"
                    );
                }
            }
            self.process_open().await?;
            if self.drains() && ingested && self.journal.open_count()? == 0 {
                return Ok(());
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    fn finish(&mut self, id: &str) -> Result<()> {
        let row = self.journal.get(id)?;
        if let Some(r) = row {
            let batch_inputs = match r.batch {
                Some(b) => Some(self.journal.batch_rows(b)?.len()),
                None => None,
            };
            let o = Outcome {
                id: r.id.clone(),
                status: r.state.to_string(),
                tx: r.tx_hash.clone().filter(|_| r.state == State::Submitted),
                block: r.block.map(|b| b as u64),
                gas_used: r.gas_used.map(|g| g as u64),
                nonce: r
                    .binding_nonce
                    .map(|n| n as u64)
                    .filter(|_| r.state == State::Submitted),
                reason: r.reason.clone(),
                served_by: None,
                batch: r.batch,
                batch_inputs,
            };
            (self.emit)(&o);
        }
        Ok(())
    }

    /// Drives every open row this worker can claim to a final state, in arrival order (on a
    /// batch build, in batches: see [`batch`]).
    async fn process_open(&mut self) -> Result<()> {
        if self.cfg.build.settings.circuit.batch > 1 {
            return self.process_batches().await;
        }
        while let Some(row) = self.journal.claim_next(false)? {
            let r = self.drive(row.id.clone()).await;
            if self.let_go(r, (&row.id).into())? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// What a failed step means for the run. A claim that ran out is not an error: another
    /// worker has the unit, and this one goes on with the next (`Ok(false)`). On a shared
    /// journal a transaction without a receipt is not either: the worker lets the unit go,
    /// for itself or another to settle later, and ends this round (`Ok(true)`); alone on a
    /// SQLite journal it stops, and the next run keeps waiting.
    fn let_go(&self, r: Result<()>, unit: journal::Unit<'_>) -> Result<bool> {
        match r {
            Err(Error::Journal(e)) if e.lost_claim => {
                tracing::warn!("zkinfer oracle: {}; letting it go", e.reason);
                Ok(false)
            }
            Err(Error::NoReceipt(what)) if self.cfg.journal.is_shared() => {
                tracing::warn!("zkinfer oracle: {what}; letting it go for now");
                self.journal.release_unit(unit)?;
                Ok(true)
            }
            r => r.map(|()| false),
        }
    }

    async fn drive(&mut self, id: String) -> Result<()> {
        loop {
            let Some(row) = self.journal.get(&id)? else {
                return self.finish(&id);
            };
            match row.state {
                State::Pending => self.prove(&row).await?,
                State::Proved => self.send(&row).await?,
                State::Sent => self.settle(&row).await?,
                _ => return self.finish(&id),
            }
        }
    }
}
