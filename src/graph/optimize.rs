//! Graph rewrites that keep the float meaning and make the circuit smaller and more exact:
//! data movement and affine maps are composed into their single consumer (Conv + BatchNorm,
//! Gemm + Add, Transpose + Gemm, ...), so each composed chain is one rescale instead of many.

use std::collections::BTreeMap;

use super::{Affine, Graph, Node, Op, Src, Term, ValueId};

/// A row as terms over graph values, plus a constant.
type Row = (Vec<(ValueId, u32, f64)>, f64);

/// The rows of an Affine or Gather node, over graph values; `None` for other ops.
fn rows_of(node: &Node) -> Option<Vec<Row>> {
    match &node.op {
        Op::Affine(a) => Some(
            (0..a.len())
                .map(|o| {
                    let t = a.row(o).iter();
                    let terms = t
                        .map(|t| (node.inputs[t.input as usize], t.index, t.weight))
                        .collect();
                    (terms, a.bias[o])
                })
                .collect(),
        ),
        Op::Gather(src) => Some(
            src.iter()
                .map(|s| match *s {
                    Src::In { input, index } => {
                        (vec![(node.inputs[input as usize], index, 1.0)], 0.0)
                    }
                    Src::Const(c) => (vec![], c),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Builds the cheapest op for `rows`: a Gather if every row is a copy or a constant.
fn node_from_rows(rows: Vec<Row>, name: String, output: ValueId) -> Node {
    let mut inputs: Vec<ValueId> = vec![];
    let slot = |v: ValueId, inputs: &mut Vec<ValueId>| -> u32 {
        match inputs.iter().position(|&x| x == v) {
            Some(p) => p as u32,
            None => {
                inputs.push(v);
                (inputs.len() - 1) as u32
            }
        }
    };
    let is_gather = rows
        .iter()
        .all(|(t, b)| t.is_empty() || (t.len() == 1 && t[0].2 == 1.0 && *b == 0.0));
    let op = if is_gather {
        Op::Gather(
            rows.iter()
                .map(|(t, b)| match t.first() {
                    Some(&(v, index, _)) => Src::In {
                        input: slot(v, &mut inputs),
                        index,
                    },
                    None => Src::Const(*b),
                })
                .collect(),
        )
    } else {
        let mut a = Affine::new();
        for (t, b) in rows {
            let terms: Vec<Term> = t
                .into_iter()
                .map(|(v, index, weight)| Term {
                    input: slot(v, &mut inputs),
                    index,
                    weight,
                })
                .collect();
            a.push_row(terms, b);
        }
        Op::Affine(a)
    };
    Node {
        name,
        op,
        inputs,
        output,
    }
}

/// Substitutes `producer`'s rows into `consumer`'s, merging repeated terms.
fn compose(consumer: &[Row], produced: ValueId, producer: &[Row]) -> Vec<Row> {
    consumer
        .iter()
        .map(|(terms, bias)| {
            let mut merged: BTreeMap<(ValueId, u32), f64> = BTreeMap::new();
            let mut b = *bias;
            for &(v, i, w) in terms {
                if v == produced {
                    let (pt, pb) = &producer[i as usize];
                    b += w * pb;
                    for &(pv, pi, pw) in pt {
                        *merged.entry((pv, pi)).or_default() += w * pw;
                    }
                } else {
                    *merged.entry((v, i)).or_default() += w;
                }
            }
            let t = merged
                .into_iter()
                .filter(|(_, w)| *w != 0.0)
                .map(|((v, i), w)| (v, i, w))
                .collect();
            (t, b)
        })
        .collect()
}

fn term_count(rows: &[Row]) -> usize {
    rows.iter().map(|r| r.0.len()).sum()
}

impl Graph {
    /// Composes affine maps and data movement into their single consumer, drops dead nodes and
    /// renumbers values. The float meaning is unchanged (up to float rounding).
    pub fn optimize(&mut self) {
        loop {
            let mut changed = false;
            let mut i = 0;
            while i < self.nodes.len() {
                if self.try_fold_into_consumer(i) {
                    changed = true;
                } else {
                    i += 1;
                }
            }
            if !changed {
                break;
            }
        }
        self.compact();
    }

    fn try_fold_into_consumer(&mut self, p: usize) -> bool {
        let out = self.nodes[p].output;
        if self.outputs.contains(&out) {
            return false;
        }
        let users: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].inputs.contains(&out))
            .collect();
        let [c] = users[..] else { return false };
        let (Some(prod), Some(cons)) = (rows_of(&self.nodes[p]), rows_of(&self.nodes[c])) else {
            return false;
        };
        let composed = compose(&cons, out, &prod);
        let is_copy = matches!(self.nodes[p].op, Op::Gather(_));
        if !is_copy && term_count(&composed) > term_count(&prod) + term_count(&cons) {
            return false;
        }
        let name = self.nodes[c].name.clone();
        let output = self.nodes[c].output;
        self.nodes[c] = node_from_rows(composed, name, output);
        self.nodes.remove(p);
        true
    }

    /// Drops nodes whose value nobody uses and renumbers the values densely.
    fn compact(&mut self) {
        loop {
            let used = |v: ValueId, g: &Graph| {
                g.outputs.contains(&v) || g.nodes.iter().any(|n| n.inputs.contains(&v))
            };
            let before = self.nodes.len();
            let keep: Vec<bool> = self.nodes.iter().map(|n| used(n.output, self)).collect();
            let mut k = keep.into_iter();
            self.nodes.retain(|_| k.next().unwrap_or(true));
            if self.nodes.len() == before {
                break;
            }
        }
        let mut live: Vec<ValueId> = self.inputs.clone();
        live.extend(self.nodes.iter().map(|n| n.output));
        let mut map = vec![usize::MAX; self.values.len()];
        for (new, &old) in live.iter().enumerate() {
            map[old] = new;
        }
        self.values = live.iter().map(|&v| self.values[v].clone()).collect();
        for v in self.inputs.iter_mut().chain(self.outputs.iter_mut()) {
            *v = map[*v];
        }
        for n in &mut self.nodes {
            n.output = map[n.output];
            for v in &mut n.inputs {
                *v = map[*v];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{eval_f64, ValueInfo};

    fn vi(name: &str, n: usize) -> ValueInfo {
        ValueInfo {
            name: name.into(),
            shape: vec![n],
        }
    }

    #[test]
    fn composes_gather_affine_and_scale_into_one_affine() {
        // x[3] -> reverse (Gather) -> Affine (2 outputs) -> *2 +1 (Affine, 1 term per row).
        let mut a1 = Affine::new();
        a1.push_row(
            [
                Term {
                    input: 0,
                    index: 0,
                    weight: 1.0,
                },
                Term {
                    input: 0,
                    index: 2,
                    weight: -2.0,
                },
            ],
            0.5,
        );
        a1.push_row(
            [Term {
                input: 0,
                index: 1,
                weight: 3.0,
            }],
            0.0,
        );
        let mut a2 = Affine::new();
        a2.push_row(
            [Term {
                input: 0,
                index: 0,
                weight: 2.0,
            }],
            1.0,
        );
        a2.push_row(
            [Term {
                input: 0,
                index: 1,
                weight: 2.0,
            }],
            1.0,
        );
        let mut g = Graph {
            values: vec![vi("x", 3), vi("r", 3), vi("a", 2), vi("y", 2)],
            inputs: vec![0],
            nodes: vec![
                Node {
                    name: "rev".into(),
                    op: Op::Gather(
                        (0..3)
                            .rev()
                            .map(|i| Src::In { input: 0, index: i })
                            .collect(),
                    ),
                    inputs: vec![0],
                    output: 1,
                },
                Node {
                    name: "a1".into(),
                    op: Op::Affine(a1),
                    inputs: vec![1],
                    output: 2,
                },
                Node {
                    name: "a2".into(),
                    op: Op::Affine(a2),
                    inputs: vec![2],
                    output: 3,
                },
            ],
            outputs: vec![3],
        };
        let x = vec![vec![0.25, -1.5, 4.0]];
        let before = eval_f64(&g, &x).unwrap()[3].clone();
        g.optimize();
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.values.len(), 2);
        let after = eval_f64(&g, &x).unwrap()[g.outputs[0]].clone();
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-12, "{before:?} vs {after:?}");
        }
    }
}
