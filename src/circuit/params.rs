//! Choosing the circuit's shape: `logrows`, columns, lookup bits, function tables.

use serde::{Deserialize, Serialize};

use super::Secrets;
use super::{
    layout::assign,
    plan_dots,
    tables::{check_tables, model_tables},
    BaseCircuitBuilder, BaseCircuitParams, CircuitBuilderStage, DotJobs, Error, FnLookups, Fr,
    Result, ZkParams,
};
use crate::predicate::Predicate;
use crate::quant::{QuantModel, Trace};
use crate::visibility::Visibility;

/// Rows reserved at the bottom for blinding.
pub const BLINDING_ROWS: usize = 20;
/// Smallest logrows tried.
pub const MIN_K: u32 = 8;
/// Largest logrows tried.
pub const MAX_K: u32 = 26;
/// Most advice columns of the main gate: few, dense columns keep the verifier small.
pub const MAX_ADVICE: usize = 2;

/// Everything needed to rebuild the same circuit at every stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CircuitShape {
    /// Columns and sizes.
    pub params: ZkParams,
    /// halo2-base's thread break points, fixed at key generation.
    pub break_points: Vec<Vec<usize>>,
    /// What is public.
    #[serde(default)]
    pub visibility: Visibility,
    /// The output predicate proven instead of revealing the outputs, if any.
    #[serde(default)]
    pub predicate: Option<Predicate>,
    /// Samples proven per proof (slots of a batch; 1: today's one-sample circuit, and then not
    /// written, so one-sample builds describe themselves as before).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub batch: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl CircuitShape {
    /// `logrows`.
    pub fn k(&self) -> u32 {
        self.params.base.k as u32
    }
}

/// What the circuit's shape favours when constant-weight dot products could go either to a dot
/// lane (shorter circuit, faster proving, more columns) or to the vertical gate (fewer columns,
/// smaller verifier, less verify gas).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    /// The smallest `k`, and a dot lane whenever there are constant-weight dot products (fewer
    /// cells to commit to).
    Proving,
    /// Without a dot lane unless that costs more than two extra `logrows`.
    #[default]
    Balanced,
    /// Without a dot lane whenever the model fits in `MAX_K` without one.
    Gas,
}

impl Optimize {
    /// How many `logrows` above the smallest a layout without dot lanes may take (`None`: a
    /// dot lane whenever possible).
    fn plain_slack(self) -> Option<u32> {
        match self {
            Optimize::Proving => None,
            Optimize::Balanced => Some(2),
            Optimize::Gas => Some(MAX_K),
        }
    }
}

/// Most terms per row of a dot lane: more columns shorten the circuit but grow the verifier.
pub const MAX_DOT_WIDTH: usize = 6;

/// One layout at `k`: halo2-base's parameters, its advice cells, the function lookups and the
/// lengths of the queued dot jobs (empty without dot lanes).
struct Trial {
    base: BaseCircuitParams,
    cells: usize,
    n_lookups: usize,
    dot_lens: Vec<usize>,
}

impl Trial {
    /// Whether the vertical gate fits in [`MAX_ADVICE`] columns and the lookups in one column
    /// each at `usable` rows.
    fn fits(&self, usable: usize) -> bool {
        self.base.num_advice_per_phase[0] <= MAX_ADVICE
            && self.base.num_lookup_advice_per_phase[0] <= 1
            && self.n_lookups.div_ceil(usable) <= 1
    }

    /// Rows the dot jobs need at the widest lane, and the lane's start row.
    fn min_dot_rows(&self) -> usize {
        1 + self
            .dot_lens
            .iter()
            .map(|n| n.div_ceil(MAX_DOT_WIDTH).max(1))
            .sum::<usize>()
    }
}

/// Rows usable for witnesses at `k`, as the shape is chosen.
fn usable_rows(k: u32) -> usize {
    (1usize << k) - BLINDING_ROWS - 1
}

#[allow(clippy::too_many_arguments)] // the whole sizing context, passed once
fn trial(
    k: u32,
    dots: bool,
    model: &QuantModel,
    trace: &Trace,
    tables: &[crate::quant::QFunc],
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Result<Trial> {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k as usize)
        .use_lookup_bits(k as usize - 1)
        .use_instance_columns(1);
    let lookups = FnLookups::default();
    let jobs = DotJobs::default();
    let range = b.range_chip();
    let secrets = Secrets {
        predicate_params: predicate.map_or(vec![], |p| vec![0; p.params().len()]),
        ..Default::default()
    };
    let mut arranger = super::instances::Arranger::new(model, vis, predicate, batch > 1);
    let mut shared: Option<Vec<Vec<halo2_base::AssignedValue<Fr>>>> = None;
    for _ in 0..batch.max(1) {
        let io = assign(
            b.main(0),
            &range,
            &lookups,
            dots.then_some(&jobs),
            tables,
            model,
            trace,
            vis,
            shared.as_deref(),
        )?;
        if shared.is_none() {
            shared = Some(io.param_nodes.clone());
        }
        arranger.sample(b.main(0), &range, io, &secrets, true);
    }
    arranger.finish(b.main(0), None);
    let base = b.calculate_params(Some(BLINDING_ROWS));
    let cells = b.statistics().gate.total_advice_per_phase.iter().sum();
    let n_lookups = lookups.lock().map(|l| l.len()).unwrap_or(0);
    let dot_lens = jobs
        .lock()
        .map(|q| q.jobs.iter().map(|j| j.terms.len()).collect())
        .unwrap_or_default();
    Ok(Trial {
        base,
        cells,
        n_lookups,
        dot_lens,
    })
}

/// The smallest `k` at which the model fits in [`MAX_ADVICE`] advice columns, one range-lookup
/// column, one function-lookup column set, one dot lane of at most [`MAX_DOT_WIDTH`] terms per
/// row, and tables that fit in the rows. At that `k` the narrowest dot lane that fits is used;
/// no dot lane at all when the vertical gate alone fits within `optimize`'s slack of `logrows`
/// (fewer columns: a smaller verifier and less verify gas).
pub fn choose_params(
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    predicate: Option<&Predicate>,
    optimize: Optimize,
) -> Result<CircuitShape> {
    choose_batch_params(model, trace, vis, predicate, optimize, 1)
}

/// [`choose_params`] for a circuit of `batch` slots of the model (each sized by `trace`).
pub fn choose_batch_params(
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    predicate: Option<&Predicate>,
    optimize: Optimize,
    batch: usize,
) -> Result<CircuitShape> {
    let tables = model_tables(model);
    check_tables(model, &tables)?;
    let table_rows = 1 + tables.iter().map(|t| t.len()).sum::<usize>();
    let mut cells = 0;
    let mut k = MIN_K;
    while k <= MAX_K {
        let usable = usable_rows(k);
        if table_rows > usable {
            k += 1;
            continue;
        }
        let t = trial(k, true, model, trace, &tables, vis, predicate, batch)?;
        cells = t.cells;
        // Dot rows at the widest lane (and its start row) bound k from below whatever the
        // lookup bits.
        let min_rows = t.min_dot_rows();
        if min_rows > usable {
            k = k.max(
                (min_rows + BLINDING_ROWS + 1)
                    .next_power_of_two()
                    .trailing_zeros(),
            );
            continue;
        }
        let width = if t.dot_lens.is_empty() {
            Some(0)
        } else {
            (1..=MAX_DOT_WIDTH)
                .find(|&w| plan_dots(t.dot_lens.iter().copied(), w, 1, usable).is_some())
        };
        if let (true, Some(width)) = (t.fits(usable), width) {
            // Dot lanes add columns, hence verifier size and gas: without them at this k or the
            // next two (three cells per dot term in the vertical gate) is preferred when it fits.
            let plain_cells = t.cells + t.dot_lens.iter().map(|n| 3 * n + 4).sum::<usize>();
            let mut chosen = (t, width);
            if let (true, Some(slack)) = (width > 0, optimize.plain_slack()) {
                for pk in k..=(k + slack).min(MAX_K) {
                    if plain_cells > MAX_ADVICE * usable_rows(pk) {
                        continue;
                    }
                    let p = trial(pk, false, model, trace, &tables, vis, predicate, batch)?;
                    if p.fits(usable_rows(pk)) {
                        chosen = (p, 0);
                        break;
                    }
                }
            }
            let (t, width) = chosen;
            return Ok(CircuitShape {
                params: ZkParams {
                    base: t.base,
                    fn_cols: usize::from(t.n_lookups > 0),
                    tables,
                    dot_width: width,
                    dot_lanes: usize::from(width > 0),
                },
                break_points: vec![],
                visibility: vis,
                predicate: predicate.cloned(),
                batch: batch.max(1),
            });
        }
        k += 1;
    }
    if batch > 1 {
        return Err(Error::BatchTooLarge {
            batch,
            max_k: MAX_K,
            largest: largest_batch(MAX_K, model, trace, &tables, vis, predicate, batch)?,
        });
    }
    Err(Error::TooLarge {
        max_k: MAX_K,
        cells,
        table_rows,
    })
}

/// Whether `batch` slots of the model fit in `2^k` rows (with a dot lane, the shortest
/// layout), as [`choose_batch_params`] would accept them there.
fn fits_at(
    k: u32,
    model: &QuantModel,
    trace: &Trace,
    tables: &[crate::quant::QFunc],
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Result<bool> {
    let usable = usable_rows(k);
    let t = trial(k, true, model, trace, tables, vis, predicate, batch)?;
    let min_rows = t.min_dot_rows();
    let width_fits = t.dot_lens.is_empty()
        || plan_dots(t.dot_lens.iter().copied(), MAX_DOT_WIDTH, 1, usable).is_some();
    Ok(min_rows <= usable && width_fits && t.fits(usable))
}

/// The largest batch below `batch` whose shortest layout fits in `2^k` rows (0: not even one
/// sample): what `build` names when `--batch` is too large at the largest `logrows`.
pub fn largest_batch_within(
    k: u32,
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Result<usize> {
    let tables = model_tables(model);
    check_tables(model, &tables)?;
    largest_batch(k, model, trace, &tables, vis, predicate, batch)
}

/// [`largest_batch_within`] with the tables at hand, by bisection: rows grow with the number of
/// slots.
fn largest_batch(
    k: u32,
    model: &QuantModel,
    trace: &Trace,
    tables: &[crate::quant::QFunc],
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Result<usize> {
    let (mut lo, mut hi) = (0, batch);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits_at(k, model, trace, tables, vis, predicate, mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}
