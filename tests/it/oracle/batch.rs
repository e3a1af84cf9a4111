//! The oracle in batch mode (`--batch-size 4 --max-wait 0` on a four-slot build) against
//! crashes: killed at each named point (anvil restarted each time) and then by SIGKILL at
//! arbitrary moments; bad inputs (wrong length, out of range, false predicate) mixed in with
//! good ones. Every good input must end stored exactly once, in exactly one accepted batch, and
//! every bad one failed with a reason, without sinking its batch.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use super::support::{run, Setup};
use crate::common::{block_on, fixture};
use zkinfer::circuit::commit::parse_salt;

fn oracle_cmd(s: &Setup) -> Command {
    let mut cmd = s.oracle(&["--once", "--batch-size", "4", "--max-wait", "0"]);
    cmd.arg("--input-file")
        .arg(s.work().join("inputs.jsonl"))
        .arg("--journal")
        .arg(s.work().join("journal.sqlite"));
    cmd
}

/// A reproducible sequence of kill delays (milliseconds), spread over a run's phases: loading
/// the keys, proving, signing, waiting for receipts.
fn delays(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            300 + x % 5_000
        })
        .collect()
}

#[test]
fn batch_oracle_survives_crashes_and_sigkill_at_any_moment() {
    let mut s = Setup::with_batch(4);
    let (build, registry, model) = (&s.build, s.registry, s.model);
    let work = s.work().to_path_buf();

    // 14 good inputs (distinct salts); a bad one every fifth line, so each lands in a batch
    // of good ones.
    let samples = std::fs::read_to_string(fixture("breast_cancer_mlp", "test.jsonl")).unwrap();
    let mut lines = Vec::new();
    let mut expected = BTreeMap::new();
    let bad = [
        r#"{"id": "bad-shape", "input_data": [[1, 2, 3]], "salt": "0x1", "params": {"T": 0}}"#
            .to_string(),
        format!(
            r#"{{"id": "bad-range", "input_data": [[{}]], "salt": "0x2", "params": {{"T": 0}}}}"#,
            vec!["1e12"; 30].join(", ")
        ),
        String::new(), // the false predicate, from a real sample below
    ];
    let mut bad_iter = bad.into_iter();
    for (i, line) in samples.lines().take(14).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let salt = format!("0x{:x}", 5000 + i);
        let inputs: Vec<Vec<f64>> = serde_json::from_value(v["input_data"].clone()).unwrap();
        let c = build
            .input_commitment(&inputs, parse_salt(&salt).unwrap())
            .unwrap();
        expected.insert(format!("in-{i}"), zkinfer::field::to_word(&c));
        lines.push(serde_json::json!({"id": format!("in-{i}"), "input_data": v["input_data"], "salt": salt, "params": {"T": -100.0}}).to_string());
        if i % 5 == 2 {
            let b = bad_iter.next().unwrap();
            lines.push(if b.is_empty() {
                serde_json::json!({"id": "bad-predicate", "input_data": v["input_data"], "salt": "0x3", "params": {"T": 1000.0}}).to_string()
            } else {
                b
            });
        }
    }
    assert_eq!(lines.len(), 17);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(work.join("inputs.jsonl"), text).unwrap();

    // Killed at each named point, anvil restarted (from its saved state) each time.
    for crash in [
        "after-prove:1",
        "before-journal-write:1",
        "after-send:1",
        "after-receipt:1",
        "after-send:2",
    ] {
        let mut cmd = oracle_cmd(&s);
        cmd.env("ZKINFER_ORACLE_CRASH", crash);
        let r = run(cmd, None);
        assert_eq!(
            r.code,
            Some(zkinfer::oracle::CRASH_EXIT),
            "{crash}: the bot should have crashed"
        );
        s.anvil.restart();
    }
    // SIGKILL at arbitrary moments.
    for (i, ms) in delays(6).into_iter().enumerate() {
        let mut child = oracle_cmd(&s).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        if i == 3 {
            s.anvil.restart();
        }
    }
    // Whatever is left, to the end (a killed run may already have settled everything; the
    // exit code says whether this run saw a failure).
    let r = run(oracle_cmd(&s), None);
    assert!(matches!(r.code, Some(0 | 1)), "exit {:?}", r.code);

    // The journal: every good input submitted in a batch, every bad one failed with a reason
    // of its own, nothing open.
    let db = rusqlite::Connection::open(work.join("journal.sqlite")).unwrap();
    let mut st = db
        .prepare("SELECT id, state, reason, batch, proof FROM inputs ORDER BY seq")
        .unwrap();
    #[allow(clippy::type_complexity)] // one journal row, as read
    let rows: Vec<(String, String, Option<String>, Option<i64>, Option<String>)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 17);
    let mut batches: BTreeMap<i64, (Vec<String>, String)> = BTreeMap::new();
    for (id, state, reason, batch, proof) in &rows {
        if id.starts_with("bad-") {
            assert_eq!(state, "failed", "{id}");
            assert!(
                !reason.as_deref().unwrap_or("").is_empty(),
                "{id}: no reason"
            );
        } else {
            assert_eq!(state, "submitted", "{id}: {reason:?}");
            let b = batch.expect("a good input is submitted in a batch");
            let e = batches
                .entry(b)
                .or_insert_with(|| (vec![], proof.clone().unwrap()));
            e.0.push(id.clone());
        }
    }
    assert!(batches.len() >= 4, "14 inputs in batches of at most 4");
    // On-chain: exactly one accepted proof per journaled batch (the submitter's nonce counts
    // every accepted proof), each storing exactly its members, and each good input stored.
    block_on(async {
        let chain = s.chain(None).await;
        let me = chain.from.unwrap();
        assert_eq!(
            chain
                .registry(registry)
                .next_nonce(model, me)
                .await
                .unwrap(),
            batches.len() as u64,
            "an accepted proof the journal does not know of"
        );
        let mut stored = BTreeSet::new();
        for (b, (members, proof)) in &batches {
            let pf: zkinfer::artifacts::ProofFile = serde_json::from_str(proof).unwrap();
            let (words, _) = zkinfer::pipeline::verify_calldata(&pf);
            let statement = zkinfer::chain::registry::statement(model, &words);
            let (n, _) = chain
                .registry(registry)
                .find_statement(statement)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("batch {b} not accepted"));
            assert_eq!(n as usize, members.len(), "batch {b}");
            for m in members {
                assert!(stored.insert(m.clone()), "{m} in two batches");
                let key = expected[m];
                let p = chain
                    .registry(registry)
                    .read_latest(model, Some(key), 0)
                    .await;
                assert!(p.is_ok(), "{m} not stored: {p:?}");
            }
        }
        assert_eq!(stored.len(), 14);
    });
    // A further run has nothing left to do.
    let r = run(oracle_cmd(&s), None);
    assert_eq!((r.code, r.out.len()), (Some(0), 0));
}
