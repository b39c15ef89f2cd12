//! The declared inputs and outputs of an ONNX file, read from its protobuf
//! without building the graph.

use std::path::Path;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as Type;
use tract_onnx::prelude::Framework;

use crate::bundle::BundleError;

/// One declared graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// Tensor name.
    pub name: String,
    /// ONNX element type code (1 is float32).
    pub elem_type: i32,
    /// Dimensions; `None` for a symbolic or missing one.
    pub shape: Vec<Option<i64>>,
}

/// The graph's inputs (initializers excluded) and outputs, in graph order.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Graph inputs.
    pub inputs: Vec<Port>,
    /// Graph outputs.
    pub outputs: Vec<Port>,
}

/// Decodes an ONNX file's protobuf and lists its interface.
pub fn read(bytes: &[u8]) -> Result<Interface, String> {
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| format!("{e:#}"))?;
    let graph = proto.graph.ok_or("the model has no graph")?;
    let init: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let port = |v: &tract_onnx::pb::ValueInfoProto| {
        let (elem_type, shape) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(Type::TensorType(t)) => (
                t.elem_type,
                t.shape
                    .as_ref()
                    .map(|s| {
                        s.dim
                            .iter()
                            .map(|d| match d.value {
                                Some(Dim::DimValue(v)) => Some(v),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => (0, Vec::new()),
        };
        Port {
            name: v.name.clone(),
            elem_type,
            shape,
        }
    };
    Ok(Interface {
        inputs: graph
            .input
            .iter()
            .filter(|v| !init.contains(v.name.as_str()))
            .map(port)
            .collect(),
        outputs: graph.output.iter().map(port).collect(),
    })
}

/// Checks that `ports` holds a float32 tensor `name` of exactly `shape`,
/// where `None` is a symbolic dimension.
pub fn expect(
    path: &Path,
    ports: &[Port],
    name: &str,
    shape: &[Option<usize>],
) -> Result<(), BundleError> {
    let err = |expected: String, found: String| BundleError::Shape {
        path: path.to_path_buf(),
        what: format!("ONNX tensor `{name}`"),
        expected,
        found,
    };
    let show = |dims: &mut dyn Iterator<Item = Option<String>>| {
        dims.map(|d| d.unwrap_or_else(|| "symbolic".to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let want = format!(
        "float32 [{}]",
        show(&mut shape.iter().map(|d| d.map(|v| v.to_string())))
    );
    let Some(p) = ports.iter().find(|p| p.name == name) else {
        let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
        return Err(err(
            want,
            format!("no such tensor (the graph has {names:?})"),
        ));
    };
    let same = p.elem_type == DataType::Float as i32
        && p.shape.len() == shape.len()
        && p.shape
            .iter()
            .zip(shape)
            .all(|(d, s)| *d == s.map(|v| v as i64));
    if !same {
        let dims = show(&mut p.shape.iter().map(|d| d.map(|v| v.to_string())));
        let ty = if p.elem_type == DataType::Float as i32 {
            "float32".to_string()
        } else {
            format!("element type {}", p.elem_type)
        };
        return Err(err(want, format!("{ty} [{dims}]")));
    }
    Ok(())
}
