#!/usr/bin/env bash
# Runs every check of the project: formatting, lints, and all tests, and ends with one
# summary line ("N passed, M failed") over all test binaries. Every test binary runs
# even when an earlier one fails (--no-fail-fast), so one failure hides no other.
# Tests that compare against reference data read ../shared and skip when it is absent;
# so do OSTree's upstream scripts (scripts/ostree-upstream.sh), which run last.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
# OSTree's own upstream scripts that pass with ferro (skipped, with the reason, when
# this machine cannot run them); their "N passed, M failed, K skipped" line joins the
# totals.
scripts/ostree-upstream.sh 2>&1 | tee -a "$log"
upstream=$(tail -1 "$log")
case "$upstream" in *" failed,"*) [ "$(echo "$upstream" | awk '{print $3}')" = 0 ] || status=1 ;; esac
awk -v up="$upstream" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { split(up, u, /[ ,]+/); printf "%d passed, %d failed, %d skipped\n", p + u[1], f + u[3], s + u[5] }' "$log"
exit "$status"
