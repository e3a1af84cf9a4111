//! Polynomial identities checked at a verifier challenge: the "poly lane".
//!
//! A convolution is a polynomial product (see `layout::conv`): rather than one constrained
//! multiply-accumulate per kernel weight and output, it is proven as one identity between
//! polynomials whose coefficients are activations, evaluated at a random point `t` the verifier
//! draws after every activation is committed. The lane evaluates such polynomials by Horner's
//! rule, one coefficient per row:
//!
//! ```text
//! columns:  x (advice, first phase: the coefficient, copied from its activation)
//!           acc (advice, second phase: the running value), c (fixed: a constant coefficient)
//!           q (fixed: 0 none, 1 a Horner step, 2 a step by a computed power, 3 a sum)
//! [q = 1] (acc[r] - acc[r+1] * t - x[r] - c[r])             = 0
//! [q = 2] (acc[r] - acc[r+2] * acc[r+1] - x[r] - c[r])      = 0
//! [q = 3] (acc[r] - acc[r+2] - acc[r+1] - x[r] - c[r])      = 0
//! ```
//!
//! `[q = v]` is the cubic in `q` that vanishes on the other three values, so the gate has
//! degree 5; one selector column instead of three. Degree 5 costs no larger evaluation domain
//! than 4 (both need four times the rows) and lets the permutation argument take three
//! columns per product instead of two, so a circuit with a poly lane has fewer permutation
//! polynomials.
//!
//! A program is a list of [`PolyOp`]s over registers (the cell an op leaves in `acc`). Each op
//! occupies a block of consecutive rows, its first row highest, so that every gate reads only
//! rows of its own block. A Horner chain starts from a row whose `acc` is copy-constrained to
//! zero; a step by a power `t^g` (a gap in the exponents) reads the power from the row below it,
//! copy-constrained to the register that computed it; products and sums read two copied
//! registers. Every gated row's `x` is copy-constrained: to the activation it stands for, or to
//! zero; only [`Coef::Free`] cells (coefficients the identity leaves to the prover: the parts of
//! a full product nobody reads) are not. `x` is committed before `t` exists, so the prover
//! fixes every polynomial before learning where it is evaluated (Schwartz-Zippel: a false
//! identity of degree `d` holds at a random `t` with probability `d / r`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use halo2_base::halo2_proofs::{
    circuit::{Cell, Region, Value},
    plonk::{
        Advice, Challenge, Column, ConstraintSystem, Error as PlonkError, Expression, FirstPhase,
        Fixed, SecondPhase,
    },
    poly::Rotation,
};
use halo2_base::utils::halo2::{
    constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed,
};
use halo2_base::virtual_region::copy_constraints::CopyConstraintManager;
use halo2_base::AssignedValue;

use crate::field::Fr;

/// A register: the result of the op at this index of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub usize);

/// What a row's `x` holds.
#[derive(Clone, Copy, Debug)]
pub enum Coef {
    /// An activation cell, copied in.
    Data(AssignedValue<Fr>),
    /// A value the identity leaves to the prover (not copied).
    Free(Fr),
    /// Zero (copied from a zero cell).
    Zero,
}

impl Coef {
    fn value(&self) -> Fr {
        match self {
            Coef::Data(c) => *c.value(),
            Coef::Free(v) => *v,
            Coef::Zero => Fr::zero(),
        }
    }
}

/// One Horner step: `acc = acc * m + x + c`, `m` being `t` or a computed power of it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// `None`: multiply by `t`; `Some(r)`: by register `r`.
    pub by: Option<Reg>,
    /// The coefficient cell.
    pub x: Coef,
    /// The constant coefficient.
    pub c: Fr,
}

/// An op of a poly-lane program.
#[derive(Clone, Debug)]
pub enum PolyOp {
    /// Horner's rule from zero: `sum of (x_i + c_i) * m_(i+1) * ... * m_n`.
    Horner(Vec<Step>),
    /// `a * b`.
    Mul(Reg, Reg),
    /// `a + b`.
    Add(Reg, Reg),
    /// Constrains two registers equal (no rows, no result).
    Eq(Reg, Reg),
}

impl PolyOp {
    /// Rows the op takes when not split across lanes.
    pub fn rows(&self) -> usize {
        match self {
            PolyOp::Horner(steps) => {
                1 + steps
                    .iter()
                    .map(|s| if s.by.is_some() { 2 } else { 1 })
                    .sum::<usize>()
            }
            PolyOp::Mul(..) | PolyOp::Add(..) => 3,
            PolyOp::Eq(..) => 0,
        }
    }
}

/// A poly-lane program: ops in dependency order, and the zero cell every `Coef::Zero` and every
/// chain start is copied from.
#[derive(Clone, Debug, Default)]
pub struct PolyProgram {
    /// The ops.
    pub ops: Vec<PolyOp>,
    /// The builder's zero cell (set by the first op pushed).
    pub zero: Option<AssignedValue<Fr>>,
    /// The powers of `t` computed so far.
    pows: HashMap<u64, Reg>,
}

/// A poly-lane program filled during witness assignment.
pub type PolyJobs = Arc<Mutex<PolyProgram>>;

impl PolyProgram {
    /// Appends an op and returns its register.
    pub fn push(&mut self, op: PolyOp) -> Reg {
        self.ops.push(op);
        Reg(self.ops.len() - 1)
    }

    /// `t^n` (n >= 1), by square-and-multiply from `t`, each power computed once.
    pub fn power(&mut self, n: u64) -> Reg {
        if let Some(&r) = self.pows.get(&n) {
            return r;
        }
        let r = if n == 1 {
            // Horner from zero: (0 * t + 1) * t + 0 = t.
            let one = Step {
                by: None,
                x: Coef::Zero,
                c: Fr::one(),
            };
            let zero = Step {
                by: None,
                x: Coef::Zero,
                c: Fr::zero(),
            };
            self.push(PolyOp::Horner(vec![one, zero]))
        } else {
            let half = self.power(n / 2);
            let sq = self.push(PolyOp::Mul(half, half));
            if n % 2 == 1 {
                let t = self.power(1);
                self.push(PolyOp::Mul(sq, t))
            } else {
                sq
            }
        };
        self.pows.insert(n, r);
        r
    }

    /// Rows the program takes in one lane.
    pub fn rows(&self) -> usize {
        self.ops.iter().map(PolyOp::rows).sum()
    }

    /// The registers' values at `t` (zero for `Eq`).
    pub fn eval(&self, t: Fr) -> Vec<Fr> {
        self.eval_with(t, |_, _, s| s.x.value())
    }

    /// [`Self::eval`] with step `i` of op `o` reading `x(o, i, step)`.
    fn eval_with(&self, t: Fr, x: impl Fn(usize, usize, &Step) -> Fr) -> Vec<Fr> {
        let mut regs: Vec<Fr> = Vec::with_capacity(self.ops.len());
        for (o, op) in self.ops.iter().enumerate() {
            let v = match op {
                PolyOp::Horner(steps) => {
                    steps.iter().enumerate().fold(Fr::zero(), |acc, (i, s)| {
                        let m = s.by.map_or(t, |r| regs[r.0]);
                        acc * m + x(o, i, s) + s.c
                    })
                }
                PolyOp::Mul(a, b) => regs[a.0] * regs[b.0],
                PolyOp::Add(a, b) => regs[a.0] + regs[b.0],
                PolyOp::Eq(..) => Fr::zero(),
            };
            regs.push(v);
        }
        regs
    }
}

/// Where each op's rows go: for op `i`, its segments `(lane, lowest row, row count)` in order
/// (a Horner chain too long for the rest of a lane continues in the next one, its first row
/// there a copy of the value it reached). `None` when the program does not fit in `lanes` lanes
/// of `usable` rows.
pub fn plan_poly(ops: &[PolyOp], lanes: usize, usable: usize) -> Option<Vec<Vec<Segment>>> {
    let (mut lane, mut row, mut out) = (0usize, 0usize, vec![]);
    // Moves to the next lane when `need` rows do not fit in this one.
    let fit = |need: usize, lane: &mut usize, row: &mut usize| -> Option<()> {
        if *row + need > usable {
            *lane += 1;
            *row = 0;
        }
        (*lane < lanes && need <= usable).then_some(())
    };
    for op in ops {
        let mut segs = vec![];
        match op {
            PolyOp::Eq(..) => {}
            PolyOp::Mul(..) | PolyOp::Add(..) => {
                fit(3, &mut lane, &mut row)?;
                segs.push((lane, row, 3));
                row += 3;
            }
            PolyOp::Horner(steps) => {
                let step_rows = |s: &Step| if s.by.is_some() { 2 } else { 1 };
                let mut i = 0;
                loop {
                    // A segment holds its start row and at least one step.
                    fit(1 + steps.get(i).map_or(0, step_rows), &mut lane, &mut row)?;
                    let mut used = 1;
                    while i < steps.len() && row + used + step_rows(&steps[i]) <= usable {
                        used += step_rows(&steps[i]);
                        i += 1;
                    }
                    segs.push((lane, row, used));
                    row += used;
                    if i == steps.len() {
                        break;
                    }
                }
            }
        }
        out.push(segs);
    }
    Some(out)
}

/// A run of an op's rows: `(lane, lowest row, row count)`.
pub type Segment = (usize, usize, usize);

/// Columns of one poly lane.
#[derive(Clone, Debug)]
pub(super) struct PolyLane {
    x: Column<Advice>,
    acc: Column<Advice>,
    c: Column<Fixed>,
    q: Column<Fixed>,
}

/// The selector values.
const Q_T: u64 = 1;
const Q_M: u64 = 2;
const Q_A: u64 = 3;

impl PolyLane {
    /// A lane with its gate, evaluated at challenge `t`.
    pub(super) fn configure(meta: &mut ConstraintSystem<Fr>, t: Challenge) -> Self {
        let lane = PolyLane {
            x: meta.advice_column_in(FirstPhase),
            acc: meta.advice_column_in(SecondPhase),
            c: meta.fixed_column(),
            q: meta.fixed_column(),
        };
        meta.enable_equality(lane.x);
        meta.enable_equality(lane.acc);
        meta.create_gate("poly lane", |m| {
            let acc = m.query_advice(lane.acc, Rotation::cur());
            let a1 = m.query_advice(lane.acc, Rotation::next());
            let a2 = m.query_advice(lane.acc, Rotation(2));
            let e =
                m.query_advice(lane.x, Rotation::cur()) + m.query_fixed(lane.c, Rotation::cur());
            let t = m.query_challenge(t);
            let q = m.query_fixed(lane.q, Rotation::cur());
            // [q = v], up to a non-zero constant factor.
            let is = |v: u64| {
                [0, Q_T, Q_M, Q_A]
                    .into_iter()
                    .filter(|&u| u != v)
                    .map(|u| q.clone() - Expression::Constant(Fr::from(u)))
                    .reduce(|a, b| a * b)
                    .expect("three factors")
            };
            let (q_t, q_m, q_a) = (is(Q_T), is(Q_M), is(Q_A));
            vec![
                q_t * (acc.clone() - a1.clone() * t - e.clone()),
                q_m * (acc.clone() - a2.clone() * a1.clone() - e.clone()),
                q_a * (acc - a2 - a1 - e),
            ]
        });
        lane
    }
}

/// Test-only: a dishonest prover adds `delta` to the `x` cell of step `step` of op `op` and
/// computes every second-phase value from it, so only a copy or the identity can catch it.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PolyTamper {
    pub op: usize,
    pub step: usize,
    pub delta: Fr,
}

/// The value step `i` of op `o` puts in `x`.
fn x_of(o: usize, i: usize, s: &Step, #[cfg(test)] tamper: Option<PolyTamper>) -> Fr {
    #[cfg(test)]
    if let Some(t) = tamper {
        if t.op == o && t.step == i {
            return s.x.value() + t.delta;
        }
    }
    let _ = (o, i);
    s.x.value()
}

/// Assigns the program's first-phase cells (`x`) in `lanes`; returns the plan for
/// [`assign_second_phase`].
#[allow(clippy::too_many_arguments)] // the lane's whole context
pub(super) fn assign_first_phase(
    region: &mut Region<'_, Fr>,
    lanes: &[PolyLane],
    prog: &PolyProgram,
    usable: usize,
    k: u32,
    mut copy: Option<&mut CopyConstraintManager<Fr>>,
    #[cfg(test)] tamper: Option<PolyTamper>,
) -> Result<Vec<Vec<Segment>>, PlonkError> {
    let plan = plan_poly(&prog.ops, lanes.len(), usable)
        .ok_or(PlonkError::NotEnoughRowsAvailable { current_k: k })?;
    // Every chain start and zero coefficient is copied from it: never skipped.
    let zero = match (prog.zero, prog.ops.is_empty()) {
        (Some(z), _) => Some(z),
        (None, true) => None,
        (None, false) => return Err(PlonkError::Synthesis),
    };
    for (oi, (op, segs)) in prog.ops.iter().zip(&plan).enumerate() {
        let PolyOp::Horner(steps) = op else {
            // Products and sums: x zero, c zero, the selector on the result row.
            if let Some(&(l, top, n)) = segs.first() {
                let lane = &lanes[l];
                let row = top + n - 3; // the result row
                let cx = raw_assign_advice(region, lane.x, row, Value::known(Fr::zero()));
                if let (Some(cm), Some(z)) = (copy.as_mut(), zero) {
                    constrain_virtual_equals_external(region, z, cx.cell(), cm);
                }
                let q = if matches!(op, PolyOp::Mul(..)) {
                    Q_M
                } else {
                    Q_A
                };
                raw_assign_fixed(region, lane.q, row, Fr::from(q));
            }
            continue;
        };
        let mut i = 0;
        for &(l, top, n) in segs {
            let lane = &lanes[l];
            // Rows of the segment from its first (highest index) down.
            let mut row = top + n - 1; // the zero / continuation row: no selector
            while row > top {
                let s = &steps[i];
                let xv = x_of(
                    oi,
                    i,
                    s,
                    #[cfg(test)]
                    tamper,
                );
                if s.by.is_some() {
                    row -= 1; // the multiplier row
                }
                row -= 1;
                let cx = raw_assign_advice(region, lane.x, row, Value::known(xv));
                if let Some(cm) = copy.as_mut() {
                    match s.x {
                        Coef::Data(c) => {
                            constrain_virtual_equals_external(region, c, cx.cell(), cm)
                        }
                        Coef::Zero => {
                            if let Some(z) = zero {
                                constrain_virtual_equals_external(region, z, cx.cell(), cm)
                            }
                        }
                        Coef::Free(_) => {}
                    }
                }
                if s.c != Fr::zero() {
                    raw_assign_fixed(region, lane.c, row, s.c);
                }
                let q = if s.by.is_some() { Q_M } else { Q_T };
                raw_assign_fixed(region, lane.q, row, Fr::from(q));
                i += 1;
            }
        }
    }
    Ok(plan)
}

/// Assigns the second-phase cells (`acc`) once `t` is known (`Value::unknown()` at key
/// generation) and every copy between them.
///
/// Fails when an op reads a register that has no cell (an `Eq`'s), so no copy is ever skipped.
pub(super) fn assign_second_phase(
    region: &mut Region<'_, Fr>,
    lanes: &[PolyLane],
    prog: &PolyProgram,
    plan: &[Vec<Segment>],
    t: Value<Fr>,
    mut copy: Option<&mut CopyConstraintManager<Fr>>,
    #[cfg(test)] tamper: Option<PolyTamper>,
) -> Result<(), PlonkError> {
    let mut t_val = None;
    t.map(|v| t_val = Some(v));
    let x = |o: usize, i: usize, s: &Step| {
        x_of(
            o,
            i,
            s,
            #[cfg(test)]
            tamper,
        )
    };
    let regs = t_val.map(|t| prog.eval_with(t, x));
    let reg = |r: Reg| {
        regs.as_ref()
            .map_or(Value::unknown(), |v| Value::known(v[r.0]))
    };
    // The cell holding each register, for copies.
    let mut cells: Vec<Option<Cell>> = vec![None; prog.ops.len()];
    let mut copies: Vec<(Cell, Cell)> = vec![];
    let zero = prog.zero;
    for (oi, (op, segs)) in prog.ops.iter().zip(plan).enumerate() {
        match op {
            PolyOp::Eq(a, b) => {
                let (x, y) = (cell(&cells, *a)?, cell(&cells, *b)?);
                copies.push((x, y));
            }
            PolyOp::Mul(a, b) | PolyOp::Add(a, b) => {
                let &(l, top, _) = &segs[0];
                let lane = &lanes[l];
                let ca = raw_assign_advice(region, lane.acc, top + 2, reg(*a));
                let cb = raw_assign_advice(region, lane.acc, top + 1, reg(*b));
                let cr = raw_assign_advice(region, lane.acc, top, reg(Reg(oi)));
                for (c, r) in [(ca, a), (cb, b)] {
                    copies.push((cell(&cells, *r)?, c.cell()));
                }
                cells[oi] = Some(cr.cell());
            }
            PolyOp::Horner(steps) => {
                // Running values, recomputed along the chain.
                let mut acc: Option<Fr> = regs.as_ref().map(|_| Fr::zero());
                let mut i = 0;
                let mut prev: Option<Cell> = None;
                let mut last: Option<Cell> = None;
                for &(l, top, n) in segs {
                    let lane = &lanes[l];
                    let mut row = top + n - 1;
                    let v = |a: Option<Fr>| a.map_or(Value::unknown(), Value::known);
                    let start = raw_assign_advice(region, lane.acc, row, v(acc));
                    last = Some(start.cell());
                    match prev {
                        // A continuation: the value the previous segment reached.
                        Some(p) => copies.push((p, start.cell())),
                        None => {
                            if let (Some(cm), Some(z)) = (copy.as_mut(), zero) {
                                constrain_virtual_equals_external(region, z, start.cell(), cm);
                            }
                        }
                    }
                    while row > top {
                        let s = &steps[i];
                        let m = match s.by {
                            None => t_val,
                            Some(r) => {
                                row -= 1;
                                let cm = raw_assign_advice(region, lane.acc, row, reg(r));
                                copies.push((cell(&cells, r)?, cm.cell()));
                                regs.as_ref().map(|v| v[r.0])
                            }
                        };
                        row -= 1;
                        acc = match (acc, m) {
                            (Some(a), Some(m)) => Some(a * m + x(oi, i, s) + s.c),
                            _ => None,
                        };
                        let c = raw_assign_advice(region, lane.acc, row, v(acc));
                        last = Some(c.cell());
                        i += 1;
                    }
                    prev = last;
                }
                cells[oi] = last;
            }
        }
    }
    if copy.is_some() {
        for (a, b) in copies {
            region.constrain_equal(a, b);
        }
    }
    Ok(())
}

/// The cell holding register `r`, which an earlier op assigned.
fn cell(cells: &[Option<Cell>], r: Reg) -> Result<Cell, PlonkError> {
    cells
        .get(r.0)
        .copied()
        .flatten()
        .ok_or(PlonkError::Synthesis)
}
