//! Decoding of ONNX protobuf pieces: tensors, shapes, attributes.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT16: i32 = 5;
const BOOL: i32 = 9;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// Decodes a constant tensor into f64 values.
pub fn tensor(t: &pb::TensorProto) -> Result<ArrayD<f64>, String> {
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        return Err("weights stored in an external data file are not supported; re-export with the weights embedded".into());
    }
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    let n: usize = shape.iter().product();
    let raw = &t.raw_data;
    let data: Vec<f64> = match t.data_type {
        FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        FLOAT => t.float_data.iter().map(|&x| x as f64).collect(),
        DOUBLE if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")))
            .collect(),
        DOUBLE => t.double_data.clone(),
        INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")) as f64)
            .collect(),
        INT64 => t.int64_data.iter().map(|&x| x as f64).collect(),
        INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        INT32 | INT16 | INT8 | UINT8 | BOOL if raw.is_empty() => {
            t.int32_data.iter().map(|&x| x as f64).collect()
        }
        INT8 => raw.iter().map(|&b| b as i8 as f64).collect(),
        UINT8 | BOOL => raw.iter().map(|&b| b as f64).collect(),
        INT16 => raw
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
            .collect(),
        other => {
            return Err(format!(
                "data type {other} is not supported (use float32, float64, int32 or int64)"
            ))
        }
    };
    if data.len() != n {
        return Err(format!(
            "holds {} values but its shape {shape:?} needs {n}",
            data.len()
        ));
    }
    if let Some(x) = data.iter().find(|x| !x.is_finite()) {
        return Err(format!("holds a non-finite value ({x})"));
    }
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| e.to_string())
}

/// Static shape of a graph input. A symbolic dimension takes its value from `dims` (recorded in
/// `used`); a symbolic first (batch) dimension defaults to 1; any other is an error.
pub fn value_shape(
    v: &pb::ValueInfoProto,
    dims: &BTreeMap<String, usize>,
    used: &mut BTreeSet<String>,
) -> Result<Vec<usize>, String> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as T;
    let Some(T::TensorType(tt)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err("has no tensor type".into());
    };
    if tt.elem_type != FLOAT && tt.elem_type != DOUBLE {
        return Err(format!(
            "element type {} is not float; zkinfer proves float models",
            tt.elem_type
        ));
    }
    let shape = tt
        .shape
        .as_ref()
        .ok_or("has no shape; re-export with a static input shape")?;
    let dims = shape
        .dim
        .iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(D::DimValue(x)) if *x > 0 => Ok(*x as usize),
            Some(D::DimValue(x)) => Err(format!("has dimension {x}")),
            Some(D::DimParam(p)) if dims.contains_key(p) => {
                used.insert(p.clone());
                Ok(dims[p])
            }
            Some(D::DimParam(_)) | None if i == 0 => Ok(1),
            Some(D::DimParam(p)) => Err(format!(
                "dimension {i} is symbolic ('{p}'); give it a value with --dim {p}=N"
            )),
            None => Err(format!(
                "dimension {i} has no size; re-export with a static shape"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if dims.iter().product::<usize>() == 0 {
        return Err("is 0-sized".into());
    }
    Ok(dims)
}

/// Looks up an attribute by name.
pub fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An integer attribute with a default.
pub fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

/// An integer-list attribute, if present.
pub fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

/// A float-list attribute (empty if absent).
pub fn attr_floats(node: &pb::NodeProto, name: &str) -> Vec<f64> {
    attr(node, name).map_or(vec![], |a| a.floats.iter().map(|&x| x as f64).collect())
}

/// A string attribute (empty if absent).
pub fn attr_s(node: &pb::NodeProto, name: &str) -> String {
    attr(node, name).map_or(String::new(), |a| {
        String::from_utf8_lossy(&a.s).into_owned()
    })
}

/// A float attribute with a default.
pub fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}
