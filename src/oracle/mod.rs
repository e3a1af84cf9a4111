//! The oracle bot: takes inputs from a source (a JSON-lines file it follows, stdin, or the
//! registry's `PredictionRequested` events), proves each bound to the registry, and submits
//! it, keeping a [`journal`] so that every input ends submitted exactly once or failed with a
//! reason, across crashes and restarts.
//!
//! An input is one JSON object: `{"id": "...", "input_data": [[...]], "salt": "0x...",
//! "params": {"T": 0.5}}`; `id` defaults to a hash of the line, `salt` to 0, `params` to none.
//!
//! For tests, `ZKINFER_ORACLE_CRASH=POINT[:N]` exits the process (code 86) the Nth time (default
//! the first) it reaches POINT: `after-prove` (proof made, not journaled), `before-journal-write`
//! (transaction signed, not journaled nor sent), `after-send` (journaled and broadcast, receipt
//! not awaited), `after-receipt` (receipt seen, not journaled).

pub mod journal;

use std::collections::HashMap;
use std::io::{BufRead, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifacts::ProofFile;
use crate::chain::registry::CallError;
use crate::chain::{Address, Chain};
use crate::circuit::{commit::parse_salt, Secrets};
use crate::pipeline::{self, Build, Quiet};
use journal::{Journal, Row};

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

/// What the oracle needs.
pub struct Config {
    /// The model's build.
    pub build: Build,
    /// The model id.
    pub model: [u8; 32],
    /// The registry.
    pub registry: Address,
    /// The journal file.
    pub journal: PathBuf,
    /// Where inputs come from.
    pub source: Source,
    /// Process what is there, then exit.
    pub once: bool,
    /// Polling interval of a followed file or of events.
    pub poll: Duration,
    /// Proving attempts per input before it fails (a stale binding needs another).
    pub max_attempts: i64,
}

/// A final outcome, printed as one JSON line with `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The input's id.
    pub id: String,
    /// `submitted` or `failed`.
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
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    /// The source could not be read.
    #[error("input source {0}")]
    Source(String),
}

/// Result type of the oracle.
pub type Result<T, E = Error> = std::result::Result<T, E>;

static CRASH_COUNT: AtomicU32 = AtomicU32::new(0);

fn crash_point(point: &str) {
    let Ok(spec) = std::env::var("ZKINFER_ORACLE_CRASH") else {
        return;
    };
    let (p, n) = match spec.split_once(':') {
        Some((p, n)) => (p.to_string(), n.parse::<u32>().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if p == point && CRASH_COUNT.fetch_add(1, Ordering::SeqCst) + 1 == n {
        eprintln!("zkinfer oracle: ZKINFER_ORACLE_CRASH: exiting at {point}");
        std::process::exit(CRASH_EXIT);
    }
}

/// One input as written in the source.
#[derive(Deserialize)]
struct InputLine {
    #[serde(default)]
    id: Option<String>,
    input_data: Vec<Vec<f64>>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    params: HashMap<String, f64>,
}

fn line_id(line: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v) if v["id"].is_string() => v["id"].as_str().unwrap_or_default().to_string(),
        _ => format!(
            "sha256:{}",
            hex::encode(Sha256::digest(line.trim().as_bytes()))
        ),
    }
}

/// Retries `f` on errors that are not reverts: 0.25 s, doubling, five times.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<std::result::Result<T, CallError>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, CallError>>,
{
    let mut wait = Duration::from_millis(250);
    for attempt in 0..6 {
        match f().await {
            Ok(v) => return Ok(Ok(v)),
            Err(e @ CallError::Reverted { .. }) => return Ok(Err(e)),
            Err(e) if attempt == 5 => {
                return Err(Error::Chain(format!("{what}: {e} (after 6 attempts)")))
            }
            Err(e) => {
                eprintln!("zkinfer oracle: {what}: {e}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

async fn retry_plain<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::chain::Result<T>>,
{
    match retry(what, || {
        let fut = f();
        async move { fut.await.map_err(CallError::Other) }
    })
    .await?
    {
        Ok(v) => Ok(v),
        Err(e) => Err(Error::Chain(format!("{what}: {e}"))),
    }
}

/// The bot.
pub struct Oracle<'a> {
    cfg: Config,
    chain: &'a Chain,
    journal: Journal,
    submitter: Address,
    emit: Box<dyn FnMut(&Outcome) + 'a>,
}

impl<'a> Oracle<'a> {
    /// Opens the journal (bound to this chain, registry, model and submitter).
    pub fn new(cfg: Config, chain: &'a Chain, emit: Box<dyn FnMut(&Outcome) + 'a>) -> Result<Self> {
        let submitter = chain.from.ok_or_else(|| {
            Error::Chain("the oracle submits: give --private-key or set ZKINFER_PRIVATE_KEY".into())
        })?;
        let setup = format!(
            "chain {} registry {:#x} model 0x{} submitter {submitter:#x}",
            chain.chain_id,
            cfg.registry,
            hex::encode(cfg.model)
        );
        let journal = Journal::open(&cfg.journal, &setup)?;
        Ok(Self {
            cfg,
            chain,
            journal,
            submitter,
            emit,
        })
    }

    /// The journal (for reports).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Runs until the source is exhausted (`once`, stdin) or forever (a followed file, events).
    pub async fn run(&mut self) -> Result<()> {
        // Settle what a previous run left open before taking anything new.
        self.process_open().await?;
        let mut stdin_done = false;
        loop {
            let exhausted = match self.cfg.source.clone() {
                Source::File(p) => self.ingest_file(&p)?,
                Source::Stdin => {
                    if !stdin_done {
                        self.ingest_stdin()?;
                        stdin_done = true;
                    }
                    true
                }
                Source::Events(dir) => self.ingest_events(&dir).await?,
            };
            self.process_open().await?;
            if self.cfg.once || (exhausted && matches!(self.cfg.source, Source::Stdin)) {
                return Ok(());
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    fn ingest_lines(&mut self, source: &str, position: i64, text: &str) -> Result<usize> {
        let inputs: Vec<(String, String, Option<String>)> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| (line_id(l), l.to_string(), None))
            .collect();
        let new = self.journal.record(source, position, &inputs)?;
        if !new.is_empty() {
            eprintln!("zkinfer oracle: {} new input(s) from {source}", new.len());
        }
        self.report_failed_at_intake(&new, &inputs)?;
        Ok(new.len())
    }

    /// Reads complete new lines of the file after the journal's cursor.
    fn ingest_file(&mut self, path: &Path) -> Result<bool> {
        let source = format!("file:{}", path.display());
        let from = self.journal.cursor(&source)?;
        let mut f = std::fs::File::open(path)
            .map_err(|e| Error::Source(format!("{}: {e}", path.display())))?;
        f.seek(std::io::SeekFrom::Start(from as u64))
            .map_err(|e| Error::Source(format!("{}: {e}", path.display())))?;
        let mut buf = String::new();
        f.read_to_string(&mut buf)
            .map_err(|e| Error::Source(format!("{}: {e}", path.display())))?;
        // Only whole lines: a line still being written is taken next time.
        let complete = buf.rfind('\n').map_or(0, |i| i + 1);
        self.ingest_lines(&source, from + complete as i64, &buf[..complete])?;
        Ok(true)
    }

    fn ingest_stdin(&mut self) -> Result<()> {
        let mut text = String::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Error::Source(format!("stdin: {e}")))?;
            text.push_str(&line);
            text.push('\n');
        }
        self.ingest_lines("stdin", 0, &text)?;
        Ok(())
    }

    async fn ingest_events(&mut self, dir: &Path) -> Result<bool> {
        let source = "events";
        let from = self.journal.cursor(source)? as u64;
        let chain = self.chain;
        let head = retry_plain("eth_blockNumber", || chain.block_number()).await?;
        if head < from {
            return Ok(true);
        }
        let (registry, model) = (self.cfg.registry, self.cfg.model);
        let reqs = retry_plain("PredictionRequested logs", || {
            chain.requests(registry, model, from, head)
        })
        .await?;
        let inputs: Vec<(String, String, Option<String>)> = reqs
            .into_iter()
            .map(|(rid, input_ref)| {
                let id = format!("request-{rid}");
                let safe = !input_ref.is_empty()
                    && Path::new(&input_ref)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !safe {
                    return (
                        id,
                        input_ref.clone(),
                        Some(format!(
                            "inputRef '{input_ref}' is not a relative path under the input folder"
                        )),
                    );
                }
                match std::fs::read_to_string(dir.join(&input_ref)) {
                    Ok(text) => (id, text.trim().to_string(), None),
                    Err(e) => (
                        id,
                        input_ref.clone(),
                        Some(format!("inputRef '{input_ref}': {e}")),
                    ),
                }
            })
            .collect();
        let new = self.journal.record(source, head as i64 + 1, &inputs)?;
        if !new.is_empty() {
            eprintln!(
                "zkinfer oracle: {} new request(s) up to block {head}",
                new.len()
            );
        }
        self.report_failed_at_intake(&new, &inputs)?;
        Ok(true)
    }

    /// Inputs refused as they arrived are final at once: report them.
    fn report_failed_at_intake(
        &mut self,
        new: &[String],
        inputs: &[(String, String, Option<String>)],
    ) -> Result<()> {
        for (id, _, failure) in inputs {
            if failure.is_some() && new.contains(id) {
                self.finish(id)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, id: &str) -> Result<()> {
        let row = self.journal.get(id)?;
        if let Some(r) = row {
            let o = Outcome {
                id: r.id.clone(),
                status: r.state.clone(),
                tx: r.tx_hash.clone().filter(|_| r.state == "submitted"),
                block: r.block.map(|b| b as u64),
                gas_used: r.gas_used.map(|g| g as u64),
                nonce: r
                    .binding_nonce
                    .map(|n| n as u64)
                    .filter(|_| r.state == "submitted"),
                reason: r.reason.clone(),
            };
            (self.emit)(&o);
        }
        Ok(())
    }

    /// Drives every open row to a final state, in arrival order.
    async fn process_open(&mut self) -> Result<()> {
        for row in self.journal.open_rows()? {
            self.drive(row.id.clone()).await?;
        }
        Ok(())
    }

    async fn drive(&mut self, id: String) -> Result<()> {
        loop {
            let Some(row) = self.journal.get(&id)? else {
                return self.finish(&id);
            };
            match row.state.as_str() {
                "pending" => self.prove(&row).await?,
                "proved" => self.send(&row).await?,
                "sent" => self.settle(&row).await?,
                _ => return self.finish(&id),
            }
        }
    }

    async fn prove(&mut self, row: &Row) -> Result<()> {
        if row.attempts >= self.cfg.max_attempts {
            let reason = format!(
                "gave up after {} proofs went stale (another submitter with this key?)",
                row.attempts
            );
            return Ok(self.journal.set_failed(&row.id, &reason)?);
        }
        let line: InputLine = match serde_json::from_str(&row.input) {
            Ok(l) => l,
            Err(e) => {
                let reason = format!("not an input object ({{\"input_data\": [[...]], \"salt\"?, \"params\"?}}): {e}");
                return Ok(self.journal.set_failed(&row.id, &reason)?);
            }
        };
        let _ = &line.id;
        let salt = match line.salt.as_deref().map(parse_salt).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => return Ok(self.journal.set_failed(&row.id, &format!("salt: {e}"))?),
        };
        let given: Vec<(String, f64)> = line.params.into_iter().collect();
        let predicate_params = match self.cfg.build.predicate_params(&given) {
            Ok(p) => p,
            Err(e) => return Ok(self.journal.set_failed(&row.id, &e.to_string())?),
        };
        let chain = self.chain;
        let (registry, model, submitter) = (self.cfg.registry, self.cfg.model, self.submitter);
        let binding = retry_plain("reading the registry nonce", || {
            chain.next_binding(registry, model, submitter)
        })
        .await?;
        let nonce = binding.nonce;
        let secrets = Secrets {
            input_salt: salt,
            predicate_params,
            binding: Some(binding),
            ..Default::default()
        };
        eprintln!("zkinfer oracle: proving {} (nonce {nonce})", row.id);
        let tmp = tempfile::NamedTempFile::new()
            .map_err(|e| Error::Source(format!("temporary proof file: {e}")))?;
        let build = &self.cfg.build;
        let input = line.input_data;
        let path = tmp.path().to_path_buf();
        let proved =
            tokio::task::block_in_place(|| pipeline::prove(build, &input, &secrets, &path, &Quiet));
        match proved {
            Ok(r) => {
                crash_point("after-prove");
                let text = serde_json::to_string(&r.proof)
                    .map_err(|e| Error::Source(format!("proof: {e}")))?;
                self.journal.set_proved(&row.id, &text, nonce)?;
            }
            Err(e) => self.journal.set_failed(&row.id, &e.to_string())?,
        }
        Ok(())
    }

    /// The calldata and statement of a journaled proof.
    fn calldata(&self, row: &Row) -> std::result::Result<(Vec<u8>, [u8; 32]), String> {
        let pf: ProofFile = serde_json::from_str(row.proof.as_deref().unwrap_or(""))
            .map_err(|e| format!("journaled proof unreadable: {e}"))?;
        let (words, proof) =
            pipeline::verify_calldata(&pf, Path::new("journal")).map_err(|e| e.to_string())?;
        Ok((
            Chain::submit_calldata(self.cfg.model, &words, &proof),
            Chain::statement(self.cfg.model, &words),
        ))
    }

    async fn send(&mut self, row: &Row) -> Result<()> {
        let chain = self.chain;
        let (registry, model, submitter) = (self.cfg.registry, self.cfg.model, self.submitter);
        let nonce = retry_plain("reading the registry nonce", || {
            chain.next_nonce(registry, model, submitter)
        })
        .await?;
        if Some(nonce as i64) != row.binding_nonce {
            eprintln!(
                "zkinfer oracle: {}: registry nonce moved to {nonce}; proving again",
                row.id
            );
            return Ok(self.journal.reprove(&row.id)?);
        }
        let data = match self.calldata(row) {
            Ok((d, _)) => d,
            Err(reason) => return Ok(self.journal.set_failed(&row.id, &reason)?),
        };
        let gas = match retry("estimating gas", || chain.estimate_submit(registry, &data)).await? {
            Ok(g) => g + g / 5,
            Err(e) => return self.rejected(row, &e),
        };
        let account_nonce =
            retry_plain("reading the account nonce", || chain.account_nonce()).await?;
        let (hash, raw) = retry_plain("signing", || {
            chain.sign_submit(registry, &data, gas, account_nonce)
        })
        .await?;
        crash_point("before-journal-write");
        let hash_hex = format!("0x{}", hex::encode(hash));
        self.journal
            .set_sent(&row.id, &hash_hex, &raw, account_nonce)?;
        eprintln!(
            "zkinfer oracle: {}: sent {hash_hex} (account nonce {account_nonce}, gas limit {gas})",
            row.id
        );
        retry_plain("broadcasting", || chain.broadcast(&raw)).await?;
        crash_point("after-send");
        Ok(())
    }

    /// A revert: a stale binding means prove again, anything else fails the input.
    fn rejected(&mut self, row: &Row, e: &CallError) -> Result<()> {
        match e.revert_name() {
            Some("BindingMismatch") => Ok(self.journal.reprove(&row.id)?),
            _ => Ok(self
                .journal
                .set_failed(&row.id, &format!("registry rejected it: {e}"))?),
        }
    }

    /// Waits for the receipt of a sent row (re-broadcasting a lost transaction).
    async fn settle(&mut self, row: &Row) -> Result<()> {
        let chain = self.chain;
        let hash_hex = row.tx_hash.clone().unwrap_or_default();
        let hash: [u8; 32] = crate::artifacts::decode_hex(&hash_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Chain(format!("journal: bad tx hash {hash_hex}")))?;
        let raw = row.raw_tx.clone().unwrap_or_default();
        let mut rebroadcast = true;
        for _ in 0..600 {
            match retry_plain("reading the receipt", || chain.receipt(hash)).await? {
                Some((true, block, gas)) => {
                    crash_point("after-receipt");
                    self.journal.set_submitted(&row.id, block, gas)?;
                    return Ok(());
                }
                Some((false, block, _)) => {
                    // Reverted on-chain: find out why by replaying the call.
                    let data = match self.calldata(row) {
                        Ok((d, _)) => d,
                        Err(reason) => return Ok(self.journal.set_failed(&row.id, &reason)?),
                    };
                    return match chain.estimate_submit(self.cfg.registry, &data).await {
                        Err(e @ CallError::Reverted { .. }) => self.rejected(row, &e),
                        _ => Ok(self.journal.set_failed(
                            &row.id,
                            &format!("transaction {hash_hex} reverted in block {block}"),
                        )?),
                    };
                }
                None => {
                    let known =
                        retry_plain("looking up the transaction", || chain.tx_known(hash)).await?;
                    if !known {
                        // The node may have lost the transaction's history (a restart) while
                        // keeping its effect: ask the registry whether the statement landed.
                        let statement = match self.calldata(row) {
                            Ok((_, s)) => s,
                            Err(reason) => return Ok(self.journal.set_failed(&row.id, &reason)?),
                        };
                        let (registry, model) = (self.cfg.registry, self.cfg.model);
                        if let Some((index, block)) =
                            retry_plain("looking up the statement", || {
                                chain.find_statement(registry, model, statement)
                            })
                            .await?
                        {
                            eprintln!("zkinfer oracle: {}: no receipt for {hash_hex}, but the registry stored it as prediction #{index}", row.id);
                            crash_point("after-receipt");
                            self.journal.set_submitted(&row.id, block, 0)?;
                            return Ok(());
                        }
                        let account =
                            retry_plain("reading the account nonce", || chain.account_nonce())
                                .await?;
                        if Some(account as i64) > row.account_nonce {
                            // Its account nonce was used by another transaction: sign again.
                            eprintln!(
                                "zkinfer oracle: {}: {hash_hex} was replaced; signing again",
                                row.id
                            );
                            return Ok(self.journal.unsend(&row.id)?);
                        }
                        if rebroadcast {
                            eprintln!("zkinfer oracle: {}: {hash_hex} is unknown to the node; broadcasting it again", row.id);
                            retry_plain("broadcasting", || chain.broadcast(&raw)).await?;
                            rebroadcast = false;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Err(Error::Chain(format!(
            "{}: no receipt for {hash_hex} after 120 s; run again to keep waiting",
            row.id
        )))
    }
}
