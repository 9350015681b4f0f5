//! `apply-live`: the pending deployment's new packages, available now. A transient
//! overlay (upper directory on the run tmpfs) goes over the running root's `/usr`,
//! and the files the pending deployment has that the booted one lacks are copied into
//! it; `/etc` defaults that are new are written where the machine has no file of its
//! own (a local edit is never overwritten), then `systemd-sysusers` and
//! `systemd-tmpfiles` create the layer's users and `/var` content. Nothing is
//! restarted; the next boot is the pending deployment, as it would have been.
//!
//! As rpm-ostree does, only pure additions are applied by default: when the pending
//! deployment removes packages or has other versions of the booted one's, the change
//! needs `allow_replacement` (which also removes the files it lacks).

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_ostree::Checksum;
use ferro_sys::{CommandRunExt, IoResultExt};
use rustix::mount::{MountFlags, mount};

use super::{DPKG_DB, LayerError, SYSUSERS, TMPFILES, installed_versions};
use crate::error::Error;
use crate::fsutil;
use crate::layout::Sysroot;

/// What [`Sysroot::apply_live`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveReport {
    /// The commit applied.
    pub target: Option<Checksum>,
    /// Files and symlinks added to `/usr`.
    pub added: usize,
    /// Files and symlinks of `/usr` replaced.
    pub changed: usize,
    /// Files and symlinks removed from `/usr` (only with `allow_replacement`).
    pub removed: usize,
    /// `/etc` files written.
    pub etc_written: usize,
}

/// Whether `a` and `b` are the same file: the same inode (both deployments link the
/// same repository object) or, for symlinks, the same target.
fn same(a: &fs::Metadata, a_path: &Path, b_path: &Path) -> bool {
    let Ok(b) = fs::symlink_metadata(b_path) else {
        return false;
    };
    if a.is_symlink() && b.is_symlink() {
        return fs::read_link(a_path).ok() == fs::read_link(b_path).ok();
    }
    a.file_type() == b.file_type() && a.dev() == b.dev() && a.ino() == b.ino()
}

/// Copies a file or symlink `src` to `dst`, replacing what is there.
fn copy_entry(src: &Path, meta: &fs::Metadata, dst: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(dst).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(dst).at("remove", dst)?;
    }
    if meta.is_symlink() {
        let target = fs::read_link(src).at("read", src)?;
        symlink(&target, dst).at("link", dst)?;
    } else {
        fs::copy(src, dst).at("copy", src)?;
        std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid()))
            .at("set owner of", dst)?;
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .at("set mode of", dst)?;
    }
    Ok(())
}

/// Brings `live` (the overlay) from `old` to `new`: what `new` has that `old` has not
/// (or has otherwise) is copied; with `remove`, what `new` lacks is removed.
fn sync(
    old: &Path,
    new: &Path,
    live: &Path,
    remove: bool,
    report: &mut LiveReport,
) -> Result<(), Error> {
    for entry in fs::read_dir(new).at("list", new)? {
        let entry = entry.at("list", new)?;
        let (src, name) = (entry.path(), entry.file_name());
        let (before, dst) = (old.join(&name), live.join(&name));
        let meta = fs::symlink_metadata(&src).at("inspect", &src)?;
        if meta.is_dir() {
            if !dst.is_dir() {
                fs::create_dir_all(&dst).at("create", &dst)?;
                fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
                    .at("set mode of", &dst)?;
            }
            sync(&before, &src, &dst, remove, report)?;
        } else if !same(&meta, &src, &before) {
            let existed = fs::symlink_metadata(&before).is_ok();
            copy_entry(&src, &meta, &dst)?;
            if existed {
                report.changed += 1;
            } else {
                report.added += 1;
            }
        }
    }
    if remove && let Ok(entries) = fs::read_dir(old) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if fs::symlink_metadata(new.join(&name)).is_err() {
                let dst = live.join(&name);
                if dst.is_dir() {
                    fsutil::remove_tree(&dst)?;
                } else {
                    fsutil::remove_file_if_exists(&dst)?;
                }
                report.removed += 1;
            }
        }
    }
    Ok(())
}

/// `/etc` defaults the pending deployment adds or changes, written to `etc` where the
/// machine has no file or the booted default unchanged.
fn sync_etc(old: &Path, new: &Path, etc: &Path, report: &mut LiveReport) -> Result<(), Error> {
    let Ok(entries) = fs::read_dir(new) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.at("list", new)?;
        let (src, name) = (entry.path(), entry.file_name());
        let (before, dst) = (old.join(&name), etc.join(&name));
        let meta = fs::symlink_metadata(&src).at("inspect", &src)?;
        if meta.is_dir() {
            if !dst.exists() {
                fs::create_dir_all(&dst).at("create", &dst)?;
            }
            sync_etc(&before, &src, &dst, report)?;
            continue;
        }
        if same(&meta, &src, &before) {
            continue;
        }
        let local = match fs::symlink_metadata(&dst) {
            Err(_) => false,
            Ok(m) if m.is_symlink() => fs::read_link(&dst).ok() != fs::read_link(&before).ok(),
            Ok(_) => fs::read(&dst).ok() != fs::read(&before).ok(),
        };
        if !local {
            copy_entry(&src, &meta, &dst)?;
            report.etc_written += 1;
        }
    }
    Ok(())
}

impl Sysroot {
    /// Applies the pending deployment's additions to the running system whose root
    /// is `root` (`/` on a booted machine).
    pub fn apply_live(&self, root: &Path, allow_replacement: bool) -> Result<LiveReport, Error> {
        let state = self.load()?;
        let booted = self.booted_index(&state)?.ok_or_else(|| {
            Error::Invalid("apply-live needs a system booted from this sysroot".to_owned())
        })?;
        let target = match self.staged()? {
            Some(staged) => staged,
            None if booted != 0 => state.deployments[0].clone(),
            None => {
                return Err(Error::Invalid(
                    "no pending deployment to apply: install a package first".to_owned(),
                ));
            }
        };
        let booted = state.deployments[booted].clone();
        let (from, to) = (self.dir_of(&booted), self.dir_of(&target));
        let status = |dir: &Path| {
            let path = dir.join(DPKG_DB).join("status");
            fs::read_to_string(&path)
                .map(|s| installed_versions(&s))
                .unwrap_or_default()
        };
        let (old, new) = (status(&from), status(&to));
        let removed: Vec<&String> = old.keys().filter(|p| !new.contains_key(*p)).collect();
        let changed: Vec<&String> = old
            .iter()
            .filter(|(p, v)| new.get(*p).is_some_and(|n| n != *v))
            .map(|(p, _)| p)
            .collect();
        if !allow_replacement && (!removed.is_empty() || !changed.is_empty()) {
            let names = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            return Err(LayerError::Refused(format!(
                "the pending deployment is not a pure addition: packages would be removed: {} \
                 ({}); packages would be changed: {} ({}); use --allow-replacement to apply \
                 it anyway",
                removed.len(),
                names(&removed),
                changed.len(),
                names(&changed)
            ))
            .into());
        }
        let usr = root.join("usr");
        let live = self
            .staged_record_path()
            .with_file_name("live")
            .join(booted.name());
        // An overlay from an earlier run is still there when `/usr` is on another
        // device than the booted deployment's `/usr`.
        let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
        if dev(&usr) == dev(&from.join("usr")) {
            let (upper, work) = (live.join("upper"), live.join("work"));
            for dir in [&upper, &work] {
                fs::create_dir_all(dir).at("create", dir)?;
            }
            let options = format!(
                "lowerdir={},upperdir={},workdir={}",
                usr.display(),
                upper.display(),
                work.display()
            );
            let data = CString::new(options)
                .map_err(|_| Error::Invalid(format!("unusable path '{}'", usr.display())))?;
            mount(
                "ferro-live",
                &usr,
                "overlay",
                MountFlags::empty(),
                data.as_c_str(),
            )
            .map_err(|errno| Error::Mount {
                action: format!("mount a transient overlay on '{}'", usr.display()),
                source: errno.into(),
            })?;
        }
        let mut report = LiveReport {
            target: Some(target.checksum),
            ..LiveReport::default()
        };
        sync(
            &from.join("usr"),
            &to.join("usr"),
            &usr,
            allow_replacement,
            &mut report,
        )?;
        sync_etc(
            &from.join("usr/etc"),
            &to.join("usr/etc"),
            &root.join("etc"),
            &mut report,
        )?;
        let tool = |program: &str, extra: &[&str], conf: &str| -> Result<(), Error> {
            if !root.join(conf).exists() {
                return Ok(());
            }
            // The tools read configuration files named on the command line as given,
            // not under `--root`.
            let mut command = Command::new(program);
            if root != Path::new("/") {
                command.arg(format!("--root={}", root.display()));
            }
            command.args(extra).arg(root.join(conf));
            command.run_get_output().map_err(|e| {
                Error::from(LayerError::Step {
                    step: "applying users and /var content live",
                    detail: e.to_string(),
                })
            })?;
            Ok(())
        };
        tool("systemd-sysusers", &[], SYSUSERS)?;
        tool("systemd-tmpfiles", &["--create"], TMPFILES)?;
        fs::write(live.join("target"), target.checksum.to_string())
            .at("write", &live.join("target"))?;
        Ok(report)
    }

    /// The commit last applied live over the booted deployment, if any (rpm-ostree's
    /// `live-replaced`).
    pub fn live_commit(&self) -> Option<String> {
        let state = self.load().ok()?;
        let booted = self.booted_index(&state).ok()??;
        let path: PathBuf = self
            .staged_record_path()
            .with_file_name("live")
            .join(state.deployments[booted].name())
            .join("target");
        fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }
}
