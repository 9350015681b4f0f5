#!/usr/bin/env bash
# The Fedora CoreOS walkthrough with ferrocore, end to end (as root, on Debian):
#   install the host tools → build ferro → Butane config with an SSH key → Ignition →
#   compose the OS from Debian packages → disk image → boot it in QEMU with the config
#   in fw_cfg → SSH in as core → rootless podman serves a page → fetch it from here.
# The VM keeps running at the end; the script prints how to reach and stop it.
# A second run reuses the cached downloads and the unchanged commit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: composing mounts loop devices and chroots" >&2; exit 1; }
scripts/install-deps.sh
command -v cargo >/dev/null || { echo "cargo is needed: apt-get install cargo (or rustup)" >&2; exit 1; }
cargo build --release --quiet --bin ferro
ferro=$(realpath "${CARGO_TARGET_DIR:-target}/release/ferro")
work=$(realpath -m "${CARGO_TARGET_DIR:-target}/walkthrough")
mkdir -p "$work/files"
export FERRO_VM_STATE_DIR="$work/vms"

echo "== 1. an SSH key for core, and the Butane config → Ignition"
[ -e "$work/id_core" ] || ssh-keygen -q -t ed25519 -N '' -C ferrocore-walkthrough -f "$work/id_core"
cp "$work/id_core.pub" "$work/files/core.pub"
"$ferro" butane --strict --pretty --files-dir "$work/files" -o "$work/config.ign" examples/walkthrough.bu
"$ferro" ignition validate "$work/config.ign"

echo "== 2. compose the OS tree (Debian bookworm + ferrocore) into $work/repo"
"$ferro" compose tree examples/ferrocore.yaml --repo "$work/repo"

echo "== 3. a bootable disk image"
"$ferro" compose image --repo "$work/repo" --ref ferrocore/x86_64/stable --format qcow2 -o "$work/ferrocore.qcow2"

echo "== 4. boot it (TCG unless KVM really works), waiting for SSH"
"$ferro" vm stop walkthrough --timeout 0 >/dev/null 2>&1 || true
"$ferro" vm run "$work/ferrocore.qcow2" --ignition "$work/config.ign" --name walkthrough \
    --publish 8080:8080 --wait-ssh

echo "== 5. SSH in as core; rootless podman serves a page on the published port"
"$ferro" vm ssh walkthrough -i "$work/id_core" -- '
    set -e
    echo "logged in as $(id -un) on $(hostname); key from Ignition: $(cut -d" " -f3 ~/.ssh/authorized_keys.d/ignition)"
    podman load -q -i /usr/share/ferrocore/images/httpd.oci.tar
    podman run -d -q --name web -p 8080:80 localhost/ferrocore/httpd:latest >/dev/null
    echo "container uid map (rootless):"; podman exec web cat /proc/self/uid_map
    sudo ferro status'
for _ in $(seq 30); do
    page=$(curl -fsS http://127.0.0.1:8080/ 2>/dev/null) && break
    sleep 1
done
echo "== 6. from the host: curl http://127.0.0.1:8080/"
echo "${page:?the page did not come through the published port}"
echo
echo "The VM is running:  FERRO_VM_STATE_DIR=$work/vms $ferro vm ssh walkthrough -i $work/id_core"
echo "Stop it with:       FERRO_VM_STATE_DIR=$work/vms $ferro vm stop walkthrough"
