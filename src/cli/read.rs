//! `zkinfer read`: verified predictions stored in the registry.

use clap::Args;
use serde_json::json;
use zkinfer::chain::registry::parse_model_id;

use super::opts::{word, ChainArgs};
use super::output::{floats, print_json};
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
    /// Instead of the newest stored prediction, list up to N predictions newest first, every
    /// restatement included, from the registry's events.
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Search the registry's events from this block (nodes that limit log queries need one
    /// near the registry's deployment).
    #[arg(long, value_name = "BLOCK", default_value_t = 0)]
    pub from_block: u64,
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
            Some(n) => {
                chain
                    .registry(registry)
                    .read_history(model, commitment, a.from_block, n)
                    .await?
            }
            None => vec![
                chain
                    .registry(registry)
                    .read_latest(model, commitment, a.from_block)
                    .await?,
            ],
        })
    })??;
    if a.chain.json {
        print_json(&json!({ "model": a.model, "predictions": preds }));
    } else {
        for p in &preds {
            let unknown = || "?".to_string();
            let submitter = p.submitter.map_or_else(unknown, |s| s.to_string());
            println!(
                "values {} (fixed point {:?}, exps {:?}) input {} submitter {} block {} slot {}{}",
                floats(&p.floats),
                p.values,
                p.exps,
                p.input_key,
                submitter,
                p.block.map_or_else(unknown, |b| b.to_string()),
                p.slot.map_or_else(unknown, |s| s.to_string()),
                p.age.map(|a| format!(", {a} s old")).unwrap_or_default()
            );
        }
    }
    Ok(Exit::Ok)
}
