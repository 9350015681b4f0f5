//! Operations on the existing deployment list: undeploy, set-default, rollback, kernel
//! arguments (each writes a new boot version and swaps it in), and pinning (an origin
//! edit only).

use ferro_sys::atomic::{WriteOptions, write_file};

use crate::cleanup::CleanupReport;
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::kargs::{KargEdit, Kargs};
use crate::layout::Sysroot;

/// How `ostree admin instutil set-kargs` builds the first deployment's new kernel
/// arguments: a start (empty, the current ones, or the running kernel's), then the
/// replacements, then the appended and the given arguments in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetKargs {
    /// Start from the deployment's current arguments (`--merge`).
    pub merge: bool,
    /// Start from the running kernel's command line (`--import-proc-cmdline`), less
    /// what the bootloader and OSTree add (`ostree=`, `initrd=`, `BOOT_IMAGE=`).
    pub import_proc_cmdline: bool,
    /// `KEY=VALUE` set in place of the arguments with that key (`--replace`).
    pub replace: Vec<String>,
    /// Arguments appended (`--append`), then the positional ones.
    pub append: Vec<String>,
}

impl Sysroot {
    fn checked(&self, state: &BootState, index: usize) -> Result<(), Error> {
        if index < state.deployments.len() {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "Out of range deployment index {index}, expected < {}",
                state.deployments.len()
            )))
        }
    }

    fn rewrite(&self, state: &BootState, list: Vec<Deployment>) -> Result<CleanupReport, Error> {
        self.write_deployments(state, list)?;
        self.cleanup()
    }

    /// Removes deployment `index` (not the booted one) from the boot entries and disk.
    pub fn undeploy(&self, index: usize) -> Result<CleanupReport, Error> {
        let state = self.load()?;
        self.checked(&state, index)?;
        if self.booted_index(&state)? == Some(index) {
            return Err(Error::Invalid(format!(
                "Cannot undeploy currently booted deployment {index}"
            )));
        }
        let mut list = state.deployments.clone();
        list.remove(index);
        self.rewrite(&state, list)
    }

    /// Makes deployment `index` the default (first) boot entry, others keep their order.
    pub fn set_default(&self, index: usize) -> Result<CleanupReport, Error> {
        let state = self.load()?;
        self.checked(&state, index)?;
        let mut list = state.deployments.clone();
        let chosen = list.remove(index);
        list.insert(0, chosen);
        self.rewrite(&state, list)
    }

    /// rpm-ostree's rollback: if the booted deployment is not the default it becomes
    /// the default again; otherwise the next deployment does. Returns the new default's
    /// previous index.
    pub fn rollback(&self) -> Result<usize, Error> {
        let state = self.load()?;
        let target = match self.booted_index(&state)? {
            Some(i) if i != 0 => i,
            _ => 1,
        };
        if target >= state.deployments.len() {
            return Err(Error::Invalid("No rollback deployment found".to_owned()));
        }
        self.set_default(target)?;
        Ok(target)
    }

    /// Edits the kernel arguments of deployment `index` and writes a new boot version.
    pub fn edit_kargs(&self, index: usize, edits: &[KargEdit]) -> Result<Deployment, Error> {
        let state = self.load()?;
        self.checked(&state, index)?;
        let mut list = state.deployments.clone();
        for edit in edits {
            list[index].kargs.apply(edit)?;
        }
        let new_state = self.write_deployments(&state, list)?;
        self.cleanup()?;
        Ok(new_state.deployments[index].clone())
    }

    /// Sets the first deployment's kernel arguments as [`SetKargs`] says and writes a new
    /// boot version, as `ostree admin instutil set-kargs`.
    pub fn set_kargs(&self, how: &SetKargs) -> Result<Deployment, Error> {
        let state = self.load()?;
        self.checked(&state, 0)?;
        let mut list = state.deployments.clone();
        let mut kargs = if how.import_proc_cmdline {
            self.proc_cmdline_kargs()?
        } else if how.merge {
            list[0].kargs.clone()
        } else {
            Kargs::default()
        };
        for arg in &how.replace {
            kargs.replace_or_append(arg);
        }
        for arg in &how.append {
            kargs.apply(&KargEdit::Append(arg.clone()))?;
        }
        list[0].kargs = kargs;
        let new_state = self.write_deployments(&state, list)?;
        self.cleanup()?;
        Ok(new_state.deployments[0].clone())
    }

    /// The running kernel's arguments (the sysroot's command line file, `/proc/cmdline`)
    /// less those the bootloader and OSTree add (`ostree=`, `initrd=`, `BOOT_IMAGE=`),
    /// as `--karg-proc-cmdline` and `--import-proc-cmdline` take them.
    pub(crate) fn proc_cmdline_kargs(&self) -> Result<Kargs, Error> {
        let path = self.cmdline_path();
        let line = std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("could not read '{}': {e}", path.display())))?;
        let added_at_boot = ["ostree", "initrd", "BOOT_IMAGE"];
        let kept: Vec<&str> = line
            .split_whitespace()
            .filter(|a| !added_at_boot.contains(&a.split_once('=').map_or(*a, |(k, _)| k)))
            .collect();
        Ok(Kargs::parse(&kept.join(" ")))
    }

    /// Appends each of `args` that is missing to every deployment's kernel arguments,
    /// as `ostree admin kargs edit-in-place --append-if-missing`.
    pub fn append_kargs_if_missing(&self, args: &[String]) -> Result<(), Error> {
        let state = self.load()?;
        let mut list = state.deployments.clone();
        for deployment in &mut list {
            for arg in args {
                if !deployment.kargs.args().contains(arg) {
                    deployment.kargs.apply(&KargEdit::Append(arg.clone()))?;
                }
            }
        }
        self.rewrite(&state, list)?;
        Ok(())
    }

    /// The directory of the first deployment (the booted one on a running system), as
    /// `ostree admin --print-current-dir` prints it: absolute.
    pub fn current_dir(&self) -> Result<std::path::PathBuf, Error> {
        let state = self.load()?;
        let first = state
            .deployments
            .first()
            .ok_or_else(|| Error::Invalid("Not currently booted into an OSTree system".into()))?;
        let dir = self.dir_of(first);
        Ok(std::path::absolute(&dir).unwrap_or(dir))
    }

    /// Pins (`[libostree-transient] pinned=true` in the origin) or unpins deployment
    /// `index`; pinned deployments survive deploys and cleanups.
    pub fn set_pinned(&self, index: usize, pinned: bool) -> Result<(), Error> {
        self.edit_origin(index, |origin, _| {
            if pinned {
                origin.set("libostree-transient", "pinned", "true");
            } else {
                origin.remove("libostree-transient", "pinned");
            }
        })
    }

    /// Makes deployment `index` follow its ref from remote `remote` (`REMOTE:REF`),
    /// adding the remote with `url` and `options` unless it exists, as `ostree admin
    /// set-origin`.
    pub fn set_origin(
        &self,
        index: usize,
        remote: &str,
        url: &str,
        options: &[(String, String)],
    ) -> Result<(), Error> {
        let how = ferro_ostree::remote::RemoteAdd {
            options: options.to_vec(),
            ..Default::default()
        };
        match self.repo().remote_add_with(remote, url, &how) {
            Err(ferro_ostree::remote::Error::Exists(_)) => {}
            other => other.map_err(|e| Error::Invalid(e.to_string()))?,
        }
        self.edit_origin(index, |origin, refspec| {
            let name = refspec.split_once(':').map_or(refspec, |(_, name)| name);
            origin.set("origin", "refspec", &format!("{remote}:{name}"));
        })
    }

    /// Rewrites deployment `index`'s origin file with `edit` (given the origin and
    /// its current refspec).
    fn edit_origin(
        &self,
        index: usize,
        edit: impl FnOnce(&mut ferro_ostree::keyfile::KeyFile, &str),
    ) -> Result<(), Error> {
        let state = self.load()?;
        self.checked(&state, index)?;
        let d = &state.deployments[index];
        let mut origin = d.origin.clone();
        edit(&mut origin, &d.refspec().unwrap_or_default());
        let path = self.origin_path(&d.osname, &d.checksum, d.serial);
        write_file(
            &path,
            origin.to_text().as_bytes(),
            WriteOptions::replace(0o644),
        )?;
        Ok(())
    }
}
