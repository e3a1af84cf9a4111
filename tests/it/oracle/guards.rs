//! The oracle's guards, on one build whose input is hashed and outputs private: no output
//! value in its outcome lines, stderr or journal reasons (a false predicate); salts required;
//! an out-of-gas submission retried, not failed; private journal files; one oracle per journal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use super::support::{run, Setup};
use crate::common::{block_on, fixture};

/// The decimal renderings a value could be printed as (long enough not to match by chance).
fn renderings(values: &[f64]) -> Vec<String> {
    let mut r: Vec<String> = values
        .iter()
        .flat_map(|f| {
            [
                format!("{f:?}"),
                format!("{f}"),
                format!("{f:.2}"),
                format!("{f:.3}"),
            ]
        })
        .filter(|s| s.contains('.') && s.trim_start_matches('-').len() >= 4)
        .collect();
    r.sort();
    r.dedup();
    r
}

fn assert_no_values(what: &str, text: &str, values: &[String]) {
    for v in values {
        assert!(!text.contains(v.as_str()), "{what} contains {v}:\n{text}");
    }
}

/// Every reason the journal holds.
fn journal_reasons(path: &std::path::Path) -> String {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT reason FROM inputs WHERE reason IS NOT NULL UNION ALL SELECT reason FROM skipped")
        .unwrap();
    let reasons: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    reasons.join("\n")
}

/// Kills (SIGKILL) the oracle left running when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn oracle_keeps_values_private_retries_out_of_gas_and_holds_its_journal() {
    let s = Setup::new();
    let sample = std::fs::read_to_string(fixture("breast_cancer_mlp", "input.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&sample).unwrap();
    let data = &v["input_data"];
    // The private outputs (and the score `y[0]`), from the integer evaluator.
    let inputs: Vec<Vec<f64>> = serde_json::from_value(data.clone()).unwrap();
    let trace = s.build.model.eval(&inputs).unwrap();
    let outputs: Vec<f64> = s.build.model.output_floats(&trace).concat();
    let secret = renderings(&outputs);
    assert!(!secret.is_empty(), "{outputs:?}");

    let line = |id: &str, salt: Option<&str>, t: f64| {
        let mut l = serde_json::json!({"id": id, "input_data": data, "params": {"T": t}});
        if let Some(salt) = salt {
            l["salt"] = salt.into();
        }
        l.to_string()
    };
    let file = s.work().join("inputs.jsonl");
    let lines = [
        line("high", Some("0x51"), 100.0),
        line("no-salt", None, -100.0),
        line("zero-salt", Some("0x0"), -100.0),
        line("good", Some("0x52"), -100.0),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let journal = s.work().join("journal.sqlite");
    let once = |extra: &[&str]| {
        let mut args = vec![
            "--input-file",
            file.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ];
        args.extend(extra);
        s.oracle(&args)
    };

    // The first submission gets 60% of its gas: it reverts on-chain, the replay passes, and
    // it is sent again with more gas.
    let mut cmd = once(&["--once"]);
    cmd.env("ZKINFER_ORACLE_LOW_GAS", "60");
    let r = run(cmd, None);
    assert_eq!(r.code, Some(1), "three inputs fail");
    let o = r.by_id();
    let reason = |id: &str| o[id]["reason"].as_str().unwrap_or_default().to_string();
    assert_eq!(o["high"]["status"], "failed");
    assert!(
        reason("high").contains("is false for this input"),
        "{}",
        reason("high")
    );
    for id in ["no-salt", "zero-salt"] {
        assert_eq!(o[id]["status"], "failed");
        assert!(reason(id).starts_with("no salt"), "{}", reason(id));
        assert!(reason(id).contains("--allow-unsalted"));
    }
    assert_eq!(o["good"]["status"], "submitted", "{}", o["good"]);
    assert_no_values("stdout", &r.stdout, &secret);
    assert_no_values("stderr", &r.stderr, &secret);
    assert_no_values("journal reasons", &journal_reasons(&journal), &secret);

    // Out of gas: the first transaction reverted on-chain, the retry landed, stored once.
    assert!(
        r.stderr.contains("out of gas, not a refusal"),
        "{}",
        r.stderr
    );
    let first_tx = r
        .stderr
        .split("good: sent ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap();
    assert_ne!(o["good"]["tx"], first_tx, "a new transaction");
    let hash: [u8; 32] = hex::decode(&first_tx[2..]).unwrap().try_into().unwrap();
    let receipt = block_on(async { s.chain(None).await.receipt(hash).await.unwrap() });
    let (ok, _, _) = receipt.expect("mined");
    assert!(!ok, "the low-gas submission reverted on-chain");
    assert_eq!(s.stored(), 1, "stored exactly once");
    let retries: i64 = rusqlite::Connection::open(&journal)
        .unwrap()
        .query_row(
            "SELECT gas_retries FROM inputs WHERE id = 'good'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(retries, 1);

    // A following oracle, unsalted inputs allowed: it takes the new line (which then fails
    // on its predicate, not at intake) and keeps running.
    std::fs::write(
        &file,
        lines.join("\n") + "\n" + &line("unsalted-high", None, 100.0) + "\n",
    )
    .unwrap();
    let mut cmd = once(&["--allow-unsalted", "--poll", "0.2"]);
    cmd.stderr(Stdio::null());
    let mut first = Running(cmd.spawn().unwrap());
    let mut out = BufReader::new(first.0.stdout.take().unwrap()).lines();
    let o: serde_json::Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
    assert_eq!(o["id"], "unsalted-high");
    assert!(o["reason"]
        .as_str()
        .unwrap()
        .contains("is false for this input"));
    assert_no_values("outcome", &o.to_string(), &secret);

    // While it runs: the journal's files are private, and a second oracle is refused.
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let p = s.work().join(format!("journal.sqlite{suffix}"));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let r = run(once(&["--once"]), None);
    assert_eq!(r.code, Some(2));
    let pid = first.0.id();
    assert!(
        r.stderr
            .contains(&format!("another zkinfer oracle (pid {pid})"))
            && r.stderr.contains(journal.to_str().unwrap()),
        "{}",
        r.stderr
    );
    // Killed (SIGKILL), it leaves the journal free.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let r = run(once(&["--once"]), None);
    assert_eq!((r.code, r.out.len()), (Some(0), 0), "{}", r.stdout);
}
