//! Lookup-table functions: the one definition that fills the circuit's table and computes the
//! witness.

use serde::{Deserialize, Serialize};

use super::{rescale, to_fixed};
use crate::graph::Func;

/// A function table: the input is rescaled to the table's exponent, clamped where the function
/// saturates exactly, and looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QFunc {
    /// The function.
    pub func: Func,
    /// `x_t = rescale(x, in_shift)` brings the input to the table's exponent.
    pub in_shift: u32,
    /// Exponent of table inputs.
    pub table_exp: i32,
    /// Exponent of table outputs.
    pub out_exp: i32,
    /// Smallest table input (table units).
    pub lo: i64,
    /// Largest table input (table units).
    pub hi: i64,
    /// Inputs below `lo` take the value at `lo` (the function is flat there at this precision).
    pub sat_lo: bool,
    /// Inputs above `hi` take the value at `hi`.
    pub sat_hi: bool,
}

/// The steps of one lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncStep {
    /// Input at the table exponent.
    pub xt: i128,
    /// Remainder of that rescale.
    pub rem: i128,
    /// `xt` clamped to the saturating sides.
    pub xc: i128,
    /// The table value, if `xc` is inside the table.
    pub y: Option<i128>,
}

impl QFunc {
    /// The table's value at table input `t`: `round(f(t * 2^-table_exp) * 2^out_exp)`.
    pub fn value(&self, t: i64) -> i128 {
        to_fixed(
            self.func.eval(t as f64 * 2f64.powi(-self.table_exp)),
            self.out_exp,
        )
    }

    /// Number of table rows.
    pub fn len(&self) -> usize {
        (self.hi - self.lo + 1) as usize
    }

    /// True if the table is empty (never, for a built model).
    pub fn is_empty(&self) -> bool {
        self.hi < self.lo
    }

    /// Every `(input, output)` pair of the table.
    pub fn table(&self) -> impl Iterator<Item = (i64, i128)> + '_ {
        (self.lo..=self.hi).map(|t| (t, self.value(t)))
    }

    /// Applies the table to an activation integer.
    pub fn apply(&self, x: i128) -> FuncStep {
        let (xt, rem) = rescale(x, self.in_shift);
        let mut xc = xt;
        if self.sat_lo {
            xc = xc.max(self.lo as i128);
        }
        if self.sat_hi {
            xc = xc.min(self.hi as i128);
        }
        let inside = (self.lo as i128..=self.hi as i128).contains(&xc);
        FuncStep {
            xt,
            rem,
            xc,
            y: inside.then(|| self.value(xc as i64)),
        }
    }

    /// The float domain of the table.
    pub fn domain(&self) -> (f64, f64) {
        let s = 2f64.powi(-self.table_exp);
        (self.lo as f64 * s, self.hi as f64 * s)
    }

    /// The first table row `(input, value)` whose value lies outside the signed `bits` range
    /// `[-2^(bits-1), 2^(bits-1))`, if any. A table holding such a value would hand the rest
    /// of the circuit an activation outside the range every other cell is checked to.
    pub fn row_out_of_range(&self, bits: u32) -> Option<(i64, i128)> {
        let half = 1i128 << (bits - 1);
        self.table().find(|&(_, y)| !(-half..half).contains(&y))
    }

    /// Shrinks the non-saturating sides of the domain until every table value lies in the
    /// signed `bits` range (an input beyond a non-saturating side has no witness, so this
    /// refuses inputs, never changes a result). `Err` when a saturating side's value is out of
    /// range (that would change results) or nothing is left.
    pub fn fit_range(&mut self, bits: u32) -> Result<(), String> {
        let half = 1i128 << (bits - 1);
        let ok = |y: i128| (-half..half).contains(&y);
        while !self.sat_hi && self.hi >= self.lo && !ok(self.value(self.hi)) {
            self.hi -= 1;
        }
        while !self.sat_lo && self.lo <= self.hi && !ok(self.value(self.lo)) {
            self.lo += 1;
        }
        match self.row_out_of_range(bits) {
            _ if self.is_empty() => Err(format!(
                "every {} table value at scale 2^-{} lies outside the {bits}-bit activation range",
                self.func.name(),
                self.out_exp
            )),
            Some((t, _)) => Err(format!(
                "the {} table's value at input {:.4} lies outside the {bits}-bit activation range at scale 2^-{}",
                self.func.name(),
                t as f64 * 2f64.powi(-self.table_exp),
                self.out_exp
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table entry is the f64 function rounded at the output exponent, and a lookup of
    /// any input is within one table step (plus rounding) of the f64 function.
    #[test]
    fn tables_match_their_f64_definition() {
        for func in [Func::Sigmoid, Func::Tanh, Func::Exp] {
            let q = QFunc {
                func,
                in_shift: 8,
                table_exp: 8,
                out_exp: 16,
                lo: -3000,
                hi: if func == Func::Exp { 0 } else { 3000 },
                sat_lo: true,
                sat_hi: func != Func::Exp,
            };
            for (t, y) in q.table() {
                let exact = func.eval(t as f64 / 256.0) * 65536.0;
                assert!((y as f64 - exact).abs() <= 0.5, "{func:?} at {t}");
            }
            let mut seed = 7u64;
            for _ in 0..2000 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let x = ((seed >> 33) as i64 % (12 << 16)) - (6 << 16);
                let x = if func == Func::Exp { -x.abs() } else { x };
                let step = q.apply(x as i128);
                let y = step.y.expect("saturating table covers every input") as f64 / 65536.0;
                let xf = x as f64 / 65536.0;
                // slope <= 1 for these on the domain, one table step is 2^-8.
                assert!(
                    (y - func.eval(xf)).abs() <= 2f64.powi(-8) + 2f64.powi(-16),
                    "{func:?}({xf}) = {y}"
                );
            }
        }
    }

    #[test]
    fn non_saturating_side_refuses() {
        let q = QFunc {
            func: Func::Exp,
            in_shift: 0,
            table_exp: 4,
            out_exp: 8,
            lo: -64,
            hi: 16,
            sat_lo: true,
            sat_hi: false,
        };
        assert!(q.apply(17).y.is_none());
        assert_eq!(q.apply(-1000).xc, -64);
    }

    #[test]
    fn fit_range_stops_a_table_where_its_values_leave_the_activation_range() {
        let mut q = QFunc {
            func: Func::Exp,
            in_shift: 0,
            table_exp: 4,
            out_exp: 16,
            lo: -256,
            hi: 256, // e^16 * 2^16 is about 2^39
            sat_lo: true,
            sat_hi: false,
        };
        assert!(q.row_out_of_range(32).is_some());
        q.fit_range(32)
            .expect("an exp table can shrink on its top side");
        assert!(q.row_out_of_range(32).is_none());
        assert!(q.value(q.hi) < 1 << 31 && q.value(q.hi + 1) >= 1 << 31);
        assert_eq!(q.lo, -256, "the saturating side is kept");
        // An input above the new edge has no table value (the evaluator refuses it).
        assert!(q.apply(q.hi as i128 + 1).y.is_none());
        // A saturating side cannot shrink: inputs beyond it would change value.
        let mut s = QFunc {
            sat_hi: true,
            hi: 256,
            ..q
        };
        assert!(s.fit_range(32).is_err());
    }
}
