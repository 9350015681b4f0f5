//! The sysroot and its fixed layout: `init-fs`, `os-init`, and the paths every other
//! module uses, so that the on-disk names live in one place.

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferro_ostree::{Checksum, Repo, RepoMode};
use ferro_sys::IoResultExt;

use crate::error::Error;

/// A physical root holding `ostree/repo`, `ostree/deploy/OS/…` and `boot/`.
#[derive(Debug)]
pub struct Sysroot {
    path: PathBuf,
    repo: Repo,
    cmdline: PathBuf,
    run_dir: PathBuf,
    failpoint: Cell<Option<usize>>,
    debug: SysrootDebug,
}

/// OSTree's debug switches (`OSTREE_SYSROOT_DEBUG`, comma-separated), which OSTree's own
/// test suite sets; unknown names are ignored, as OSTree ignores them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysrootDebug {
    /// `mutable-deployments`: deployment directories never get the immutable attribute.
    pub mutable_deployments: bool,
    /// `no-dtb`: a kernel's `dtb/` directory of device trees is neither installed nor
    /// part of the boot checksum.
    pub no_dtb: bool,
    /// `test-fifreeze`: a write of new boot entries fails where `/boot` is frozen and
    /// thawed, before the switch to them ([`Error::TestFifreeze`]), as OSTree's test of
    /// its freeze watchdog does.
    pub test_fifreeze: bool,
}

impl SysrootDebug {
    /// The switches a comma-separated list names.
    pub fn parse(flags: &str) -> Self {
        let has = |name: &str| flags.split(',').any(|f| f.trim() == name);
        SysrootDebug {
            mutable_deployments: has("mutable-deployments"),
            no_dtb: has("no-dtb"),
            test_fifreeze: has("test-fifreeze"),
        }
    }
}

/// Where runtime state lives on a live system (a tmpfs): the staged deployment record
/// and its lock in `ostree/` exactly where OSTree keeps them, the update driver in
/// `ferro/`.
pub const DEFAULT_RUN_DIR: &str = "/run";

/// The top-level directories `ostree admin init-fs` creates, with their modes.
const INIT_DIRS: [(&str, u32); 9] = [
    ("boot", 0o755),
    ("dev", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("run", 0o755),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("ostree/deploy", 0o755),
];

/// Creates each `(relative path, mode)` below `root` with its parents, and gives it that
/// mode even when it already existed (the umask does not decide).
fn make_dirs(root: &Path, dirs: &[(&str, u32)]) -> Result<(), Error> {
    for &(dir, mode) in dirs {
        let dir = root.join(dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .at("create directory", &dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).at("set mode of", &dir)?;
    }
    Ok(())
}

/// Creates the sysroot skeleton and a `bare` repository in `ostree/repo`, like
/// `ostree admin init-fs`. Existing directories are kept.
pub fn init_fs(path: &Path) -> Result<Sysroot, Error> {
    init_fs_layout(path, InitFsLayout::Full)
}

/// Which top-level directories `init-fs` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitFsLayout {
    /// `boot`, `dev`, `home`, `proc`, `root`, `run`, `sys`, `tmp` and `ostree/`.
    #[default]
    Full,
    /// Only `boot` and `ostree/` (`init-fs --modern`): the rest come from the
    /// deployment at boot.
    Modern,
}

/// [`init_fs`] with the directories `layout` names.
pub fn init_fs_layout(path: &Path, layout: InitFsLayout) -> Result<Sysroot, Error> {
    let dirs: &[(&str, u32)] = match layout {
        InitFsLayout::Full => &INIT_DIRS,
        InitFsLayout::Modern => &[("boot", 0o755), ("ostree/deploy", 0o755)],
    };
    make_dirs(path, dirs)?;
    Repo::init(&path.join("ostree/repo"), RepoMode::Bare)?;
    Sysroot::open(path)
}

impl Sysroot {
    /// Opens an initialized sysroot.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let repo = Repo::open(&path.join("ostree/repo"))?;
        Ok(Sysroot {
            path: path.to_owned(),
            repo,
            cmdline: PathBuf::from("/proc/cmdline"),
            run_dir: PathBuf::from(DEFAULT_RUN_DIR),
            failpoint: Cell::new(None),
            debug: SysrootDebug::default(),
        })
    }

    /// Reads the booted deployment's `ostree=` from this file instead of
    /// `/proc/cmdline` (tests, or inspecting a sysroot from a rescue system).
    pub fn set_cmdline_path(&mut self, path: &Path) {
        self.cmdline = path.to_owned();
    }

    /// Keeps runtime state (the staged deployment record) in `dir` instead of
    /// [`DEFAULT_RUN_DIR`]: tests, or finalizing from a rescue system.
    pub fn set_run_dir(&mut self, dir: &Path) {
        self.run_dir = dir.to_owned();
    }

    /// Leaves deployment directories mutable (no immutable attribute), as OSTree does
    /// with `OSTREE_SYSROOT_DEBUG=mutable-deployments` (its test suite sets it).
    pub fn set_mutable_deployments(&mut self, mutable: bool) {
        self.debug.mutable_deployments = mutable;
    }

    /// Sets OSTree's debug switches ([`SysrootDebug`]).
    pub fn set_debug(&mut self, debug: SysrootDebug) {
        self.debug = debug;
    }

    /// The debug switches in force.
    pub(crate) fn debug(&self) -> SysrootDebug {
        self.debug
    }

    /// Sets or clears the immutable attribute of a deployment directory, unless
    /// deployments are kept mutable.
    pub(crate) fn set_deployment_immutable(&self, dir: &Path, on: bool) -> Result<(), Error> {
        if self.debug.mutable_deployments {
            return Ok(());
        }
        crate::fsutil::set_immutable(dir, on)
    }

    /// Makes the next operations fail with [`Error::Injected`] just before their `n`-th
    /// step (counted from 0 across calls; `None` disarms). Crash-safety tests use it to
    /// stop an operation between any two steps and check that the boot entries still work.
    pub fn set_failpoint(&self, n: Option<usize>) {
        self.failpoint.set(n);
    }

    /// A step boundary: fails if the failpoint is due.
    pub(crate) fn step(&self, name: &'static str) -> Result<(), Error> {
        match self.failpoint.get() {
            Some(0) => {
                self.failpoint.set(None);
                Err(Error::Injected(name))
            }
            Some(n) => {
                self.failpoint.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The sysroot directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The system repository `ostree/repo`.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    pub(crate) fn cmdline_path(&self) -> &Path {
        &self.cmdline
    }

    /// The staged deployment record: in the run directory, a tmpfs on a live system,
    /// so a staged deployment nobody finalized is forgotten at the next boot.
    pub(crate) fn staged_record_path(&self) -> PathBuf {
        self.run_dir.join("ostree/staged-deployment")
    }

    /// OSTree's finalization lock file beside the record.
    pub(crate) fn staged_lock_path(&self) -> PathBuf {
        self.run_dir.join("ostree/staged-deployment-locked")
    }

    /// Who drives updates (`RUN_DIR/ferro/update-driver`), see [`crate::driver`].
    pub(crate) fn staged_etc_edits_path(&self) -> PathBuf {
        self.run_dir.join("ferro/staged-etc-edits.json")
    }

    /// The update driver's registration.
    pub(crate) fn driver_path(&self) -> PathBuf {
        self.run_dir.join("ferro/update-driver")
    }

    /// Creates a stateroot: `ostree/deploy/OS/{deploy,var}` with the shared `/var`
    /// skeleton `os-init` makes (`lib log tmp`, `lock -> ../run/lock`, `run -> ../run`).
    pub fn os_init(&self, osname: &str) -> Result<(), Error> {
        validate_osname(osname)?;
        let root = self.stateroot(osname);
        make_dirs(
            &root,
            &[
                ("deploy", 0o755),
                ("var", 0o755),
                ("var/lib", 0o755),
                ("var/log", 0o755),
                ("var/tmp", 0o1777),
            ],
        )?;
        for (link, target) in [("var/lock", "../run/lock"), ("var/run", "../run")] {
            let link = root.join(link);
            if fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(target, &link).at("create symlink", &link)?;
            }
        }
        Ok(())
    }

    /// `ostree/deploy/OS`.
    pub(crate) fn stateroot(&self, osname: &str) -> PathBuf {
        self.path.join("ostree/deploy").join(osname)
    }

    /// `ostree/deploy/OS/deploy/CSUM.SERIAL`.
    pub fn deployment_dir(&self, osname: &str, checksum: &Checksum, serial: u32) -> PathBuf {
        self.stateroot(osname)
            .join("deploy")
            .join(format!("{checksum}.{serial}"))
    }

    /// Where a deployment is assembled before it is renamed into `deploy/`: outside
    /// `deploy/` because OSTree rejects unknown names there.
    pub(crate) fn staging_dir(&self, osname: &str) -> PathBuf {
        self.stateroot(osname).join(".ferro-staging")
    }

    /// `/boot/ostree/OS-BOOTCSUM`, where kernels are copied.
    pub(crate) fn boot_kernel_dir(&self, osname: &str, bootcsum: &str) -> PathBuf {
        self.path
            .join("boot/ostree")
            .join(format!("{osname}-{bootcsum}"))
    }
}

/// Stateroot names become path components and BLS file names: keep them plain.
pub(crate) fn validate_osname(osname: &str) -> Result<(), Error> {
    let ok = !osname.is_empty()
        && !osname.starts_with('.')
        && osname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid stateroot name '{osname}'")))
    }
}
