//! What the oracle tests share: an anvil that survives restarts, one registry build deployed
//! and registered per test, and running the `zkinfer oracle` binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{self, block_on, registry_build_batch};
use zkinfer::chain::registry::parse_model_id;
use zkinfer::chain::Address;
use zkinfer::pipeline::Build;

/// anvil's first development key (public knowledge, a local test chain only).
pub const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its address.
pub const DEV_ADDR: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/// anvil's second development key.
pub const OTHER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// An anvil that persists its state to a file across restarts (SIGTERM dumps it).
pub struct StatefulAnvil {
    port: u16,
    state: PathBuf,
    child: Option<Child>,
}

impl StatefulAnvil {
    pub fn start(state: PathBuf) -> Self {
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

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM (anvil dumps its state), wait, start again on the same port.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        self.spawn();
    }

    /// Mines `n` empty blocks.
    pub fn mine(&self, n: u64) {
        use alloy::providers::Provider;
        block_on(async {
            let p =
                alloy::providers::ProviderBuilder::new().connect_http(self.url().parse().unwrap());
            for _ in 0..n {
                p.raw_request::<_, serde_json::Value>("evm_mine".into(), Vec::<u64>::new())
                    .await
                    .unwrap();
            }
        });
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

/// A registry build (hashed input, private output, `y[0] >= T`, binding) registered as
/// `credit` on a fresh anvil, recorded in `work/deployments`.
pub struct Setup {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub build: Build,
    pub anvil: StatefulAnvil,
    pub registry: Address,
    pub model: [u8; 32],
}

impl Setup {
    pub fn new() -> Self {
        Self::with_batch(1)
    }

    /// The same with a build proving `batch` samples per proof.
    pub fn with_batch(batch: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path();
        let dir = registry_build_batch(work, None, batch);
        let build = Build::open(&dir).unwrap();
        let anvil = StatefulAnvil::start(work.join("anvil-state.json"));
        let model = parse_model_id("credit").unwrap();
        let registry = block_on(async {
            let registry = common::deploy_registered(&anvil.url(), DEV_KEY, &build, model).await;
            let mut d =
                zkinfer::chain::deployments::Deployments::load(&work.join("deployments"), 31337)
                    .unwrap();
            d.registry = Some(zkinfer::chain::deployments::ContractEntry {
                address: registry,
                ..Default::default()
            });
            d.save(&work.join("deployments")).unwrap();
            registry
        });
        Self {
            tmp,
            dir,
            build,
            anvil,
            registry,
            model,
        }
    }

    pub fn work(&self) -> &Path {
        self.tmp.path()
    }

    /// `zkinfer oracle DIR --model credit --json --rpc-url URL` with the dev key, the registry
    /// from the deployments file, no test knobs, and `args`.
    pub fn oracle(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkinfer"));
        cmd.arg("oracle")
            .arg(&self.dir)
            .args([
                "--model",
                "credit",
                "--json",
                "--rpc-url",
                &self.anvil.url(),
            ])
            .args(args)
            .env("ZKINFER_PRIVATE_KEY", DEV_KEY)
            .env("ZKINFER_DEPLOYMENTS", self.work().join("deployments"))
            .env_remove("ZKINFER_ORACLE_CRASH")
            .env_remove("ZKINFER_ORACLE_LOW_GAS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The chain as the dev key (or `key`); connect inside the runtime that uses it.
    pub async fn chain(&self, key: Option<&str>) -> zkinfer::chain::Chain {
        zkinfer::chain::Chain::connect(&self.anvil.url(), Some(key.unwrap_or(DEV_KEY)))
            .await
            .unwrap()
    }

    /// The model's number of stored predictions.
    pub fn stored(&self) -> u64 {
        block_on(async {
            let c = self.chain(None).await;
            c.registry(self.registry)
                .stored_count(self.model)
                .await
                .unwrap()
        })
    }
}

/// What a finished oracle run left.
pub struct Run {
    pub code: Option<i32>,
    /// One JSON outcome per line of stdout.
    pub out: Vec<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Outcomes by id.
    pub fn by_id(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        self.out
            .iter()
            .map(|o| (o["id"].as_str().unwrap().to_string(), o.clone()))
            .collect()
    }
}

/// Runs the command to the end, writing `stdin` to it.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    use std::io::Write;
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let (Some(s), Some(mut sin)) = (stdin, child.stdin.take()) {
        sin.write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Shown when the test fails.
    eprintln!("--- oracle (exit {:?}) ---\n{stderr}", out.status.code());
    assert!(!stderr.contains(DEV_KEY), "private key printed");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}")))
        .collect();
    Run {
        code: out.status.code(),
        out: lines,
        stdout,
        stderr,
    }
}
