//! Reshaping an installed root filesystem into the immutable layout OSTree deploys:
//!
//! - the kernel, initramfs, config and System.map move from `/boot` to
//!   `/usr/lib/modules/KVER/{vmlinuz,initramfs.img,config,System.map}`, where the
//!   deployment code looks for them (`/boot` stays, empty, as a mount point);
//! - `/etc` becomes `/usr/etc`, the defaults each deployment's `/etc` is merged from;
//! - the mutable directories move under `/var` and are replaced by symlinks, as on
//!   Fedora CoreOS: `/home` → `var/home`, `/root` → `var/roothome`, `/opt`, `/srv`,
//!   `/mnt` → `var/…`, `/usr/local` → `../var/usrlocal`, and `/media` → `run/media`;
//! - `/sysroot` is where the booted system finds the physical root (`ferro
//!   prepare-root` mounts it there) and `/ostree` links to its `ostree/`, so `ferro
//!   status` and upgrades work on the booted system as on the sysroot;
//! - `/dev`, `/proc`, `/sys`, `/run` and `/tmp` are emptied: they are mount points
//!   filled at boot, and an installer leaves device nodes in `/dev` that a commit
//!   cannot hold;
//! - `/var` is emptied: its contents move to `/usr/share/factory/var` and one
//!   tmpfiles.d line per entry (`C`, copy if missing; `L` for symlinks) recreates them
//!   on the first boot of each deployment, because OSTree never touches `/var` after
//!   the first deployment;
//! - the dpkg database moves from `/var/lib/dpkg` to [`DPKG_DB`] (`/usr/lib/sysimage/dpkg`,
//!   where rpm-ostree keeps the rpmdb's equivalent `/usr/lib/sysimage/rpm`), and
//!   `/var/lib/dpkg` becomes a link there (a tmpfiles `L+` line keeps it a link on
//!   every deployment, also in a `/var` an older deployment populated), so each
//!   deployment's `dpkg -l` lists exactly the packages of its own commit, after
//!   upgrades and rollbacks as well.

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use ferro_sys::{IoError, IoResultExt};

/// Where the tmpfiles.d lines are written, inside the tree.
pub const TMPFILES: &str = "usr/lib/tmpfiles.d/ferro-var.conf";

/// Where `/var`'s initial contents are kept, inside the tree (systemd's factory dir,
/// which `C` lines without a source argument copy from).
pub const FACTORY_VAR: &str = "usr/share/factory/var";

/// Where the dpkg database lives, inside the tree: in `/usr`, so it belongs to the
/// commit (package layering starts from it and records its result there).
pub const DPKG_DB: &str = "usr/lib/sysimage/dpkg";

/// The link `/var/lib/dpkg` → [`DPKG_DB`], relative so it resolves inside a checkout too.
pub const DPKG_DB_LINK: &str = "../../usr/lib/sysimage/dpkg";

/// Mutable top-level directories: (path in the tree, symlink target, new location).
const MUTABLE: &[(&str, &str, &str)] = &[
    ("home", "var/home", "var/home"),
    ("root", "var/roothome", "var/roothome"),
    ("opt", "var/opt", "var/opt"),
    ("srv", "var/srv", "var/srv"),
    ("mnt", "var/mnt", "var/mnt"),
    ("usr/local", "../var/usrlocal", "var/usrlocal"),
];

/// Why the tree could not be reshaped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// There is no `boot/vmlinuz-KVER`: a tree without a kernel cannot be deployed.
    #[error("no kernel in '{0}/boot' (install linux-image-amd64)")]
    NoKernel(PathBuf),
    /// The tree already has something where the layout puts something else.
    #[error("'{0}' already exists; is the tree post-processed already?")]
    Exists(PathBuf),
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What post-processing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kernel version now under `usr/lib/modules`.
    pub kver: String,
    /// The tmpfiles.d lines written.
    pub tmpfiles: Vec<String>,
}

/// Post-processes the tree at `root` in place.
pub fn postprocess(root: &Path) -> Result<Report, Error> {
    empty_mount_points(root)?;
    let kver = move_kernel(root)?;
    move_etc(root)?;
    move_mutable_dirs(root)?;
    add_sysroot(root)?;
    move_dpkg_db(root)?;
    let mut tmpfiles = empty_var(root)?;
    tmpfiles.push(format!("L+ /var/lib/dpkg - - - - {DPKG_DB_LINK}"));
    let path = root.join(TMPFILES);
    let mut text = String::from(
        "# Written by ferro compose: recreates /var, which a deployment starts without.\n",
    );
    for line in &tmpfiles {
        let _ = writeln!(text, "{line}");
    }
    create_parent(&path)?;
    fs::write(&path, text).at("write", &path)?;
    Ok(Report { kver, tmpfiles })
}

/// Directories the system mounts over at boot, so their contents in the tree are
/// never seen.
const MOUNT_POINTS: &[&str] = &["dev", "proc", "sys", "run", "tmp"];

/// Removes what is inside each of [`MOUNT_POINTS`], keeping the directories themselves.
/// The caller makes sure nothing is mounted there (see `tree`).
fn empty_mount_points(root: &Path) -> Result<(), Error> {
    for name in MOUNT_POINTS {
        let dir = root.join(name);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(IoError::new("list", &dir, e).into()),
        };
        for entry in entries {
            let path = entry.at("list", &dir)?.path();
            let meta = fs::symlink_metadata(&path).at("inspect", &path)?;
            let removed = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.at("remove", &path)?;
        }
    }
    Ok(())
}

fn create_parent(path: &Path) -> Result<(), Error> {
    let parent = path.parent().expect("paths inside the tree have parents");
    fs::create_dir_all(parent).at("create", parent)?;
    Ok(())
}

/// Renames `from` to `to`, refusing to replace anything.
fn move_new(from: &Path, to: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(to).is_ok() {
        return Err(Error::Exists(to.to_owned()));
    }
    create_parent(to)?;
    fs::rename(from, to).at("move", from)?;
    Ok(())
}

/// Moves `boot/{vmlinuz,initrd.img,config,System.map}-KVER` of the newest kernel (by
/// name) into `usr/lib/modules/KVER/` and removes the root's `vmlinuz*`/`initrd.img*`
/// convenience links, which would point into the now empty `/boot`.
fn move_kernel(root: &Path) -> Result<String, Error> {
    let boot = root.join("boot");
    let mut kvers: Vec<String> = match fs::read_dir(&boot) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix("vmlinuz-").map(str::to_owned))
            .collect(),
        Err(e) if e.kind() == ErrorKind::NotFound => vec![],
        Err(e) => return Err(IoError::new("list", &boot, e).into()),
    };
    kvers.sort();
    let kver = kvers
        .pop()
        .ok_or_else(|| Error::NoKernel(root.to_owned()))?;
    let modules = root.join("usr/lib/modules").join(&kver);
    for (from, to) in [
        ("vmlinuz", "vmlinuz"),
        ("initrd.img", "initramfs.img"),
        ("config", "config"),
        ("System.map", "System.map"),
    ] {
        let source = boot.join(format!("{from}-{kver}"));
        if fs::symlink_metadata(&source).is_ok() {
            move_new(&source, &modules.join(to))?;
        }
    }
    for link in ["vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"] {
        let path = root.join(link);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
            fs::remove_file(&path).at("remove", &path)?;
        }
    }
    Ok(kver)
}

fn move_etc(root: &Path) -> Result<(), Error> {
    move_new(&root.join("etc"), &root.join("usr/etc"))
}

/// Moves each mutable directory under `/var` (creating it if the tree had none) and
/// puts a relative symlink in its place; `/media` becomes a link into `/run`.
fn move_mutable_dirs(root: &Path) -> Result<(), Error> {
    for &(path, target, new) in MUTABLE {
        let (old, new) = (root.join(path), root.join(new));
        match fs::symlink_metadata(&old) {
            Ok(meta) if meta.is_dir() => {
                // Debian ships some targets (`/var/opt`) empty; one with content is
                // refused by `move_new` rather than merged.
                let _ = fs::remove_dir(&new);
                move_new(&old, &new)?
            }
            Ok(_) => fs::remove_file(&old).at("remove", &old)?,
            Err(_) => {
                create_parent(&new)?;
                fs::create_dir(&new).at("create", &new)?;
            }
        }
        symlink(target, &old).at("link", &old)?;
    }
    let media = root.join("media");
    match fs::remove_dir(&media) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(IoError::new("remove", &media, e).into());
        }
        _ => {}
    }
    symlink("run/media", &media).at("link", &media)?;
    Ok(())
}

/// Creates the `/sysroot` mount point and the `/ostree` → `sysroot/ostree` link.
fn add_sysroot(root: &Path) -> Result<(), Error> {
    let sysroot = root.join("sysroot");
    if !sysroot.is_dir() {
        fs::create_dir(&sysroot).at("create", &sysroot)?;
    }
    let ostree = root.join("ostree");
    if fs::symlink_metadata(&ostree).is_ok() {
        return Err(Error::Exists(ostree));
    }
    symlink("sysroot/ostree", &ostree).at("link", &ostree)?;
    Ok(())
}

/// Moves `var/lib/dpkg` to [`DPKG_DB`] and links it back (a tree without a dpkg
/// database is left alone).
fn move_dpkg_db(root: &Path) -> Result<(), Error> {
    let old = root.join("var/lib/dpkg");
    match fs::symlink_metadata(&old) {
        Ok(meta) if meta.is_dir() => {}
        _ => return Ok(()),
    }
    move_new(&old, &root.join(DPKG_DB))?;
    symlink(DPKG_DB_LINK, &old).at("link", &old)?;
    Ok(())
}

/// Moves every entry of `var` to the factory directory (symlinks are recreated by
/// tmpfiles instead) and returns the tmpfiles.d lines, sorted by path.
fn empty_var(root: &Path) -> Result<Vec<String>, Error> {
    let var = root.join("var");
    let factory = root.join(FACTORY_VAR);
    let mut names: Vec<_> = fs::read_dir(&var)
        .at("list", &var)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .at("list", &var)?;
    names.sort();
    let mut lines = Vec::new();
    for name in names {
        let path = var.join(&name);
        let shown = name.to_string_lossy();
        let meta = fs::symlink_metadata(&path).at("inspect", &path)?;
        if meta.is_symlink() {
            let target = fs::read_link(&path).at("read", &path)?;
            lines.push(format!("L /var/{shown} - - - - {}", target.display()));
            fs::remove_file(&path).at("remove", &path)?;
        } else {
            lines.push(format!("C /var/{shown} - - - - -"));
            move_new(&path, &factory.join(&name))?;
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const KVER: &str = "6.1.0-28-amd64";

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A small tree shaped like a Debian debootstrap result.
    fn debian_tree(root: &Path) {
        write(root, "etc/os-release", "ID=debian\n");
        write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        write(root, "root/.bashrc", "# bash\n");
        fs::create_dir_all(root.join("home")).unwrap();
        fs::create_dir_all(root.join("dev/pts")).unwrap();
        symlink("/proc/self/fd", root.join("dev/fd")).unwrap();
        write(root, "run/lock/x", "");
        write(root, "tmp/junk", "");
        fs::create_dir_all(root.join("media")).unwrap();
        fs::create_dir_all(root.join("usr/local/bin")).unwrap();
        write(root, "var/lib/dpkg/status", "Package: base-files\n");
        fs::create_dir_all(root.join("var/log")).unwrap();
        fs::create_dir_all(root.join("var/opt")).unwrap();
        fs::create_dir_all(root.join("opt/app")).unwrap();
        fs::create_dir_all(root.join("var/tmp")).unwrap();
        fs::set_permissions(root.join("var/tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        symlink("/run", root.join("var/run")).unwrap();
        write(root, &format!("boot/vmlinuz-{KVER}"), "kernel");
        write(root, &format!("boot/initrd.img-{KVER}"), "initrd");
        write(root, &format!("boot/config-{KVER}"), "CONFIG_X=y\n");
        write(
            root,
            &format!("usr/lib/modules/{KVER}/kernel/a.ko"),
            "module",
        );
        symlink(format!("boot/vmlinuz-{KVER}"), root.join("vmlinuz")).unwrap();
        symlink(format!("boot/initrd.img-{KVER}"), root.join("initrd.img")).unwrap();
    }

    fn link(root: &Path, path: &str) -> String {
        fs::read_link(root.join(path))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn debian_tree_becomes_the_immutable_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        debian_tree(root);
        let report = postprocess(root).unwrap();
        assert_eq!(report.kver, KVER);

        let modules = root.join("usr/lib/modules").join(KVER);
        assert_eq!(
            fs::read_to_string(modules.join("vmlinuz")).unwrap(),
            "kernel"
        );
        assert_eq!(
            fs::read_to_string(modules.join("initramfs.img")).unwrap(),
            "initrd"
        );
        assert_eq!(
            fs::read_to_string(modules.join("config")).unwrap(),
            "CONFIG_X=y\n"
        );
        assert!(modules.join("kernel/a.ko").is_file());
        assert_eq!(fs::read_dir(root.join("boot")).unwrap().count(), 0);
        assert!(fs::symlink_metadata(root.join("vmlinuz")).is_err());
        assert!(fs::symlink_metadata(root.join("initrd.img")).is_err());

        for dir in ["dev", "run", "tmp"] {
            assert_eq!(
                fs::read_dir(root.join(dir)).unwrap().count(),
                0,
                "/{dir} is empty"
            );
        }
        assert!(fs::symlink_metadata(root.join("etc")).is_err());
        assert_eq!(
            fs::read_to_string(root.join("usr/etc/os-release")).unwrap(),
            "ID=debian\n"
        );

        assert_eq!(link(root, "home"), "var/home");
        assert_eq!(link(root, "root"), "var/roothome");
        assert_eq!(link(root, "opt"), "var/opt");
        assert_eq!(link(root, "srv"), "var/srv");
        assert_eq!(link(root, "mnt"), "var/mnt");
        assert_eq!(link(root, "usr/local"), "../var/usrlocal");
        assert_eq!(link(root, "media"), "run/media");
        assert_eq!(link(root, "ostree"), "sysroot/ostree");
        assert!(root.join("sysroot").is_dir());

        assert_eq!(
            fs::read_dir(root.join("var")).unwrap().count(),
            0,
            "/var is empty"
        );
        let factory = root.join(FACTORY_VAR);
        assert_eq!(
            fs::read_to_string(root.join(DPKG_DB).join("status")).unwrap(),
            "Package: base-files\n",
            "the dpkg database is part of /usr"
        );
        assert_eq!(
            link(root, &format!("{FACTORY_VAR}/lib/dpkg")),
            DPKG_DB_LINK,
            "/var/lib/dpkg links into /usr"
        );

        assert_eq!(
            fs::read_to_string(factory.join("roothome/.bashrc")).unwrap(),
            "# bash\n"
        );
        assert!(factory.join("usrlocal/bin").is_dir());
        assert!(
            factory.join("opt/app").is_dir(),
            "/opt replaces Debian's empty /var/opt"
        );
        let mode = fs::metadata(factory.join("tmp"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o1777, "modes travel with the directories");

        let expected = [
            "C /var/home - - - - -",
            "C /var/lib - - - - -",
            "C /var/log - - - - -",
            "C /var/mnt - - - - -",
            "C /var/opt - - - - -",
            "C /var/roothome - - - - -",
            "L /var/run - - - - /run",
            "C /var/srv - - - - -",
            "C /var/tmp - - - - -",
            "C /var/usrlocal - - - - -",
            "L+ /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg",
        ];
        assert_eq!(report.tmpfiles, expected);
        let conf = fs::read_to_string(root.join(TMPFILES)).unwrap();
        assert_eq!(
            conf.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn a_tree_without_kernel_or_done_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "etc/os-release", "");
        fs::create_dir(dir.path().join("var")).unwrap();
        assert!(matches!(postprocess(dir.path()), Err(Error::NoKernel(_))));

        let dir = tempfile::tempdir().unwrap();
        debian_tree(dir.path());
        postprocess(dir.path()).unwrap();
        write(dir.path(), &format!("boot/vmlinuz-{KVER}"), "kernel");
        assert!(matches!(postprocess(dir.path()), Err(Error::Exists(_))));
    }
}
