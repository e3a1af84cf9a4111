//! The journal on a real PostgreSQL server (started by the test, see `common::postgres`):
//! workers claim disjoint units under contention, a lapsed lease is taken over and fences the
//! worker that held it, batches form only under the rule, one process ingests at a time, and
//! the URL's password never shows.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::postgres::{PgServer, TestCerts, PASSWORD};
use zkinfer::oracle::journal::{Intake, Journal, Location, Status};

const SETUP: &str = "chain 31337 registry 0x1 model 0x2";

fn take(id: &str) -> Intake {
    Intake::Take {
        id: id.into(),
        input: format!("{{\"id\": \"{id}\"}}"),
    }
}

fn open(url: &str, who: &str, lease: u64) -> Journal {
    let mut j = Journal::open(Location::parse(url).unwrap(), SETUP).unwrap();
    j.register(who, Duration::from_secs(lease)).unwrap();
    j
}

#[test]
fn pg_workers_claim_disjoint_inputs_and_take_over_lapsed_leases() {
    let pg = PgServer::start();
    let url = pg.url("claims");
    let mut a = open(&url, "0xa", 30);
    let ids: Vec<String> = (0..60).map(|i| format!("in-{i:02}")).collect();
    let items: Vec<Intake> = ids.iter().map(|i| take(i)).collect();
    assert!(a.try_ingest().unwrap());
    assert_eq!(a.record("file", 1, &items, None).unwrap().new.len(), 60);

    // One process ingests at a time.
    let b = open(&url, "0xb", 30);
    assert!(
        !b.try_ingest().unwrap(),
        "the first process holds ingestion"
    );

    // Three workers (threads, each its own connection, migrating at once) claim everything
    // concurrently: each input exactly once.
    let got: Vec<Vec<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|w| {
                let url = url.clone();
                s.spawn(move || {
                    let j = open(&url, &format!("0x{w}"), 30);
                    let mut mine = vec![];
                    while let Some(r) = j.claim_next(false).unwrap() {
                        j.set_failed(&r.id, "done").unwrap();
                        mine.push(r.id);
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&String> = got.iter().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (60, 60), "{got:?}");

    // A lapsed lease is taken over, and the worker that held it is fenced off.
    a.record("file", 2, &[take("x"), take("y")], None).unwrap();
    assert_eq!(a.claim_next(false).unwrap().unwrap().id, "x");
    assert_eq!(b.claim_next(false).unwrap().unwrap().id, "y");
    assert!(
        b.claim_next(false).unwrap().is_none(),
        "x is a's while its lease lives"
    );
    pg.client("claims")
        .execute("UPDATE inputs SET lease_until = 0 WHERE id = 'x'", &[])
        .unwrap();
    assert_eq!(b.claim_next(false).unwrap().unwrap().id, "x");
    let e = a.set_proved("x", "{p}", 0).unwrap_err();
    assert!(e.lost_claim, "{e}");
    b.set_proved("x", "{p}", 0).unwrap();
    assert_eq!(
        b.get("x").unwrap().unwrap().submitter.as_deref(),
        Some("0xb")
    );

    // Batches: formed only when N are free (or the oldest waited, or draining), and claimed
    // whole by one worker.
    a.record("file", 3, &[take("p"), take("q"), take("r")], None)
        .unwrap();
    let first = a.claim_pending(2, false, 3600.0).unwrap();
    assert_eq!(first.len(), 2);
    assert!(
        b.claim_pending(2, false, 3600.0).unwrap().is_empty(),
        "one free input does not make a batch of two"
    );
    let ids: Vec<String> = first.iter().map(|r| r.id.clone()).collect();
    let n = a.set_batch_proved(&ids, None, "{p}", 0).unwrap();
    drop(a); // exits: lets go of its claims
    let c = open(&url, "0xc", 30);
    assert!(
        c.try_ingest().unwrap(),
        "ingestion is free once its holder left"
    );
    let taken = c.claim_next(true).unwrap().unwrap();
    assert_eq!(taken.batch, Some(n));
    assert!(
        b.claim_next(true).unwrap().is_none(),
        "the batch is c's, all of it"
    );
    assert_eq!(c.batch_rows(n).unwrap().len(), 2, "the same members");

    let s = Status::read(&Location::parse(&url).unwrap()).unwrap();
    assert_eq!(s.states["failed"], 60);
    assert_eq!(s.states["proved"], 3);
    assert_eq!(
        s.oldest_pending.as_ref().map(|o| o.id.as_str()),
        Some("y"),
        "y: claimed by b, still pending"
    );
    assert!(s.workers.iter().any(|w| w.stopped), "a stopped");
    assert!(!s.journal.contains(PASSWORD) && !format!("{s:?}").contains(PASSWORD));
}

#[test]
fn pg_journal_errors_and_status_never_show_the_password() {
    let pg = PgServer::start();
    let url = pg.url("postgres");
    // A wrong password, a closed port: errors name the server without credentials.
    let wrong = url.replace(PASSWORD, "not-the-password-123");
    let e = Journal::open(Location::parse(&wrong).unwrap(), SETUP)
        .err()
        .unwrap()
        .to_string();
    assert!(
        !e.contains("not-the-password-123") && e.contains("127.0.0.1"),
        "{e}"
    );
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let closed = url.replace(&port, "1");
    let e = Journal::open(Location::parse(&closed).unwrap(), SETUP)
        .err()
        .unwrap()
        .to_string();
    assert!(!e.contains(PASSWORD), "{e}");
    // TLS required by a server that offers none: refused, not downgraded.
    let tls = format!("{url}?sslmode=require");
    let e = Journal::open(Location::parse(&tls).unwrap(), SETUP)
        .err()
        .unwrap()
        .to_string();
    assert!(!e.contains(PASSWORD), "{e}");

    // The CLI: status of a fresh journal, by URL from the environment, text and JSON.
    {
        let _j = open(&url, "0xa", 30);
    }
    for json in [false, true] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"));
        cmd.args(["oracle", "status"]).env("ZKINFER_JOURNAL", &url);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        let (so, se) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{so}{se}");
        assert!(!so.contains(PASSWORD) && !se.contains(PASSWORD), "{so}{se}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&so).unwrap();
            assert_eq!(v["states"]["pending"], 0);
            assert_eq!(v["workers"].as_array().unwrap().len(), 1);
        } else {
            assert!(so.contains("0 pending"), "{so}");
        }
    }
    // --help shows the variable, never its value.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["oracle", "--help"])
        .env("ZKINFER_JOURNAL", &url)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("ZKINFER_JOURNAL") && !help.contains(PASSWORD),
        "{help}"
    );
}

#[test]
fn pg_journal_over_tls_verifies_the_server() {
    let certs = TestCerts::new();
    let pg = PgServer::start_tls(&certs);
    let ca = pg.dir().join("ca.pem");
    std::fs::write(&ca, &certs.ca).unwrap();
    let base = format!(
        "postgres://zkinfer:{PASSWORD}@127.0.0.1:{}/postgres",
        pg.url_port()
    );
    let try_open = |q: &str| Journal::open(Location::parse(&format!("{base}?{q}")).unwrap(), SETUP);
    // The server takes TLS only: without it, refused.
    let e = try_open("sslmode=disable").err().unwrap().to_string();
    assert!(!e.contains(PASSWORD), "{e}");
    // TLS with a certificate the system does not trust: refused, not accepted unverified.
    let e = try_open("sslmode=require").err().unwrap().to_string();
    assert!(!e.contains(PASSWORD), "{e}");
    // Trusting the test CA: verified, and the journal works.
    let mut j = try_open(&format!("sslmode=verify-full&sslrootcert={}", ca.display())).unwrap();
    j.register("0xa", Duration::from_secs(30)).unwrap();
    j.record("file", 1, &[take("t")], None).unwrap();
    assert_eq!(j.claim_next(false).unwrap().unwrap().id, "t");
    // A CA file that is not a certificate is named.
    let bad = pg.dir().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let e = try_open(&format!("sslmode=require&sslrootcert={}", bad.display()))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("bad.pem"), "{e}");
}
