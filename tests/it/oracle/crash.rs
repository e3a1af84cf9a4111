//! The oracle against crashes: it is killed at each deterministic point (after proving, before
//! the journal write of a signed transaction, after sending, after the receipt) while anvil is
//! restarted with its state persisted (`--state`); every one of 20 inputs must end submitted
//! exactly once or failed with a reason.

use std::collections::{BTreeMap, BTreeSet};

use super::support::{run, Setup};
use crate::common::{block_on, fixture};
use zkinfer::circuit::commit::parse_salt;

/// One `--once` run over `inputs.jsonl` (registry from the deployments file), crashing at
/// `crash`: exit code and outcomes.
fn oracle(s: &Setup, crash: Option<&str>) -> (i32, Vec<serde_json::Value>) {
    let mut cmd = s.oracle(&["--once"]);
    cmd.arg("--input-file")
        .arg(s.work().join("inputs.jsonl"))
        .arg("--journal")
        .arg(s.work().join("journal.sqlite"));
    if let Some(c) = crash {
        cmd.env("ZKINFER_ORACLE_CRASH", c);
    }
    let r = run(cmd, None);
    (r.code.unwrap_or(-1), r.out)
}

#[test]
fn oracle_survives_crashes_at_every_point() {
    let mut s = Setup::new();
    let (build, registry, model) = (&s.build, s.registry, s.model);
    let work = s.work().to_path_buf();

    // 18 good inputs (distinct salts) and 2 bad ones.
    let samples = std::fs::read_to_string(fixture("breast_cancer_mlp", "test.jsonl")).unwrap();
    let mut lines = Vec::new();
    let mut expected = BTreeSet::new();
    for (i, s) in samples.lines().take(18).enumerate() {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        let salt = format!("0x{:x}", 1000 + i);
        let inputs: Vec<Vec<f64>> = serde_json::from_value(v["input_data"].clone()).unwrap();
        let c = build
            .input_commitment(&inputs, parse_salt(&salt).unwrap())
            .unwrap();
        expected.insert(format!("0x{}", hex::encode(zkinfer::field::to_word(&c))));
        lines.push(serde_json::json!({"id": format!("in-{i}"), "input_data": v["input_data"], "salt": salt, "params": {"T": -100.0}}).to_string());
    }
    lines.push(
        r#"{"id": "bad-shape", "input_data": [[1, 2, 3]], "salt": "0x1", "params": {"T": 0}}"#
            .to_string(),
    );
    lines.push(
        r#"{"id": "bad-predicate", "input_data": [[0]], "salt": "0x2", "params": {}}"#.to_string(),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(work.join("inputs.jsonl"), text).unwrap();

    // Crash at every point (some more than once, at later inputs), restarting anvil each time.
    let mut reported: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for crash in [
        "after-prove:1",
        "before-journal-write:1",
        "after-send:1",
        "after-receipt:1",
        "after-send:3",
        "after-prove:2",
        "after-receipt:2",
        "before-journal-write:3",
    ] {
        let (code, out) = oracle(&s, Some(crash));
        assert_eq!(
            code,
            zkinfer::oracle::CRASH_EXIT,
            "{crash}: the bot should have crashed"
        );
        for o in out {
            reported
                .entry(o["id"].as_str().unwrap().to_string())
                .or_default()
                .push(o);
        }
        s.anvil.restart();
    }
    let (code, out) = oracle(&s, None);
    assert_eq!(code, 1, "two inputs fail, so the run reports failure");
    for o in out {
        reported
            .entry(o["id"].as_str().unwrap().to_string())
            .or_default()
            .push(o);
    }

    // Every input reported exactly once, with its final state.
    assert_eq!(reported.len(), 20, "{reported:?}");
    for (id, outs) in &reported {
        assert_eq!(outs.len(), 1, "{id} reported {} times", outs.len());
        let o = &outs[0];
        if id.starts_with("bad-") {
            assert_eq!(o["status"], "failed", "{o}");
            assert!(!o["reason"].as_str().unwrap_or("").is_empty());
        } else {
            assert_eq!(o["status"], "submitted", "{o}");
            assert!(o["tx"].is_string() && o["block"].is_u64());
        }
    }
    // On-chain: exactly the 18 good inputs, each once. anvil's state reloads keep storage but
    // not logs, so this reads storage: 18 accepted proofs (the submitter's nonce), one
    // prediction each, and a stored prediction for each of the 18 good inputs.
    block_on(async {
        let chain = s.chain(None).await;
        let me = chain.from.unwrap();
        assert_eq!(
            chain
                .registry(registry)
                .next_nonce(model, me)
                .await
                .unwrap(),
            18
        );
        for key in &expected {
            let k: [u8; 32] = hex::decode(key.trim_start_matches("0x"))
                .unwrap()
                .try_into()
                .unwrap();
            let p = chain
                .registry(registry)
                .read_latest(model, Some(k), 0)
                .await;
            assert!(p.is_ok(), "good input {key} not stored: {p:?}");
        }
        assert_eq!(expected.len(), 18);
    });
    // A further run has nothing left to do.
    let (code, out) = oracle(&s, None);
    assert_eq!((code, out.len()), (0, 0));
}
