//! Convolutions and pools over any number of spatial axes (`[N, C, *spatial]` layout).

use tract_onnx::pb;

use super::super::{Importer, Result, Val};
use super::{multi_indices, strides};
use crate::graph::{Affine, Groups, Op, Term};

/// Window geometry along the spatial axes.
struct Geom {
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dil: Vec<usize>,
    pad_begin: Vec<usize>,
    out: Vec<usize>,
}

fn geometry(
    imp: &Importer,
    node: &pb::NodeProto,
    input: &[usize],
    kernel: Vec<usize>,
    ceil_mode: bool,
) -> Result<Geom> {
    let r = input.len();
    let get = |name: &str| -> Result<Vec<usize>> {
        Ok(imp.attr_ints(node, name)?.map_or(vec![1; r], |v| {
            v.iter().map(|&x| x.max(0) as usize).collect()
        }))
    };
    let (stride, dil) = (get("strides")?, get("dilations")?);
    if stride.len() != r
        || dil.len() != r
        || kernel.len() != r
        || stride.contains(&0)
        || dil.contains(&0)
    {
        return Err(imp.node_err(node, format!("kernel {kernel:?}, strides {stride:?} or dilations {dil:?} do not fit {r} spatial axes")));
    }
    let auto = imp.attr_s(node, "auto_pad")?;
    let span: Vec<usize> = (0..r).map(|i| (kernel[i] - 1) * dil[i] + 1).collect();
    let (pad_begin, pad_end): (Vec<usize>, Vec<usize>) = match auto.as_str() {
        "" | "NOTSET" => {
            let p = imp
                .attr_ints(node, "pads")?
                .unwrap_or_else(|| vec![0; 2 * r]);
            if p.len() != 2 * r || p.iter().any(|&v| v < 0) {
                return Err(imp.node_err(node, format!("pads {p:?} do not fit {r} spatial axes")));
            }
            (
                p[..r].iter().map(|&v| v as usize).collect(),
                p[r..].iter().map(|&v| v as usize).collect(),
            )
        }
        "VALID" => (vec![0; r], vec![0; r]),
        "SAME_UPPER" | "SAME_LOWER" => (0..r)
            .map(|i| {
                let out = input[i].div_ceil(stride[i]);
                let total = ((out - 1) * stride[i] + span[i]).saturating_sub(input[i]);
                let small = total / 2;
                if auto == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            })
            .unzip(),
        other => return Err(imp.node_err(node, format!("auto_pad '{other}' is unknown"))),
    };
    let mut out = vec![];
    for i in 0..r {
        let padded = input[i] + pad_begin[i] + pad_end[i];
        if padded < span[i] {
            return Err(imp.node_err(
                node,
                format!(
                    "the window ({} wide) is larger than spatial axis {i} ({padded} with padding)",
                    span[i]
                ),
            ));
        }
        let room = padded - span[i];
        let mut o = if ceil_mode {
            room.div_ceil(stride[i]) + 1
        } else {
            room / stride[i] + 1
        };
        if ceil_mode && (o - 1) * stride[i] >= input[i] + pad_begin[i] {
            o -= 1;
        }
        out.push(o);
    }
    Ok(Geom {
        kernel,
        stride,
        dil,
        pad_begin,
        out,
    })
}

impl Geom {
    /// The in-bounds input positions of the window at output position `o`, with kernel positions.
    fn window(&self, o: &[usize], input: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
        multi_indices(&self.kernel)
            .into_iter()
            .filter_map(|k| {
                let mut pos = vec![];
                for i in 0..o.len() {
                    let p = (o[i] * self.stride[i] + k[i] * self.dil[i]) as i64
                        - self.pad_begin[i] as i64;
                    if p < 0 || p >= input[i] as i64 {
                        return None;
                    }
                    pos.push(p as usize);
                }
                Some((pos, k))
            })
            .collect()
    }
}

fn flat(shape_strides: &[usize], idx: &[usize]) -> usize {
    idx.iter().zip(shape_strides).map(|(a, b)| a * b).sum()
}

fn nc(imp: &Importer, node: &pb::NodeProto, x: usize) -> Result<Vec<usize>> {
    let s = imp.graph.values[x].shape.clone();
    if s.len() < 3 {
        return Err(imp.node_err(
            node,
            format!("input must be [N, C, spatial...], it has shape {s:?}"),
        ));
    }
    Ok(s)
}

/// The optional bias (input 2) of a convolution with `m` output channels.
fn bias(imp: &Importer, node: &pb::NodeProto, m: usize) -> Result<Vec<f64>> {
    match imp.optional_const(node, 2)? {
        Some(b) if b.len() == m => Ok(b.iter().copied().collect()),
        Some(b) => Err(imp.node_err(node, format!("bias has {} values, expected {m}", b.len()))),
        None => Ok(vec![0.0; m]),
    }
}

pub fn conv(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let xs = nc(imp, node, x)?;
    let w = imp.const_input(node, 1)?;
    let ws = w.shape().to_vec();
    let g = imp.attr_i(node, "group", 1)?.max(1) as usize;
    let (n, c, sp) = (xs[0], xs[1], xs[2..].to_vec());
    if ws.len() != xs.len() || c % g != 0 || ws[1] * g != c || ws[0] % g != 0 {
        return Err(imp.node_err(
            node,
            format!("weights {ws:?} do not fit input {xs:?} with {g} groups"),
        ));
    }
    let m = ws[0];
    let bias = bias(imp, node, m)?;
    let geo = geometry(imp, node, &sp, ws[2..].to_vec(), false)?;
    let (xst, wst) = (strides(&xs), strides(&ws));
    let wv: Vec<f64> = w.iter().copied().collect();
    let (cg, mg) = (c / g, m / g);
    let outs = multi_indices(&geo.out);
    let mut af = Affine::new();
    for b in 0..n {
        #[allow(clippy::needless_range_loop)]
        // oc indexes the output channel, the bias and the weights
        for oc in 0..m {
            let grp = oc / mg;
            for o in &outs {
                let mut terms = vec![];
                for (pos, k) in geo.window(o, &sp) {
                    for ic in 0..cg {
                        let mut xi = vec![b, grp * cg + ic];
                        xi.extend(&pos);
                        let mut wi = vec![oc, ic];
                        wi.extend(&k);
                        let wt = wv[flat(&wst, &wi)];
                        if wt != 0.0 {
                            terms.push(Term {
                                input: 0,
                                index: flat(&xst, &xi) as u32,
                                weight: wt,
                            });
                        }
                    }
                }
                af.push_row(terms, bias[oc]);
            }
        }
    }
    let mut shape = vec![n, m];
    shape.extend(&geo.out);
    imp.push(node, Op::Affine(af), vec![x], shape)
}

pub fn conv_transpose(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let xs = nc(imp, node, x)?;
    let w = imp.const_input(node, 1)?;
    let ws = w.shape().to_vec();
    let g = imp.attr_i(node, "group", 1)?.max(1) as usize;
    let (n, c, sp) = (xs[0], xs[1], xs[2..].to_vec());
    let r = sp.len();
    if ws.len() != xs.len() || ws[0] != c || c % g != 0 {
        return Err(imp.node_err(
            node,
            format!("weights {ws:?} do not fit input {xs:?} with {g} groups"),
        ));
    }
    let (cg, mg) = (c / g, ws[1]);
    let m = mg * g;
    let kernel = ws[2..].to_vec();
    let get = |name: &str, d: usize| -> Result<Vec<usize>> {
        Ok(imp.attr_ints(node, name)?.map_or(vec![d; r], |v| {
            v.iter().map(|&x| x.max(0) as usize).collect()
        }))
    };
    let (stride, dil, opad) = (
        get("strides", 1)?,
        get("dilations", 1)?,
        get("output_padding", 0)?,
    );
    if stride.len() != r || dil.len() != r || opad.len() != r {
        return Err(imp.node_err(
            node,
            "strides, dilations or output_padding do not fit the spatial axes",
        ));
    }
    let full: Vec<usize> = (0..r)
        .map(|i| stride[i] * (sp[i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1)
        .collect();
    let auto = imp.attr_s(node, "auto_pad")?;
    let (pb, out): (Vec<usize>, Vec<usize>) =
        if let Some(os) = imp.attr_ints(node, "output_shape")? {
            let os: Vec<usize> = os.iter().rev().take(r).rev().map(|&v| v as usize).collect();
            (0..r)
                .map(|i| {
                    let total = full[i].saturating_sub(os[i]);
                    let begin = if auto == "SAME_UPPER" {
                        total / 2
                    } else {
                        total - total / 2
                    };
                    (begin, os[i])
                })
                .unzip()
        } else {
            match auto.as_str() {
                "" | "NOTSET" | "VALID" => {
                    let p = imp
                        .attr_ints(node, "pads")?
                        .unwrap_or_else(|| vec![0; 2 * r]);
                    if p.len() != 2 * r {
                        return Err(
                            imp.node_err(node, format!("pads {p:?} do not fit {r} spatial axes"))
                        );
                    }
                    (0..r)
                        .map(|i| {
                            (
                                p[i] as usize,
                                full[i].saturating_sub((p[i] + p[i + r]) as usize),
                            )
                        })
                        .unzip()
                }
                _ => (0..r)
                    .map(|i| {
                        let o = sp[i] * stride[i];
                        let total = full[i].saturating_sub(o);
                        let begin = if auto == "SAME_UPPER" {
                            total / 2
                        } else {
                            total - total / 2
                        };
                        (begin, o)
                    })
                    .unzip(),
            }
        };
    if out.contains(&0) {
        return Err(imp.node_err(node, "the output would be empty"));
    }
    let bias = bias(imp, node, m)?;
    let mut oshape = vec![n, m];
    oshape.extend(&out);
    let (xst, wst, ost) = (strides(&xs), strides(&ws), strides(&oshape));
    let wv: Vec<f64> = w.iter().copied().collect();
    let total: usize = oshape.iter().product();
    let mut rows: Vec<Vec<Term>> = vec![vec![]; total];
    let ins = multi_indices(&sp);
    let ks = multi_indices(&kernel);
    for b in 0..n {
        for ic in 0..c {
            let grp = ic / cg;
            for p in &ins {
                let mut xi = vec![b, ic];
                xi.extend(p);
                let xf = flat(&xst, &xi) as u32;
                for k in &ks {
                    let mut opos = vec![];
                    for i in 0..r {
                        let v = (p[i] * stride[i] + k[i] * dil[i]) as i64 - pb[i] as i64;
                        if v < 0 || v >= out[i] as i64 {
                            break;
                        }
                        opos.push(v as usize);
                    }
                    if opos.len() != r {
                        continue;
                    }
                    for om in 0..mg {
                        let mut wi = vec![ic, om];
                        wi.extend(k);
                        let wt = wv[flat(&wst, &wi)];
                        if wt == 0.0 {
                            continue;
                        }
                        let mut oi = vec![b, grp * mg + om];
                        oi.extend(&opos);
                        rows[flat(&ost, &oi)].push(Term {
                            input: 0,
                            index: xf,
                            weight: wt,
                        });
                    }
                }
            }
        }
    }
    let mut af = Affine::new();
    let per_channel: usize = out.iter().product();
    for (o, t) in rows.into_iter().enumerate() {
        af.push_row(t, bias[(o / per_channel) % m]);
    }
    imp.push(node, Op::Affine(af), vec![x], oshape)
}

/// For each output of a pool, the flat input indices of its window, and the window size.
fn pool_windows(
    imp: &Importer,
    node: &pb::NodeProto,
    xs: &[usize],
    kernel: Vec<usize>,
) -> Result<(Vec<usize>, Vec<Vec<usize>>, usize)> {
    let ceil = imp.attr_i(node, "ceil_mode", 0)? != 0;
    let sp = xs[2..].to_vec();
    let geo = geometry(imp, node, &sp, kernel, ceil)?;
    let xst = strides(xs);
    let outs = multi_indices(&geo.out);
    let mut groups = vec![];
    for b in 0..xs[0] {
        for ch in 0..xs[1] {
            for o in &outs {
                let g: Vec<usize> = geo
                    .window(o, &sp)
                    .into_iter()
                    .map(|(pos, _)| {
                        let mut xi = vec![b, ch];
                        xi.extend(pos);
                        flat(&xst, &xi)
                    })
                    .collect();
                if g.is_empty() {
                    return Err(imp.node_err(node, "a pooling window lies entirely in the padding"));
                }
                groups.push(g);
            }
        }
    }
    let mut shape = vec![xs[0], xs[1]];
    shape.extend(&geo.out);
    Ok((shape, groups, geo.kernel.iter().product()))
}

fn kernel_shape(imp: &Importer, node: &pb::NodeProto) -> Result<Vec<usize>> {
    imp.attr_ints(node, "kernel_shape")?
        .map(|v| v.iter().map(|&x| x.max(1) as usize).collect())
        .ok_or_else(|| imp.node_err(node, "has no kernel_shape"))
}

pub fn max_pool(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    if node.output.get(1).is_some_and(|o| !o.is_empty()) {
        return Err(imp.node_err(node, "the Indices output of MaxPool is not supported"));
    }
    let x = imp.dyn_input(node, 0)?;
    let xs = nc(imp, node, x)?;
    let k = kernel_shape(imp, node)?;
    let (shape, groups, _) = pool_windows(imp, node, &xs, k)?;
    imp.push(node, Op::Max(Groups::from_lists(groups)), vec![x], shape)
}

pub fn average_pool(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let xs = nc(imp, node, x)?;
    let k = kernel_shape(imp, node)?;
    let include_pad = imp.attr_i(node, "count_include_pad", 0)? != 0;
    let (shape, groups, ksize) = pool_windows(imp, node, &xs, k)?;
    let af = Affine::group_sums(&groups, |n| {
        1.0 / if include_pad { ksize } else { n } as f64
    });
    imp.push(node, Op::Affine(af), vec![x], shape)
}

/// Groups of all spatial positions per (batch, channel).
fn global_groups(xs: &[usize]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let inner: usize = xs[2..].iter().product();
    let groups = (0..xs[0] * xs[1])
        .map(|g| (g * inner..(g + 1) * inner).collect())
        .collect();
    let mut shape = vec![xs[0], xs[1]];
    shape.extend(std::iter::repeat_n(1, xs.len() - 2));
    (shape, groups)
}

pub fn global_average_pool(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = match imp.input(node, 0)? {
        Val::Dyn(x) => x,
        Val::Const(_) => return Err(imp.node_err(node, "pools a constant")),
    };
    let xs = nc(imp, node, x)?;
    let (shape, groups) = global_groups(&xs);
    let af = Affine::group_sums(&groups, |n| 1.0 / n as f64);
    imp.push(node, Op::Affine(af), vec![x], shape)
}

pub fn global_max_pool(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let xs = nc(imp, node, x)?;
    let (shape, groups) = global_groups(&xs);
    imp.push(node, Op::Max(Groups::from_lists(groups)), vec![x], shape)
}
