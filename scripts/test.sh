#!/usr/bin/env bash
# Runs every check of the project: formatting, lints, and all tests.
# Tests that compare against reference data read ../shared and skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
