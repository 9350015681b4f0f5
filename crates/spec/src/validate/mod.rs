//! Validation with Ignition messages (being written).
