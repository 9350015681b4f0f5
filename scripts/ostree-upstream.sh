#!/usr/bin/env bash
# Runs OSTree's own upstream shell tests (Debian's ostree-tests, v2022.7) that pass with
# `ferro ostree` in place of `ostree` (the list in scripts/ostree-upstream-passing.txt),
# so that a regression in what scripts see is caught. Each script runs in the shared
# sandboxing runner (../shared/tools/ostree-upstream-suite.sh: private mount and pid
# namespaces, `/` read-only but the script's directory) with a short TIMEOUT, so one
# that hangs costs little. Skips, saying why, without root, ostree-tests or the runner.
# The last line is "N passed, M failed, K skipped" (scripts), which scripts/test.sh adds
# to its totals.
#
#   scripts/ostree-upstream.sh [path/to/ferro]   (default: the debug build)
set -uo pipefail
cd "$(dirname "$0")/.."
list=scripts/ostree-upstream-passing.txt
runner=${OSTREE_UPSTREAM_RUNNER:-../shared/tools/ostree-upstream-suite.sh}
n=$(grep -cv '^#' "$list")
skip() { echo "ostree-upstream: skipped: $1"; echo "0 passed, 0 failed, $n skipped"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (the runner's mount namespaces)"
[ -d /usr/libexec/installed-tests/libostree ] || skip "ostree-tests is not installed (scripts/install-deps.sh installs it)"
[ -x "$runner" ] || skip "no runner at $runner"
ferro=${1:-${CARGO_TARGET_DIR:-target}/debug/ferro}
[ -x "$ferro" ] || cargo build -q -p ferro --bin ferro
out=$(mktemp -d)
trap 'chattr -R -i "$out" 2>/dev/null; rm -rf "$out"' EXIT
start=$(date +%s)
mapfile -t tests < <(grep -v '^#' "$list")
OUT="$out" FERRO="$ferro" TIMEOUT=${TIMEOUT:-60} "$runner" "${tests[@]}" | tee "$out/summary" | grep -v ': PASS' || true
echo "ostree-upstream: ${#tests[@]} scripts in $(( $(date +%s) - start ))s; logs of failures were in $out/logs"
tail -1 "$out/summary"
