//! `prepare-root`: what `ostree-prepare-root` does in the initramfs before systemd
//! switches into the real root. The physical root is mounted at `ROOT` (`/sysroot`);
//! the kernel command line's `ostree=` names the deployment to boot. Afterwards `ROOT`
//! is the deployment: `/usr` a read-only bind mount (nothing edits the OS in place),
//! `/var` the stateroot's shared `var`, `/boot` the physical `/boot` when it is on the
//! root filesystem, `/etc` the deployment's own writable copy, and the physical root
//! at `ROOT/sysroot`.
//!
//! It changes the mount table of the calling mount namespace (making `/` private
//! first, as `ostree-prepare-root` does): run it in the initramfs or in a private
//! namespace (`unshare --mount`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ferro_sys::IoResultExt;
use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
use rustix::mount::{
    MountFlags, MountPropagationFlags, mount_bind, mount_change, mount_move, mount_remount,
};

use crate::error::Error;
use crate::kargs::Kargs;
use crate::layout::Sysroot;

/// What [`prepare_root`] mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRoot {
    /// The deployment directory (in the physical root) now mounted at `ROOT`.
    pub deployment: PathBuf,
    /// Whether `/boot` was bound from the physical root (same filesystem).
    pub boot: bool,
}

fn mount_err(action: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |errno| Error::Mount {
        action,
        source: errno.into(),
    }
}

fn bind(src: &Path, dst: &Path) -> Result<(), Error> {
    mount_bind(src, dst).map_err(mount_err(format!(
        "bind-mount '{}' on '{}'",
        src.display(),
        dst.display()
    )))
}

fn move_mount(src: &Path, dst: &Path) -> Result<(), Error> {
    mount_move(src, dst).map_err(mount_err(format!(
        "move the mount '{}' to '{}'",
        src.display(),
        dst.display()
    )))
}

/// Whether `path` is the root of a mount (only mounts can be moved).
fn is_mount_root(path: &Path) -> Result<bool, Error> {
    let st = statx(CWD, path, AtFlags::empty(), StatxFlags::BASIC_STATS).at("stat", path)?;
    Ok(st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
        && st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
}

/// Mounts the deployment the `ostree=` argument of the command line in `cmdline`
/// names as the new root at `root`, which holds the physical root.
pub fn prepare_root(root: &Path, cmdline: &Path) -> Result<PreparedRoot, Error> {
    let root = fs::canonicalize(root).at("resolve", root)?;
    let text = fs::read_to_string(cmdline).at("read", cmdline)?;
    let kargs = Kargs::parse(&text);
    let arg = kargs
        .get("ostree")
        .ok_or_else(|| Error::Invalid(format!("no ostree= argument in '{}'", cmdline.display())))?;
    let sysroot = Sysroot::open(&root)?;
    let deployment = sysroot.resolve_bootlink(arg)?;
    let deployment = fs::canonicalize(&deployment).at("resolve", &deployment)?;
    for dir in ["usr", "var", "sysroot"] {
        if !deployment.join(dir).is_dir() {
            return Err(Error::Invalid(format!(
                "deployment '{}' has no /{dir} directory to mount on",
                deployment.display()
            )));
        }
    }

    mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(mount_err("make '/' private".into()))?;
    if !is_mount_root(&root)? {
        bind(&root, &root)?;
    }
    bind(&deployment, &deployment)?;
    let stateroot = deployment.ancestors().nth(2).unwrap_or(&deployment);
    let var = stateroot.join("var");
    bind(&var, &deployment.join("var"))?;
    // `/boot/loader` in the physical root means `/boot` is on this filesystem, not a
    // partition of its own mounted later from fstab.
    let boot = fs::symlink_metadata(root.join("boot/loader")).is_ok_and(|m| m.is_symlink())
        && deployment.join("boot").is_dir();
    if boot {
        bind(&root.join("boot"), &deployment.join("boot"))?;
    }
    let usr = deployment.join("usr");
    bind(&usr, &usr)?;
    mount_remount(&usr, MountFlags::BIND | MountFlags::RDONLY, "")
        .map_err(mount_err(format!("remount '{}' read-only", usr.display())))?;

    // Three moves, as the physical root cannot be moved beneath itself directly.
    let mut tmp_name = root.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = root.with_file_name(tmp_name);
    match fs::create_dir(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(ferro_sys::io_err("create directory", &tmp)(e).into());
        }
        _ => {}
    }
    move_mount(&deployment, &tmp)?;
    move_mount(&root, &tmp.join("sysroot"))?;
    move_mount(&tmp, &root)?;
    fs::remove_dir(&tmp).at("delete", &tmp)?;
    Ok(PreparedRoot { deployment, boot })
}
