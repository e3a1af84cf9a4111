//! Serving `PredictionRequested` events when requesting is free: only allowed requesters are
//! served, the same input is proven once however often it is requested, logs are read a
//! bounded block range at a time and only behind a confirmation depth; and the stdin source.

use super::support::{run, Setup, DEV_ADDR, OTHER_KEY};
use crate::common::{block_on, fixture};

#[test]
fn oracle_serves_allowed_requests_once_per_input() {
    let s = Setup::new();
    let (registry, model) = (s.registry, s.model);
    let inputs_dir = s.work().join("requests");
    std::fs::create_dir_all(&inputs_dir).unwrap();
    let sample = std::fs::read_to_string(fixture("breast_cancer_mlp", "input.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&sample).unwrap();
    v["salt"] = "0x77".into();
    v["params"] = serde_json::json!({"T": 0.25});
    std::fs::write(inputs_dir.join("alice.json"), v.to_string()).unwrap();

    // One request per block: alice.json three times, one escaping the folder, and alice.json
    // from a requester the oracle does not serve.
    block_on(async {
        let (dev, other) = (s.chain(None).await, s.chain(Some(OTHER_KEY)).await);
        for (chain, input_ref) in [
            (&dev, "alice.json"),
            (&dev, "alice.json"),
            (&dev, "alice.json"),
            (&dev, "../secret.json"),
            (&other, "alice.json"),
        ] {
            chain
                .registry(registry)
                .request_prediction(model, input_ref)
                .await
                .unwrap();
        }
    });
    let journal = s.work().join("events.sqlite");
    let events = |extra: &[&str]| {
        let mut args = vec![
            "--once",
            "--events",
            inputs_dir.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ];
        args.extend(extra);
        run(s.oracle(&args), None)
    };

    // Fail closed: events need a requester policy.
    let r = events(&[]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--requester ADDR") && r.stderr.contains("--any-requester"));
    assert!(!journal.exists(), "refused before anything is recorded");

    // One block per log query: every request is seen; alice's input is proven once.
    let r = events(&["--requester", DEV_ADDR, "--max-block-range", "1"]);
    assert_eq!(r.code, Some(1), "the escaping request fails");
    let o = r.by_id();
    assert_eq!(o.len(), 5, "{o:?}");
    assert_eq!(o["request-0"]["status"], "submitted");
    for dup in ["request-1", "request-2"] {
        assert_eq!(o[dup]["status"], "skipped", "{}", o[dup]);
        assert_eq!(o[dup]["served_by"], "request-0");
    }
    assert_eq!(o["request-3"]["status"], "failed");
    assert!(o["request-3"]["reason"]
        .as_str()
        .unwrap()
        .contains("not a relative path"));
    assert_eq!(o["request-4"]["status"], "skipped");
    assert!(o["request-4"]["reason"]
        .as_str()
        .unwrap()
        .contains("is not allowed"));
    let ranges: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.split(" in blocks ").nth(1))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(ranges.len(), 5, "one query per request block: {ranges:?}");
    assert!(ranges
        .iter()
        .all(|r| r.split_once("..=").is_some_and(|(a, b)| a == b)));
    assert_eq!(s.stored(), 1, "proven and stored once");

    // Confirmations: a request in the newest block waits until three more are mined.
    block_on(async {
        let dev = s.chain(None).await;
        dev.registry(registry)
            .request_prediction(model, "alice.json")
            .await
            .unwrap()
    });
    let deep = ["--requester", DEV_ADDR, "--confirmations", "3"];
    let r = events(&deep);
    assert_eq!((r.code, r.out.len()), (Some(0), 0), "{}", r.stdout);
    s.anvil.mine(3);
    let r = events(&deep);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.out.len(), 1, "{}", r.stdout);
    assert_eq!(r.out[0]["id"], "request-5");
    assert_eq!(r.out[0]["status"], "skipped", "within --min-interval");
    assert_eq!(r.out[0]["served_by"], "request-0");

    // stdin: one line, its own journal.
    let mut line = v.clone();
    line["id"] = "from-stdin".into();
    line["salt"] = "0x78".into();
    let stdin_journal = s.work().join("stdin.sqlite");
    let r = run(
        s.oracle(&["--stdin", "--journal", stdin_journal.to_str().unwrap()]),
        Some(&format!("{line}\n")),
    );
    assert_eq!(r.code, Some(0), "{:?}", r.out);
    assert_eq!(r.out[0]["id"], "from-stdin");
    assert_eq!(r.out[0]["status"], "submitted");
    assert_eq!(s.stored(), 2);
}
