//! Operations on the existing deployment list: undeploy, set-default, rollback, kernel
//! arguments (each writes a new boot version and swaps it in), and pinning (an origin
//! edit only).

use ferro_sys::atomic::{WriteOptions, write_file};

use crate::cleanup::CleanupReport;
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::kargs::KargEdit;
use crate::layout::Sysroot;

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

    /// Pins (`[libostree-transient] pinned=true` in the origin) or unpins deployment
    /// `index`; pinned deployments survive deploys and cleanups.
    pub fn set_pinned(&self, index: usize, pinned: bool) -> Result<(), Error> {
        let state = self.load()?;
        self.checked(&state, index)?;
        let d = &state.deployments[index];
        let mut origin = d.origin.clone();
        if pinned {
            origin.set("libostree-transient", "pinned", "true");
        } else {
            origin.remove("libostree-transient", "pinned");
        }
        let path = self.origin_path(&d.osname, &d.checksum, d.serial);
        write_file(
            &path,
            origin.to_text().as_bytes(),
            WriteOptions::replace(0o644),
        )?;
        Ok(())
    }
}
