//! U-Boot's `uEnv.txt`, generated from the BLS entries as OSTree's uboot integration
//! does: `/boot/uEnv.txt` is a symlink to `loader/uEnv.txt`, so each boot version carries
//! its own file and the `/boot/loader` swap switches it with the entries. The symlink
//! is what turns the generator on.
//!
//! The default entry's variables are `kernel_image`, `ramdisk_image`, `fdt_file` or
//! `fdtdir`, and `bootargs`; the N-th entry's (N ≥ 2) carry the suffix N. The default
//! deployment's own `usr/lib/ostree-boot/uEnv.txt`, if any, is appended (board settings
//! that ship with the OS).

use std::fs;
use std::io;
use std::path::Path;

use ferro_sys::atomic::{WriteOptions, write_file};

use crate::bls::BlsEntry;
use crate::error::Error;

/// Whether this sysroot boots with U-Boot reading a generated `uEnv.txt`.
pub(crate) fn enabled(sysroot: &Path) -> bool {
    fs::symlink_metadata(sysroot.join("boot/uEnv.txt")).is_ok_and(|m| m.is_symlink())
}

/// Writes `loader_dir/uEnv.txt` for `entries` (boot order, default first);
/// `default_deployment` is the first entry's deployment directory.
pub(crate) fn write_env(
    loader_dir: &Path,
    entries: &[BlsEntry],
    default_deployment: &Path,
) -> Result<(), Error> {
    let mut text = String::new();
    for (i, entry) in entries.iter().enumerate() {
        let suffix = match i {
            0 => String::new(),
            i => (i + 1).to_string(),
        };
        for (key, var) in [
            ("linux", "kernel_image"),
            ("initrd", "ramdisk_image"),
            ("devicetree", "fdt_file"),
            ("fdtdir", "fdtdir"),
            ("options", "bootargs"),
        ] {
            if let Some(value) = entry.get(key) {
                text += &format!("{var}{suffix}={value}\n");
            }
        }
        if i == 0 {
            let system = default_deployment.join("usr/lib/ostree-boot/uEnv.txt");
            match fs::read_to_string(&system) {
                Ok(extra) => {
                    text += &extra;
                    if !extra.ends_with('\n') && !extra.is_empty() {
                        text.push('\n');
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ferro_sys::io_err("read", &system)(e).into()),
            }
        }
    }
    write_file(
        &loader_dir.join("uEnv.txt"),
        text.as_bytes(),
        WriteOptions::replace(0o644),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_numbered_variables_and_the_default_os_adds_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let deployment = dir.path().join("deploy");
        fs::create_dir_all(deployment.join("usr/lib/ostree-boot")).unwrap();
        fs::write(
            deployment.join("usr/lib/ostree-boot/uEnv.txt"),
            "loadfdt=load mmc",
        )
        .unwrap();
        let entry = |n: &str, dtb: bool| {
            let mut e = BlsEntry::default();
            e.push("linux", &format!("/ostree/os-{n}/vmlinuz"));
            e.push("initrd", &format!("/ostree/os-{n}/initramfs.img"));
            if dtb {
                e.push("fdtdir", &format!("/ostree/os-{n}/dtb"));
            }
            e.push("options", &format!("root=LABEL=x ostree={n}"));
            e
        };
        write_env(
            dir.path(),
            &[entry("a", true), entry("b", false)],
            &deployment,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("uEnv.txt")).unwrap(),
            "kernel_image=/ostree/os-a/vmlinuz\nramdisk_image=/ostree/os-a/initramfs.img\n\
             fdtdir=/ostree/os-a/dtb\nbootargs=root=LABEL=x ostree=a\nloadfdt=load mmc\n\
             kernel_image2=/ostree/os-b/vmlinuz\nramdisk_image2=/ostree/os-b/initramfs.img\n\
             bootargs2=root=LABEL=x ostree=b\n"
        );
    }
}
