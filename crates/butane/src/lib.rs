//! Butane: a YAML config with conveniences ("sugar") that compiles to Ignition JSON.
//!
//! [`translate`] takes the text of a Butane config and returns the Ignition config with
//! every report entry positioned in the YAML (path, line and column). Behaviour, messages
//! and output bytes follow Butane v0.29.0, so configs and scripts written for it keep
//! working; `docs/compatibility.md` lists the deliberate differences.

#![deny(missing_docs)]

mod checks;
mod files_dir;
mod filters;
pub mod profile;
mod reverse;
pub mod schema;
mod translate;
mod yaml_out;

pub use reverse::{ReverseError, from_ignition, to_butane};
pub use schema::json_schema;
pub use translate::{
    Error, Failure, Merged, MultiFailure, Options, Translation, translate, translate_many,
    translate_owned,
};
