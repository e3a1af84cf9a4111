//! Calibration: run the float model, try the target's quantization candidates, keep the best
//! one (see [`Target`]) and apply the user's fidelity thresholds.

use crate::circuit;
use crate::fidelity::{CalibrationReport, Candidate, FidelityAcc, FidelityReport, Target};
use crate::graph::Graph;
use crate::onnx;
use crate::quant::{self, QuantModel};
use crate::visibility::Vis;

use super::{BuildOptions, Error, Result};

/// Float outputs of every sample: tract running the ONNX file, or zkinfer's f64 graph where
/// tract cannot run the model (`ai.onnx.ml` ops).
pub(super) fn float_outputs(
    opts: &BuildOptions,
    graph: &Graph,
    samples: &[Vec<Vec<f64>>],
) -> Result<(String, Vec<Vec<Vec<f64>>>)> {
    let shapes: Vec<Vec<usize>> = graph
        .inputs
        .iter()
        .map(|&v| graph.values[v].shape.clone())
        .collect();
    match onnx::FloatModel::load(&opts.model, &shapes) {
        Ok(t) => Ok((
            "tract".into(),
            samples
                .iter()
                .map(|s| t.run(s))
                .collect::<std::result::Result<_, _>>()?,
        )),
        Err(_) => Ok((
            "zkinfer f64 graph (tract cannot run this model)".into(),
            samples
                .iter()
                .map(|s| crate::fidelity::graph_outputs(graph, s))
                .collect::<std::result::Result<_, _>>()?,
        )),
    }
}

/// Fidelity of a quantized model against precomputed float outputs.
fn fidelity_of(
    model: &QuantModel,
    samples: &[Vec<Vec<f64>>],
    reference: &str,
    floats: &[Vec<Vec<f64>>],
) -> Result<FidelityReport> {
    let mut acc = FidelityAcc::new(model);
    for (s, f) in samples.iter().zip(floats) {
        acc.add(f, &model.output_floats(&model.eval(s)?));
    }
    Ok(acc.finish(reference))
}

/// Tries the target's quantization candidates and keeps the best one (see [`Target`]).
pub(super) fn calibrate(
    opts: &BuildOptions,
    graph: &Graph,
    samples: &[Vec<Vec<f64>>],
    reference: &str,
    floats: &[Vec<Vec<f64>>],
) -> Result<(QuantModel, FidelityReport, CalibrationReport)> {
    let mut tried: Vec<Candidate> = vec![];
    let mut built: Vec<(QuantModel, FidelityReport)> = vec![];
    let mut last_err = None;
    for cfg in opts.target.candidates(&opts.quant) {
        let attempt = (|| -> Result<(QuantModel, FidelityReport, u32)> {
            let model = quant::quantize(graph, samples, &cfg)?;
            if opts.visibility.params != Vis::Fixed {
                model.check_param_range()?;
            }
            let f = fidelity_of(&model, samples, reference, floats)?;
            let shape = circuit::choose_batch_params(
                &model,
                &model.eval(&samples[0])?,
                opts.visibility,
                opts.predicate.as_ref(),
                opts.optimize,
                opts.batch,
            )?;
            Ok((model, f, shape.k()))
        })();
        match attempt {
            Ok((model, f, k)) => {
                tried.push(Candidate {
                    max_act_frac_bits: cfg.max_act_frac_bits,
                    lut_bits: cfg.lut_bits,
                    logrows: Some(k),
                    max_abs_error: Some(f.max_abs_error_overall),
                    min_agreement: f.min_agreement,
                    failure: None,
                    chosen: false,
                });
                built.push((model, f));
            }
            Err(e) => {
                tried.push(Candidate {
                    max_act_frac_bits: cfg.max_act_frac_bits,
                    lut_bits: cfg.lut_bits,
                    logrows: None,
                    max_abs_error: None,
                    min_agreement: None,
                    failure: Some(e.to_string()),
                    chosen: false,
                });
                last_err = Some(e);
            }
        }
    }
    let ok: Vec<usize> = (0..tried.len())
        .filter(|&i| tried[i].failure.is_none())
        .collect();
    let Some(&first) = ok.first() else {
        return Err(last_err.unwrap_or(Error::Fidelity("no quantization candidate".into())));
    };
    // `built` holds the successful candidates in order; map tried index -> built index.
    let bidx = |i: usize| {
        ok.iter()
            .position(|&j| j == i)
            .expect("successful candidate")
    };
    let err = |i: usize| tried[i].max_abs_error.unwrap_or(f64::INFINITY);
    let agr = |i: usize| tried[i].min_agreement.unwrap_or(1.0);
    let k = |i: usize| tried[i].logrows.unwrap_or(u32::MAX);
    let best_err = ok.iter().map(|&i| err(i)).fold(f64::INFINITY, f64::min);
    let best_agr = ok.iter().map(|&i| agr(i)).fold(0.0, f64::max);
    let meets = |i: usize| {
        let user = opts.max_error.is_some() || opts.min_agreement.is_some();
        if user {
            opts.max_error.is_none_or(|m| err(i) <= m)
                && opts.min_agreement.is_none_or(|m| agr(i) >= m)
        } else {
            match opts.target {
                Target::Accuracy => true,
                Target::Resources => agr(i) >= best_agr && err(i) <= (10.0 * best_err).max(1e-3),
            }
        }
    };
    let pick = match opts.target {
        Target::Accuracy => ok
            .iter()
            .copied()
            .filter(|&i| meets(i))
            .min_by(|&a, &b| err(a).total_cmp(&err(b)).then(k(a).cmp(&k(b)))),
        Target::Resources => ok
            .iter()
            .copied()
            .filter(|&i| meets(i))
            .min_by(|&a, &b| k(a).cmp(&k(b)).then(err(a).total_cmp(&err(b)))),
    };
    let chosen = match pick {
        Some(i) => i,
        None => {
            let (_, f) = &built[bidx(first)];
            let best = ok
                .iter()
                .copied()
                .min_by(|&a, &b| err(a).total_cmp(&err(b)))
                .unwrap_or(first);
            check_fidelity(opts, &built[bidx(best)].1)?;
            check_fidelity(opts, f)?;
            first
        }
    };
    tried[chosen].chosen = true;
    let (model, fidelity) = built.swap_remove(bidx(chosen));
    check_fidelity(opts, &fidelity)?;
    Ok((
        model,
        fidelity,
        CalibrationReport {
            target: opts.target,
            tried,
        },
    ))
}

/// Applies `--max-error` and `--min-agreement`.
fn check_fidelity(opts: &BuildOptions, f: &FidelityReport) -> Result<()> {
    let mut problems = vec![];
    if let Some(max) = opts.max_error {
        if f.max_abs_error_overall > max {
            problems.push(format!(
                "max abs error {:.3e} > --max-error {max:.3e}",
                f.max_abs_error_overall
            ));
        }
    }
    if let (Some(min), Some(got)) = (opts.min_agreement, f.min_agreement) {
        if got < min {
            problems.push(format!(
                "class agreement {:.2}% < --min-agreement {:.2}%",
                got * 100.0,
                min * 100.0
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let per: Vec<String> = f
        .outputs
        .iter()
        .map(|o| {
            let agr = o
                .agreement
                .map_or(String::new(), |a| format!(", agreement {:.2}%", a * 100.0));
            format!(
                "'{}': max {:.3e}, mean {:.3e}{agr}",
                o.name, o.max_abs_error, o.mean_abs_error
            )
        })
        .collect();
    Err(Error::Fidelity(format!(
        "{} over {} calibration samples ({}). Try --target accuracy, more --lut-bits, or calibration data closer to real inputs.",
        problems.join("; "),
        f.samples,
        per.join("; ")
    )))
}
