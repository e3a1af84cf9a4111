//! `zkinfer oracle`: the bot that proves and submits inputs as they arrive.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use zkinfer::chain::registry::parse_model_id;
use zkinfer::oracle::{Config, Oracle, Outcome, Source};
use zkinfer::pipeline::Build;

use super::registry::ChainArgs;
use super::{block_on, Exit};

/// Arguments of `oracle`.
#[derive(Args)]
pub struct OracleArgs {
    /// Build directory of the model (built with --binding).
    pub dir: PathBuf,
    /// Model id it is registered under.
    #[arg(long)]
    pub model: String,
    /// The journal (SQLite); created if missing. Keep it: it is what makes restarts safe.
    #[arg(long, default_value = "oracle-journal.sqlite")]
    pub journal: PathBuf,
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
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Runs `oracle`: exit 0 when every input ended submitted, 1 when some failed.
pub fn run(a: OracleArgs) -> anyhow::Result<Exit> {
    let source = match (&a.input_file, a.stdin, &a.events) {
        (Some(p), _, _) => Source::File(p.clone()),
        (None, true, _) => Source::Stdin,
        (None, false, Some(d)) => Source::Events(d.clone()),
        _ => anyhow::bail!(
            "say where inputs come from: --input-file FILE, --stdin, or --events INPUT_DIR"
        ),
    };
    let build = Build::open(&a.dir)?;
    if !build.settings.circuit.visibility.binding {
        anyhow::bail!(
            "{}: built without --binding, so its proofs cannot be submitted to a registry",
            a.dir.display()
        );
    }
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let json = a.chain.json;
    let mut failed = 0usize;
    let mut count = 0usize;
    let emit = |o: &Outcome| {
        count += 1;
        if o.status != "submitted" {
            failed += 1;
        }
        if json {
            println!("{}", serde_json::to_string(o).unwrap_or_default());
        } else if o.status == "submitted" {
            println!(
                "{}: submitted in block {} (tx {}, gas {})",
                o.id,
                o.block.unwrap_or_default(),
                o.tx.as_deref().unwrap_or("?"),
                o.gas_used.unwrap_or_default()
            );
        } else {
            println!("{}: failed: {}", o.id, o.reason.as_deref().unwrap_or("?"));
        }
    };
    block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        let cfg = Config {
            build,
            model,
            registry,
            journal: a.journal.clone(),
            source,
            once: a.once,
            poll: Duration::from_secs_f64(a.poll.max(0.05)),
            max_attempts: 5,
        };
        let mut bot = Oracle::new(cfg, &chain, Box::new(emit))?;
        bot.run().await?;
        anyhow::Ok(())
    })??;
    eprintln!("zkinfer oracle: {count} input(s) settled, {failed} failed");
    Ok(if failed == 0 { Exit::Ok } else { Exit::Invalid })
}
