//! Shared test fixtures: a scratch sysroot, small bootable trees, and the `ostree`
//! oracle.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::object::Variant;
use ferro_ostree::{Checksum, Repo};
use ferro_sys::CommandRunExt;
use ferro_sysroot::{Sysroot, init_fs};

/// A scratch directory that also clears the immutable attribute of deployments
/// (`chattr +i`, set by ferro and by `ostree admin deploy`) before it is deleted.
pub struct Scratch(pub tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Scratch(tempfile::tempdir().unwrap())
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    /// A new sysroot in the scratch dir (`init-fs`, then the stateroot `testos`) and, at
    /// `tree`, an OS tree from [`make_tree`] with that kernel and `/etc`, not yet committed.
    pub fn testos(&self, kernel: &str, etc: &[(&str, Option<&str>)]) -> (Sysroot, PathBuf) {
        let sysroot = init_fs(&self.sysroot()).unwrap();
        sysroot.os_init("testos").unwrap();
        let tree = self.path().join("tree");
        make_tree(&tree, kernel, etc);
        (sysroot, tree)
    }
    /// A sysroot path inside the scratch dir (created empty).
    pub fn sysroot(&self) -> PathBuf {
        let p = self.path().join("sysroot");
        fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .args(["-R", "-f", "-i"])
            .arg(self.0.path())
            .run_status();
    }
}

/// Whether the `ostree` CLI is installed; prints why a test is skipped when not.
pub fn have_ostree(test: &str) -> bool {
    let ok = Command::new("ostree")
        .arg("--version")
        .run_get_output()
        .is_ok();
    if !ok {
        eprintln!("skipping {test}: the `ostree` CLI is not installed");
    }
    ok
}

/// Runs `ostree ARGS`, asserting success, returning stdout.
pub fn ostree(args: &[&str]) -> String {
    Command::new("ostree")
        .args(args)
        .run_get_string()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Writes a minimal bootable tree: kernel `6.1.0` (with initramfs), os-release, and
/// the given `/usr/etc` files (`path`, `content`; content `None` makes a directory).
pub fn make_tree(dir: &Path, kernel: &str, etc: &[(&str, Option<&str>)]) {
    let modules = dir.join("usr/lib/modules/6.1.0");
    fs::create_dir_all(&modules).unwrap();
    fs::write(modules.join("vmlinuz"), kernel).unwrap();
    fs::write(
        modules.join("initramfs.img"),
        format!("initrd for {kernel}"),
    )
    .unwrap();
    fs::write(
        dir.join("usr/lib/os-release"),
        "NAME=Test\nID=testos\nPRETTY_NAME=\"Test OS\"\n",
    )
    .unwrap();
    fs::create_dir_all(dir.join("usr/etc")).unwrap();
    for (path, content) in etc {
        let p = dir.join("usr/etc").join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match content {
            Some(text) => {
                fs::write(&p, text).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            }
            None => fs::create_dir_all(&p).unwrap(),
        }
    }
}

/// Commits `tree` onto `branch` with a `version`, fixed timestamp.
pub fn commit(repo: &Repo, tree: &Path, branch: &str, version: &str) -> Checksum {
    commit_at(repo, tree, branch, version, 1_700_000_000)
}

/// [`commit`] with the given timestamp (seconds since the epoch).
pub fn commit_at(
    repo: &Repo,
    tree: &Path,
    branch: &str,
    version: &str,
    timestamp: u64,
) -> Checksum {
    commit_dir(
        repo,
        tree,
        &CommitOptions {
            branch: Some(branch.into()),
            subject: format!("v{version}"),
            timestamp: Some(timestamp),
            metadata: vec![("version".into(), Variant::string(version))],
            ..Default::default()
        },
    )
    .unwrap()
    .commit
}

/// A sysroot with one deployment of `testos/v` (version 1, kernel argument `rw`)
/// booted through the scratch dir's `cmdline` file, runtime state in its `run`.
pub fn booted_testos(scratch: &Scratch) -> Sysroot {
    let (mut sysroot, tree) = scratch.testos("kernel", &[("a.conf", Some("a"))]);
    sysroot.set_run_dir(&scratch.path().join("run"));
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let options = ferro_sysroot::DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(vec!["rw".into()]),
        ..Default::default()
    };
    sysroot.deploy("testos/v", &options).unwrap();
    let cmdline = scratch.path().join("cmdline");
    let arg = sysroot.load().unwrap().deployments[0].kargs.to_string();
    fs::write(&cmdline, arg).unwrap();
    sysroot.set_cmdline_path(&cmdline);
    sysroot
}

/// Commits a new version of [`booted_testos`]'s tree (a changed `/usr/etc/new.conf`).
pub fn new_testos_version(scratch: &Scratch, sysroot: &Sysroot, version: &str) -> Checksum {
    let tree = scratch.path().join("tree");
    fs::write(tree.join("usr/etc/new.conf"), version).unwrap();
    commit(sysroot.repo(), &tree, "testos/v", version)
}

/// Every file under `dir` (relative path → content or `-> target`), sorted.
pub fn snapshot(dir: &Path) -> Vec<(String, String)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_symlink() {
                out.push((rel, format!("-> {}", fs::read_link(&p).unwrap().display())));
            } else if m.is_dir() {
                out.push((rel.clone(), "<dir>".into()));
                walk(base, &p, out);
            } else {
                out.push((
                    rel,
                    fs::read_to_string(&p).unwrap_or_else(|_| "<binary>".into()),
                ));
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}
