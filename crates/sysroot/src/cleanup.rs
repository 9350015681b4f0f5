//! Garbage collection after a boot version swap, and `cleanup`: everything the current
//! boot entries do not reference goes (the other boot version, unreferenced deployment
//! directories and origins (except the staged deployment's), staging leftovers and
//! interrupted writes' temporaries, unused `/boot/ostree/OS-BOOTCSUM`,
//! stale `ostree/B/S/I` refs), then the repository is pruned to what refs name.
//! Every step is idempotent, so an interrupted cleanup is finished by the next one.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use ferro_ostree::prune::{PruneOptions, PruneReport, prune};
use ferro_sys::atomic::is_temp_name;

use crate::deployment::{BootState, parse_deploy_name};
use crate::error::Error;
use crate::fsutil;
use crate::layout::Sysroot;

/// What a cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Deployment directories deleted (`OS/CSUM.SERIAL`).
    pub deployments: Vec<String>,
    /// Other boot-version and `/boot/ostree` directories deleted.
    pub boot_dirs: usize,
    /// The repository prune.
    pub pruned: PruneReport,
}

/// Device and inode of `path` (following symlinks), to recognise a directory by
/// identity rather than by name.
pub(crate) fn dev_ino(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn list(dir: &Path) -> Result<Vec<String>, Error> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(ferro_sys::io_err("list", dir)(e).into()),
    }
}

impl Sysroot {
    /// Removes everything the current boot entries (and the staged deployment) do not
    /// reference and prunes the repository, keeping only commits named by refs (no
    /// history), as OSTree does.
    pub fn cleanup(&self) -> Result<CleanupReport, Error> {
        let state = self.load()?;
        let mut report = self.remove_unreferenced(&state)?;
        let (b, s) = (state.bootversion, state.subbootversion);

        self.step("deployment refs")?;
        let repo = self.repo();
        let wanted: Vec<String> = (0..state.deployments.len())
            .map(|i| format!("ostree/{b}/{s}/{i}"))
            .collect();
        for (name, _) in repo.list_refs()? {
            if name.starts_with("ostree/") && !wanted.contains(&name) {
                repo.set_ref(&name, None)?;
            }
        }
        for (name, d) in wanted.iter().zip(&state.deployments) {
            repo.set_ref(name, Some(&d.checksum))?;
        }
        let staged = self.staged()?;
        self.write_base_refs(&[state.deployments.as_slice(), staged.as_slice()].concat())?;

        self.step("prune")?;
        report.pruned = prune(
            repo,
            &PruneOptions {
                refs_only: true,
                depth: Some(0),
                ..Default::default()
            },
        )?;
        Ok(report)
    }

    /// The file part of [`Sysroot::cleanup`]: the other boot version, deployment
    /// directories and boot files `state` does not reference, staging leftovers.
    pub(crate) fn remove_unreferenced(&self, state: &BootState) -> Result<CleanupReport, Error> {
        let root = self.path();
        let mut report = CleanupReport::default();
        let (b, s) = (state.bootversion, state.subbootversion);

        let other_loader = root.join(format!("boot/loader.{}", 1 - b));
        if other_loader.exists() {
            report.boot_dirs += 1;
        }
        fsutil::remove_tree(&other_loader)?;
        // `loader.tmp` and `boot.N.tmp` are OSTree's own temporary links; ferrocore's
        // writers leave `ferro_sys::atomic` temporaries when killed mid-write.
        fsutil::remove_file_if_exists(&root.join("boot/loader.tmp"))?;
        for name in list(&root.join("boot"))? {
            if is_temp_name(&name) {
                fsutil::remove_file_if_exists(&root.join("boot").join(name))?;
            }
        }
        let keep_bootdir = format!("boot.{b}.{s}");
        for name in list(&root.join("ostree"))? {
            let path = root.join("ostree").join(&name);
            if name == format!("boot.{}", 1 - b)
                || (name.ends_with(".tmp") && name.starts_with("boot."))
                || is_temp_name(&name)
            {
                fsutil::remove_file_if_exists(&path)?;
            } else if name.starts_with("boot.")
                && name.matches('.').count() == 2
                && name != keep_bootdir
            {
                report.boot_dirs += 1;
                fsutil::remove_tree(&path)?;
            }
        }

        self.step("remove deployments")?;
        self.remove_finalized_record(state)?;
        let staged = self.staged()?;
        let live: HashSet<(String, String)> = state
            .deployments
            .iter()
            .chain(&staged)
            .map(|d| (d.osname.clone(), d.name()))
            .collect();
        // Whatever the boot entries say, the deployment this system runs from is never
        // deleted under it (a sysroot opened at a path whose `/boot` is not the boot
        // partition reads no entries at all).
        let running = dev_ino(Path::new("/"));
        for osname in list(&root.join("ostree/deploy"))? {
            fsutil::remove_tree(&self.staging_dir(&osname))?;
            let deploy = self.stateroot(&osname).join("deploy");
            for name in list(&deploy)? {
                if is_temp_name(&name) {
                    fsutil::remove_file_if_exists(&deploy.join(&name))?;
                    continue;
                }
                let base = [".origin", ".origin.tmp"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                let interrupted_write = name.ends_with(".tmp");
                if running.is_some() && dev_ino(&deploy.join(base)) == running {
                    continue;
                }
                if parse_deploy_name(base).is_none()
                    || (live.contains(&(osname.clone(), base.to_owned())) && !interrupted_write)
                {
                    continue;
                }
                if base == name {
                    report.deployments.push(format!("{osname}/{name}"));
                }
                fsutil::remove_tree(&deploy.join(&name))?;
            }
        }

        self.step("remove boot files")?;
        let kernels: HashSet<String> = state
            .deployments
            .iter()
            .chain(&staged)
            .map(|d| format!("{}-{}", d.osname, d.bootcsum))
            .collect();
        let boot_ostree = root.join("boot/ostree");
        for name in list(&boot_ostree)? {
            if !kernels.contains(&name) {
                report.boot_dirs += 1;
                fsutil::remove_tree(&boot_ostree.join(name))?;
            }
        }

        Ok(report)
    }
}
