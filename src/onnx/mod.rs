//! ONNX import: reads the protobuf (through tract-onnx's parser) into [`crate::graph::Graph`],
//! and runs the float model with tract as the reference. The only module that names tract.

mod ops;
mod proto;
mod reference;

pub use reference::FloatModel;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tract_onnx::pb;
use tract_onnx::prelude::Framework;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

use crate::graph::{Graph, Node, Op, Src, ValueId, ValueInfo};

/// Default-domain opsets zkinfer reads: 6 (the oldest exporters still in use, and most of
/// ONNX's own backend test models) to 28, the newest the pinned `onnx` package (1.23) defines.
/// Each op is read with its semantics at the model's opset (the legacy `broadcast`/`axis`
/// attributes before 7, BatchNormalization's `is_test` and `spatial`, Dropout's `is_test`,
/// attributes that later became inputs, Softmax's axis rule before 13); an op whose semantics
/// at that opset zkinfer does not implement is refused by name. Versions 22 to 28 of the ops
/// zkinfer reads only add element types.
pub const OPSETS: std::ops::RangeInclusive<i64> = 6..=28;
/// `ai.onnx.ml` opsets zkinfer reads.
pub const ML_OPSETS: std::ops::RangeInclusive<i64> = 1..=5;

/// Errors while importing an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read ONNX model {path}: {source}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not an ONNX protobuf.
    #[error("{path} is not an ONNX model ({reason}); export the model to ONNX (e.g. torch.onnx.export, skl2onnx, tf2onnx)")]
    NotOnnx {
        /// The model file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The model uses ops zkinfer cannot prove yet.
    #[error("{path}: unsupported ONNX op(s): {}. Supported: {}", .ops.join(", "), ops::supported().join(", "))]
    Unsupported {
        /// The model file.
        path: PathBuf,
        /// Each as `OpType (node 'name')`.
        ops: Vec<String>,
    },
    /// A node is malformed or uses an unsupported form of a supported op.
    #[error("{path}: node '{node}' ({op}): {reason}")]
    Node {
        /// The model file.
        path: PathBuf,
        /// Node name.
        node: String,
        /// Op type.
        op: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A graph-level problem (inputs, outputs, initializers).
    #[error("{path}: {reason}")]
    Graph {
        /// The model file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// tract failed to load or run the float model.
    #[error("tract could not run {path} as a float reference: {reason}")]
    Tract {
        /// The model file.
        path: PathBuf,
        /// tract's message.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value during import: a constant known at import time, or a dynamic graph value.
#[derive(Clone, Debug)]
enum Val {
    Const(ArrayD<f64>),
    Dyn(ValueId),
}

/// Import state handed to the op converters.
struct Importer {
    path: PathBuf,
    /// Version of the default-domain opset.
    opset: i64,
    names: HashMap<String, Val>,
    graph: Graph,
}

impl Importer {
    fn node_err(&self, node: &pb::NodeProto, reason: impl Into<String>) -> Error {
        Error::Node {
            path: self.path.clone(),
            node: node_name(node),
            op: node.op_type.clone(),
            reason: reason.into(),
        }
    }

    /// An integer attribute (declared INT), or `default` when absent.
    fn attr_i(&self, node: &pb::NodeProto, name: &str, default: i64) -> Result<i64> {
        let v = node.get_attr_opt::<i64>(name);
        Ok(v.map_err(|e| self.node_err(node, e.to_string()))?
            .unwrap_or(default))
    }

    /// A float attribute (declared FLOAT), or `default` when absent.
    fn attr_f(&self, node: &pb::NodeProto, name: &str, default: f32) -> Result<f32> {
        let v = node.get_attr_opt::<f32>(name);
        Ok(v.map_err(|e| self.node_err(node, e.to_string()))?
            .unwrap_or(default))
    }

    /// A string attribute (declared STRING), empty when absent.
    fn attr_s(&self, node: &pb::NodeProto, name: &str) -> Result<String> {
        let v = node.get_attr_opt::<String>(name);
        Ok(v.map_err(|e| self.node_err(node, e.to_string()))?
            .unwrap_or_default())
    }

    /// An integer-list attribute (declared INTS), if present.
    fn attr_ints(&self, node: &pb::NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
        let v = node.get_attr_opt_slice::<i64>(name);
        Ok(v.map_err(|e| self.node_err(node, e.to_string()))?
            .map(<[i64]>::to_vec))
    }

    /// A float-list attribute (declared FLOATS), empty when absent.
    fn attr_floats(&self, node: &pb::NodeProto, name: &str) -> Result<Vec<f64>> {
        let v = node.get_attr_opt_slice::<f32>(name);
        let v = v.map_err(|e| self.node_err(node, e.to_string()))?;
        Ok(v.map_or(vec![], |v| v.iter().map(|&x| f64::from(x)).collect()))
    }

    fn input(&self, node: &pb::NodeProto, i: usize) -> Result<Val> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.node_err(node, format!("input {i} is missing")))?;
        self.names.get(name).cloned().ok_or_else(|| {
            self.node_err(
                node,
                format!("input '{name}' is defined by no initializer, graph input or earlier node (a missing initializer?)"),
            )
        })
    }

    fn optional_input(&self, node: &pb::NodeProto, i: usize) -> Result<Option<Val>> {
        match node.input.get(i) {
            Some(n) if !n.is_empty() => self.input(node, i).map(Some),
            _ => Ok(None),
        }
    }

    fn dyn_input(&self, node: &pb::NodeProto, i: usize) -> Result<ValueId> {
        match self.input(node, i)? {
            Val::Dyn(v) => Ok(v),
            Val::Const(_) => Err(self.node_err(
                node,
                format!("input {i} is a constant; zkinfer expects the model's data here"),
            )),
        }
    }

    fn const_input(&self, node: &pb::NodeProto, i: usize) -> Result<ArrayD<f64>> {
        match self.input(node, i)? {
            Val::Const(t) => Ok(t),
            Val::Dyn(_) => Err(self.node_err(
                node,
                format!("input {i} must be a constant (an initializer), it is computed from the model input"),
            )),
        }
    }

    fn optional_const(&self, node: &pb::NodeProto, i: usize) -> Result<Option<ArrayD<f64>>> {
        match node.input.get(i) {
            Some(n) if !n.is_empty() => self.const_input(node, i).map(Some),
            _ => Ok(None),
        }
    }

    fn shape_of(&self, v: &Val) -> Vec<usize> {
        match v {
            Val::Const(a) => a.shape().to_vec(),
            Val::Dyn(v) => self.graph.values[*v].shape.clone(),
        }
    }

    fn output_name<'a>(&self, node: &'a pb::NodeProto, i: usize) -> Result<&'a str> {
        node.output
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.node_err(node, format!("has no output {i}")))
    }

    /// Adds a node computing a fresh value; returns its id.
    fn add_node(
        &mut self,
        node: &pb::NodeProto,
        value: &str,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> Result<ValueId> {
        if shape.iter().product::<usize>() == 0 {
            return Err(self.node_err(
                node,
                format!("value '{value}' has a 0-sized shape {shape:?}"),
            ));
        }
        let output = self.graph.values.len();
        self.graph.values.push(ValueInfo {
            name: value.to_string(),
            shape,
        });
        self.graph.nodes.push(Node {
            name: node_name(node),
            op,
            inputs,
            output,
        });
        Ok(output)
    }

    /// Adds a node defining output `i` of `node`.
    fn push_out(
        &mut self,
        node: &pb::NodeProto,
        i: usize,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> Result<()> {
        let name = self.output_name(node, i)?.to_string();
        let v = self.add_node(node, &name, op, inputs, shape)?;
        self.names.insert(name, Val::Dyn(v));
        Ok(())
    }

    /// Adds a node defining the (first) output of `node`.
    fn push(
        &mut self,
        node: &pb::NodeProto,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> Result<()> {
        self.push_out(node, 0, op, inputs, shape)
    }

    /// Binds output `i` of `node` to an existing value.
    fn bind(&mut self, node: &pb::NodeProto, i: usize, v: Val) -> Result<()> {
        let name = self.output_name(node, i)?.to_string();
        self.names.insert(name, v);
        Ok(())
    }

    /// Binds output `i` of `node` to a data-movement result: a constant if no element comes from
    /// a dynamic value, else a Gather node.
    fn bind_moved(
        &mut self,
        node: &pb::NodeProto,
        i: usize,
        inputs: &[Val],
        out: ArrayD<Src>,
    ) -> Result<()> {
        if out.iter().all(|s| matches!(s, Src::Const(_))) {
            let c = out.mapv(|s| match s {
                Src::Const(c) => c,
                Src::In { .. } => 0.0,
            });
            return self.bind(node, i, Val::Const(c));
        }
        let mut used: Vec<ValueId> = vec![];
        let mut slot: BTreeMap<u32, u32> = BTreeMap::new();
        let src: Vec<Src> = out
            .iter()
            .map(|s| match *s {
                Src::In { input, index } => {
                    let k = *slot.entry(input).or_insert_with(|| {
                        let Val::Dyn(v) = inputs[input as usize] else {
                            unreachable!("constants are Src::Const")
                        };
                        used.push(v);
                        (used.len() - 1) as u32
                    });
                    Src::In { input: k, index }
                }
                c => c,
            })
            .collect();
        let shape = out.shape().to_vec();
        self.push_out(node, i, Op::Gather(src), used, shape)
    }
}

/// A node's name for messages: its name, else its first output.
fn node_name(node: &pb::NodeProto) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else {
        node.output
            .first()
            .cloned()
            .unwrap_or_else(|| node.op_type.clone())
    }
}

/// Every element of `v` as a [`Src`]: constants by value, dynamic values by `(input k, index)`.
fn sources(imp: &Importer, k: usize, v: &Val) -> ArrayD<Src> {
    match v {
        Val::Const(a) => a.mapv(Src::Const),
        Val::Dyn(id) => {
            let shape = imp.graph.values[*id].shape.clone();
            let n = shape.iter().product::<usize>();
            let data = (0..n)
                .map(|i| Src::In {
                    input: k as u32,
                    index: i as u32,
                })
                .collect();
            ArrayD::from_shape_vec(IxDyn(&shape), data).expect("shape matches length")
        }
    }
}

/// Options of the import.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Values for symbolic dimensions, by name (`--dim NAME=VALUE`).
    pub dims: BTreeMap<String, usize>,
}

fn check_opsets(path: &Path, model: &pb::ModelProto) -> Result<()> {
    for o in &model.opset_import {
        let (range, dom) = match o.domain.as_str() {
            "" | "ai.onnx" => (&OPSETS, "ai.onnx"),
            "ai.onnx.ml" => (&ML_OPSETS, "ai.onnx.ml"),
            _ => continue,
        };
        if !range.contains(&o.version) {
            return Err(Error::Graph {
                path: path.to_path_buf(),
                reason: format!(
                    "opset {dom} version {} is not supported (zkinfer reads {}..={}); re-export with a supported opset",
                    o.version,
                    range.start(),
                    range.end()
                ),
            });
        }
    }
    Ok(())
}

/// Reads an ONNX model into the IR. Every unsupported op of the model is listed at once.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let model = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| Error::NotOnnx {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
    check_opsets(path, &model)?;
    let graph = model
        .graph
        .as_ref()
        .filter(|g| !g.node.is_empty() || !g.output.is_empty())
        .ok_or_else(|| Error::NotOnnx {
            path: path.to_path_buf(),
            reason: "it holds no graph".into(),
        })?;

    let unsupported: Vec<String> = graph
        .node
        .iter()
        .filter(|n| ops::converter(n).is_none())
        .map(|n| {
            let dom = if n.domain.is_empty() {
                String::new()
            } else {
                format!("{}.", n.domain)
            };
            format!("{dom}{} (node '{}')", n.op_type, node_name(n))
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            ops: unsupported,
        });
    }

    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(*OPSETS.end(), |o| o.version);
    let mut imp = Importer {
        path: path.to_path_buf(),
        opset,
        names: HashMap::new(),
        graph: Graph {
            values: vec![],
            inputs: vec![],
            nodes: vec![],
            outputs: vec![],
        },
    };
    for init in &graph.initializer {
        let t = proto::tensor(init).map_err(|reason| Error::Graph {
            path: path.to_path_buf(),
            reason: format!("initializer '{}': {reason}", init.name),
        })?;
        imp.names.insert(init.name.clone(), Val::Const(t));
    }
    let mut used_dims = std::collections::BTreeSet::new();
    for input in &graph.input {
        if imp.names.contains_key(&input.name) {
            continue; // an initializer listed as an input (older exporters)
        }
        let shape = proto::value_shape(input, &opts.dims, &mut used_dims).map_err(|reason| {
            Error::Graph {
                path: path.to_path_buf(),
                reason: format!("graph input '{}': {reason}", input.name),
            }
        })?;
        let v = imp.graph.values.len();
        imp.graph.values.push(ValueInfo {
            name: input.name.clone(),
            shape,
        });
        imp.graph.inputs.push(v);
        imp.names.insert(input.name.clone(), Val::Dyn(v));
    }
    if let Some(unknown) = opts.dims.keys().find(|d| !used_dims.contains(*d)) {
        return Err(Error::Graph {
            path: path.to_path_buf(),
            reason: format!("--dim {unknown}=...: the model's inputs have no symbolic dimension named '{unknown}'"),
        });
    }
    if imp.graph.inputs.is_empty() {
        return Err(Error::Graph {
            path: path.to_path_buf(),
            reason: "the model has no (non-constant) input".into(),
        });
    }
    for node in &graph.node {
        let convert = ops::converter(node).expect("checked above");
        convert(&mut imp, node)?;
    }
    for out in &graph.output {
        match imp.names.get(&out.name) {
            Some(Val::Dyn(v)) => {
                if !imp.graph.inputs.contains(v) && !imp.graph.outputs.contains(v) {
                    imp.graph.values[*v].name = out.name.clone();
                }
                imp.graph.outputs.push(*v)
            }
            Some(Val::Const(_)) => {
                return Err(Error::Graph {
                    path: path.to_path_buf(),
                    reason: format!(
                        "output '{}' is a constant: it does not depend on the input",
                        out.name
                    ),
                })
            }
            None => {
                return Err(Error::Graph {
                    path: path.to_path_buf(),
                    reason: format!("output '{}' is produced by no node", out.name),
                })
            }
        }
    }
    // An output that is directly a model input (or repeated) still gets its own proven copy.
    let mut g = imp.graph;
    for k in 0..g.outputs.len() {
        let v = g.outputs[k];
        if g.inputs.contains(&v) || g.outputs[..k].contains(&v) {
            let n = g.numel(v);
            let info = g.values[v].clone();
            let id = g.values.len();
            g.values.push(info.clone());
            g.nodes.push(Node {
                name: info.name,
                op: Op::Gather(
                    (0..n as u32)
                        .map(|index| Src::In { input: 0, index })
                        .collect(),
                ),
                inputs: vec![v],
                output: id,
            });
            g.outputs[k] = id;
        }
    }
    Ok(g)
}
