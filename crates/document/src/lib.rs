//! Positioned config documents.
//!
//! Ignition configs (JSON) and Butane configs (YAML) are both trees of maps, lists and
//! scalars that a user wrote by hand. Every message ferrocore gives about such a tree must
//! name the place it is about: a [`Path`] like `$.storage.files.0.mode` and, where the tree
//! came from text, the line and column of that place.
//!
//! The parsers of the front ends produce a [`Node`] tree that remembers a [`Mark`] for
//! every value and every key. A [`Shape`] describes what a config type accepts; the
//! [`normalize`] walk checks a tree against a shape and turns it into plain JSON with
//! canonical key names, collecting [`Report`] entries (unknown keys, wrong types) and a
//! [`SourceMap`] from canonical paths back to the places the user wrote. The [`yaml`]
//! parser builds such trees from YAML text with Go's `yaml.v3` semantics.

#![deny(missing_docs)]

mod go_text;
pub mod json;
pub mod json_schema;
mod node;
pub mod normalize;
mod path;
pub mod report;
mod shape;
mod source_map;
pub mod yaml;

pub use go_text::{go_text, invalid_byte, invalid_byte_value};
pub use node::{Entry, Mark, Node, Value};
pub use normalize::{KeyMatching, Normalized, Normalizer, normalize};
pub use path::{Path, Segment};
pub use report::{Kind, Report};
pub use shape::{Earlier, Field, Shape, StructShape};
pub use source_map::{Origin, SourceMap, camel_to_snake};
