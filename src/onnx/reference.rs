//! The float reference: the original ONNX model run by tract.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{Error, Result};

/// An ONNX model loaded by tract for float inference.
pub struct FloatModel {
    path: PathBuf,
    plan: Arc<TypedRunnableModel>,
    shapes: Vec<Vec<usize>>,
}

impl FloatModel {
    /// Loads the model with the given static input shapes.
    pub fn load(path: &Path, input_shapes: &[Vec<usize>]) -> Result<Self> {
        let err = |e: TractError| Error::Tract {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        let proto = tract_onnx::onnx().proto_model_for_path(path).map_err(err)?;
        if proto
            .graph
            .iter()
            .flat_map(|g| &g.node)
            .any(|n| n.domain == "ai.onnx.ml")
        {
            return Err(Error::Tract {
                path: path.to_path_buf(),
                reason: "ai.onnx.ml ops: tract does not run all of them, nor label them as onnxruntime does".into(),
            });
        }
        let mut model = tract_onnx::onnx().model_for_path(path).map_err(err)?;
        for (i, s) in input_shapes.iter().enumerate() {
            model = model.with_input_fact(i, f32::fact(s).into()).map_err(err)?;
        }
        let plan = model
            .into_optimized()
            .map_err(err)?
            .into_runnable()
            .map_err(err)?;
        Ok(Self {
            path: path.to_path_buf(),
            plan,
            shapes: input_shapes.to_vec(),
        })
    }

    /// Runs one inference on flattened inputs; returns flattened outputs.
    pub fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        let err = |e: TractError| Error::Tract {
            path: self.path.clone(),
            reason: format!("{e:#}"),
        };
        let tensors = inputs
            .iter()
            .zip(&self.shapes)
            .map(|(data, shape)| {
                let v: Vec<f32> = data.iter().map(|&x| x as f32).collect();
                tract_ndarray::ArrayD::from_shape_vec(shape.clone(), v)
                    .map(|a| Tensor::from(a).into_tvalue())
                    .map_err(|e| err(e.into()))
            })
            .collect::<Result<TVec<_>>>()?;
        let outs = self.plan.run(tensors).map_err(err)?;
        outs.iter()
            .map(|t| {
                let t = t.cast_to::<f32>().map_err(err)?;
                Ok(t.to_plain_array_view::<f32>()
                    .map_err(err)?
                    .iter()
                    .map(|&x| x as f64)
                    .collect())
            })
            .collect()
    }
}
