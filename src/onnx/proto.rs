//! Decoding of ONNX protobuf pieces: tensors, shapes, attributes.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

use pb::tensor_proto::{DataLocation, DataType};

/// Decodes a constant tensor into f64 values.
pub fn tensor(t: &pb::TensorProto) -> Result<ArrayD<f64>, String> {
    if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
        return Err("weights stored in an external data file are not supported; re-export with the weights embedded".into());
    }
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    let n: usize = shape.iter().product();
    let raw = &t.raw_data;
    let dt = DataType::try_from(t.data_type)
        .map_err(|_| format!("data type {} is not an ONNX data type", t.data_type))?;
    let data: Vec<f64> = match dt {
        DataType::Float if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DataType::Float => t.float_data.iter().map(|&x| x as f64).collect(),
        DataType::Double if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")))
            .collect(),
        DataType::Double => t.double_data.clone(),
        DataType::Int64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")) as f64)
            .collect(),
        DataType::Int64 => t.int64_data.iter().map(|&x| x as f64).collect(),
        DataType::Int32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::Uint8 | DataType::Bool
            if raw.is_empty() =>
        {
            t.int32_data.iter().map(|&x| x as f64).collect()
        }
        DataType::Int8 => raw.iter().map(|&b| b as i8 as f64).collect(),
        DataType::Uint8 | DataType::Bool => raw.iter().map(|&b| b as f64).collect(),
        DataType::Int16 => raw
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
            .collect(),
        other => {
            return Err(format!(
                "data type {} is not supported (use float32, float64, int32 or int64)",
                other.as_str_name()
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
    if tt.elem_type != DataType::Float as i32 && tt.elem_type != DataType::Double as i32 {
        return Err(format!(
            "element type {} is not float; zkinfer proves float models",
            DataType::try_from(tt.elem_type).map_or("unknown", |d| d.as_str_name())
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

/// Looks up an attribute by name, whatever its type (for tensor and string-list attributes,
/// read by field); typed attributes go through the importer's `attr_*`, which check the
/// declared type.
pub fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}
