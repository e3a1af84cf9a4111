//! ONNX import: reads the protobuf (through tract-onnx's parser) into [`crate::graph::Graph`],
//! and runs the float model with tract as the reference. The only module that names tract.

mod ops;
mod proto;
mod reference;

pub use reference::FloatModel;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use crate::graph::{Graph, Node, Op, Tensor, ValueId, ValueInfo};

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
    #[error("{path}: unsupported ONNX op(s): {}. Supported: {}", .ops.join(", "), ops::SUPPORTED.join(", "))]
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
    Const(Tensor),
    Dyn(ValueId),
}

/// Import state handed to the op converters.
struct Importer {
    path: PathBuf,
    names: HashMap<String, Val>,
    graph: Graph,
}

impl Importer {
    fn node_err(&self, node: &pb::NodeProto, reason: impl Into<String>) -> Error {
        Error::Node {
            path: self.path.clone(),
            node: node.name.clone(),
            op: node.op_type.clone(),
            reason: reason.into(),
        }
    }

    fn input(&self, node: &pb::NodeProto, i: usize) -> Result<&Val> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.node_err(node, format!("input {i} is missing")))?;
        self.names.get(name).ok_or_else(|| {
            self.node_err(
                node,
                format!("input '{name}' is defined by no initializer, graph input or earlier node"),
            )
        })
    }

    fn optional_input(&self, node: &pb::NodeProto, i: usize) -> Result<Option<&Val>> {
        match node.input.get(i) {
            Some(n) if !n.is_empty() => self.input(node, i).map(Some),
            _ => Ok(None),
        }
    }

    fn dyn_input(&self, node: &pb::NodeProto, i: usize) -> Result<ValueId> {
        match self.input(node, i)? {
            Val::Dyn(v) => Ok(*v),
            Val::Const(_) => Err(self.node_err(
                node,
                format!("input {i} is a constant; zkinfer expects the model's data here"),
            )),
        }
    }

    fn const_input(&self, node: &pb::NodeProto, i: usize) -> Result<&Tensor> {
        match self.input(node, i)? {
            Val::Const(t) => Ok(t),
            Val::Dyn(_) => Err(self.node_err(
                node,
                format!("input {i} must be a constant (an initializer), it is computed from the model input"),
            )),
        }
    }

    fn output_name<'a>(&self, node: &'a pb::NodeProto) -> Result<&'a str> {
        node.output
            .first()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.node_err(node, "has no output"))
    }

    /// Adds a dynamic node with the given output shape.
    fn push(
        &mut self,
        node: &pb::NodeProto,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> Result<()> {
        let name = self.output_name(node)?.to_string();
        if Tensor::numel(&shape) == 0 {
            return Err(self.node_err(
                node,
                format!("output '{name}' has a 0-sized shape {shape:?}"),
            ));
        }
        let output = self.graph.values.len();
        self.graph.values.push(ValueInfo {
            name: name.clone(),
            shape,
        });
        let node_name = if node.name.is_empty() {
            name.clone()
        } else {
            node.name.clone()
        };
        self.graph.nodes.push(Node {
            name: node_name,
            op,
            inputs,
            output,
        });
        self.names.insert(name, Val::Dyn(output));
        Ok(())
    }

    fn shape(&self, v: ValueId) -> &[usize] {
        &self.graph.values[v].shape
    }
}

/// Reads an ONNX model into the IR. Every unsupported op of the model is listed at once.
pub fn load(path: &Path) -> Result<Graph> {
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
            format!("{dom}{} (node '{}')", n.op_type, n.name)
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            ops: unsupported,
        });
    }

    let mut imp = Importer {
        path: path.to_path_buf(),
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
    for input in &graph.input {
        if imp.names.contains_key(&input.name) {
            continue; // an initializer listed as an input (older exporters)
        }
        let shape = proto::value_shape(input).map_err(|reason| Error::Graph {
            path: path.to_path_buf(),
            reason: format!("graph input '{}': {reason}", input.name),
        })?;
        let v = imp.graph.values.len();
        imp.graph.values.push(ValueInfo {
            name: input.name.clone(),
            shape,
        });
        imp.graph.inputs.push(v);
        imp.names.insert(input.name.clone(), Val::Dyn(v));
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
            Some(Val::Dyn(v)) => imp.graph.outputs.push(*v),
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
    Ok(imp.graph)
}
