//! Shapes: what a config type accepts, as data.
//!
//! Each Ignition type describes itself once as a [`StructShape`]; the same description
//! serves JSON decoding (camelCase keys), Butane decoding (snake_case keys), spec-version
//! gating of fields, and the JSON Schema that editors use.

/// What a value must look like.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A string.
    Str,
    /// A list of values of one shape.
    List(fn() -> Shape),
    /// A map with free-form keys and values of one shape (e.g. labels).
    Map(fn() -> Shape),
    /// A map with a fixed set of keys.
    Struct(&'static StructShape),
}

/// The keys a map-shaped type accepts.
#[derive(Debug)]
pub struct StructShape {
    /// The type's name, used to attach dialect-specific fields and in messages.
    pub name: &'static str,
    /// The accepted keys, in output order.
    pub fields: &'static [Field],
}

/// One accepted key of a [`StructShape`].
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key in Ignition JSON (camelCase).
    pub json: &'static str,
    /// The key in Butane YAML (snake_case).
    pub yaml: &'static str,
    /// The first spec level (Ignition 3.N minor version) that accepts this key.
    pub since: u32,
    /// The shape of the value.
    pub shape: fn() -> Shape,
    /// The shape an older spec gave the value, where it had a type of its own there
    /// (Ignition 3.0.0's `ignition` section, whose references are not resources).
    pub earlier: Option<Earlier>,
    /// One line saying what the key is for, shown by editors.
    pub doc: &'static str,
}

/// The type an older spec had for a key (see [`Field::earlier`]).
#[derive(Debug, Clone, Copy)]
pub struct Earlier {
    /// The first spec level of [`Field::shape`]; the levels below it have this shape.
    pub until: u32,
    /// The shape of the value before [`Earlier::until`].
    pub shape: fn() -> Shape,
}

impl Field {
    /// The shape of the value at spec level `level`.
    pub fn shape_at(&self, level: u32) -> Shape {
        match self.earlier {
            Some(earlier) if level < earlier.until => (earlier.shape)(),
            _ => (self.shape)(),
        }
    }
}

impl StructShape {
    /// The field whose JSON key is `json`.
    pub fn field(&self, json: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.json == json)
    }
}
