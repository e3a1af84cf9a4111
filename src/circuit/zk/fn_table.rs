//! The function-table lookup. Function tables (sigmoid, tanh, exp, log at their calibrated
//! scales) share three table columns `(tag, x, f(x))`; tag 0 holds the single row `(0, 0, 0)`
//! so unused lookup rows pass. Each lookup is a row `(tag, x, y)` in a fixed tag column and two
//! advice columns, with `x` and `y` copy-constrained to the builder's cells. The table contents
//! live in the verifying key.

use std::sync::{Arc, Mutex};

use halo2_base::halo2_proofs::{
    circuit::{Layouter, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error as PlonkError, Fixed, TableColumn},
    poly::Rotation,
};
use halo2_base::utils::halo2::{
    constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed,
};
use halo2_base::virtual_region::copy_constraints::CopyConstraintManager;
use halo2_base::AssignedValue;

use crate::field::Fr;
use crate::quant::QFunc;

/// Lookups queued during witness assignment: `(tag, x, y)`.
pub type FnLookups = Arc<Mutex<Vec<(u64, AssignedValue<Fr>, AssignedValue<Fr>)>>>;

/// The lookup columns: per set a fixed tag column and advice `x` and `y` columns; the table.
#[derive(Clone, Debug)]
pub(super) struct FnColumns {
    tag: Vec<Column<Fixed>>,
    x: Vec<Column<Advice>>,
    y: Vec<Column<Advice>>,
    table: [TableColumn; 3],
}

impl FnColumns {
    /// `sets` lookup column sets into one shared table.
    pub(super) fn configure(meta: &mut ConstraintSystem<Fr>, sets: usize) -> Self {
        let table = [
            meta.lookup_table_column(),
            meta.lookup_table_column(),
            meta.lookup_table_column(),
        ];
        let (mut tag, mut x, mut y) = (vec![], vec![], vec![]);
        for _ in 0..sets {
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
        Self { tag, x, y, table }
    }

    /// Fills the table: the zero row, then each function's rows under tag `i + 1`.
    pub(super) fn assign_table(
        &self,
        layouter: &mut impl Layouter<Fr>,
        tables: &[QFunc],
    ) -> Result<(), PlonkError> {
        if !self.x.is_empty() {
            layouter.assign_table(
                || "function tables",
                |mut t| {
                    let mut row = 0;
                    let mut put =
                        |tag: u64, x: Fr, y: Fr, row: &mut usize| -> Result<(), PlonkError> {
                            t.assign_cell(
                                || "tag",
                                self.table[0],
                                *row,
                                || Value::known(Fr::from(tag)),
                            )?;
                            t.assign_cell(|| "x", self.table[1], *row, || Value::known(x))?;
                            t.assign_cell(|| "y", self.table[2], *row, || Value::known(y))?;
                            *row += 1;
                            Ok(())
                        };
                    put(0, Fr::zero(), Fr::zero(), &mut row)?;
                    for (i, f) in tables.iter().enumerate() {
                        for (x, y) in f.table() {
                            put(
                                i as u64 + 1,
                                crate::field::field(x as i128),
                                crate::field::field(y),
                                &mut row,
                            )?;
                        }
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }

    /// Places the queued lookups, `usable` rows per column set, each cell copy-constrained to
    /// the builder cell it stands for (when `copy` is given: not in witness-only proving).
    pub(super) fn assign_lookups(
        &self,
        region: &mut Region<'_, Fr>,
        lookups: &[(u64, AssignedValue<Fr>, AssignedValue<Fr>)],
        usable: usize,
        mut copy: Option<&mut CopyConstraintManager<Fr>>,
    ) {
        for (i, (tag, x, y)) in lookups.iter().enumerate() {
            let (col, row) = (i / usable, i % usable);
            raw_assign_fixed(region, self.tag[col], row, Fr::from(*tag));
            let cx = raw_assign_advice(region, self.x[col], row, Value::known(x.value));
            let cy = raw_assign_advice(region, self.y[col], row, Value::known(y.value));
            if let Some(cm) = copy.as_mut() {
                constrain_virtual_equals_external(region, *x, cx.cell(), cm);
                constrain_virtual_equals_external(region, *y, cy.cell(), cm);
            }
        }
    }
}
