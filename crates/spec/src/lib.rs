//! Ignition configs: the types of spec 3.0.0 to 3.7.0-experimental, parsing with
//! Ignition's rules, validation with Ignition's messages, the keyed merge used by
//! `ignition.config.merge` and by Butane's sugar, and Go-compatible JSON output.
//!
//! All versions share the types of the newest spec ([`Config`]); a field's first version
//! is part of its [`ferro_document::Shape`], so an older config is parsed by gating keys
//! and "translating it up" is the identity. The one section an older spec typed
//! differently, 3.0.0's `ignition`, is read and written with the types of [`v3_0`].

#![deny(missing_docs)]

// Lets `ignition_type!` name this crate the same way inside and outside it.
extern crate self as ferro_spec;

mod emit;
mod shape_macro;
mod types;
mod version;

pub use emit::{to_go_json, write_go_json};
pub use ferro_document::{go_text, invalid_byte, invalid_byte_value};
pub use shape_macro::{HasShape, Nullable, Omit};
pub use types::*;
pub use version::{Version, VersionError, is_semver};

pub mod data_url;
pub mod merge;
pub mod parse;
pub mod v3_0;
pub mod validate;

pub use data_url::DataUrl;
/// The document layer the types are described in, for users of [`ignition_type!`].
pub use ferro_document as document;
pub use merge::{Merged, Side, Transcript};
