//! The circuit type: halo2-base's builder plus a function-table lookup.
//!
//! Function tables (sigmoid, tanh, exp, log at their calibrated scales) share three table
//! columns `(tag, x, f(x))`; tag 0 holds the single row `(0, 0, 0)` so unused lookup rows pass.
//! Each lookup is a row `(tag, x, y)` in a fixed tag column and two advice columns, with `x`
//! and `y` copy-constrained to the builder's cells. The table contents live in the verifying key.

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
    /// The shape.
    pub params: ZkParams,
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
        base.set_usable_rows(Self::usable_rows(params.base.k, meta.minimum_rows()));
        ZkConfig {
            base,
            tag,
            x,
            y,
            table,
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
