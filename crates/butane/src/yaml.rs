//! YAML parsing with positions (being written).
