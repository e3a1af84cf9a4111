//! `zkinfer registry gate`: deploy the LendingGate example for a threshold model.

use clap::Args;
use serde_json::json;
use zkinfer::chain::deployments::ContractEntry;
use zkinfer::chain::gate::{GateDirection, GateSpec};
use zkinfer::chain::registry::{parse_model_id, predicate_op_text};

use super::report;
use crate::cli::opts::ChainArgs;
use crate::cli::{block_on, Exit};

/// Arguments of `registry gate`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("bound").required(true).args(["min_threshold", "max_threshold"]))]
pub struct GateArgs {
    /// Model id of a threshold model with hashed inputs: `y[I] >= T` (or `>`) for
    /// --min-threshold, `y[I] <= T` (or `<`) for --max-threshold.
    #[arg(long)]
    model: String,
    /// The flattened model output the predicate must read (I in `y[I]`).
    #[arg(long, default_value_t = 0)]
    output: u32,
    /// Borrowers need a proof of `y[I] >= T` (or `>`) with T at least this (a float at the
    /// output's scale).
    #[arg(long)]
    min_threshold: Option<f64>,
    /// Borrowers need a proof of `y[I] <= T` (or `<`) with T at most this.
    #[arg(long)]
    max_threshold: Option<f64>,
    /// Oldest acceptable proof, in seconds.
    #[arg(long, default_value_t = 86_400)]
    max_age: u64,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry gate`.
pub fn run(a: GateArgs) -> anyhow::Result<Exit> {
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let (direction, bound) = match (a.min_threshold, a.max_threshold) {
        (Some(t), None) => (GateDirection::AtLeast, t),
        (None, Some(t)) => (GateDirection::AtMost, t),
        _ => anyhow::bail!("give exactly one of --min-threshold and --max-threshold"),
    };
    let (d, fixed) = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        // The predicate as the registry recorded it from the model's verifier: the gate's
        // constructor checks it too, this says why in words before spending gas.
        let info = chain.registry(registry).model_info(model).await?;
        let want = match direction {
            GateDirection::AtLeast => ">= (or >)",
            GateDirection::AtMost => "<= (or <)",
        };
        if !direction.accepts(info.predicate_op) || info.predicate_output != a.output {
            anyhow::bail!(
                "model '{}' proves {} on output {}; this gate needs `y[{}] {want} T`: a proof of another predicate says nothing about this bound. Register a model built with --output-predicate 'y[{}] {} T'",
                a.model,
                if info.predicate_op == 0 { "no predicate".to_string() } else { format!("`{}`", predicate_op_text(info.predicate_op)) },
                info.predicate_output,
                a.output,
                a.output,
                if direction == GateDirection::AtLeast { ">=" } else { "<=" },
            );
        }
        let scaled = bound * 2f64.powi(info.predicate_exp);
        if !scaled.is_finite() || scaled.abs() >= 2f64.powi(120) {
            anyhow::bail!(
                "--{}-threshold {bound}: not a threshold the model can prove (give a finite number within the output's range)",
                if direction == GateDirection::AtLeast { "min" } else { "max" }
            );
        }
        let fixed = zkinfer::quant::to_fixed(bound, info.predicate_exp);
        let exp = i16::try_from(info.predicate_exp).map_err(|_| {
            anyhow::anyhow!(
                "the model's threshold exponent {} is out of range",
                info.predicate_exp
            )
        })?;
        let d = chain
            .registry(registry)
            .deploy_gate(
                model,
                GateSpec {
                    output: a.output,
                    direction,
                    bound: fixed,
                    exp,
                    max_age: a.max_age,
                },
            )
            .await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.gates.insert(
            a.model.clone(),
            ContractEntry {
                address: d.address,
                tx: d.tx_hash,
                gas_used: d.gas_used,
            },
        );
        rec.save(&a.chain.at.deployments)
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((d, fixed))
    })??;
    report(
        a.chain.json,
        json!({ "gate": format!("{:#x}", d.address), "output": a.output, "direction": direction, "bound_fixed": fixed.to_string(), "max_age": a.max_age, "tx": d.tx_hash, "gas_used": d.gas_used }),
        format!("{:#x}", d.address),
    );
    Ok(Exit::Ok)
}
