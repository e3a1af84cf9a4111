//! `zkinfer oracle`: the bot that proves and submits inputs as they arrive.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use zkinfer::chain::registry::parse_model_id;
use zkinfer::oracle::journal::{Location, Status};
use zkinfer::oracle::{Config, Oracle, Outcome, Requesters, Source};
use zkinfer::pipeline::Build;

use super::opts::{address, ChainArgs};
use super::{block_on, Exit};

/// Arguments of `oracle`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OracleArgs {
    #[command(subcommand)]
    pub cmd: Option<OracleCmd>,
    /// Build directory of the model (built with --binding).
    #[arg(required = true)]
    pub dir: Option<PathBuf>,
    /// Model id it is registered under.
    #[arg(long, required = true)]
    pub model: Option<String>,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Seconds a worker's claim on an input lasts unless its heartbeat (every third of it)
    /// renews it: after a worker dies, others take its inputs over this long after its last
    /// heartbeat.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    pub lease: u64,
    /// Take inputs from a JSON-lines file, followed for new lines (one input object per line).
    #[arg(long, conflicts_with_all = ["stdin", "events"])]
    pub input_file: Option<PathBuf>,
    /// Take inputs from stdin (JSON lines) until EOF.
    #[arg(long, conflicts_with = "events")]
    pub stdin: bool,
    /// Serve PredictionRequested events; their inputRef names a file in this folder.
    #[arg(long, value_name = "INPUT_DIR")]
    pub events: Option<PathBuf>,
    /// Process what is pending and available now, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between polls of a followed file or of events.
    #[arg(long, default_value_t = 2.0)]
    pub poll: f64,
    /// Accept inputs of a build with hashed inputs (or outputs) without a salt, or with salt 0.
    /// Their commitments can then be brute-forced when the data has little entropy.
    #[arg(long)]
    pub allow_unsalted: bool,
    /// With --events: serve only this requester's requests (repeatable). Others are skipped.
    #[arg(long = "requester", value_name = "ADDR", requires = "events")]
    pub requesters: Vec<String>,
    /// With --events: serve everyone's requests (requesting is free; each request served costs
    /// a proof and gas).
    #[arg(long, requires = "events", conflicts_with = "requesters")]
    pub any_requester: bool,
    /// With --events: a request for the same input (the same file content) as one submitted or
    /// failed less than SECS ago, or still in flight, is skipped as served by it.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub min_interval: u64,
    /// With --events: most blocks per log query (several queries per poll until caught up).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_block_range: u64,
    /// With --events: read requests only up to this many blocks behind the head [default: 0
    /// on local dev chains (ids 31337 and 1337), 12 elsewhere].
    #[arg(long, value_name = "N")]
    pub confirmations: Option<u64>,
    /// On a batch build (`build --batch N`): prove up to this many pending inputs in one proof
    /// and submit them in one transaction [default: the build's batch size].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// On a batch build: prove a partial batch once the oldest pending input has waited this
    /// long (with --once or --stdin, what is pending is proven at once).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub max_wait: f64,
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// The journal: a SQLite file or a PostgreSQL URL.
#[derive(Args)]
pub struct JournalArg {
    /// The journal: a SQLite file (created if missing; one oracle at a time) or a PostgreSQL
    /// URL, postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require (shared by any number of
    /// workers). Keep it: it is what makes restarts safe. The URL is never printed.
    #[arg(
        long = "journal",
        env = "ZKINFER_JOURNAL",
        hide_env_values = true,
        default_value = "oracle-journal.sqlite"
    )]
    pub journal: String,
}

impl JournalArg {
    fn location(&self) -> anyhow::Result<Location> {
        Location::parse(&self.journal).map_err(anyhow::Error::msg)
    }
}

/// `oracle` subcommands.
#[derive(Subcommand)]
pub enum OracleCmd {
    /// Inputs per state, the oldest pending input, and each worker's heartbeat and throughput.
    Status(StatusArgs),
}

/// Arguments of `oracle status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub journal: JournalArg,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where inputs come from, and (for events) whose requests are served: one policy is
/// required with `--events`, so that the oracle fails closed.
fn source(a: &OracleArgs, shared: bool) -> anyhow::Result<(Option<Source>, Requesters)> {
    let source = match (&a.input_file, a.stdin, &a.events) {
        (Some(p), _, _) => Some(Source::File(p.clone())),
        (None, true, _) => Some(Source::Stdin),
        (None, false, Some(d)) => Some(Source::Events(d.clone())),
        _ if shared => None,
        _ => anyhow::bail!(
            "say where inputs come from: --input-file FILE, --stdin, or --events INPUT_DIR (a \
             worker that only proves what others ingest needs a PostgreSQL --journal)"
        ),
    };
    if a.any_requester {
        return Ok((source, Requesters::Anyone));
    }
    let list = a
        .requesters
        .iter()
        .map(|r| address("--requester", r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if matches!(source, Some(Source::Events(_))) && list.is_empty() {
        anyhow::bail!(
            "--events needs --requester ADDR (repeatable) or --any-requester: requesting is \
             free, and every request served costs a proof and gas"
        );
    }
    Ok((source, Requesters::Only(list)))
}

/// Prints one outcome on stdout (a JSON line with `--json`).
fn print(o: &Outcome, json: bool) {
    if json {
        println!("{}", serde_json::to_string(o).unwrap_or_default());
    } else if o.status == "submitted" {
        let gas = o.gas_used.unwrap_or_default();
        let batch = match (o.batch, o.batch_inputs) {
            (Some(b), Some(n)) => format!(
                ", batch {b} of {n} input(s): {} gas per input",
                gas / n.max(1) as u64
            ),
            _ => String::new(),
        };
        println!(
            "{}: submitted in block {} (tx {}, gas {gas}{batch})",
            o.id,
            o.block.unwrap_or_default(),
            o.tx.as_deref().unwrap_or("?"),
        );
    } else {
        println!(
            "{}: {}: {}",
            o.id,
            o.status,
            o.reason.as_deref().unwrap_or("?")
        );
    }
}

/// Runs `oracle`: exit 0 when every input ended submitted (or was skipped), 1 when some failed.
pub fn run(a: OracleArgs) -> anyhow::Result<Exit> {
    if let Some(OracleCmd::Status(s)) = &a.cmd {
        return status(s);
    }
    let (Some(dir), Some(model)) = (&a.dir, &a.model) else {
        anyhow::bail!("give the build directory and --model ID");
    };
    let journal = a.journal.location()?;
    let (source, requesters) = source(&a, journal.is_shared())?;
    let build = Build::open(dir)?;
    if !build.settings.circuit.visibility.binding {
        anyhow::bail!(
            "{}: built without --binding, so its proofs cannot be submitted to a registry",
            dir.display()
        );
    }
    let model = parse_model_id(model).map_err(anyhow::Error::msg)?;
    let json = a.chain.json;
    let (mut failed, mut skipped, mut count) = (0usize, 0usize, 0usize);
    let emit = |o: &Outcome| {
        count += 1;
        match o.status.as_str() {
            "submitted" => {}
            "skipped" => skipped += 1,
            _ => failed += 1,
        }
        print(o, json);
    };
    block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        let cfg = Config {
            build,
            model,
            registry,
            journal,
            source,
            lease: Duration::from_secs(a.lease),
            once: a.once,
            poll: Duration::from_secs_f64(a.poll.max(0.05)),
            max_attempts: 5,
            allow_unsalted: a.allow_unsalted,
            requesters,
            min_interval: Duration::from_secs(a.min_interval),
            max_block_range: a.max_block_range,
            confirmations: a.confirmations,
            batch_size: a.batch_size.map(|n| n as usize),
            max_wait: Duration::try_from_secs_f64(a.max_wait).map_err(|_| {
                anyhow::anyhow!(
                    "--max-wait {}: give a number of seconds, 0 or more",
                    a.max_wait
                )
            })?,
        };
        let mut bot = Oracle::new(cfg, &chain, Box::new(emit))?;
        bot.run().await?;
        anyhow::Ok(())
    })??;
    eprintln!(
        "zkinfer oracle: {} input(s) settled, {failed} failed; {skipped} request(s) skipped",
        count - skipped
    );
    Ok(if failed == 0 { Exit::Ok } else { Exit::Invalid })
}

/// Runs `oracle status`.
fn status(a: &StatusArgs) -> anyhow::Result<Exit> {
    let loc = a.journal.location()?;
    let s = Status::read(&loc)?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(Exit::Ok);
    }
    println!("journal {}", s.journal);
    let states: Vec<String> = ["pending", "proved", "sent", "submitted", "failed"]
        .iter()
        .map(|k| format!("{} {k}", s.states.get(*k).copied().unwrap_or(0)))
        .collect();
    println!(
        "inputs: {}; {} claimed now; {} request(s) skipped",
        states.join(", "),
        s.claimed,
        s.skipped
    );
    match &s.oldest_pending {
        Some(o) => println!("oldest pending: {} (waiting {} s)", o.id, o.waiting_s),
        None => println!("oldest pending: none"),
    }
    if s.workers.is_empty() {
        println!("workers: none yet");
    }
    for w in &s.workers {
        let state = match (w.stopped, w.alive) {
            (true, _) => "stopped".to_string(),
            (false, true) => "alive".to_string(),
            (false, false) => format!("silent (lease {} s): dead, or cut off", w.lease_s),
        };
        println!(
            "worker {} ({}): {state}, heartbeat {} s ago, {} settled in {} s ({:.1}/min), {} claimed, submitter {}",
            w.id,
            w.host,
            w.heartbeat_s_ago,
            w.settled,
            w.ran_s,
            w.per_minute,
            w.claimed,
            w.submitter.as_deref().unwrap_or("?")
        );
    }
    Ok(Exit::Ok)
}
