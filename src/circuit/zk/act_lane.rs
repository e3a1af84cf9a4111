//! Rescales, alone or fused with a ReLU, and signed range checks in their own columns: the
//! "act lane".
//!
//! halo2-base's range checks cost a vertical-gate row per value plus a row per limb, and the
//! fused rescale-and-ReLU chip needs three of them, about 24 gate cells per activation. The
//! lane proves the same op in four rows of two advice columns, its limbs looked up directly:
//!
//! ```text
//! columns:  v (advice, copied: p, s, out), l (advice, looked up in the range table: limbs)
//!           q (fixed: 0 none, 1 rescale then ReLU, 2 rescale), f (fixed: D = 2^d, then R)
//! rows:     r      r+1   r+2    r+3
//!     v:    p      s     out    -
//!     l:    r_0    r_1   m_0    m_1
//!     f:    D      R     -      -
//!
//! mag = m_0 + L m_1,   rem = R (r_0 + E r_1),   E = (D - L) / (L - 1)   (L = 2^lookup_bits)
//! q * s * (1 - s)                          = 0
//! q * (p - (1 - 2 s) * mag * D - rem)      = 0
//! q * (out - mag + q * s * mag)            = 0
//! ```
//!
//! A rescale by `d` has `R = 1` and `D` either `L` (then `E = 0`: `rem = r_0`) or `L^2` (then
//! `E = L`), so `rem` is in `[0, D)`; `mag` is in `[0, L^2) = [0, 2^(act_bits - 1))` (the lane is
//! used only when `act_bits - 1` is two limbs). `p` is the accumulator with its rounding term
//! `2^(d-1)` already added, and `p = y D + rem` with `y = (1 - 2s) mag` is its Euclidean
//! division: `y` is the rescaled value, unique, and `s` its sign (free only when `mag = 0`,
//! where it changes nothing). The output is `(1 - s) mag = max(y, 0)` for `q = 1` and
//! `(1 - 2s) mag = y` for `q = 2`; both lie in the signed activation range (its lowest value
//! excepted, which the layout refuses by name).
//!
//! A signed range check of `p` is the same row with `D = 1` and `R = 0`: `p = (1 - 2s) mag`
//! exactly, so `p` lies in `(-2^(act_bits - 1), 2^(act_bits - 1))`; its `out` is not read.
//!
//! The gate has degree 4 and reads only the four rows of its own job: jobs are whole blocks of
//! four rows, `q` is zero elsewhere. Every `l` cell of the usable rows is looked up (unused
//! ones hold 0).
//!
//! Several lanes share one `q` and one `f` column: a block of four rows then holds one job per
//! lane, all of one kind (the same ReLU flag and shift, hence the same `q`, `D` and `R`), and
//! the gate holds in every lane. A lane with no job of that kind left gets zeros, which satisfy
//! it (`p = s = out = 0`, limbs 0) and are copied nowhere. Each further lane costs two advice
//! columns and a lookup, not two fixed columns more: the fixed columns are evaluated on the
//! extended domain at every proof and opened by the verifier.

use std::sync::{Arc, Mutex};

use halo2_base::halo2_proofs::{
    arithmetic::Field,
    circuit::{Region, Value},
    plonk::{
        Advice, Column, ConstraintSystem, Error as PlonkError, Expression, Fixed, TableColumn,
    },
    poly::Rotation,
};
use halo2_base::utils::halo2::{
    constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed,
};
use halo2_base::virtual_region::copy_constraints::CopyConstraintManager;
use halo2_base::AssignedValue;

use crate::field::{field, Fr};

/// Rows one job takes.
pub const ACT_ROWS: usize = 4;

/// One job for the lane: `out = max(y, 0)` (`relu`) or `y`, for `y = floor(p / 2^shift)`; a
/// signed range check of `p` when `shift` is 0.
#[derive(Clone, Debug)]
pub struct ActJob {
    /// The accumulator cell, rounding term included (the checked cell of a range check).
    pub p: AssignedValue<Fr>,
    /// The output cell the layout reads (none for a range check): the layout makes it a
    /// halo2-base "external" virtual cell, which [`assign_jobs`] binds to the lane's own cell
    /// (`v` at row `r + 2`); any other cell is copy-constrained to that one.
    pub out: Option<AssignedValue<Fr>>,
    /// ReLU after the rescale.
    pub relu: bool,
    /// `d`: `lookup_bits` or twice it; 0 for a range check.
    pub shift: u32,
    /// The sign of `y`.
    pub neg: bool,
    /// `|y|`.
    pub mag: u128,
    /// `p - y 2^d`.
    pub rem: u128,
}

/// The jobs the layout queues, in order.
pub type ActJobs = Arc<Mutex<Vec<ActJob>>>;

/// What the lanes of one block share: the ReLU flag and the shift.
pub type ActKind = (bool, u32);

impl ActJob {
    /// The job's kind: jobs of one kind can share a block.
    pub fn kind(&self) -> ActKind {
        (self.relu, self.shift)
    }
}

/// The kinds of `kinds` in order of first appearance, each with its number of jobs.
fn kind_counts(kinds: &[ActKind]) -> Vec<(ActKind, usize)> {
    let mut counts: Vec<(ActKind, usize)> = Vec::new();
    for k in kinds {
        match counts.iter_mut().find(|(o, _)| o == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((*k, 1)),
        }
    }
    counts
}

/// Blocks the kinds of `counts` take in `lanes` lanes (each kind in whole blocks).
fn blocks(counts: &[(ActKind, usize)], lanes: usize) -> usize {
    counts.iter().map(|(_, n)| n.div_ceil(lanes)).sum()
}

/// Where each job goes, `(block, lane)` (block `b` is rows `4b..4b + 4`), for jobs of `kinds`
/// in order in `lanes` lanes of `usable` rows: the kinds in order of first appearance, each in
/// whole blocks of one kind, its jobs in order. `None` when they do not fit.
pub fn plan_acts(kinds: &[ActKind], lanes: usize, usable: usize) -> Option<Vec<(usize, usize)>> {
    if lanes == 0 {
        return kinds.is_empty().then(Vec::new);
    }
    let counts = kind_counts(kinds);
    if blocks(&counts, lanes) > usable / ACT_ROWS {
        return None;
    }
    if lanes == 1 {
        // One job per block: the jobs' own order (as the lone lane always placed them).
        return Some((0..kinds.len()).map(|b| (b, 0)).collect());
    }
    // Each kind's first block, and how many of its jobs are placed so far.
    let mut next: Vec<(ActKind, usize, usize)> = Vec::with_capacity(counts.len());
    let mut start = 0;
    for &(k, n) in &counts {
        next.push((k, start, 0));
        start += n.div_ceil(lanes);
    }
    Some(
        kinds
            .iter()
            .map(|k| {
                let (_, first, seen) = next
                    .iter_mut()
                    .find(|(o, ..)| o == k)
                    .expect("every kind is counted");
                let n = *seen;
                *seen += 1;
                (*first + n / lanes, n % lanes)
            })
            .collect(),
    )
}

/// The fewest lanes (up to `most`) that hold jobs of `kinds` at `usable` rows (0: no jobs).
pub fn act_lanes_needed(kinds: &[ActKind], usable: usize, most: usize) -> Option<usize> {
    if kinds.is_empty() {
        return Some(0);
    }
    let counts = kind_counts(kinds);
    (1..=most).find(|&l| blocks(&counts, l) <= usable / ACT_ROWS)
}

/// The columns of one lane.
#[derive(Clone, Debug)]
struct ActLane {
    v: Column<Advice>,
    l: Column<Advice>,
}

/// The act lanes and the fixed columns they share.
#[derive(Clone, Debug)]
pub(super) struct ActLanes {
    lanes: Vec<ActLane>,
    q: Column<Fixed>,
    f: Column<Fixed>,
}

const Q_RELU: u64 = 1;
const Q_RESCALE: u64 = 2;

impl ActLanes {
    /// `lanes` (at least one) lanes sharing `q` and `f`, their limbs looked up in `table`
    /// (`[0, 2^lookup_bits)`). One lane has the columns, lookup and gate of the lone lane
    /// this replaced, in the same order (the same constraint system; the keys of builds with
    /// act lanes still changed, since outputs are now the lane's cells).
    pub(super) fn configure(
        meta: &mut ConstraintSystem<Fr>,
        table: TableColumn,
        lookup_bits: usize,
        lanes: usize,
    ) -> Self {
        let lane = |meta: &mut ConstraintSystem<Fr>| ActLane {
            v: meta.advice_column(),
            l: meta.advice_column(),
        };
        let first = lane(meta);
        let (q, f) = (meta.fixed_column(), meta.fixed_column());
        let mut all = vec![first];
        all.extend((1..lanes.max(1)).map(|_| lane(meta)));
        let this = ActLanes { lanes: all, q, f };
        for lane in &this.lanes {
            meta.enable_equality(lane.v);
        }
        for lane in &this.lanes {
            meta.lookup("act lane limbs", |m| {
                vec![(m.query_advice(lane.l, Rotation::cur()), table)]
            });
        }
        let big_l = Fr::from(1u64 << lookup_bits);
        let inv = Option::<Fr>::from((big_l - Fr::ONE).invert()).unwrap_or_default();
        meta.create_gate("act lane", |m| {
            // Advice queries before fixed ones, as the lone lane made them.
            type Cells = ([Expression<Fr>; 3], [Expression<Fr>; 4]);
            let cells: Vec<Cells> = this
                .lanes
                .iter()
                .map(|lane| {
                    (
                        [0, 1, 2].map(|i| m.query_advice(lane.v, Rotation(i))),
                        [0, 1, 2, 3].map(|i| m.query_advice(lane.l, Rotation(i))),
                    )
                })
                .collect();
            let q = m.query_fixed(this.q, Rotation::cur());
            let d = m.query_fixed(this.f, Rotation::cur());
            let weight = m.query_fixed(this.f, Rotation::next());
            let c = |x: Fr| Expression::Constant(x);
            let e = (d.clone() - c(big_l)) * c(inv);
            let mut constraints = Vec::with_capacity(3 * cells.len());
            for ([p, s, out], l) in cells {
                let rem = weight.clone() * (l[0].clone() + e.clone() * l[1].clone());
                let mag = l[2].clone() + c(big_l) * l[3].clone();
                let smag = s.clone() * mag.clone();
                let y = mag.clone() - c(Fr::from(2)) * smag.clone();
                constraints.extend([
                    q.clone() * s.clone() * (c(Fr::ONE) - s),
                    q.clone() * (p - y * d.clone() - rem),
                    q.clone() * (out - mag + q.clone() * smag),
                ]);
            }
            constraints
        });
        this
    }
}

/// Test-only ways to assign an act lane dishonestly.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub(crate) enum ActTamper {
    /// Adds `delta` to cell `row` (0..4) of column `v` (`l` when `limb`) of job `job`, nothing
    /// else changed.
    Cell {
        job: usize,
        limb: bool,
        row: usize,
        delta: Fr,
    },
    /// Job `job` claims the other sign with the same magnitude and output.
    Sign { job: usize },
    /// Job `job`'s sign cell, magnitude limbs and output cell replaced outright.
    Witness {
        job: usize,
        s: Fr,
        mag: [Fr; 2],
        out: Fr,
    },
}

/// Places the jobs in `lanes` as [`plan_acts`] does (`usable` rows each; `k` for the error
/// when they do not fit), `p` and `out` copy-constrained to their builder cells (when `copy` is
/// given: not in witness-only proving); a lane without a job in a used block gets zeros.
#[allow(clippy::too_many_arguments)] // the lane's whole context
pub(super) fn assign_jobs(
    region: &mut Region<'_, Fr>,
    lanes: &ActLanes,
    jobs: &[ActJob],
    lookup_bits: usize,
    usable: usize,
    k: u32,
    mut copy: Option<&mut CopyConstraintManager<Fr>>,
    #[cfg(test)] tamper: Option<ActTamper>,
) -> Result<(), PlonkError> {
    let kinds: Vec<ActKind> = jobs.iter().map(ActJob::kind).collect();
    let Some(plan) = plan_acts(&kinds, lanes.lanes.len(), usable) else {
        return Err(PlonkError::NotEnoughRowsAvailable { current_k: k });
    };
    // The gate's argument holds for these jobs only: a shift of one or two limbs with an output
    // cell the lane constrains, or a range check (shift 0) with none; limbs of at most 31 bits
    // (`4 lookup_bits + 1` bits stay far below the field's 254).
    let lb = lookup_bits as u32;
    let sound = |j: &ActJob| match j.shift {
        0 => j.out.is_none() && !j.relu,
        s => (s == lb || s == 2 * lb) && j.out.is_some(),
    };
    if !(1..32).contains(&lb) || !jobs.iter().all(sound) {
        return Err(PlonkError::Synthesis);
    }
    let mask = (1u128 << lookup_bits) - 1;
    let blocks = plan.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    let mut filled = vec![vec![false; lanes.lanes.len()]; blocks];
    for (ji, (job, &(block, li))) in jobs.iter().zip(&plan).enumerate() {
        let lane = &lanes.lanes[li];
        let row = block * ACT_ROWS;
        filled[block][li] = true;
        #[cfg(not(test))]
        let _ = ji;
        let out = if job.relu {
            if job.neg {
                Fr::ZERO
            } else {
                field(job.mag as i128)
            }
        } else {
            signed(job.neg, job.mag)
        };
        #[allow(unused_mut)]
        let mut v = [*job.p.value(), Fr::from(u64::from(job.neg)), out, Fr::ZERO];
        #[allow(unused_mut)]
        let mut l = [
            job.rem & mask,
            job.rem >> lookup_bits,
            job.mag & mask,
            job.mag >> lookup_bits,
        ]
        .map(|x| field(x as i128));
        #[cfg(test)]
        match tamper {
            Some(ActTamper::Cell {
                job: j,
                limb,
                row: r,
                delta,
            }) if j == ji => {
                if limb {
                    l[r] += delta;
                } else {
                    v[r] += delta;
                }
            }
            Some(ActTamper::Sign { job: j }) if j == ji => v[1] = Fr::ONE - v[1],
            Some(ActTamper::Witness {
                job: j,
                s,
                mag,
                out,
            }) if j == ji => {
                (v[1], l[2], l[3], v[2]) = (s, mag[0], mag[1], out);
            }
            _ => {}
        }
        if li == 0 {
            // Every job of a block has the block's kind, and lane 0 is always used.
            let q = if job.relu { Q_RELU } else { Q_RESCALE };
            raw_assign_fixed(region, lanes.q, row, Fr::from(q));
            raw_assign_fixed(region, lanes.f, row, field(1i128 << job.shift));
            raw_assign_fixed(region, lanes.f, row + 1, field(i128::from(job.shift > 0)));
        }
        for i in 0..ACT_ROWS {
            let cv = raw_assign_advice(region, lane.v, row + i, Value::known(v[i]));
            raw_assign_advice(region, lane.l, row + i, Value::known(l[i]));
            if let Some(cm) = copy.as_mut() {
                match i {
                    0 => constrain_virtual_equals_external(region, job.p, cv.cell(), cm),
                    2 => {
                        if let Some(out) = job.out {
                            constrain_virtual_equals_external(region, out, cv.cell(), cm);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for (block, used) in filled.iter().enumerate() {
        for (lane, _) in lanes.lanes.iter().zip(used).filter(|(_, &u)| !u) {
            for row in block * ACT_ROWS..(block + 1) * ACT_ROWS {
                raw_assign_advice(region, lane.v, row, Value::known(Fr::ZERO));
                raw_assign_advice(region, lane.l, row, Value::known(Fr::ZERO));
            }
        }
    }
    Ok(())
}

/// `(-1)^neg * mag` in the field.
fn signed(neg: bool, mag: u128) -> Fr {
    let m = field(mag as i128);
    if neg {
        -m
    } else {
        m
    }
}
