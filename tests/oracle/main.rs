//! The oracle bot against crashes: it is killed at each deterministic point (after proving,
//! before the journal write of a signed transaction, after sending, after the receipt) while
//! anvil is restarted with its state persisted (`--state`); every one of 20 inputs must end
//! submitted exactly once or failed with a reason.

mod common;

use common::block_on;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{fixture, registry_build};
use zkinfer::chain::registry::parse_model_id;
use zkinfer::chain::Chain;
use zkinfer::circuit::commit::parse_salt;
use zkinfer::pipeline::Build;

/// anvil's first development key (public knowledge, a local test chain only).
const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// An anvil that persists its state to a file across restarts (SIGTERM dumps it).
struct StatefulAnvil {
    port: u16,
    state: PathBuf,
    child: Option<Child>,
}

impl StatefulAnvil {
    fn start(state: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut a = Self {
            port,
            state,
            child: None,
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let mut child =
            Command::new(zkinfer::tools::anvil().expect("anvil (run scripts/setup.sh)"))
                .args(["--port", &self.port.to_string(), "--state"])
                .arg(&self.state)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
        // Ready when it says so.
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        loop {
            let line = lines
                .next()
                .expect("anvil exited before listening")
                .unwrap();
            if line.contains("Listening on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM (anvil dumps its state), wait, start again on the same port.
    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for StatefulAnvil {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn oracle(
    dir: &Path,
    anvil: &StatefulAnvil,
    work: &Path,
    crash: Option<&str>,
) -> (i32, Vec<serde_json::Value>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
    cmd.arg("oracle")
        .arg(dir)
        .args([
            "--model",
            "credit",
            "--once",
            "--json",
            "--rpc-url",
            &anvil.url(),
        ])
        .arg("--input-file")
        .arg(work.join("inputs.jsonl"))
        .arg("--journal")
        .arg(work.join("journal.sqlite"))
        .env("ZKINFER_PRIVATE_KEY", DEV_KEY)
        .env("ZKINFER_DEPLOYMENTS", work.join("deployments"))
        .env_remove("ZKINFER_ORACLE_CRASH");
    if let Some(c) = crash {
        cmd.env("ZKINFER_ORACLE_CRASH", c);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown when the test fails.
    eprintln!("--- oracle (crash {crash:?}) ---\n{stderr}");
    assert!(!stderr.contains(DEV_KEY), "private key printed");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}")))
        .collect();
    (out.status.code().unwrap_or(-1), lines)
}

#[test]
fn oracle_survives_crashes_at_every_point() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dir = registry_build(work);
    let build = Build::open(&dir).unwrap();
    let mut anvil = StatefulAnvil::start(work.join("anvil-state.json"));
    let model = parse_model_id("credit").unwrap();

    // Deploy and register (library calls), and record the registry in the deployments file.
    let registry = block_on(async {
        let registry = common::deploy_registered(&anvil.url(), DEV_KEY, &build, model).await;
        let mut d =
            zkinfer::chain::deployments::Deployments::load(&work.join("deployments"), 31337)
                .unwrap();
        d.registry = Some(zkinfer::chain::deployments::ContractEntry {
            address: format!("{registry:#x}"),
            ..Default::default()
        });
        d.save(&work.join("deployments")).unwrap();
        registry
    });

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
        expected.insert(format!(
            "0x{}",
            hex::encode(zkinfer::verifier::instance_word(&c))
        ));
        lines.push(serde_json::json!({"id": format!("in-{i}"), "input_data": v["input_data"], "salt": salt, "params": {"T": -100.0}}).to_string());
    }
    lines.push(r#"{"id": "bad-shape", "input_data": [[1, 2, 3]], "params": {"T": 0}}"#.to_string());
    lines.push(r#"{"id": "bad-predicate", "input_data": [[0]], "params": {}}"#.to_string());
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
        let (code, out) = oracle(&dir, &anvil, work, Some(crash));
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
        anvil.restart();
    }
    let (code, out) = oracle(&dir, &anvil, work, None);
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
    // On-chain: exactly the 18 good inputs, each once, nonces 0..17.
    block_on(async {
        let chain = Chain::connect(&anvil.url(), None).await.unwrap();
        assert_eq!(chain.prediction_count(registry, model).await.unwrap(), 18);
        let page = chain.read_history(registry, model, 0, 32).await.unwrap();
        let keys: BTreeSet<String> = page.iter().map(|p| p.input_key.clone()).collect();
        assert_eq!(keys, expected, "each good input stored exactly once");
        let nonces: BTreeSet<u64> = page.iter().map(|p| p.nonce).collect();
        assert_eq!(nonces, (0..18).collect());
    });
    // A further run has nothing left to do.
    let (code, out) = oracle(&dir, &anvil, work, None);
    assert_eq!((code, out.len()), (0, 0));
}

#[test]
fn oracle_serves_prediction_requests_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dir = registry_build(work);
    let build = Build::open(&dir).unwrap();
    let anvil = StatefulAnvil::start(work.join("anvil-state.json"));
    let model = parse_model_id("credit").unwrap();
    let inputs_dir = work.join("requests");
    std::fs::create_dir_all(&inputs_dir).unwrap();
    let sample = std::fs::read_to_string(fixture("breast_cancer_mlp", "input.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&sample).unwrap();
    v["salt"] = "0x77".into();
    v["params"] = serde_json::json!({"T": 0.25});
    std::fs::write(inputs_dir.join("alice.json"), v.to_string()).unwrap();

    let registry = block_on(async {
        let registry = common::deploy_registered(&anvil.url(), DEV_KEY, &build, model).await;
        let chain = Chain::connect(&anvil.url(), Some(DEV_KEY)).await.unwrap();
        // Two requests: one for a file that exists, one escaping the folder.
        chain
            .request_prediction(registry, model, "alice.json")
            .await
            .unwrap();
        chain
            .request_prediction(registry, model, "../secret.json")
            .await
            .unwrap();
        registry
    });
    let run = |extra: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
        cmd.arg("oracle")
            .arg(&dir)
            .args([
                "--model",
                "credit",
                "--once",
                "--json",
                "--rpc-url",
                &anvil.url(),
            ])
            .args(["--registry", &format!("{registry:#x}")])
            .args(extra)
            .env("ZKINFER_PRIVATE_KEY", DEV_KEY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut sin = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                sin.write_all(s.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        (out.status.code(), lines)
    };
    let journal = work.join("events.sqlite");
    let (code, out) = run(
        &[
            "--events",
            inputs_dir.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, Some(1), "{out:?}");
    assert_eq!(out.len(), 2, "{out:?}");
    let mut out = out;
    out.sort_by_key(|o| o["id"].as_str().unwrap().to_string());
    assert_eq!(out[0]["id"], "request-0");
    assert_eq!(out[0]["status"], "submitted");
    assert_eq!(out[1]["id"], "request-1");
    assert_eq!(out[1]["status"], "failed");
    assert!(out[1]["reason"]
        .as_str()
        .unwrap()
        .contains("not a relative path"));
    // The same requests are not served twice.
    let (code, out) = run(
        &[
            "--events",
            inputs_dir.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!((code, out.len()), (Some(0), 0));

    // stdin: one line, its own journal.
    let mut line = v.clone();
    line["id"] = "from-stdin".into();
    line["salt"] = "0x78".into();
    let stdin_journal = work.join("stdin.sqlite");
    let (code, out) = run(
        &["--stdin", "--journal", stdin_journal.to_str().unwrap()],
        Some(&format!("{line}\n")),
    );
    assert_eq!(code, Some(0), "{out:?}");
    assert_eq!(out[0]["id"], "from-stdin");
    assert_eq!(out[0]["status"], "submitted");
    block_on(async {
        let chain = Chain::connect(&anvil.url(), None).await.unwrap();
        assert_eq!(chain.prediction_count(registry, model).await.unwrap(), 2);
    });
}
