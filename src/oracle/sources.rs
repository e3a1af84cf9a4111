//! Where inputs come from: a followed JSON-lines file, stdin, or the registry's
//! `PredictionRequested` events. Every input is checked at intake (an object, its salts) and
//! recorded in the journal together with the source's cursor.
//!
//! Events are read in ranges of at most `max_block_range` blocks (several per poll until caught
//! up; the cursor moves after each), and only up to `head - confirmations`, so a long history
//! is worked through in bounded steps and a shallow reorg cannot show the oracle a request that
//! then disappears. A request is served only when its requester is allowed, and only when its
//! input is not a duplicate (see [`Journal::record`](super::journal::Journal::record)).

use std::io::{BufRead, Read, Seek};
use std::path::{Component, Path};

use super::journal::{Intake, Recorded};
use super::retry::retry_plain;
use super::{input, Error, Oracle, Outcome, Requesters, Result};
use crate::chain::registry::Request;

impl Oracle<'_> {
    /// An input taken as it arrives, or refused with a reason that quotes none of its values.
    fn intake(&self, id: String, text: String) -> Intake {
        match input::parse(&text, self.salts) {
            Ok(_) => Intake::Take { id, input: text },
            Err(reason) => Intake::Fail {
                id,
                input: text,
                reason,
            },
        }
    }

    /// An input line's id: its `id` field, else a keyed hash that reveals nothing about it.
    fn line_id(&self, line: &str) -> String {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["id"].is_string() => v["id"].as_str().unwrap_or_default().to_string(),
            _ => self.journal.keyed_id(line.trim()),
        }
    }

    fn ingest_lines(&mut self, source: &str, position: i64, text: &str) -> Result<()> {
        let items: Vec<Intake> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| self.intake(self.line_id(l), l.to_string()))
            .collect();
        let rec = self.journal.record(source, position, &items, None)?;
        if !rec.new.is_empty() {
            tracing::info!(
                "zkinfer oracle: {} new input(s) from {source}",
                rec.new.len()
            );
        }
        self.report_intake(&rec)
    }

    /// Reads complete new lines of the file after the journal's cursor.
    pub(super) fn ingest_file(&mut self, path: &Path) -> Result<()> {
        let source = format!("file:{}", path.display());
        let from = self.journal.cursor(&source)?;
        let err = |e: std::io::Error| Error::Source(format!("{}: {e}", path.display()));
        let mut f = std::fs::File::open(path).map_err(err)?;
        f.seek(std::io::SeekFrom::Start(from as u64)).map_err(err)?;
        let mut buf = String::new();
        f.read_to_string(&mut buf).map_err(err)?;
        // Only whole lines: a line still being written is taken next time.
        let complete = buf.rfind('\n').map_or(0, |i| i + 1);
        self.ingest_lines(&source, from + complete as i64, &buf[..complete])
    }

    pub(super) fn ingest_stdin(&mut self) -> Result<()> {
        let mut text = String::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Error::Source(format!("stdin: {e}")))?;
            text.push_str(&line);
            text.push('\n');
        }
        self.ingest_lines("stdin", 0, &text)
    }

    /// Reads new requests up to `head - confirmations`, a bounded block range at a time.
    pub(super) async fn ingest_events(&mut self, dir: &Path) -> Result<()> {
        let source = "events";
        let chain = self.chain;
        let (registry, model) = (self.cfg.registry, self.cfg.model);
        let head = retry_plain("eth_blockNumber", || chain.block_number()).await?;
        let Some(safe) = head.checked_sub(self.confirmations) else {
            return Ok(());
        };
        let span = self.cfg.max_block_range.max(1);
        let mut from = self.journal.cursor(source)? as u64;
        while from <= safe {
            let to = safe.min(from.saturating_add(span - 1));
            let reqs = retry_plain("PredictionRequested logs", || {
                chain
                    .registry(registry)
                    .prediction_requests(model, from, to)
            })
            .await?;
            let items: Vec<Intake> = reqs.iter().map(|r| self.request(dir, r)).collect();
            let dedup = Some(self.cfg.min_interval.as_secs() as i64);
            let rec = self.journal.record(source, to as i64 + 1, &items, dedup)?;
            if !reqs.is_empty() {
                tracing::info!(
                    "zkinfer oracle: {} request(s) in blocks {from}..={to}: {} new, {} skipped",
                    reqs.len(),
                    rec.new.len(),
                    rec.skipped.len()
                );
            }
            self.report_intake(&rec)?;
            from = to + 1;
        }
        Ok(())
    }

    /// Intake of one request: its requester, its `inputRef`, then the input it names.
    fn request(&self, dir: &Path, r: &Request) -> Intake {
        let id = format!("request-{}", r.id);
        if let Requesters::Only(allowed) = &self.cfg.requesters {
            if !allowed.contains(&r.requester) {
                return Intake::Skip {
                    id,
                    reason: format!(
                        "requester {:#x} is not allowed (serving only --requester {})",
                        r.requester,
                        allowed
                            .iter()
                            .map(|a| format!("{a:#x}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
            }
        }
        let input_ref = &r.input_ref;
        let safe = !input_ref.is_empty()
            && Path::new(input_ref)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Intake::Fail {
                id,
                input: input_ref.clone(),
                reason: format!(
                    "inputRef '{input_ref}' is not a relative path under the input folder"
                ),
            };
        }
        match std::fs::read_to_string(dir.join(input_ref)) {
            Ok(text) => self.intake(id, text.trim().to_string()),
            Err(e) => Intake::Fail {
                id,
                input: input_ref.clone(),
                reason: format!("inputRef '{input_ref}': {e}"),
            },
        }
    }

    /// Inputs refused or skipped as they arrived are final at once: report them.
    fn report_intake(&mut self, rec: &Recorded) -> Result<()> {
        for id in &rec.new {
            if self
                .journal
                .get(id)?
                .is_some_and(|r| r.state == super::journal::State::Failed)
            {
                self.finish(id)?;
            }
        }
        for s in &rec.skipped {
            tracing::info!("zkinfer oracle: {}: skipped: {}", s.id, s.reason);
            (self.emit)(&Outcome {
                id: s.id.clone(),
                status: "skipped".into(),
                reason: Some(s.reason.clone()),
                served_by: s.served_by.clone(),
                ..Outcome::default()
            });
        }
        Ok(())
    }
}
