//! Choosing the circuit's shape: `logrows`, columns, lookup bits, function tables.

use serde::{Deserialize, Serialize};

use super::Secrets;
use super::{
    layout::assign,
    plan_dots, plan_poly,
    tables::{check_tables, model_tables},
    zk::PolyOp,
    zk::{act_lanes_needed, ActKind},
    ActJobs, BaseCircuitBuilder, BaseCircuitParams, CircuitBuilderStage, DotJobs, Error, FnLookups,
    Fr, PolyJobs, Result, ZkParams,
};
use crate::predicate::Predicate;
use crate::quant::{QuantModel, Trace};
use crate::visibility::Visibility;

mod trial;

pub use trial::MAX_DOT_WIDTH;
use trial::{dot_width, trial, usable_rows, Lanes, Trial};

/// Rows reserved at the bottom for blinding.
pub const BLINDING_ROWS: usize = 20;
/// Smallest logrows tried.
pub const MIN_K: u32 = 8;
/// Largest logrows tried.
pub const MAX_K: u32 = 26;
/// Most advice columns of the main gate: few, dense columns keep the verifier small.
pub const MAX_ADVICE: usize = 2;
/// Most advice columns of the main gate in the shortest layout, which trades one column of
/// verifier (a few thousand gas) for half the rows when the gate is what sets `logrows`.
pub const MAX_FAST_ADVICE: usize = 3;

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
    /// The layouts sizing weighed and which one `--optimize-for` took (not written by builds
    /// older than the shape policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layouts: Vec<Layout>,
}

/// One layout sizing considered: with dot lanes at the smallest `logrows`, or without at the
/// smallest `logrows` that fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// `logrows`.
    pub logrows: u32,
    /// Terms per dot-lane row (0: no dot lane).
    pub dot_width: usize,
    /// Poly lanes (convolutions as polynomial identities; 0: none, then not written).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub poly_lanes: usize,
    /// Act lanes (rescales and ReLUs; 0: none, then not written).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub act_lanes: usize,
    /// Advice columns (the gate's, the lookups' and the dot lane's).
    pub advice: usize,
    /// Fixed columns (constants, selectors, dot-lane weights, lookup tags).
    pub fixed: usize,
    /// Lookup arguments (the range lookup and the function lookups).
    pub lookups: usize,
    /// Estimated proving time relative to the fastest layout considered (see
    /// [`prove_weight`]).
    pub relative_prove: f64,
    /// Estimated verify gas of its verifier (see [`verify_gas_estimate`]).
    #[serde(default)]
    pub estimated_gas: u64,
    /// Whether the build uses it.
    pub chosen: bool,
}

/// Proving work of a layout, in advice-column units times rows: an advice column is committed
/// and enters the quotient (1), a lookup argument adds three such polynomials (permuted input,
/// permuted table, grand product), and a fixed column is only evaluated on the extended domain
/// (about a quarter of an advice column's cost). Calibrated on the wide MLP of
/// `bench/OPTIMIZATIONS.md`: predicts the plain layout at logrows 18 to prove 3.9x slower than
/// the dot lane at 15, measured 4.3x.
pub fn prove_weight(k: u32, advice: usize, fixed: usize, lookups: usize) -> f64 {
    (1u64 << k) as f64 * (advice as f64 + 3.0 * lookups as f64 + 0.25 * fixed as f64)
}

/// Verify gas of a layout's verifier, estimated from its columns: each committed polynomial
/// adds a commitment, its evaluations and their share of the multi-opening. Fitted on the LeNet
/// fixtures' two layouts (450,217 and 556,914 gas measured; `bench/RESULTS.md`), within about
/// 15% of every fixture's measured gas.
pub fn verify_gas_estimate(advice: usize, fixed: usize, lookups: usize) -> u64 {
    249_000 + 13_400 * (advice + fixed + 3 * lookups) as u64
}

/// Least verify gas a layout slower than the fastest must save to be taken by `balanced`
/// (as a fraction of the fastest layout's).
pub const BALANCED_MIN_GAS_SAVING: f64 = 0.2;

/// The rule of `--optimize-for balanced`: a layout with fewer columns (no dot lane: a smaller
/// verifier and 15-35% less verify gas; or one gate column fewer) is taken only when its
/// estimated proving time is at most this factor of the fastest layout's and it saves at least
/// [`BALANCED_MIN_GAS_SAVING`] of the gas, or its proving work is under [`BALANCED_ANY_WEIGHT`].
pub const BALANCED_MAX_SLOWDOWN: f64 = 1.5;

/// Proving work below which `balanced` always takes the fewest columns: about one second on
/// the reference machine (2 cores), where gas matters more than proving time. Measured there
/// on 2026-12-02: digits_mlp's 57,344 units proved in 0.86-0.97 s, small_cnn's 114,688 (its
/// layout without lanes) in 1.84-1.91 s and 65,536 (act and dot lanes) in 0.93-1.00 s. (It
/// was 170,000, from the wide MLP's 458,752 units in 2.7 s on 2026-11-22, when the same
/// machine proved about twice as fast, EZKL's runs included; that let small_cnn take a
/// layout measured at 1.8 s.)
pub const BALANCED_ANY_WEIGHT: f64 = 65_000.0;

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    /// Whether a layout with fewer columns than the fastest may be taken: `proving` never,
    /// `gas` always, `balanced` when it proves within [`BALANCED_MAX_SLOWDOWN`] of the fastest
    /// and saves at least [`BALANCED_MIN_GAS_SAVING`] of its gas, or proves in about a second
    /// anyway ([`BALANCED_ANY_WEIGHT`]). The fastest layout itself is always allowed.
    fn allows(self, l: &Layout, fastest: f64, fast_gas: u64) -> bool {
        if l.relative_prove <= fastest {
            return true;
        }
        match self {
            Optimize::Proving => false,
            Optimize::Gas => true,
            Optimize::Balanced => {
                let saves =
                    l.estimated_gas as f64 <= (1.0 - BALANCED_MIN_GAS_SAVING) * fast_gas as f64;
                (l.relative_prove <= BALANCED_MAX_SLOWDOWN * fastest && saves)
                    || l.relative_prove <= BALANCED_ANY_WEIGHT
            }
        }
    }

    /// The most estimated proving work (see [`prove_weight`]) a layout with fewer columns may
    /// take, given the fastest layout's (`None`: the fastest layout, always).
    fn limit(self, fastest: f64) -> Option<f64> {
        match self {
            Optimize::Proving => None,
            Optimize::Balanced => Some((BALANCED_MAX_SLOWDOWN * fastest).max(BALANCED_ANY_WEIGHT)),
            Optimize::Gas => Some(f64::INFINITY),
        }
    }
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
    let fn_cols = |t: &Trial| usize::from(t.n_lookups > 0);
    let mut cells = 0;
    let mut k = MIN_K;
    // The shortest layout: dot and poly lanes and up to MAX_FAST_ADVICE gate columns.
    let fast = loop {
        if k > MAX_K {
            if batch > 1 {
                return Err(Error::BatchTooLarge {
                    batch,
                    max_k: MAX_K,
                    largest: largest_batch(MAX_K, model, trace, &tables, vis, predicate, batch)?,
                });
            }
            return Err(Error::TooLarge {
                max_k: MAX_K,
                cells,
                table_rows,
            });
        }
        let usable = usable_rows(k);
        if table_rows > usable {
            k += 1;
            continue;
        }
        let t = trial(k, Lanes::BOTH, model, trace, &tables, vis, predicate, batch)?;
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
        if let (true, Some(width), Some(poly)) = (
            t.fits(usable, MAX_FAST_ADVICE),
            dot_width(&t, usable),
            t.poly_lanes(usable),
        ) {
            break (k, t, width, poly);
        }
        k += 1;
    };
    let (mut fk, ft, mut fw, mut fp) = fast;
    // Rescales in act lanes (four rows of two columns each instead of about 24 gate cells),
    // when that shortens the shortest layout and its estimated proving work. The shortest
    // layout without them stays an option.
    let plain = (ft.layout(fk, fw, fp, 0, fn_cols(&ft)), ft);
    let mut best: Option<(Layout, Trial)> = None;
    // The act layouts `best` replaced (longer, fewer act lanes): options too.
    let mut slower_acts: Vec<(Layout, Trial)> = Vec::new();
    let mut ak = fk;
    while ak > MIN_K && table_rows <= usable_rows(ak - 1) {
        ak -= 1;
        let usable = usable_rows(ak);
        let lanes = Lanes::BOTH.with_act(true);
        let t = trial(ak, lanes, model, trace, &tables, vis, predicate, batch)?;
        let (true, true, Some(w), Some(p), Some(a)) = (
            !t.act_kinds.is_empty() && t.min_dot_rows() <= usable,
            t.fits(usable, MAX_FAST_ADVICE),
            dot_width(&t, usable),
            t.poly_lanes(usable),
            t.act_lanes(usable),
        ) else {
            break;
        };
        let l = t.layout(ak, w, p, a, fn_cols(&t));
        let to_beat = best.as_ref().map_or(&plain.0, |b| &b.0).relative_prove;
        if l.relative_prove < to_beat {
            slower_acts.extend(best.replace((l, t)));
        }
    }
    let act = best.is_some();
    let mut options = match best {
        Some(b) => {
            (fk, fw, fp) = (b.0.logrows, b.0.dot_width, b.0.poly_lanes);
            let mut o = vec![b, plain];
            o.append(&mut slower_acts);
            o
        }
        None => vec![plain],
    };
    // The dot products left beside the poly lanes (pools, dense layers) in the gate, when its
    // columns hold them at the same `logrows`: fewer columns, faster and cheaper to verify.
    if fw > 0 && fp > 0 {
        let t = trial(
            fk,
            Lanes::POLY.with_act(act),
            model,
            trace,
            &tables,
            vis,
            predicate,
            batch,
        )?;
        let usable = usable_rows(fk);
        if let (true, Some(pl), Some(a)) = (
            t.fits(usable, MAX_FAST_ADVICE),
            t.poly_lanes(usable),
            t.act_lanes(usable),
        ) {
            options.push((t.layout(fk, 0, pl, a, fn_cols(&t)), t));
        }
    }
    // With dot lanes in at most MAX_ADVICE gate columns (one column fewer: a smaller verifier),
    // at the next `logrows` that holds them.
    if options[0].1.base.num_advice_per_phase[0] > MAX_ADVICE && optimize != Optimize::Proving {
        for k in fk..=MAX_K {
            let lanes = Lanes::BOTH.with_act(act);
            let t = trial(k, lanes, model, trace, &tables, vis, predicate, batch)?;
            let usable = usable_rows(k);
            if let (true, Some(w), Some(pl), Some(a)) = (
                t.fits(usable, MAX_ADVICE),
                dot_width(&t, usable),
                t.poly_lanes(usable),
                t.act_lanes(usable),
            ) {
                options.push((t.layout(k, w, pl, a, fn_cols(&t)), t));
                break;
            }
        }
    }
    // Without dot lanes (three cells per dot term in the vertical gate), tried only at the
    // `logrows` that could qualify.
    let fastest = options[0].0.relative_prove;
    if let (true, Some(limit)) = (fw > 0, optimize.limit(fastest)) {
        let plain_cells = options[0].1.cells
            + options[0]
                .1
                .dot_lens
                .iter()
                .map(|n| 3 * n + 4)
                .sum::<usize>();
        for pk in fk..=MAX_K {
            if plain_cells > MAX_ADVICE * usable_rows(pk) {
                continue;
            }
            // The plain layout has at least the gate's columns and the range lookup.
            if prove_weight(pk, 2, 3, 1) > limit {
                break;
            }
            let p = trial(
                pk,
                Lanes::NONE,
                model,
                trace,
                &tables,
                vis,
                predicate,
                batch,
            )?;
            if p.fits(usable_rows(pk), MAX_ADVICE) {
                options.push((p.layout(pk, 0, 0, 0, fn_cols(&p)), p));
                break;
            }
        }
    }
    // The policy: the least estimated gas among the layouts it allows (see `Optimize::allows`),
    // measured against the fastest layout considered.
    let (fastest, fast_gas) = options
        .iter()
        .map(|(l, _)| (l.relative_prove, l.estimated_gas))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((fastest, 0));
    let pick = options
        .iter()
        .enumerate()
        .filter(|(_, (l, _))| optimize.allows(l, fastest, fast_gas))
        .min_by_key(|(_, (l, _))| (l.estimated_gas, l.logrows))
        .map_or(0, |(i, _)| i);
    let mut layouts: Vec<Layout> = options.iter().map(|(l, _)| l.clone()).collect();
    for (i, l) in layouts.iter_mut().enumerate() {
        l.relative_prove /= fastest;
        l.chosen = i == pick;
    }
    let (l, t) = options.swap_remove(pick);
    Ok(CircuitShape {
        params: ZkParams {
            base: t.base,
            fn_cols: usize::from(t.n_lookups > 0),
            tables,
            dot_width: l.dot_width,
            dot_lanes: usize::from(l.dot_width > 0),
            poly_lanes: l.poly_lanes,
            act_lanes: l.act_lanes,
        },
        break_points: vec![],
        visibility: vis,
        predicate: predicate.cloned(),
        batch: batch.max(1),
        layouts,
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
    let t = trial(k, Lanes::BOTH, model, trace, tables, vis, predicate, batch)?;
    let min_rows = t.min_dot_rows();
    let width_fits = t.dot_lens.is_empty()
        || plan_dots(t.dot_lens.iter().copied(), MAX_DOT_WIDTH, 1, usable).is_some();
    Ok(min_rows <= usable
        && width_fits
        && t.poly_lanes(usable).is_some()
        && t.fits(usable, MAX_FAST_ADVICE))
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
