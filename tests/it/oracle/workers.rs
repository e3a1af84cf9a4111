//! Three oracle workers on one PostgreSQL journal (a real server the test starts), each with
//! its own key, all following the same input file: workers are SIGKILLed at reproducible
//! moments and restarted, and the node is restarted from its state once, while they run.
//! Every good input must end stored exactly once on-chain, every bad one failed with a
//! reason, and nothing left claimed.

use std::collections::BTreeSet;
use std::fs::File;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::support::{Setup, DEV_KEY, OTHER_KEY};
use crate::common::postgres::{PgServer, PASSWORD};
use crate::common::{block_on, fixture};
use zkinfer::circuit::commit::parse_salt;
use zkinfer::oracle::journal::{Location, Status};

/// anvil's third development key (public knowledge, a local test chain only).
const THIRD_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

struct Workers {
    work: std::path::PathBuf,
    url: String,
    keys: [&'static str; 3],
    children: [Option<Child>; 3],
    starts: usize,
}

impl Workers {
    fn spawn(&mut self, s: &Setup, i: usize) {
        let log = self.work.join(format!("worker-{i}-{}.log", self.starts));
        self.starts += 1;
        let mut cmd = s.oracle(&["--lease", "3", "--poll", "0.2"]);
        cmd.arg("--input-file")
            .arg(self.work.join("inputs.jsonl"))
            .env("ZKINFER_JOURNAL", &self.url)
            .env("ZKINFER_PRIVATE_KEY", self.keys[i])
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap());
        self.children[i] = Some(cmd.spawn().unwrap());
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// Restarts any worker that exited on its own (a chain error it gave up on).
    fn revive(&mut self, s: &Setup) {
        for i in 0..3 {
            let exited = match &mut self.children[i] {
                Some(c) => c.try_wait().unwrap().is_some(),
                None => true,
            };
            if exited {
                self.spawn(s, i);
            }
        }
    }

    /// Every log so far (shown when the test fails); never the password or a key.
    fn logs(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(&self.work).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("worker-") {
                let text = std::fs::read_to_string(e.path()).unwrap();
                assert!(
                    !text.contains(PASSWORD),
                    "{name}: the journal password printed"
                );
                for k in self.keys {
                    assert!(!text.contains(k), "{name}: a private key printed");
                }
                all.push_str(&format!("--- {name}\n{text}"));
            }
        }
        all
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill(i);
        }
    }
}

#[test]
fn three_workers_on_postgres_survive_sigkill_and_a_node_restart() {
    let pg = PgServer::start();
    let mut s = Setup::new();
    let (registry, model) = (s.registry, s.model);

    // 36 good inputs (distinct salts) and 4 bad ones.
    let samples = std::fs::read_to_string(fixture("breast_cancer_mlp", "test.jsonl")).unwrap();
    let mut lines = Vec::new();
    let mut expected = BTreeSet::new();
    for (i, line) in samples.lines().cycle().take(36).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let salt = format!("0x{:x}", 5000 + i);
        let inputs: Vec<Vec<f64>> = serde_json::from_value(v["input_data"].clone()).unwrap();
        let c = s
            .build
            .input_commitment(&inputs, parse_salt(&salt).unwrap())
            .unwrap();
        expected.insert(zkinfer::field::to_word(&c));
        lines.push(serde_json::json!({"id": format!("in-{i}"), "input_data": v["input_data"], "salt": salt, "params": {"T": -100.0}}).to_string());
        if i % 9 == 4 {
            let bad = match i / 9 {
                0 => r#"{"id": "bad-shape", "input_data": [[1, 2, 3]], "salt": "0x1", "params": {"T": 0}}"#.to_string(),
                1 => r#"{"id": "bad-predicate", "input_data": [[0]], "salt": "0x2", "params": {}}"#.to_string(),
                2 => r#"{"id": "bad-unsalted", "input_data": [[0]], "params": {"T": 0}}"#.to_string(),
                _ => "not json at all".to_string(),
            };
            lines.push(bad);
        }
    }
    assert_eq!((lines.len(), expected.len()), (40, 36));
    std::fs::write(s.work().join("inputs.jsonl"), lines.join("\n") + "\n").unwrap();

    let url = pg.url("oracle");
    let loc = Location::parse(&url).unwrap();
    let mut w = Workers {
        work: s.work().to_path_buf(),
        url: url.clone(),
        keys: [DEV_KEY, OTHER_KEY, THIRD_KEY],
        children: [None, None, None],
        starts: 0,
    };
    for i in 0..3 {
        w.spawn(&s, i);
    }
    // Kills at reproducible moments, spread over proving, sending and settling; the node is
    // restarted once, at the third kill.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut kills = 0;
    let mut restarted = false;
    let mut at = Instant::now() + Duration::from_millis(1500 + next() % 3000);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status = Status::read(&loc).ok();
        let done = status
            .as_ref()
            .is_some_and(|st| st.states.values().sum::<i64>() == 40 && st.open() == 0);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled in time: {status:?}\n{}",
            w.logs()
        );
        if kills < 6 && Instant::now() >= at {
            let victim = (next() % 3) as usize;
            w.kill(victim);
            kills += 1;
            if kills == 3 && !restarted {
                s.anvil.restart();
                restarted = true;
            }
            w.spawn(&s, victim);
            at = Instant::now() + Duration::from_millis(1500 + next() % 4000);
        }
        w.revive(&s);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        restarted && kills == 6,
        "the run ended before the faults: {kills} kills"
    );
    let logs = w.logs();
    drop(w);
    if std::env::var_os("ZKINFER_TEST_SHOW_LOGS").is_some() {
        eprintln!("{logs}");
    }

    // The journal: 36 submitted, 4 failed with reasons, nothing open or claimed.
    let st = Status::read(&loc).unwrap();
    assert_eq!(
        (st.states["submitted"], st.states["failed"]),
        (36, 4),
        "{st:?}\n{logs}"
    );
    let mut c = pg.client("oracle");
    let claimed: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM inputs WHERE claimed_by IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(claimed, 0, "claims left");
    for r in c
        .query("SELECT id, reason FROM inputs WHERE state = 'failed'", &[])
        .unwrap()
    {
        let (id, reason): (String, Option<String>) = (r.get(0), r.get(1));
        assert!(
            !id.starts_with("in-"),
            "good input {id} failed: {reason:?}\n{logs}"
        );
        assert!(
            reason.is_some_and(|r| !r.is_empty()),
            "{id} failed without a reason"
        );
    }
    let workers = st.workers.len();
    assert!(
        workers >= 9,
        "3 workers and 6 restarts: {workers} registered"
    );

    // On-chain: each accepted proof moved its submitter's nonce, and every good input is
    // stored: 36 accepted proofs over the three keys and 36 distinct inputs stored means each
    // exactly once.
    block_on(async {
        let accepted = accepted(&s, &[DEV_KEY, OTHER_KEY, THIRD_KEY]).await;
        assert_eq!(accepted, 36, "accepted proofs\n{logs}");
        let chain = s.chain(None).await;
        for k in &expected {
            let p = chain
                .registry(registry)
                .read_latest(model, Some(*k), 0)
                .await;
            assert!(
                p.is_ok(),
                "good input 0x{} not stored: {p:?}",
                hex::encode(k)
            );
        }
    });
}

/// Proofs the registry accepted from these keys: the sum of their registry nonces.
async fn accepted(s: &Setup, keys: &[&str]) -> u64 {
    let mut n = 0;
    for key in keys {
        let chain = s.chain(Some(key)).await;
        let me = chain.from.unwrap();
        n += chain
            .registry(s.registry)
            .next_nonce(s.model, me)
            .await
            .unwrap();
    }
    n
}

/// Waits (polling, with a deadline) until `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postgres_ingestion_runs_in_one_process_at_a_time() {
    let pg = PgServer::start();
    let s = Setup::new();
    // Inputs without the salt this build requires: each fails at intake, so ingestion is all
    // there is to watch.
    let lines = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("{{\"input_data\": [[{i}]], \"params\": {{\"T\": 0}}}}\n"))
            .collect()
    };
    let file = s.work().join("inputs.jsonl");
    let other = s.work().join("more.jsonl");
    let oracle = |url: &str, once: bool, log: &str| {
        let mut cmd = s.oracle(if once {
            &["--once", "--poll", "0.2"]
        } else {
            &["--poll", "0.2"]
        });
        cmd.arg("--input-file")
            .arg(if log == "second.log" { &other } else { &file })
            .env("ZKINFER_JOURNAL", url)
            .stdout(Stdio::null())
            .stderr(File::create(s.work().join(log)).unwrap());
        cmd.spawn().unwrap()
    };
    let rows = |url: &str| -> i64 {
        Status::read(&Location::parse(url).unwrap())
            .map(|st| st.states.values().sum())
            .unwrap_or(0)
    };

    // Two started at once on a fresh journal: 30 lines recorded once.
    std::fs::write(&file, lines(0, 30)).unwrap();
    let url = pg.url("twice");
    let (mut a, mut b) = (oracle(&url, true, "a.log"), oracle(&url, true, "b.log"));
    let codes = [a.wait().unwrap().code(), b.wait().unwrap().code()];
    // The one that ingested reports the failures (exit 1), the other nothing (exit 0).
    assert!(
        codes.contains(&Some(1)) && codes.iter().all(|c| matches!(c, Some(0 | 1))),
        "{codes:?}"
    );
    let st = Status::read(&Location::parse(&url).unwrap()).unwrap();
    assert_eq!((st.states["failed"], rows(&url)), (30, 30), "{st:?}");

    // One follows its file and holds ingestion; a second (--once, another file) waits for
    // it, and takes over when the first is killed.
    let url = pg.url("takeover");
    std::fs::write(&file, lines(0, 10)).unwrap();
    std::fs::write(&other, lines(10, 15)).unwrap();
    let mut first = oracle(&url, false, "first.log");
    wait_for("the first worker's intake", || rows(&url) == 10);
    let mut second = oracle(&url, true, "second.log");
    let said = || std::fs::read_to_string(s.work().join("second.log")).unwrap_or_default();
    wait_for("the second worker to wait", || {
        said().contains("another worker is ingesting")
    });
    assert!(
        second.try_wait().unwrap().is_none(),
        "--once waits for ingestion"
    );
    let _ = first.kill(); // SIGKILL: the server drops its session and its lock
    let _ = first.wait();
    let code = second.wait().unwrap().code();
    assert_eq!(
        code,
        Some(1),
        "it ingested (and failed) its 5 lines: {}",
        said()
    );
    let st = Status::read(&Location::parse(&url).unwrap()).unwrap();
    assert_eq!((st.states["failed"], rows(&url)), (15, 15), "{st:?}");
    assert_eq!(st.claimed, 0);
}

#[test]
fn postgres_workers_form_full_batches_and_finish_a_dead_ones_batch() {
    let pg = PgServer::start();
    let s = Setup::with_batch(4);
    let samples = std::fs::read_to_string(fixture("breast_cancer_mlp", "test.jsonl")).unwrap();
    let text: String = samples
        .lines()
        .take(12)
        .enumerate()
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::json!({"id": format!("b-{i}"), "input_data": v["input_data"], "salt": format!("0x{:x}", 9000 + i), "params": {"T": -100.0}}).to_string() + "\n"
        })
        .collect();
    std::fs::write(s.work().join("inputs.jsonl"), text).unwrap();
    let url = pg.url("batches");
    let loc = Location::parse(&url).unwrap();
    let worker = |key: &str, log: &str| {
        // A long --max-wait: only full batches may form.
        let mut cmd = s.oracle(&[
            "--lease",
            "3",
            "--poll",
            "0.2",
            "--batch-size",
            "4",
            "--max-wait",
            "600",
        ]);
        cmd.arg("--input-file")
            .arg(s.work().join("inputs.jsonl"))
            .env("ZKINFER_JOURNAL", &url)
            .env("ZKINFER_PRIVATE_KEY", key)
            .stdout(Stdio::null())
            .stderr(File::create(s.work().join(log)).unwrap());
        cmd.spawn().unwrap()
    };
    let mut a = worker(DEV_KEY, "a.log");
    let mut b = worker(OTHER_KEY, "b.log");
    // Kill `a` as soon as it holds a proved batch (before or after sending it).
    let mut c = pg.client("batches");
    let a_claims = format!("%-{}-%", a.id());
    wait_for("a proved batch held by the first worker", || {
        c.query_one(
            "SELECT COUNT(*) FROM inputs WHERE batch IS NOT NULL AND state IN ('proved', 'sent')
             AND claimed_by LIKE $1",
            &[&a_claims],
        )
        .map(|r| r.get::<_, i64>(0) > 0)
        .unwrap_or(false)
    });
    let _ = a.kill();
    let _ = a.wait();
    wait_for("every input settled", || {
        Status::read(&loc).is_ok_and(|st| st.states["submitted"] + st.states["failed"] == 12)
    });
    let _ = b.kill();
    let _ = b.wait();
    let logs = ["a.log", "b.log"]
        .map(|l| std::fs::read_to_string(s.work().join(l)).unwrap_or_default())
        .join("\n---\n");
    let st = Status::read(&loc).unwrap();
    assert_eq!(st.states["submitted"], 12, "{st:?}\n{logs}");
    let sizes: Vec<i64> = c
        .query(
            "SELECT COUNT(*) FROM inputs GROUP BY batch ORDER BY batch",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        sizes,
        vec![4, 4, 4],
        "batches never shrink, and keep their members\n{logs}"
    );
    let accepted = block_on(accepted(&s, &[DEV_KEY, OTHER_KEY]));
    assert_eq!(accepted, 3, "one accepted proof per batch\n{logs}");
}
