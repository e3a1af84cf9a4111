//! Data movement and shape computation: each runs on arrays of [`Src`], so the same code folds
//! constants and builds Gather nodes for dynamic values.

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{concatenate, ArrayD, Axis, IxDyn};

use super::super::proto::{attr, tensor};
use super::super::{sources, Importer, Result, Val};
use super::{axis, broadcast_shape};
use crate::graph::Src;

/// Runs a movement on the node's inputs `0..n` and binds output `out`.
fn moved(
    imp: &mut Importer,
    node: &pb::NodeProto,
    inputs: Vec<Val>,
    out: usize,
    f: impl FnOnce(&Importer, Vec<ArrayD<Src>>) -> Result<ArrayD<Src>>,
) -> Result<()> {
    let arrays = inputs
        .iter()
        .enumerate()
        .map(|(k, v)| sources(imp, k, v))
        .collect();
    let y = f(imp, arrays)?;
    if y.is_empty() {
        return Err(imp.node_err(node, format!("produces a 0-sized tensor {:?}", y.shape())));
    }
    imp.bind_moved(node, out, &inputs, y)
}

fn reshape_to(a: ArrayD<Src>, shape: &[usize]) -> ArrayD<Src> {
    let data: Vec<Src> = a.iter().copied().collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("checked element count")
}

/// Resolves an ONNX reshape target (with 0 = copy and -1 = infer).
fn target_shape(
    from: &[usize],
    spec: &[i64],
    allow_zero: bool,
) -> std::result::Result<Vec<usize>, String> {
    let total: usize = from.iter().product();
    let mut shape = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            0 if !allow_zero => shape.push(*from.get(i).ok_or("shape copies a missing dimension")?),
            d if d >= 0 => shape.push(d as usize),
            d => return Err(format!("target shape {spec:?} has invalid dimension {d}")),
        }
    }
    if let Some(i) = infer {
        let known: usize = shape.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {from:?} to {spec:?}"));
        }
        shape[i] = total / known;
    }
    if shape.iter().product::<usize>() != total {
        return Err(format!(
            "cannot reshape {from:?} ({total} values) to {shape:?}"
        ));
    }
    Ok(shape)
}

fn ints(a: &ArrayD<f64>) -> Vec<i64> {
    a.iter().map(|&x| x as i64).collect()
}

pub fn reshape(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let spec = match imp.attr_ints(node, "shape")? {
        Some(s) if node.input.len() < 2 => s,
        _ => ints(&imp.const_input(node, 1)?),
    };
    let from = imp.shape_of(&x);
    let shape = target_shape(&from, &spec, imp.attr_i(node, "allowzero", 0)? != 0)
        .map_err(|r| imp.node_err(node, r))?;
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(reshape_to(a[0].clone(), &shape))
    })
}

pub fn flatten(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let from = imp.shape_of(&x);
    let mut ax = imp.attr_i(node, "axis", 1)?;
    if ax < 0 {
        ax += from.len() as i64;
    }
    if !(0..=from.len() as i64).contains(&ax) {
        return Err(imp.node_err(
            node,
            format!("axis {ax} is out of range for shape {from:?}"),
        ));
    }
    let (a, b) = from.split_at(ax as usize);
    let shape = vec![a.iter().product(), b.iter().product()];
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(reshape_to(a[0].clone(), &shape))
    })
}

pub fn transpose(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let rank = imp.shape_of(&x).len();
    let perm: Vec<usize> = match imp.attr_ints(node, "perm")? {
        Some(p) => p
            .iter()
            .map(|&a| axis(imp, node, a, rank))
            .collect::<Result<_>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if seen != (0..rank).collect::<Vec<_>>() {
        return Err(imp.node_err(
            node,
            format!("perm {perm:?} is not a permutation of 0..{rank}"),
        ));
    }
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(a[0]
            .clone()
            .permuted_axes(IxDyn(&perm))
            .as_standard_layout()
            .into_owned())
    })
}

/// Axes from the `axes` attribute (older opsets) or input 1 (newer ones).
fn axes_arg(imp: &Importer, node: &pb::NodeProto, input: usize) -> Result<Option<Vec<i64>>> {
    if let Some(a) = imp.attr_ints(node, "axes")? {
        return Ok(Some(a));
    }
    Ok(imp.optional_const(node, input)?.map(|t| ints(&t)))
}

pub fn squeeze(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let from = imp.shape_of(&x);
    let axes: Vec<usize> = match axes_arg(imp, node, 1)? {
        Some(a) => a
            .iter()
            .map(|&a| axis(imp, node, a, from.len()))
            .collect::<Result<_>>()?,
        None => (0..from.len()).filter(|&i| from[i] == 1).collect(),
    };
    if let Some(&bad) = axes.iter().find(|&&a| from[a] != 1) {
        return Err(imp.node_err(
            node,
            format!("cannot squeeze axis {bad} of size {}", from[bad]),
        ));
    }
    let shape: Vec<usize> = (0..from.len())
        .filter(|i| !axes.contains(i))
        .map(|i| from[i])
        .collect();
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(reshape_to(a[0].clone(), &shape))
    })
}

pub fn unsqueeze(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let from = imp.shape_of(&x);
    let axes = axes_arg(imp, node, 1)?.ok_or_else(|| imp.node_err(node, "has no axes"))?;
    let rank = from.len() + axes.len();
    let mut ax: Vec<usize> = axes
        .iter()
        .map(|&a| axis(imp, node, a, rank))
        .collect::<Result<_>>()?;
    ax.sort_unstable();
    let mut shape = from.clone();
    for a in ax {
        shape.insert(a, 1);
    }
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(reshape_to(a[0].clone(), &shape))
    })
}

pub fn concat(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let inputs: Vec<Val> = (0..node.input.len())
        .map(|i| imp.input(node, i))
        .collect::<Result<_>>()?;
    let rank = imp.shape_of(&inputs[0]).len();
    let ax = axis(imp, node, imp.attr_i(node, "axis", 0)?, rank)?;
    moved(imp, node, inputs, 0, |imp, arrays| {
        let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
        concatenate(Axis(ax), &views)
            .map_err(|e| imp.node_err(node, format!("shapes do not concatenate: {e}")))
    })
}

pub fn slice(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let (starts, ends, axes, steps) = if node.input.len() > 1 {
        (
            ints(&imp.const_input(node, 1)?),
            ints(&imp.const_input(node, 2)?),
            imp.optional_const(node, 3)?.map(|t| ints(&t)),
            imp.optional_const(node, 4)?.map(|t| ints(&t)),
        )
    } else {
        (
            imp.attr_ints(node, "starts")?.unwrap_or_default(),
            imp.attr_ints(node, "ends")?.unwrap_or_default(),
            imp.attr_ints(node, "axes")?,
            None,
        )
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(imp.node_err(node, "starts, ends, axes and steps differ in length"));
    }
    let mut picks: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
    for i in 0..starts.len() {
        let a = axis(imp, node, axes[i], shape.len())?;
        let d = shape[a] as i64;
        let step = steps[i];
        if step == 0 {
            return Err(imp.node_err(node, "a slice step is 0"));
        }
        let norm = |v: i64| if v < 0 { v + d } else { v };
        let (s, e) = (norm(starts[i]), norm(ends[i]));
        let mut idx = vec![];
        if step > 0 {
            let (s, e) = (s.clamp(0, d), e.clamp(0, d));
            let mut k = s;
            while k < e {
                idx.push(k as usize);
                k += step;
            }
        } else {
            let (s, e) = (s.clamp(0, d - 1), e.clamp(-1, d - 1));
            let mut k = s;
            while k > e {
                idx.push(k as usize);
                k += step;
            }
        }
        picks[a] = idx;
    }
    moved(imp, node, vec![x], 0, |_, a| {
        let mut y = a[0].clone();
        for (ax, idx) in picks.iter().enumerate() {
            y = y.select(Axis(ax), idx);
        }
        Ok(y)
    })
}

pub fn pad(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let rank = shape.len();
    let pads = match imp.attr_ints(node, "pads")? {
        Some(p) => p,
        None => ints(&imp.const_input(node, 1)?),
    };
    let value = match imp.optional_const(node, 2)? {
        Some(v) => v.iter().next().copied().unwrap_or(0.0),
        None => imp.attr_f(node, "value", 0.0)? as f64,
    };
    let axes: Vec<usize> = match imp.optional_const(node, 3)? {
        Some(a) => ints(&a)
            .iter()
            .map(|&a| axis(imp, node, a, rank))
            .collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(imp.node_err(
            node,
            format!("pads {pads:?} do not match {} axes", axes.len()),
        ));
    }
    let mode =
        String::from_utf8_lossy(&attr(node, "mode").map(|a| a.s.clone()).unwrap_or_default())
            .into_owned();
    let mode = if mode.is_empty() {
        "constant".to_string()
    } else {
        mode
    };
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    for (i, &a) in axes.iter().enumerate() {
        begin[a] = pads[i];
        end[a] = pads[i + axes.len()];
    }
    let mut out_shape = vec![];
    for a in 0..rank {
        let d = shape[a] as i64 + begin[a] + end[a];
        if d <= 0 {
            return Err(imp.node_err(node, "padding leaves an empty axis"));
        }
        out_shape.push(d as usize);
    }
    // Per axis, which input position each output position reads (None: the pad value).
    let mut maps: Vec<Vec<Option<usize>>> = vec![];
    for a in 0..rank {
        let d = shape[a] as i64;
        let mut m = vec![];
        for o in 0..out_shape[a] as i64 {
            let i = o - begin[a];
            m.push(match mode.as_str() {
                _ if (0..d).contains(&i) => Some(i as usize),
                "constant" => None,
                "edge" => Some(i.clamp(0, d - 1) as usize),
                "reflect" if d > 1 => {
                    let period = 2 * (d - 1);
                    let r = i.rem_euclid(period);
                    Some(if r < d { r } else { period - r } as usize)
                }
                "reflect" => Some(0),
                other => {
                    return Err(imp.node_err(
                        node,
                        format!("pad mode '{other}' is not supported (constant, edge, reflect)"),
                    ))
                }
            });
        }
        maps.push(m);
    }
    moved(imp, node, vec![x], 0, |_, a| {
        let src = &a[0];
        Ok(ArrayD::from_shape_fn(IxDyn(&out_shape), |idx| {
            let mut at = vec![0; rank];
            for ax in 0..rank {
                match maps[ax][idx[ax]] {
                    Some(i) => at[ax] = i,
                    None => return Src::Const(value),
                }
            }
            src[IxDyn(&at)]
        }))
    })
}

pub fn gather(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let indices = imp.const_input(node, 1)?;
    let ax = axis(imp, node, imp.attr_i(node, "axis", 0)?, shape.len())?;
    let d = shape[ax] as i64;
    let idx: Vec<usize> = indices
        .iter()
        .map(|&i| {
            let i = i as i64;
            let j = if i < 0 { i + d } else { i };
            if (0..d).contains(&j) {
                Ok(j as usize)
            } else {
                Err(imp.node_err(
                    node,
                    format!("index {i} is out of range for axis {ax} of size {d}"),
                ))
            }
        })
        .collect::<Result<_>>()?;
    let mut out_shape = shape[..ax].to_vec();
    out_shape.extend(indices.shape());
    out_shape.extend(&shape[ax + 1..]);
    moved(imp, node, vec![x], 0, |_, a| {
        let y = a[0].select(Axis(ax), &idx);
        Ok(reshape_to(y, &out_shape))
    })
}

pub fn expand(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let target: Vec<usize> = ints(&imp.const_input(node, 1)?)
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let out = broadcast_shape(&imp.shape_of(&x), &target).ok_or_else(|| {
        imp.node_err(
            node,
            format!(
                "shape {:?} does not broadcast to {target:?}",
                imp.shape_of(&x)
            ),
        )
    })?;
    moved(imp, node, vec![x], 0, |_, a| {
        let v = a[0]
            .broadcast(IxDyn(&out))
            .expect("checked broadcast")
            .to_owned();
        Ok(v)
    })
}

pub fn tile(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let reps = ints(&imp.const_input(node, 1)?);
    if reps.len() != shape.len() || reps.iter().any(|&r| r < 1) {
        return Err(imp.node_err(node, format!("repeats {reps:?} do not fit shape {shape:?}")));
    }
    let out: Vec<usize> = shape
        .iter()
        .zip(&reps)
        .map(|(&d, &r)| d * r as usize)
        .collect();
    moved(imp, node, vec![x], 0, |_, a| {
        Ok(ArrayD::from_shape_fn(IxDyn(&out), |idx| {
            let at: Vec<usize> = (0..shape.len()).map(|i| idx[i] % shape[i]).collect();
            a[0][IxDyn(&at)]
        }))
    })
}

pub fn split(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let ax = axis(imp, node, imp.attr_i(node, "axis", 0)?, shape.len())?;
    let n = node.output.len();
    let sizes: Vec<usize> = match imp.attr_ints(node, "split")? {
        Some(s) => s.iter().map(|&v| v as usize).collect(),
        None => match imp.optional_const(node, 1)? {
            Some(t) => ints(&t).iter().map(|&v| v as usize).collect(),
            None => {
                let chunk = shape[ax].div_ceil(n);
                (0..n)
                    .map(|i| chunk.min(shape[ax].saturating_sub(i * chunk)))
                    .collect()
            }
        },
    };
    if sizes.len() != n || sizes.iter().sum::<usize>() != shape[ax] {
        return Err(imp.node_err(
            node,
            format!(
                "split sizes {sizes:?} do not cover axis {ax} of size {}",
                shape[ax]
            ),
        ));
    }
    let mut start = 0;
    for (o, &len) in sizes.iter().enumerate() {
        let idx: Vec<usize> = (start..start + len).collect();
        start += len;
        if node.output[o].is_empty() {
            continue;
        }
        moved(imp, node, vec![x.clone()], o, |_, a| {
            Ok(a[0].select(Axis(ax), &idx))
        })?;
    }
    Ok(())
}

pub fn identity(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    imp.bind(node, 0, x)
}

/// Dropout at inference: the identity. Refused where the model asks for training mode (before
/// opset 7 `is_test=0`, the default; from 12 a `training_mode` input that is true or computed)
/// or reads the mask.
pub fn dropout(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    if imp.opset < 7 && imp.attr_i(node, "is_test", 0)? == 0 {
        return Err(imp.node_err(
            node,
            format!("at opset {} is_test=0 drops values at random (training mode); export in eval mode (is_test=1)", imp.opset),
        ));
    }
    if imp.opset >= 12 && node.input.get(2).is_some_and(|n| !n.is_empty()) {
        let on = match imp.input(node, 2)? {
            Val::Const(t) => t.iter().any(|&v| v != 0.0),
            Val::Dyn(_) => true,
        };
        if on {
            return Err(imp.node_err(
                node,
                "training_mode is true or computed: dropout at random is not supported",
            ));
        }
    }
    if node.output.get(1).is_some_and(|o| !o.is_empty()) {
        return Err(imp.node_err(node, "the dropout mask (second output) is not supported"));
    }
    identity(imp, node)
}

/// Float and double casts keep values; integer casts of constants truncate; an integer cast of
/// a computed value would change it, so it is refused.
pub fn cast(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let to = imp.attr_i(node, "to", 1)?;
    const FLOATS: [i64; 3] = [1, 10, 11]; // float, float16, double
    match x {
        _ if FLOATS.contains(&to) => imp.bind(node, 0, x),
        Val::Const(c) if to == 9 => imp.bind(node, 0, Val::Const(c.mapv(|v| (v != 0.0) as i32 as f64))),
        Val::Const(c) => imp.bind(node, 0, Val::Const(c.mapv(f64::trunc))),
        Val::Dyn(_) => Err(imp.node_err(node, format!("casts computed values to ONNX type {to}, which would round them; only casts between float types are proven"))),
    }
}

pub fn shape(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape_of(&x);
    let r = s.len() as i64;
    let norm = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = norm(imp.attr_i(node, "start", 0)?);
    let end = norm(imp.attr_i(node, "end", r)?);
    let dims: Vec<f64> = s[start..end.max(start)].iter().map(|&d| d as f64).collect();
    let n = dims.len();
    imp.bind(
        node,
        0,
        Val::Const(ArrayD::from_shape_vec(IxDyn(&[n]), dims).expect("1-D")),
    )
}

pub fn constant(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let scalar = |v: f64| ArrayD::from_elem(IxDyn(&[]), v);
    let list = |v: Vec<f64>| {
        let n = v.len();
        ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("1-D")
    };
    let t = if let Some(t) = attr(node, "value").and_then(|a| a.t.as_ref()) {
        tensor(t).map_err(|r| imp.node_err(node, r))?
    } else if let Some(a) = attr(node, "value_float") {
        scalar(a.f as f64)
    } else if let Some(a) = attr(node, "value_floats") {
        list(a.floats.iter().map(|&x| x as f64).collect())
    } else if let Some(a) = attr(node, "value_int") {
        scalar(a.i as f64)
    } else if let Some(a) = attr(node, "value_ints") {
        list(a.ints.iter().map(|&x| x as f64).collect())
    } else {
        return Err(imp.node_err(
            node,
            "has no supported value attribute (value, value_float(s), value_int(s))",
        ));
    };
    imp.bind(node, 0, Val::Const(t))
}

pub fn constant_of_shape(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let dims: Vec<usize> = ints(&imp.const_input(node, 0)?)
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let v = match attr(node, "value").and_then(|a| a.t.as_ref()) {
        Some(t) => tensor(t)
            .map_err(|r| imp.node_err(node, r))?
            .iter()
            .next()
            .copied()
            .unwrap_or(0.0),
        None => 0.0,
    };
    imp.bind(node, 0, Val::Const(ArrayD::from_elem(IxDyn(&dims), v)))
}
