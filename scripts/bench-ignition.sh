#!/usr/bin/env bash
# Applies a large generated Ignition config (spec 3.3.0: 10,000 files of a few KB as data:
# URLs in 100 directories, 100 units) to a fresh root with `ferro ignition run` (stages
# fetch then files) and prints wall time and peak memory. When Debian's Ignition 2.14 is
# installed (and we are root) it runs the same two stages on its own fresh root in the same
# run, the ratio ferro/ignition is printed and both trees must hold the same number of files.
set -euo pipefail
cd "$(dirname "$0")/.."
oracle=/usr/lib/dracut/modules.d/30ignition/ignition
work=$(mktemp -d)
cleanup() {
    for mounted in "$work"/*/root; do mountpoint -q "$mounted" && umount "$mounted"; done
    rm -rf "$work"
}
trap cleanup EXIT
python3 - "$work/config.ign" <<'PY'
import base64, json, random, string, sys, urllib.parse
random.seed(7)
words = ["".join(random.choices(string.ascii_lowercase, k=random.randint(3, 9))) for _ in range(2000)]
files = []
for i in range(10_000):
    size = random.randint(500, 6000)
    text = " ".join(random.choices(words, k=size // 4))[:size] + "\n"
    if i % 2:
        source = "data:;base64," + base64.b64encode(text.encode()).decode()
    else:
        source = "data:," + urllib.parse.quote(text, safe="")
    files.append({"path": f"/var/lib/bench/{i // 100}/file-{i}.txt",
                  "contents": {"source": source}, "mode": 0o644 if i % 3 else 0o600})
units = [{"name": f"bench-{i}.service", "enabled": True,
          "contents": f"[Unit]\nDescription=Bench {i}\n[Service]\nExecStart=/usr/bin/true\n"
                      "[Install]\nWantedBy=multi-user.target\n"} for i in range(100)]
config = {"ignition": {"version": "3.3.0"}, "storage": {"files": files}, "systemd": {"units": units}}
with open(sys.argv[1], "w") as out:
    json.dump(config, out, separators=(",", ":"))
PY
echo "input: $(du -h "$work/config.ign" | cut -f1) Ignition JSON, 10000 files, 100 units"
cargo build --release --quiet --bin ferro
ferro="${CARGO_TARGET_DIR:-target}/release/ferro"
# Ignition 2.14 relabels after the files stage: a no-op setfiles and an SELinux config.
mkdir -p "$work/bin" "$work/empty"
printf '#!/bin/sh\ncat >/dev/null\n' >"$work/bin/setfiles"
chmod +x "$work/bin/setfiles"
: >"$work/cmdline"
# As root, each tool gets a freshly made ext4 filesystem as its root, as at first boot.
# A directory on a shared filesystem would make the runs unequal: ext4 without a journal
# skips inodes freed in the last 30 s when allocating, so whichever tool runs after a
# large deletion (the previous run's cleanup) pays for scanning past them.
prepare() { # name: a fresh work dir with a root
    mkdir -p "$work/$1/root" "$work/$1/run"
    if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
        truncate -s 2G "$work/$1.img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work/$1.img"
        mount -o loop "$work/$1.img" "$work/$1/root"
    fi
    mkdir -p "$work/$1/root/etc/selinux"
    echo SELINUXTYPE=stub >"$work/$1/root/etc/selinux/config"
}
failed() { # name
    echo "$1 failed:" >&2
    tail -20 "$work/$1.log" >&2
    exit 1
}
measure() { # name, command...
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M" -o "$work/$name.rss" "$@" >"$work/$name.log" 2>&1 || failed "$name"
    else
        "$@" >"$work/$name.log" 2>&1 || failed "$name"
        echo "?" >"$work/$name.rss"
    fi
    end=$(date +%s.%N)
    python3 -c "print($end - $start)" >"$work/$name.wall"
    printf '%-8s wall %6.2f s   peak RSS %s KiB   files in root %s\n' "$name" "$(cat "$work/$name.wall")" \
        "$(cat "$work/$name.rss")" "$(find "$work/$name/root" -type f -not -path '*/lost+found/*' | wc -l)"
}
stages() { # binary-kind, work dir: fetch then files
    local kind=$1 dir=$2 flags
    if [ "$kind" = ferro ]; then
        flags=(--platform file --root "$dir/root" --config-cache "$dir/run/ignition.json"
            --state-file "$dir/run/state" --neednet "$dir/run/neednet" --log-to-stdout)
        for stage in fetch files; do "$ferro" ignition run --stage "$stage" "${flags[@]}"; done
    else
        flags=(-platform file -root "$dir/root" -config-cache "$dir/run/ignition.json"
            -state-file "$dir/run/state" -neednet "$dir/run/neednet" -log-to-stdout)
        for stage in fetch files; do "$oracle" -stage "$stage" "${flags[@]}"; done
    fi
}
export -f stages
export ferro oracle
export IGNITION_CONFIG_FILE="$work/config.ign" IGNITION_KERNEL_CMDLINE_PATH="$work/cmdline"
export IGNITION_SYSTEM_CONFIG_DIR="$work/empty" IGNITION_SYSTEM_LOCAL_CONFIG_DIR="$work/empty"
export IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="$work/empty" PATH="$work/bin:$PATH"
prepare ferro
measure ferro bash -c 'stages ferro "$0"' "$work/ferro"
if [ -x "$oracle" ] && [ "$(id -u)" = 0 ]; then
    prepare ignition
    measure ignition bash -c 'stages ignition "$0"' "$work/ignition"
    python3 -c "print(f'ferro/ignition wall-time ratio: {float(open(\"$work/ferro.wall\").read())/float(open(\"$work/ignition.wall\").read()):.2f}')"
    if [ "$(cat "$work/ferro.rss")" != "?" ]; then
        python3 -c "print(f'ferro/ignition peak-RSS ratio: {int(open(\"$work/ferro.rss\").read())/int(open(\"$work/ignition.rss\").read()):.2f}')"
    fi
    a=$(find "$work/ferro/root" -type f | wc -l)
    b=$(find "$work/ignition/root" -type f | wc -l)
    if [ "$a" != "$b" ]; then
        echo "file counts differ: ferro $a, ignition $b" >&2
        exit 1
    fi
    echo "both roots hold $a files"
else
    echo "Debian's ignition not installed at $oracle or not root: no ratio"
fi
