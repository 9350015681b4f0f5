#!/usr/bin/env bash
# Transpiles a large generated Butane config (10,000 files with 50 MB of inline content,
# 1,000 units) and prints wall time and peak memory. When the reference Butane is present
# (../shared/oracles/butane-v0.29.0, or `butane` on PATH) it runs on the same input in the
# same run; the time and memory ratios are printed and the outputs compared byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/large.bu" <<'PY'
import random, string, sys
random.seed(7)
words = ["".join(random.choices(string.ascii_lowercase, k=random.randint(3, 9))) for _ in range(2000)]
with open(sys.argv[1], "w") as out:
    out.write("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n")
    for i in range(10_000):
        text = " ".join(random.choices(words, k=900))[:5000]
        out.write(f"    - path: /var/lib/bench/{i // 100}/file-{i}.txt\n      mode: 0644\n")
        out.write(f"      contents:\n        inline: \"{text}\"\n")
    out.write("systemd:\n  units:\n")
    for i in range(1_000):
        out.write(f"    - name: bench-{i}.service\n      enabled: true\n      contents: |\n")
        out.write(f"        [Unit]\n        Description=Bench {i}\n        [Service]\n        ExecStart=/usr/bin/true\n")
        out.write("        [Install]\n        WantedBy=multi-user.target\n")
PY
echo "input: $(du -h "$work/large.bu" | cut -f1) Butane YAML"
cargo build --release --quiet --bin ferro
measure() { # name, command...
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" >"$work/$name.out"
    else
        "$@" >"$work/$name.out"; echo "?" >"$work/$name.rss"
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l >"$work/$name.wall" 2>/dev/null || python3 -c "print($end - $start)" >"$work/$name.wall"
    printf '%-8s wall %6.2f s   peak RSS %s KiB   output %s bytes\n' "$name" "$(cat "$work/$name.wall")" "$(cat "$work/$name.rss")" "$(wc -c <"$work/$name.out")"
}
measure ferro "${CARGO_TARGET_DIR:-target}/release/ferro" butane "$work/large.bu"
# Validation of the produced Ignition config, against Debian's ignition-validate (2.14 reads
# specs up to 3.3.0, so the same config is labelled 3.3.0; its fields all exist there).
sed 's/"version":"3.5.0"/"version":"3.3.0"/' "$work/ferro.out" >"$work/large.ign"
measure validate "${CARGO_TARGET_DIR:-target}/release/ferro" ignition validate "$work/large.ign"
if command -v ignition-validate >/dev/null; then
    measure oracle ignition-validate "$work/large.ign"
    python3 -c "print(f'ferro/ignition-validate wall-time ratio: {float(open(\"$work/validate.wall\").read())/float(open(\"$work/oracle.wall\").read()):.2f}')"
fi
# The reference Butane: the oracle binary of ../shared/oracles when present, else `butane`
# on PATH.
reference=../shared/oracles/butane-v0.29.0
[ -x "$reference" ] || reference=$(command -v butane || true)
if [ -n "$reference" ]; then
    measure butane "$reference" "$work/large.bu"
    python3 -c "print(f'ferro/butane wall-time ratio: {float(open(\"$work/ferro.wall\").read())/float(open(\"$work/butane.wall\").read()):.2f}')"
    python3 -c "print(f'ferro/butane peak-memory ratio: {int(open(\"$work/ferro.rss\").read())/int(open(\"$work/butane.rss\").read()):.2f}')" 2>/dev/null || true
    cmp -s "$work/ferro.out" "$work/butane.out" && echo "outputs identical" || echo "outputs DIFFER"
else
    echo "reference butane absent (../shared/oracles/butane-v0.29.0, PATH): no ratio"
fi
