//! JSON Schema of a dialect, for editors: the YAML language server reads it to offer
//! completion, hover docs and lint-as-you-type for hand-written configs.

use serde_json::{Map, Value, json};

use crate::{Normalizer, Shape};

/// The JSON Schema (draft-07) of values of `shape` as written in `dialect`.
pub fn json_schema(shape: Shape, dialect: &Normalizer) -> Value {
    match shape {
        Shape::Bool => json!({"type": "boolean"}),
        Shape::Int => json!({"type": "integer"}),
        Shape::Str => json!({"type": "string"}),
        Shape::List(item) => json!({"type": "array", "items": json_schema(item(), dialect)}),
        Shape::Map(item) => json!({
            "type": "object",
            "additionalProperties": json_schema(item(), dialect),
        }),
        Shape::Struct(structure) => {
            let mut properties = Map::new();
            for field in dialect.accepted_fields(structure) {
                let mut schema = json_schema(field.shape_at(dialect.level), dialect);
                if !field.doc.is_empty() {
                    schema["description"] = Value::String(field.doc.to_owned());
                }
                properties.insert(dialect.key_of(field).to_owned(), schema);
            }
            json!({
                "type": "object",
                "properties": properties,
                "additionalProperties": false,
            })
        }
    }
}
