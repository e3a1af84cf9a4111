//! `zkinfer eval`: accuracy of the float and quantized model on labelled data.

use std::path::PathBuf;

use clap::Args;
use zkinfer::pipeline::Build;

use super::output::print_json;
use super::Exit;

/// Arguments of `eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// A build directory.
    pub dir: PathBuf,
    /// JSON lines of {"input_data": [[...]], "label": y}.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `eval`.
pub fn run(a: EvalArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let r = build.evaluate(&a.data)?;
    if a.json {
        print_json(&serde_json::to_value(&r)?);
        return Ok(Exit::Ok);
    }
    println!("{} samples ({})", r.samples, r.task);
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.2}%", x * 100.0));
    let num = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
    if r.task == "classification" {
        println!(
            "  accuracy: float {}  quantized (proven) {}",
            pct(r.float_accuracy),
            pct(r.quantized_accuracy)
        );
        println!("  float/quantized agreement: {}", pct(r.agreement));
    } else {
        println!(
            "  mean abs error vs labels: float {}  quantized (proven) {}",
            num(r.float_mae),
            num(r.quantized_mae)
        );
    }
    println!(
        "  max |float - quantized| over outputs: {:.3e}",
        r.max_abs_error
    );
    Ok(Exit::Ok)
}
