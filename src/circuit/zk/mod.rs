//! The circuit type: halo2-base's builder (gates, range checks, copies, instances) plus the
//! function-table lookup ([`fn_table`]) and the fixed-weight dot lanes ([`dot_lane`]), laid out
//! in one region.

mod act_lane;
mod dot_lane;
mod fn_table;
mod poly_lane;

use halo2_base::gates::circuit::{BaseConfig, MaybeRangeConfig};
use halo2_base::halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    plonk::{Challenge, Circuit, ConstraintSystem, Error as PlonkError, FirstPhase, TableColumn},
};
use halo2_base::virtual_region::manager::VirtualRegionManager;
use serde::{Deserialize, Serialize};

use act_lane::ActLanes;
use dot_lane::DotLane;
use fn_table::FnColumns;
use poly_lane::PolyLane;

use super::chips::DotJobs;
use super::{BaseCircuitBuilder, BaseCircuitParams, Fr};
use crate::quant::QFunc;

#[cfg(test)]
pub(crate) use act_lane::ActTamper;
pub use act_lane::{act_lanes_needed, ActJob, ActJobs, ActKind};
pub use dot_lane::plan_dots;
#[cfg(test)]
pub(crate) use dot_lane::DotTamper;
pub use fn_table::FnLookups;
#[cfg(test)]
pub(crate) use poly_lane::PolyTamper;
pub use poly_lane::{plan_poly, Coef, PolyJobs, PolyOp, PolyProgram, Reg, Step};

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
    /// Number of poly lanes (0: a one-phase circuit without the challenge; then not written,
    /// so circuits without convolutions describe themselves as before).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub poly_lanes: usize,
    /// Number of act lanes (rescales and ReLUs; 0: none, then not written).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub act_lanes: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    fns: FnColumns,
    dots: Vec<DotLane>,
    poly: Vec<PolyLane>,
    acts: Option<ActLanes>,
    /// The act lanes' own range table, when halo2-base has none.
    act_table: Option<TableColumn>,
    t: Option<Challenge>,
}

/// The circuit proving one inference.
#[derive(Clone, Debug)]
pub struct ZkCircuit {
    /// The halo2-base builder holding every gate, range check and copy constraint.
    pub builder: BaseCircuitBuilder<Fr>,
    /// Function lookups to place in the lookup columns.
    pub lookups: FnLookups,
    /// Dot products to place in the dot lanes.
    pub dots: DotJobs<Fr>,
    /// Polynomial identities to place in the poly lanes.
    pub poly: PolyJobs,
    /// Rescales to place in the act lanes.
    pub acts: ActJobs,
    /// The shape.
    pub params: ZkParams,
    /// Test-only: a dishonest dot-lane assignment.
    #[cfg(test)]
    pub(crate) tamper: Option<DotTamper>,
    /// Test-only: a dishonest poly-lane assignment.
    #[cfg(test)]
    pub(crate) poly_tamper: Option<PolyTamper>,
    /// Test-only: a dishonest act-lane assignment.
    #[cfg(test)]
    pub(crate) act_tamper: Option<ActTamper>,
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
        let fns = FnColumns::configure(meta, params.fn_cols);
        let dots = (0..params.dot_lanes)
            .map(|_| DotLane::configure(meta, params.dot_width))
            .collect();
        let t = (params.poly_lanes > 0).then(|| meta.challenge_usable_after(FirstPhase));
        let poly = t.map_or(vec![], |t| {
            (0..params.poly_lanes)
                .map(|_| PolyLane::configure(meta, t))
                .collect()
        });
        // The act lanes look their limbs up in halo2-base's range table, or in their own when
        // halo2-base has no range checks left.
        let (act_table, table) = match (&base.base, params.act_lanes) {
            (_, 0) => (None, None),
            (MaybeRangeConfig::WithRange(range), _) => (None, Some(range.lookup)),
            _ => {
                let t = meta.lookup_table_column();
                (Some(t), Some(t))
            }
        };
        let lookup_bits = params.base.lookup_bits.unwrap_or(0);
        let acts = table.map(|t| ActLanes::configure(meta, t, lookup_bits, params.act_lanes));
        base.set_usable_rows(Self::usable_rows(params.base.k, meta.minimum_rows()));
        ZkConfig {
            base,
            fns,
            dots,
            poly,
            acts,
            act_table,
            t,
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
        if let Some(table) = config.act_table {
            let bits = self.params.base.lookup_bits.unwrap_or(0);
            layouter.assign_table(
                || "act lane limbs",
                |mut t| {
                    for i in 0..1u64 << bits {
                        t.assign_cell(|| "limb", table, i as usize, || Value::known(Fr::from(i)))?;
                    }
                    Ok(())
                },
            )?;
        }
        config
            .fns
            .assign_table(&mut layouter, &self.params.tables)?;
        let builder = &self.builder;
        // Without a range config halo2-base would drop queued range checks silently: none may
        // be queued (the act lanes make such a circuit possible).
        if !matches!(config.base.base, MaybeRangeConfig::WithRange(_))
            && builder
                .statistics()
                .total_lookup_advice_per_phase
                .iter()
                .any(|&n| n > 0)
        {
            return Err(PlonkError::Synthesis);
        }
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
                config
                    .fns
                    .assign_lookups(&mut region, &lookups, usable, copy.as_deref_mut());
                let queue = self.dots.lock().unwrap_or_else(|e| e.into_inner());
                dot_lane::assign_jobs(
                    &mut region,
                    &config.dots,
                    &queue.jobs,
                    self.params.dot_width,
                    usable,
                    self.params.base.k as u32,
                    copy.as_deref_mut(),
                    #[cfg(test)]
                    self.tamper,
                )?;
                drop(queue);
                let acts = self.acts.lock().unwrap_or_else(|e| e.into_inner());
                match &config.acts {
                    Some(lanes) => act_lane::assign_jobs(
                        &mut region,
                        lanes,
                        &acts,
                        self.params.base.lookup_bits.unwrap_or(0),
                        usable,
                        self.params.base.k as u32,
                        copy.as_deref_mut(),
                        #[cfg(test)]
                        self.act_tamper,
                    )?,
                    None if !acts.is_empty() => {
                        return Err(PlonkError::NotEnoughRowsAvailable {
                            current_k: self.params.base.k as u32,
                        })
                    }
                    None => {}
                }
                drop(acts);
                if let Some(t) = config.t {
                    // Every first-phase cell is assigned before the challenge is drawn.
                    let prog = self.poly.lock().unwrap_or_else(|e| e.into_inner());
                    let plan = poly_lane::assign_first_phase(
                        &mut region,
                        &config.poly,
                        &prog,
                        usable,
                        self.params.base.k as u32,
                        copy.as_deref_mut(),
                        #[cfg(test)]
                        self.poly_tamper,
                    )?;
                    region.next_phase();
                    let t = region.get_challenge(t);
                    poly_lane::assign_second_phase(
                        &mut region,
                        &config.poly,
                        &prog,
                        &plan,
                        t,
                        copy.as_deref_mut(),
                        #[cfg(test)]
                        self.poly_tamper,
                    )?;
                }
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
mod act_tests;
#[cfg(test)]
mod tests;
