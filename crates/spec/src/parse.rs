//! Parsing Ignition JSON (being written).
