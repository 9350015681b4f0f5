#!/usr/bin/env bash
# Builds ferro and runs the main job on the bundled examples: every Butane config in
# examples/ is transpiled to Ignition JSON and checked with `ferro ignition validate`, then
# the plan of applying hello.ign to a scratch root is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo is needed: apt-get install cargo (or rustup)" >&2; exit 1; }
cargo build --release --quiet --bin ferro
ferro=${CARGO_TARGET_DIR:-target}/release/ferro
out=target/examples
mkdir -p "$out"
for config in examples/*.bu; do
    name=$(basename "$config" .bu)
    "$ferro" butane --strict --pretty --files-dir examples/files --output "$out/$name.ign" "$config"
    "$ferro" ignition validate "$out/$name.ign"
    echo "== $config -> $out/$name.ign (valid)"
    cat "$out/$name.ign"
done
# The first-boot step on a scratch directory: what Ignition would do with hello.ign.
mkdir -p "$out/root"
echo "== ferro ignition apply --dry-run $out/hello.ign (target: $out/root)"
"$ferro" ignition apply --offline --dry-run --root "$out/root" "$out/hello.ign"
