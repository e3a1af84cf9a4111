//! `zkinfer read`: verified predictions stored in the registry.

use clap::Args;
use serde_json::json;
use zkinfer::chain::registry::parse_model_id;

use super::output::{floats, print_json};
use super::registry::{word, ChainArgs};
use super::{block_on, Exit};

/// Arguments of `read`.
#[derive(Args)]
pub struct ReadArgs {
    /// Model id.
    #[arg(long)]
    pub model: String,
    /// Only predictions for this input commitment (0x hex).
    #[arg(long)]
    pub commitment: Option<String>,
    /// Instead of the newest, list up to N (at most 32) newest first.
    #[arg(long, value_name = "N")]
    pub history: Option<u64>,
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Runs `read`.
pub fn run(a: ReadArgs) -> anyhow::Result<Exit> {
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let commitment = a
        .commitment
        .as_deref()
        .map(|c| word("--commitment", c))
        .transpose()?;
    let preds = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(match a.history {
            Some(n) => chain.read_history(registry, model, 0, n).await?,
            None => vec![chain.read_latest(registry, model, commitment).await?],
        })
    })??;
    if a.chain.json {
        print_json(&json!({ "model": a.model, "predictions": preds }));
    } else {
        for p in &preds {
            println!(
                "{}values {} (fixed point {:?}, exps {:?}) input {} submitter {} block {}{}",
                p.index.map(|i| format!("#{i} ")).unwrap_or_default(),
                floats(&p.floats),
                p.values,
                p.exps,
                p.input_key,
                p.submitter,
                p.block,
                p.age.map(|a| format!(", {a} s old")).unwrap_or_default()
            );
        }
    }
    Ok(Exit::Ok)
}
