//! The primitive ops every ONNX op is lowered to. Each has one float meaning (in
//! [`super::eval_f64`]), one fixed-point meaning (in `quant`) and one chip (in `circuit`).

use serde::{Deserialize, Serialize};

/// One term of an [`Affine`] row: `weight * inputs[input][index]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// Position in the node's input list.
    pub input: u32,
    /// Index in that input, flattened row-major.
    pub index: u32,
    /// Constant coefficient.
    pub weight: f64,
}

impl Term {
    /// `weight * inputs[input][index]`.
    pub fn of(input: u32, index: usize, weight: f64) -> Self {
        Term {
            input,
            index: index as u32,
            weight,
        }
    }
}

/// A sparse affine map: `y[o] = bias[o] + sum of the terms of row o`. Gemm, MatMul by a constant,
/// Conv, ConvTranspose, average pools, BatchNorm, Add/Sub/Mul/Div by constants, sums and means
/// all lower to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Row `o` owns `terms[rows[o]..rows[o + 1]]`; `rows.len()` is the output length plus one.
    pub rows: Vec<u32>,
    /// All terms, row after row.
    pub terms: Vec<Term>,
    /// One constant per output.
    pub bias: Vec<f64>,
}

impl Affine {
    /// An empty map, to be filled with [`Affine::push_row`].
    pub fn new() -> Self {
        Self {
            rows: vec![0],
            terms: vec![],
            bias: vec![],
        }
    }

    /// Appends one output row.
    pub fn push_row(&mut self, terms: impl IntoIterator<Item = Term>, bias: f64) {
        self.terms.extend(terms);
        self.rows.push(self.terms.len() as u32);
        self.bias.push(bias);
    }

    /// `y[i] = weight * x0[i] + bias` for `n` elements.
    pub fn elementwise(n: usize, weight: f64, bias: f64) -> Self {
        let mut a = Self::new();
        for i in 0..n {
            a.push_row([Term::of(0, i, weight)], bias);
        }
        a
    }

    /// `y[g] = sum of x0 over group g`, each term scaled by `weight(group length)`.
    pub fn group_sums(groups: &[Vec<usize>], weight: impl Fn(usize) -> f64) -> Self {
        let mut a = Self::new();
        for g in groups {
            let w = weight(g.len());
            a.push_row(g.iter().map(|&i| Term::of(0, i, w)), 0.0);
        }
        a
    }

    /// `y[i] = x0[i] - x1[group_of[i]]` (subtracting a per-group value).
    pub fn minus_group(group_of: &[usize]) -> Self {
        let mut a = Self::new();
        for (i, &g) in group_of.iter().enumerate() {
            a.push_row([Term::of(0, i, 1.0), Term::of(1, g, -1.0)], 0.0);
        }
        a
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.bias.len()
    }

    /// True if there are no outputs.
    pub fn is_empty(&self) -> bool {
        self.bias.is_empty()
    }

    /// The terms of output row `o`.
    pub fn row(&self, o: usize) -> &[Term] {
        &self.terms[self.rows[o] as usize..self.rows[o + 1] as usize]
    }
}

/// Where one output value of a [`Op::Gather`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Src {
    /// `inputs[input][index]`.
    In {
        /// Position in the node's input list.
        input: u32,
        /// Flattened index.
        index: u32,
    },
    /// A constant (padding values).
    Const(f64),
}

/// Index groups in compressed form: group `g` is `idx[ptr[g]..ptr[g + 1]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// Offsets, one more than the number of groups.
    pub ptr: Vec<u32>,
    /// Flattened indices of the input.
    pub idx: Vec<u32>,
}

impl Groups {
    /// Builds groups from lists.
    pub fn from_lists(lists: impl IntoIterator<Item = Vec<usize>>) -> Self {
        let mut g = Groups {
            ptr: vec![0],
            idx: vec![],
        };
        for l in lists {
            g.idx.extend(l.into_iter().map(|i| i as u32));
            g.ptr.push(g.idx.len() as u32);
        }
        g
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.ptr.len() - 1
    }

    /// True if there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Group `g`.
    pub fn group(&self, g: usize) -> &[u32] {
        &self.idx[self.ptr[g] as usize..self.ptr[g + 1] as usize]
    }
}

/// An elementwise function proven with a lookup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Func {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `e^x`.
    Exp,
    /// Natural logarithm (inputs must stay positive).
    Log,
}

impl Func {
    /// The one f64 definition of the function.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Func::Tanh => x.tanh(),
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
        }
    }

    /// Bounds of the output over the whole real line, if the function is bounded.
    pub fn bounds(self) -> Option<(f64, f64)> {
        match self {
            Func::Sigmoid => Some((0.0, 1.0)),
            Func::Tanh => Some((-1.0, 1.0)),
            Func::Exp | Func::Log => None,
        }
    }

    /// ONNX-style name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Func::Sigmoid => "Sigmoid",
            Func::Tanh => "Tanh",
            Func::Exp => "Exp",
            Func::Log => "Log",
        }
    }
}

/// Comparison of a tree branch: go to `yes` when `x <cmp> threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    /// `x <= t`.
    Leq,
    /// `x < t`.
    Lt,
    /// `x >= t`.
    Gte,
    /// `x > t`.
    Gt,
}

impl Cmp {
    /// The comparison in f64.
    pub fn holds(self, x: f64, t: f64) -> bool {
        match self {
            Cmp::Leq => x <= t,
            Cmp::Lt => x < t,
            Cmp::Gte => x >= t,
            Cmp::Gt => x > t,
        }
    }
}

/// A node of a decision tree; node 0 is the root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TreeNode {
    /// A comparison of one feature with a threshold.
    Branch {
        /// Feature index in the (flattened) input.
        feature: u32,
        /// Threshold.
        threshold: f64,
        /// Comparison.
        cmp: Cmp,
        /// Node taken when the comparison holds.
        yes: u32,
        /// Node taken otherwise.
        no: u32,
    },
    /// A leaf adding `weight` to output `target`, for each pair.
    Leaf {
        /// `(target, weight)` pairs.
        values: Vec<(u32, f64)>,
    },
}

/// A sum of decision trees: `y[t] = base[t] + sum over trees of the leaf reached`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// Number of features per sample.
    pub features: usize,
    /// Trees, each a node list with the root first.
    pub trees: Vec<Vec<TreeNode>>,
    /// One base value per target.
    pub base: Vec<f64>,
}

impl TreeEnsemble {
    /// Number of targets (outputs per sample).
    pub fn targets(&self) -> usize {
        self.base.len()
    }

    /// The leaf reached by `x` in tree `t`.
    pub fn leaf(&self, t: usize, x: &[f64]) -> usize {
        let tree = &self.trees[t];
        let mut n = 0usize;
        while let TreeNode::Branch {
            feature,
            threshold,
            cmp,
            yes,
            no,
        } = &tree[n]
        {
            n = if cmp.holds(x[*feature as usize], *threshold) {
                *yes as usize
            } else {
                *no as usize
            };
        }
        n
    }
}

/// One operation of the IR. Dynamic inputs are the node's `inputs`; constants live in the op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// A sparse affine map of one or more inputs.
    Affine(Affine),
    /// Pure data movement: each output is an input value or a constant (Reshape, Transpose,
    /// Slice, Concat, Pad, Squeeze, Gather by constant indices, ...). Free in the circuit.
    Gather(Vec<Src>),
    /// `y[o] = sum over (a, b) in pairs[o] of x0[a] * x1[b]`: products of two dynamic values
    /// (Mul, MatMul of two activations). `pairs` groups hold `a` and `b` interleaved.
    Mul(Groups),
    /// `y[o] = x0[num[o]] / x1[den[o]]`, with a positive denominator.
    Div {
        /// Numerator index per output.
        num: Vec<u32>,
        /// Denominator index per output.
        den: Vec<u32>,
    },
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x >= 0`, else `slope[i] * x` (LeakyRelu, PRelu), one slope per element.
    Prelu(Vec<f64>),
    /// `min(max(x, lo), hi)`; a missing bound is infinite.
    Clip {
        /// Lower bound.
        lo: Option<f64>,
        /// Upper bound.
        hi: Option<f64>,
    },
    /// An elementwise function through a lookup table.
    Func(Func),
    /// Maximum over each group of input indices (MaxPool, ReduceMax).
    Max(Groups),
    /// Index of the first maximum in each group, mapped through `labels` if given.
    ArgMax {
        /// The groups.
        groups: Groups,
        /// Output value for position `i` of a group (class labels); `i` itself if `None`.
        labels: Option<Vec<i64>>,
    },
    /// A tree ensemble over samples of `features` values.
    Trees(TreeEnsemble),
}

impl Op {
    /// A short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Affine(_) => "Affine",
            Op::Gather(_) => "Gather",
            Op::Mul(_) => "Mul",
            Op::Div { .. } => "Div",
            Op::Relu => "Relu",
            Op::Prelu(_) => "Prelu",
            Op::Clip { .. } => "Clip",
            Op::Func(f) => f.name(),
            Op::Max(_) => "Max",
            Op::ArgMax { .. } => "ArgMax",
            Op::Trees(_) => "Trees",
        }
    }
}
