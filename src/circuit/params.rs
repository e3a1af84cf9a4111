//! Choosing the circuit's shape: `logrows`, columns, lookup bits, function tables.

use serde::{Deserialize, Serialize};

use super::Secrets;
use super::{
    layout::{assign, model_tables},
    BaseCircuitBuilder, CircuitBuilderStage, Error, FnLookups, Fr, Result, ZkParams,
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
}

impl CircuitShape {
    /// `logrows`.
    pub fn k(&self) -> u32 {
        self.params.base.k as u32
    }
}

/// The smallest `k` at which the model fits in [`MAX_ADVICE`] advice columns, one range-lookup
/// column, one function-lookup column set, and tables that fit in the rows.
pub fn choose_params(
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    predicate: Option<&Predicate>,
) -> Result<CircuitShape> {
    let tables = model_tables(model);
    let table_rows = 1 + tables.iter().map(|t| t.len()).sum::<usize>();
    let mut cells = 0;
    for k in MIN_K..=MAX_K {
        let usable = (1usize << k) - BLINDING_ROWS - 1;
        if table_rows > usable {
            continue;
        }
        let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
            .use_k(k as usize)
            .use_lookup_bits(k as usize - 1)
            .use_instance_columns(1);
        let lookups = FnLookups::default();
        let range = b.range_chip();
        let io = assign(
            b.main(0),
            &range,
            &lookups,
            &tables,
            model,
            trace,
            vis.params,
        )?;
        let secrets = Secrets {
            predicate_params: predicate.map_or(vec![], |p| vec![0; p.params().len()]),
            ..Default::default()
        };
        super::public_instances(b.main(0), &range, model, vis, io, &secrets, predicate);
        let base = b.calculate_params(Some(BLINDING_ROWS));
        cells = b.statistics().gate.total_advice_per_phase.iter().sum();
        let n_lookups = lookups.lock().map(|l| l.len()).unwrap_or(0);
        let fn_cols = n_lookups.div_ceil(usable);
        if base.num_advice_per_phase[0] <= MAX_ADVICE
            && base.num_lookup_advice_per_phase[0] <= 1
            && fn_cols <= 1
        {
            return Ok(CircuitShape {
                params: ZkParams {
                    base,
                    fn_cols,
                    tables,
                },
                break_points: vec![],
                visibility: vis,
                predicate: predicate.cloned(),
            });
        }
    }
    Err(Error::TooLarge {
        max_k: MAX_K,
        cells,
        table_rows,
    })
}
