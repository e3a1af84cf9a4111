//! Dot products with constant weights (every affine row over fixed parameters) do not go through
//! halo2-base's vertical gate, which spends three advice cells per term. They go to a "dot lane":
//! `width` advice columns `x`, one advice column `acc` and one fixed column `w` per `x`, with the
//! gate
//!
//! ```text
//! w_0[r] * (acc[r] - acc[r + 1] - sum_j w_j[r] * x_j[r]) = 0
//! ```
//!
//! Jobs carry non-zero weights only and every used row has a term in slot 0, so `w_0` is the
//! row's selector (zero on unused and blinding rows): no selector, bias or continuation columns.
//! A lane holds its jobs bottom-up above a start row: job `j` takes `ceil(n_j / width)` rows
//! right above job `j - 1`, so `acc` at its top row is `acc` at job `j - 1`'s top row plus its
//! own sum. The builder keeps the same running sum (`P_j = P_(j-1) + out_j`, one gate per job);
//! the start row's `acc` is copy-constrained to the `P` before the lane's first job and each
//! job's top `acc` to its `P_j`, which proves `out_j` is the job's sum. Every `x` cell is
//! copy-constrained to the builder cell it stands for (the bias is a term on a constant-one
//! cell); weights are fixed, hence part of the verifying key. A term costs about one advice cell
//! instead of three, and a lane of width `n` adds `n + 1` advice and `n` fixed columns.

use halo2_base::halo2_proofs::{
    circuit::{Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error as PlonkError, Fixed},
    poly::Rotation,
};
use halo2_base::utils::halo2::{
    constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed,
};
use halo2_base::virtual_region::copy_constraints::CopyConstraintManager;

use crate::circuit::chips::DotJob;
use crate::field::Fr;

/// Where each dot job goes: `(lane, offset)`, the offset being the rows the lane's earlier jobs
/// take, or `None` when the jobs do not fit in `lanes` lanes of `usable` rows (one of them the
/// lane's start row) at `width` terms per row.
pub fn plan_dots(
    lens: impl IntoIterator<Item = usize>,
    width: usize,
    lanes: usize,
    usable: usize,
) -> Option<Vec<(usize, usize)>> {
    let usable = usable.checked_sub(1)?;
    let (mut lane, mut row, mut out) = (0, 0, vec![]);
    for n in lens {
        let rows = n.div_ceil(width).max(1);
        if rows > usable {
            return None;
        }
        if row + rows > usable {
            lane += 1;
            row = 0;
        }
        if lane >= lanes {
            return None;
        }
        out.push((lane, row));
        row += rows;
    }
    Some(out)
}

/// Columns of one dot lane.
#[derive(Clone, Debug)]
pub(super) struct DotLane {
    x: Vec<Column<Advice>>,
    acc: Column<Advice>,
    w: Vec<Column<Fixed>>,
}

impl DotLane {
    /// A lane of `width` terms per row, with its gate.
    pub(super) fn configure(meta: &mut ConstraintSystem<Fr>, width: usize) -> Self {
        let lane = DotLane {
            x: (0..width).map(|_| meta.advice_column()).collect(),
            acc: meta.advice_column(),
            w: (0..width).map(|_| meta.fixed_column()).collect(),
        };
        for &c in lane.x.iter().chain([&lane.acc]) {
            meta.enable_equality(c);
        }
        meta.create_gate("dot lane", |m| {
            let acc = m.query_advice(lane.acc, Rotation::cur());
            let next = m.query_advice(lane.acc, Rotation::next());
            let mut e = acc - next;
            for (&x, &w) in lane.x.iter().zip(&lane.w) {
                e = e - m.query_fixed(w, Rotation::cur()) * m.query_advice(x, Rotation::cur());
            }
            vec![m.query_fixed(lane.w[0], Rotation::cur()) * e]
        });
        lane
    }
}

/// Test-only ways to assign a dot lane dishonestly.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub(crate) enum DotTamper {
    /// Adds `delta` to the `acc` cell of a job's row (0: its top row).
    Acc { job: usize, row: usize, delta: Fr },
    /// Moves a job's `x` cells off their builder cells while keeping the job's sum:
    /// `x_a += delta * w_b`, `x_b -= delta * w_a`.
    X {
        job: usize,
        a: usize,
        b: usize,
        delta: Fr,
    },
}

/// Places the dot jobs in `lanes` (`usable` rows each, `width` terms per row; `k` for the error
/// when they do not fit), each `x` and each job's top `acc` copy-constrained to its builder cell
/// (when `copy` is given: not in witness-only proving).
#[allow(clippy::too_many_arguments)] // the lane's whole context
pub(super) fn assign_jobs(
    region: &mut Region<'_, Fr>,
    lanes: &[DotLane],
    jobs: &[DotJob<Fr>],
    width: usize,
    usable: usize,
    k: u32,
    mut copy: Option<&mut CopyConstraintManager<Fr>>,
    #[cfg(test)] tamper: Option<DotTamper>,
) -> Result<(), PlonkError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let plan = plan_dots(
        jobs.iter().map(|j| j.terms.len()),
        width,
        lanes.len(),
        usable,
    )
    .ok_or(PlonkError::NotEnoughRowsAvailable { current_k: k })?;
    // Rows used per lane (its start row sits right below them).
    let mut used = vec![0usize; lanes.len()];
    for (job, &(lane, off)) in jobs.iter().zip(&plan) {
        used[lane] = used[lane].max(off + job.terms.len().div_ceil(width).max(1));
    }
    let mut started = vec![false; lanes.len()];
    for (ji, (job, &(li, off))) in jobs.iter().zip(&plan).enumerate() {
        let lane = &lanes[li];
        let rows = job.terms.len().div_ceil(width).max(1);
        // Job rows top-down are start - off - rows .. start - off.
        let start = used[li];
        let top = start - off - rows;
        if !started[li] {
            started[li] = true;
            let c = raw_assign_advice(region, lane.acc, start, Value::known(*job.prev.value()));
            if let Some(cm) = copy.as_mut() {
                constrain_virtual_equals_external(region, job.prev, c.cell(), cm);
            }
        }
        #[allow(unused_mut)]
        let mut xs: Vec<Fr> = job.terms.iter().map(|(x, _)| *x.value()).collect();
        #[cfg(test)]
        if let Some(DotTamper::X {
            job: j,
            a,
            b,
            delta,
        }) = tamper
        {
            if j == ji {
                xs[a] += delta * job.terms[b].1;
                xs[b] -= delta * job.terms[a].1;
            }
        }
        // acc[r] = row r's terms + acc[r + 1]; below the bottom row: prev.
        let mut sums = vec![*job.prev.value(); rows + 1];
        for r in (0..rows).rev() {
            let (lo, hi) = (r * width, ((r + 1) * width).min(xs.len()));
            sums[r] = (lo..hi).fold(sums[r + 1], |s, i| s + job.terms[i].1 * xs[i]);
        }
        #[cfg(test)]
        if let Some(DotTamper::Acc { job: j, row, delta }) = tamper {
            if j == ji {
                sums[row] += delta;
            }
        }
        let _ = ji;
        for r in 0..rows {
            let row = top + r;
            for j in 0..width.min(xs.len().saturating_sub(r * width)) {
                let (x, w) = &job.terms[r * width + j];
                raw_assign_fixed(region, lane.w[j], row, *w);
                let cx = raw_assign_advice(region, lane.x[j], row, Value::known(xs[r * width + j]));
                if let Some(cm) = copy.as_mut() {
                    constrain_virtual_equals_external(region, *x, cx.cell(), cm);
                }
            }
            let ca = raw_assign_advice(region, lane.acc, row, Value::known(sums[r]));
            if r == 0 {
                if let Some(cm) = copy.as_mut() {
                    constrain_virtual_equals_external(region, job.prefix, ca.cell(), cm);
                }
            }
        }
    }
    Ok(())
}
