#!/usr/bin/env bash
# Deploying a new commit of /usr size: `ferro ostree admin deploy` vs `ostree admin
# deploy` on identical sysroots, in one run. Each deploy is the whole operation users
# wait for: hardlink checkout, /etc merge (with a local change to carry over), kernel
# copy and boot entries, the swap, and the cleanup/prune that follows.
#
#   scripts/bench-sysroot.sh [SOURCE_DIR]     (default /usr/share; /usr works too)
#
# Two rounds with alternating order (ostree first, then ferro first) so that neither
# tool always profits from a cache the other warmed; prints each time and the ratio
# of the totals. Needs root (deployments get the immutable attribute), `ostree` and
# a release build (made here unless FERRO names a binary, e.g. for a quick smoke run).
set -euo pipefail

SRC=${1:-/usr/share}
cd "$(dirname "$0")/.."
if [ -z "${FERRO:-}" ]; then
    cargo build --release -q -p ferro
    FERRO=$PWD/target/release/ferro
fi
command -v ostree >/dev/null || { echo "ostree is not installed" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/bench-sysroot.XXXXXX)
trap 'chattr -R -f -i "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== tree: $SRC ($(du -sh "$SRC" 2>/dev/null | cut -f1), $(find "$SRC" -type f | wc -l) files)"
TREE=$WORK/tree
mkdir -p "$TREE/usr/lib/modules/6.1.0" "$TREE/usr/etc/ssh"
cp -a "$SRC" "$TREE/usr/payload"
head -c 8M /dev/urandom >"$TREE/usr/lib/modules/6.1.0/vmlinuz"
head -c 16M /dev/urandom >"$TREE/usr/lib/modules/6.1.0/initramfs.img"
printf 'NAME=Bench\nID=bench\nPRETTY_NAME="Bench OS"\n' >"$TREE/usr/lib/os-release"
for i in $(seq 1 200); do echo "setting $i" >"$TREE/usr/etc/file$i.conf"; done
echo "Port 22" >"$TREE/usr/etc/ssh/sshd_config"

# One sysroot made by ostree with a first deployment and a local /etc change, then
# three more commits; the ferro sysroot is an exact copy.
A=$WORK/ostree-sysroot
B=$WORK/ferro-sysroot
mkdir -p "$A"
ostree admin init-fs "$A" >/dev/null
ostree admin --sysroot="$A" os-init bench >/dev/null
commit() { ostree --repo="$A/ostree/repo" commit -b bench/v --tree=dir="$TREE" -s "$1" --add-metadata-string=version="$1" >/dev/null; }
commit 1
ostree admin --sysroot="$A" deploy --os=bench --karg=root=LABEL=root --karg=rw bench/v >/dev/null
DEPLOY=$(ls -d "$A"/ostree/deploy/bench/deploy/*.0)
echo "Port 2222" >"$DEPLOY/etc/ssh/sshd_config"
echo local >"$DEPLOY/etc/local.conf"
for v in 2 3; do
    echo "$v" >"$TREE/usr/etc/release"
    echo "kernel $v" >>"$TREE/usr/lib/modules/6.1.0/vmlinuz"
    commit "$v"
    ostree --repo="$A/ostree/repo" rev-parse bench/v >"$WORK/commit$v"
done
cp -a "$A" "$B"
sync

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
run_ostree() { seconds ostree admin --sysroot="$A" deploy --os=bench "$(cat "$WORK/commit$1")"; }
run_ferro() { seconds "$FERRO" ostree admin --sysroot "$B" deploy --os bench "$(cat "$WORK/commit$1")"; }

echo "== deploy (checkout + /etc merge + boot entry + cleanup)"
o1=$(run_ostree 2); f1=$(run_ferro 2)
printf 'round 1 (ostree first): ostree %.2f s, ferro %.2f s\n' "$o1" "$f1"
f2=$(run_ferro 3); o2=$(run_ostree 3)
printf 'round 2 (ferro first):  ostree %.2f s, ferro %.2f s\n' "$o2" "$f2"

# Both sysroots must end up equivalent.
ostree admin --sysroot="$B" status | grep -q "$(cat "$WORK/commit3")" || { echo "ferro sysroot not deployed" >&2; exit 1; }
grep -q 2222 "$B/ostree/deploy/bench/deploy/$(cat "$WORK/commit3").0/etc/ssh/sshd_config"

total_o=$(echo "$o1 + $o2" | bc); total_f=$(echo "$f1 + $f2" | bc)
printf 'total: ostree %.2f s, ferro %.2f s, ratio ostree/ferro = %.2fx\n' \
    "$total_o" "$total_f" "$(echo "$total_o / $total_f" | bc -l)"
