//! One trial layout at a `logrows`: the model laid out in a keygen builder, and what it needs
//! (gate columns, lookups, dot-lane and poly-lane rows).

use super::{
    act_lanes_needed, assign, plan_dots, plan_poly, prove_weight, verify_gas_estimate, ActJobs,
    ActKind, BaseCircuitBuilder, BaseCircuitParams, CircuitBuilderStage, DotJobs, FnLookups, Fr,
    Layout, PolyJobs, PolyOp, Predicate, QuantModel, Result, Secrets, Trace, Visibility,
    BLINDING_ROWS,
};

/// Most terms per row of a dot lane: more columns shorten the circuit but grow the verifier.
pub const MAX_DOT_WIDTH: usize = 6;

/// Most poly lanes.
pub const MAX_POLY_LANES: usize = 4;

/// Most act lanes.
pub const MAX_ACT_LANES: usize = 2;

/// One layout at `k`: halo2-base's parameters, its advice cells, the function lookups and the
/// lengths of the queued dot jobs (empty without dot lanes).
pub(super) struct Trial {
    pub(super) base: BaseCircuitParams,
    /// Public instances: the instance column holds them in the usable rows.
    pub(super) instances: usize,
    pub(super) cells: usize,
    pub(super) n_lookups: usize,
    pub(super) dot_lens: Vec<usize>,
    /// The poly-lane program (empty without dot lanes or convolutions).
    pub(super) poly: Vec<PolyOp>,
    /// The kinds of the rescales queued for act lanes, in order (empty without act lanes).
    pub(super) act_kinds: Vec<ActKind>,
}

impl Trial {
    /// Whether the vertical gate fits in [`MAX_ADVICE`] columns and the lookups in one column
    /// each at `usable` rows.
    pub(super) fn fits(&self, usable: usize, max_advice: usize) -> bool {
        self.instances <= usable
            && self.base.num_advice_per_phase[0] <= max_advice
            && self.base.num_lookup_advice_per_phase[0] <= 1
            && self.n_lookups.div_ceil(usable) <= 1
    }

    /// The poly lanes the program needs at `usable` rows (0: no program; `None`: more than
    /// [`MAX_POLY_LANES`]).
    pub(super) fn poly_lanes(&self, usable: usize) -> Option<usize> {
        if self.poly.is_empty() {
            return Some(0);
        }
        (1..=MAX_POLY_LANES).find(|&l| plan_poly(&self.poly, l, usable).is_some())
    }

    /// The act lanes the queued rescales need at `usable` rows (0: none queued; `None`: more
    /// than [`MAX_ACT_LANES`]).
    pub(super) fn act_lanes(&self, usable: usize) -> Option<usize> {
        act_lanes_needed(&self.act_kinds, usable, MAX_ACT_LANES)
    }

    /// The layout's column counts at `k` with a dot lane of `width` terms (0: none), `poly`
    /// poly lanes and `act` act lanes.
    pub(super) fn layout(
        &self,
        k: u32,
        width: usize,
        poly: usize,
        act: usize,
        fn_cols: usize,
    ) -> Layout {
        let advice = self.base.num_advice_per_phase[0]
            + self.base.num_lookup_advice_per_phase[0]
            + 2 * fn_cols
            + if width > 0 { width + 1 } else { 0 }
            + 2 * poly
            + 2 * act;
        // Constants, the gate's selector per advice column, the range table (halo2-base's,
        // else the act lanes' own); a tag per function lookup; a weight per dot-lane term; a
        // constant and a selector per poly lane, and the two the act lanes share.
        // (Layouts without act lanes count the range table and its lookup whether used or
        // not, as they always have.)
        let range = usize::from(self.base.num_lookup_advice_per_phase[0] > 0 || act == 0);
        let fixed = self.base.num_fixed
            + self.base.num_advice_per_phase[0]
            + usize::from(range + act > 0)
            + 4 * fn_cols
            + width
            + 2 * poly
            + 2 * usize::from(act > 0);
        let lookups = range + fn_cols + act;
        Layout {
            logrows: k,
            dot_width: width,
            poly_lanes: poly,
            act_lanes: act,
            advice,
            fixed,
            lookups,
            relative_prove: prove_weight(k, advice, fixed, lookups),
            estimated_gas: verify_gas_estimate(advice, fixed, lookups),
            chosen: false,
        }
    }

    /// Rows the dot jobs need at the widest lane, and the lane's start row.
    pub(super) fn min_dot_rows(&self) -> usize {
        1 + self
            .dot_lens
            .iter()
            .map(|n| n.div_ceil(MAX_DOT_WIDTH).max(1))
            .sum::<usize>()
    }
}

/// The range table's bits at `k`: the model's limb width where the circuit holds its table
/// (every aligned range check then fills whole limbs), else the largest table that fits.
fn lookup_bits(model: &QuantModel, k: u32) -> usize {
    let most = k as usize - 1;
    match model.limb_bits as usize {
        0 => most,
        l => l.min(most),
    }
}

/// Rows usable for witnesses at `k`, as the shape is chosen.
pub(super) fn usable_rows(k: u32) -> usize {
    (1usize << k) - BLINDING_ROWS - 1
}

/// Where a trial layout puts constant-weight dot products and recognised convolutions.
#[derive(Clone, Copy)]
pub(super) struct Lanes {
    /// Dot products in a dot lane (else in the gate).
    dots: bool,
    /// Convolutions in poly lanes (else as dot products).
    poly: bool,
    /// Rescales in act lanes where they fit (else in the gate).
    pub(super) act: bool,
}

impl Lanes {
    pub(super) const BOTH: Lanes = Lanes {
        dots: true,
        poly: true,
        act: false,
    };
    pub(super) const POLY: Lanes = Lanes {
        dots: false,
        poly: true,
        act: false,
    };
    pub(super) const NONE: Lanes = Lanes {
        dots: false,
        poly: false,
        act: false,
    };

    /// The same lanes with (or without) act lanes.
    pub(super) fn with_act(self, act: bool) -> Lanes {
        Lanes { act, ..self }
    }
}

#[allow(clippy::too_many_arguments)] // the whole sizing context, passed once
pub(super) fn trial(
    k: u32,
    lanes: Lanes,
    model: &QuantModel,
    trace: &Trace,
    tables: &[crate::quant::QFunc],
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Result<Trial> {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k as usize)
        .use_lookup_bits(lookup_bits(model, k))
        .use_instance_columns(1);
    let lookups = FnLookups::default();
    let jobs = DotJobs::default();
    let poly = PolyJobs::default();
    let acts = ActJobs::default();
    let range = b.range_chip();
    let secrets = Secrets {
        predicate_params: predicate.map_or(vec![], |p| vec![0; p.params().len()]),
        ..Default::default()
    };
    let mut arranger = crate::circuit::instances::Arranger::new(model, vis, predicate, batch > 1);
    let mut shared: Option<Vec<Vec<halo2_base::AssignedValue<Fr>>>> = None;
    for _ in 0..batch.max(1) {
        let io = assign(
            b.main(0),
            &range,
            &lookups,
            lanes.dots.then_some(&jobs),
            lanes.poly.then_some(&poly),
            lanes.act.then_some(&acts),
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
    let instances = arranger.finish(b.main(0), None).len();
    let base = b.calculate_params(Some(BLINDING_ROWS));
    let act_kinds = acts
        .lock()
        .map(|a| a.iter().map(|j| j.kind()).collect())
        .unwrap_or_default();
    let cells = b.statistics().gate.total_advice_per_phase.iter().sum();
    let n_lookups = lookups.lock().map(|l| l.len()).unwrap_or(0);
    let dot_lens = jobs
        .lock()
        .map(|q| q.jobs.iter().map(|j| j.terms.len()).collect())
        .unwrap_or_default();
    let poly = std::mem::take(&mut poly.lock().unwrap_or_else(|e| e.into_inner()).ops);
    Ok(Trial {
        base,
        instances,
        cells,
        n_lookups,
        dot_lens,
        poly,
        act_kinds,
    })
}

/// The narrowest dot lane that holds the trial's dot jobs at `usable` rows (0: no jobs).
pub(super) fn dot_width(t: &Trial, usable: usize) -> Option<usize> {
    if t.dot_lens.is_empty() {
        return Some(0);
    }
    (1..=MAX_DOT_WIDTH).find(|&w| plan_dots(t.dot_lens.iter().copied(), w, 1, usable).is_some())
}
