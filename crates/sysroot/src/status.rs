//! What `status` shows: the deployments in boot order with the booted one (found from
//! the kernel command line's `ostree=`), pinning, commit version and timestamp.

use std::fs;
use std::io;
use std::path::Path;

use crate::cleanup::dev_ino;
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::etc_merge::{EtcChanges, diff};
use crate::kargs::Kargs;
use crate::layout::Sysroot;

/// One row of `status`.
#[derive(Debug, Clone)]
pub struct DeploymentStatus {
    /// Position in boot order (0 = default); the staged deployment, listed first,
    /// has the position it gets when finalized (0).
    pub index: usize,
    /// The deployment.
    pub deployment: Deployment,
    /// Whether it is the running system.
    pub booted: bool,
    /// Whether it is staged: prepared, and made the default at shutdown.
    pub staged: bool,
    /// The commit's `version` metadata.
    pub version: Option<String>,
    /// The commit timestamp (seconds since the epoch).
    pub timestamp: u64,
    /// What the commit was built from (`ostree.source-title` metadata).
    pub source_title: Option<String>,
}

impl Sysroot {
    /// The booted deployment's index: the one the command line's `ostree=` resolves to
    /// in this sysroot or, when the sysroot is `/`, the one mounted as `/` (the
    /// `ostree=` links of the boot version we booted from may be gone after a deploy).
    pub fn booted_index(&self, state: &BootState) -> Result<Option<usize>, Error> {
        let cmdline = match fs::read_to_string(self.cmdline_path()) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ferro_sys::io_err("read", self.cmdline_path())(e).into()),
        };
        let Some(arg) = Kargs::parse(&cmdline).get("ostree").map(str::to_owned) else {
            return Ok(None);
        };
        let mut candidates = vec![];
        if let Ok(dir) = self.resolve_bootlink(&arg) {
            candidates.extend(dev_ino(&dir));
        }
        if self.path() == Path::new("/") {
            candidates.extend(dev_ino(Path::new("/")));
        }
        Ok(state
            .deployments
            .iter()
            .position(|d| dev_ino(&self.dir_of(d)).is_some_and(|id| candidates.contains(&id))))
    }

    /// The deployments in boot order, the staged one first.
    pub fn status(&self) -> Result<Vec<DeploymentStatus>, Error> {
        let state = self.load()?;
        let booted = self.booted_index(&state)?;
        let staged = self.staged()?.map(|d| (0, d, true));
        let listed = state
            .deployments
            .into_iter()
            .enumerate()
            .map(|(i, d)| (i, d, false));
        let mut out = Vec::new();
        for (index, deployment, staged) in staged.into_iter().chain(listed) {
            let commit = self.repo().load_commit(&deployment.checksum).ok();
            out.push(DeploymentStatus {
                index,
                booted: !staged && booted == Some(index),
                staged,
                version: commit.as_ref().and_then(|c| c.metadata_string("version")),
                source_title: commit
                    .as_ref()
                    .and_then(|c| c.metadata_string("ostree.source-title")),
                timestamp: commit.map_or(0, |c| c.timestamp),
                deployment,
            });
        }
        Ok(out)
    }

    /// The deployment's `/etc` files that differ from its `/usr/etc` defaults.
    pub fn etc_changes(&self, deployment: &Deployment) -> Result<EtcChanges, Error> {
        let dir = self.dir_of(deployment);
        if !dir.join("usr/etc").is_dir() || !dir.join("etc").is_dir() {
            return Ok(EtcChanges::default());
        }
        diff(&dir.join("usr/etc"), &dir.join("etc"))
    }
}
