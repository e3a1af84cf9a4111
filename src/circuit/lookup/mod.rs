//! The circuit type: halo2-base's builder plus a function-table lookup and a fixed-weight
//! dot-product gate.
//!
//! Function tables (sigmoid, tanh, exp, log at their calibrated scales) share three table
//! columns `(tag, x, f(x))`; tag 0 holds the single row `(0, 0, 0)` so unused lookup rows pass.
//! Each lookup is a row `(tag, x, y)` in a fixed tag column and two advice columns, with `x`
//! and `y` copy-constrained to the builder's cells. The table contents live in the verifying key.
//!
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

use std::sync::{Arc, Mutex};

use halo2_base::gates::circuit::{BaseConfig, MaybeRangeConfig};
use halo2_base::halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error as PlonkError, Fixed, TableColumn},
    poly::Rotation,
};
use halo2_base::utils::halo2::{
    constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed,
};
use halo2_base::virtual_region::manager::VirtualRegionManager;
use halo2_base::AssignedValue;
use serde::{Deserialize, Serialize};

use super::chips::DotJobs;
use super::{BaseCircuitBuilder, BaseCircuitParams, Fr};
use crate::quant::QFunc;

/// Shape parameters of a [`ZkCircuit`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ZkParams {
    /// halo2-base's parameters (k, columns, lookup bits).
    pub base: BaseCircuitParams,
    /// Number of `(tag, x, y)` lookup column sets.
    pub fn_cols: usize,
    /// The function tables, tag `i + 1` for `tables[i]`.
    pub tables: Vec<QFunc>,
    /// Terms per row of a dot lane (0: no dot lanes).
    #[serde(default)]
    pub dot_width: usize,
    /// Number of dot lanes.
    #[serde(default)]
    pub dot_lanes: usize,
}

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
struct DotLane {
    x: Vec<Column<Advice>>,
    acc: Column<Advice>,
    w: Vec<Column<Fixed>>,
}

impl ZkParams {
    /// Rows the function tables occupy (the zero row included).
    pub fn table_rows(&self) -> usize {
        1 + self.tables.iter().map(QFunc::len).sum::<usize>()
    }
}

/// Configuration: the builder's columns and the function lookup columns.
#[derive(Clone, Debug)]
pub struct ZkConfig {
    base: BaseConfig<Fr>,
    tag: Vec<Column<Fixed>>,
    x: Vec<Column<Advice>>,
    y: Vec<Column<Advice>>,
    table: [TableColumn; 3],
    dots: Vec<DotLane>,
}

/// Lookups queued during witness assignment: `(tag, x, y)`.
pub type FnLookups = Arc<Mutex<Vec<(u64, AssignedValue<Fr>, AssignedValue<Fr>)>>>;

/// The circuit proving one inference.
#[derive(Clone, Debug)]
pub struct ZkCircuit {
    /// The halo2-base builder holding every gate, range check and copy constraint.
    pub builder: BaseCircuitBuilder<Fr>,
    /// Function lookups to place in the lookup columns.
    pub lookups: FnLookups,
    /// Dot products to place in the dot lanes.
    pub dots: DotJobs<Fr>,
    /// The shape.
    pub params: ZkParams,
    /// Test-only: a dishonest dot-lane assignment.
    #[cfg(test)]
    pub(crate) tamper: Option<DotTamper>,
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

impl ZkCircuit {
    /// The public instance values the circuit computed, in order.
    pub fn instances(&self) -> Vec<Fr> {
        self.builder
            .assigned_instances
            .first()
            .map_or(vec![], |v| v.iter().map(|c| *c.value()).collect())
    }

    /// halo2-base's thread break points after keygen, needed to rebuild the prover circuit.
    pub fn break_points(&self) -> Vec<Vec<usize>> {
        self.builder.break_points()
    }

    /// Rows usable for witnesses at this `k`.
    pub fn usable_rows(k: usize, minimum_rows: usize) -> usize {
        (1 << k) - minimum_rows
    }
}

impl Circuit<Fr> for ZkCircuit {
    type Config = ZkConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ZkParams;

    fn params(&self) -> Self::Params {
        self.params.clone()
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("zkinfer builds circuits for each stage explicitly")
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: ZkParams) -> ZkConfig {
        let mut base = BaseConfig::configure(meta, params.base.clone());
        let table = [
            meta.lookup_table_column(),
            meta.lookup_table_column(),
            meta.lookup_table_column(),
        ];
        let (mut tag, mut x, mut y) = (vec![], vec![], vec![]);
        for _ in 0..params.fn_cols {
            let (t, a, b) = (
                meta.fixed_column(),
                meta.advice_column(),
                meta.advice_column(),
            );
            meta.enable_equality(a);
            meta.enable_equality(b);
            meta.lookup("function table", |m| {
                let t = m.query_fixed(t, Rotation::cur());
                let a = m.query_advice(a, Rotation::cur());
                let b = m.query_advice(b, Rotation::cur());
                vec![(t, table[0]), (a, table[1]), (b, table[2])]
            });
            tag.push(t);
            x.push(a);
            y.push(b);
        }
        let dots = (0..params.dot_lanes)
            .map(|_| {
                let lane = DotLane {
                    x: (0..params.dot_width)
                        .map(|_| meta.advice_column())
                        .collect(),
                    acc: meta.advice_column(),
                    w: (0..params.dot_width).map(|_| meta.fixed_column()).collect(),
                };
                for &c in lane.x.iter().chain([&lane.acc]) {
                    meta.enable_equality(c);
                }
                meta.create_gate("dot lane", |m| {
                    let acc = m.query_advice(lane.acc, Rotation::cur());
                    let next = m.query_advice(lane.acc, Rotation::next());
                    let mut e = acc - next;
                    for (&x, &w) in lane.x.iter().zip(&lane.w) {
                        e = e - m.query_fixed(w, Rotation::cur())
                            * m.query_advice(x, Rotation::cur());
                    }
                    vec![m.query_fixed(lane.w[0], Rotation::cur()) * e]
                });
                lane
            })
            .collect();
        base.set_usable_rows(Self::usable_rows(params.base.k, meta.minimum_rows()));
        ZkConfig {
            base,
            tag,
            x,
            y,
            table,
            dots,
        }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> ZkConfig {
        unreachable!("configure_with_params is used")
    }

    fn synthesize(
        &self,
        config: ZkConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), PlonkError> {
        config.base.initialize(&mut layouter);
        if self.params.fn_cols > 0 {
            layouter.assign_table(
                || "function tables",
                |mut t| {
                    let mut row = 0;
                    let mut put =
                        |tag: u64, x: Fr, y: Fr, row: &mut usize| -> Result<(), PlonkError> {
                            t.assign_cell(
                                || "tag",
                                config.table[0],
                                *row,
                                || Value::known(Fr::from(tag)),
                            )?;
                            t.assign_cell(|| "x", config.table[1], *row, || Value::known(x))?;
                            t.assign_cell(|| "y", config.table[2], *row, || Value::known(y))?;
                            *row += 1;
                            Ok(())
                        };
                    put(0, Fr::zero(), Fr::zero(), &mut row)?;
                    for (i, f) in self.params.tables.iter().enumerate() {
                        for (x, y) in f.table() {
                            put(
                                i as u64 + 1,
                                super::field(x as i128),
                                super::field(y),
                                &mut row,
                            )?;
                        }
                    }
                    Ok(())
                },
            )?;
        }
        let builder = &self.builder;
        let witness_only = builder.witness_gen_only();
        layouter.assign_region(
            || "zkinfer",
            |mut region| {
                let usable = config.base.gate().max_rows;
                builder.core().phase_manager[0].assign_raw(
                    &(config.base.gate().basic_gates[0].clone(), usable),
                    &mut region,
                );
                if let MaybeRangeConfig::WithRange(range) = &config.base.base {
                    builder.assign_lookups_in_phase(range, &mut region, 0);
                }
                let lookups = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
                let cm = &builder.core().copy_manager;
                let mut copy =
                    (!witness_only).then(|| cm.lock().unwrap_or_else(|e| e.into_inner()));
                for (i, (tag, x, y)) in lookups.iter().enumerate() {
                    let (col, row) = (i / usable, i % usable);
                    raw_assign_fixed(&mut region, config.tag[col], row, Fr::from(*tag));
                    let cx =
                        raw_assign_advice(&mut region, config.x[col], row, Value::known(x.value));
                    let cy =
                        raw_assign_advice(&mut region, config.y[col], row, Value::known(y.value));
                    if let Some(cm) = copy.as_mut() {
                        constrain_virtual_equals_external(&mut region, *x, cx.cell(), cm);
                        constrain_virtual_equals_external(&mut region, *y, cy.cell(), cm);
                    }
                }
                let queue = self.dots.lock().unwrap_or_else(|e| e.into_inner());
                let jobs = &queue.jobs;
                if !jobs.is_empty() {
                    let width = self.params.dot_width;
                    let plan = plan_dots(
                        jobs.iter().map(|j| j.terms.len()),
                        width,
                        config.dots.len(),
                        usable,
                    )
                    .ok_or(PlonkError::NotEnoughRowsAvailable {
                        current_k: self.params.base.k as u32,
                    })?;
                    // Rows used per lane (its start row sits right below them).
                    let mut used = vec![0usize; config.dots.len()];
                    for (job, &(lane, off)) in jobs.iter().zip(&plan) {
                        used[lane] = used[lane].max(off + job.terms.len().div_ceil(width).max(1));
                    }
                    let mut started = vec![false; config.dots.len()];
                    for (ji, (job, &(li, off))) in jobs.iter().zip(&plan).enumerate() {
                        let lane = &config.dots[li];
                        let rows = job.terms.len().div_ceil(width).max(1);
                        // Job rows top-down are start - off - rows .. start - off.
                        let start = used[li];
                        let top = start - off - rows;
                        if !started[li] {
                            started[li] = true;
                            let c = raw_assign_advice(
                                &mut region,
                                lane.acc,
                                start,
                                Value::known(*job.prev.value()),
                            );
                            if let Some(cm) = copy.as_mut() {
                                constrain_virtual_equals_external(
                                    &mut region,
                                    job.prev,
                                    c.cell(),
                                    cm,
                                );
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
                        }) = self.tamper
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
                        if let Some(DotTamper::Acc { job: j, row, delta }) = self.tamper {
                            if j == ji {
                                sums[row] += delta;
                            }
                        }
                        let _ = ji;
                        for r in 0..rows {
                            let row = top + r;
                            for j in 0..width.min(xs.len().saturating_sub(r * width)) {
                                let (x, w) = &job.terms[r * width + j];
                                raw_assign_fixed(&mut region, lane.w[j], row, *w);
                                let cx = raw_assign_advice(
                                    &mut region,
                                    lane.x[j],
                                    row,
                                    Value::known(xs[r * width + j]),
                                );
                                if let Some(cm) = copy.as_mut() {
                                    constrain_virtual_equals_external(
                                        &mut region,
                                        *x,
                                        cx.cell(),
                                        cm,
                                    );
                                }
                            }
                            let ca = raw_assign_advice(
                                &mut region,
                                lane.acc,
                                row,
                                Value::known(sums[r]),
                            );
                            if r == 0 {
                                if let Some(cm) = copy.as_mut() {
                                    constrain_virtual_equals_external(
                                        &mut region,
                                        job.prefix,
                                        ca.cell(),
                                        cm,
                                    );
                                }
                            }
                        }
                    }
                }
                drop(queue);
                drop(copy);
                if !witness_only {
                    builder
                        .core()
                        .copy_manager
                        .assign_raw(config.base.constants(), &mut region);
                }
                Ok(())
            },
        )?;
        builder.assign_instances(&config.base.instance, layouter.namespace(|| "expose"));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
