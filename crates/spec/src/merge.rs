//! Ignition keyed merge (being written).
