//! Butane: a YAML config with conveniences ("sugar") that compiles to Ignition JSON.

#![deny(missing_docs)]

pub mod yaml;
