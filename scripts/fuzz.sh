#!/usr/bin/env bash
# Fuzzes the config parsers and the OSTree object parsers: `scripts/fuzz.sh [SECONDS] [TARGET...]` (default 600 s each,
# all targets). Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain
# RUSTC_BOOTSTRAP=1 enables the sanitizer flags it uses. Seeds come from examples/ and,
# when present, the reference corpora in ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(butane_yaml butane_translate ignition_json ostree_objects)
shared=../shared/conformance
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    mkdir -p "$corpus"
    case $target in
        butane_*) cp examples/*.bu "$corpus/" ; [ -d "$shared/butane" ] && cp "$shared"/butane/*.bu "$corpus/" ;;
        ignition_json) [ -d "$shared/butane" ] && cp "$shared"/butane/*.expected.json "$corpus/" ;;
    esac
    echo "== fuzzing $target for $seconds s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=8192 2>&1 | tail -n 3
done
