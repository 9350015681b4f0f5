#!/usr/bin/env bash
# Installs, on a Debian machine and as root, the host tools ferrocore's tests and its
# walkthrough use; does nothing when they are all there. Used by .ci/run and
# scripts/walkthrough.sh.
#
# - ignition (Debian's Ignition 2.14, with ignition-validate) and ostree (2022.7) are
#   the differential oracles of the tests, and ostree-tests is OSTree's own upstream
#   test suite, run with ferro in ostree's place (scripts/ostree-upstream.sh); nginx
#   serves archive repositories over HTTP;
# - sgdisk and mkfs.{ext4,xfs,vfat} are what the Ignition disks stage and
#   `ferro compose image` run; grub-pc-bin and grub-efi-amd64-bin are the BIOS and
#   UEFI GRUBs images boot with, mtools fills the EFI system partition without
#   mounting it, and ovmf is the UEFI firmware the UEFI VM test boots with; sfdisk
#   (fdisk) is what `ferro installer` reads and edits partition tables with;
#   xorriso (through grub-mkrescue) and squashfs-tools make the live ISO and PXE media;
# - debootstrap is what `ferro compose tree` installs Debian with;
# - qemu-system-x86 boots the VMs; the backports qemu-utils preinstalled on some
#   machines breaks bookworm's qemu-system, so both come from bookworm;
# - openssh-client and curl reach the VMs;
# - etcd-server is the etcd the fleet server's etcd backend is tested against (the
#   tests start their own members on loopback ports; the packaged service is not used);
# - chromium and chromium-driver load the fleet server's dashboard headless (WebDriver)
#   in its test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || {
    echo "install-deps: not root on a Debian machine; installing nothing" >&2
    exit 0
}
have() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ]; }
if have ignition-validate && have sgdisk && have mkfs.ext4 && have mkfs.xfs && have mkfs.vfat \
    && have ostree && have nginx && have qemu-system-x86_64 && have debootstrap && have ssh && have curl \
    && have apt-ftparchive && have gpg && have etcd && have chromium && have chromedriver && [ -e /usr/lib/grub/i386-pc/boot.img ] \
    && [ -e /usr/lib/grub/x86_64-efi/kernel.img ] && have mcopy && have sfdisk && have xorriso && have mksquashfs && [ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] \
    && [ -d /usr/libexec/installed-tests/libostree ]; then
    exit 0
fi
apt-get update -qq
apt-get install -y -qq apt-utils gpg ignition gdisk e2fsprogs xfsprogs dosfstools ostree ostree-tests nginx grub-pc-bin openssh-client curl >/dev/null \
    || echo "ignition, disk tools, GRUB, ostree(-tests), nginx, ssh or curl not installed; tests needing them will be skipped" >&2
apt-get install -y -qq --no-install-recommends grub-efi-amd64-bin mtools ovmf fdisk xorriso squashfs-tools >/dev/null \
    || echo "grub-efi-amd64-bin, mtools, ovmf, fdisk, xorriso or squashfs-tools not installed; images, live media and UEFI tests cannot be made" >&2
QV=$(apt-cache policy qemu-system-x86 2>/dev/null | awk '/Candidate:/{print $2}' || true)
apt-get install -y -qq --no-install-recommends --allow-downgrades qemu-system-x86 "qemu-utils=$QV" debootstrap >/dev/null \
    || echo "qemu-system-x86 or debootstrap not installed; VM tests will be skipped" >&2
apt-get install -y -qq --no-install-recommends etcd-server >/dev/null \
    || echo "etcd-server not installed; the fleet server's etcd tests will be skipped" >&2
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
    || echo "chromium or chromium-driver not installed; the fleet dashboard's browser test will be skipped" >&2
