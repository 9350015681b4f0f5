//! Staged deployments: an update prepared while the system runs and switched to at
//! shutdown, so `/etc` changes made after the update was downloaded are not lost.
//!
//! [`Sysroot::stage`] does everything a deploy does up to the boot entries (checkout,
//! `/etc` merge, origin) and records the deployment in `RUN_DIR/staged-deployment`;
//! the directory lives in `deploy/` beside the others and cleanups keep it while the
//! record exists. [`Sysroot::finalize_staged`], run by
//! `dist/systemd/ferro-finalize-staged.service` at shutdown, merges `/etc` again from
//! the merge deployment as it is now, writes the boot entries and swaps them in. The
//! record is on a tmpfs: a staged deployment nobody finalized is forgotten at boot
//! and its directory removed by the next cleanup.

use std::fs;
use std::io;

use ferro_sys::IoResultExt;
use ferro_sys::atomic::{WriteOptions, write_file};

use crate::deploy::{DeployOptions, DeployReport};
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::etc_merge::prepare_etc;
use crate::fsutil;
use crate::kargs::Kargs;
use crate::layout::Sysroot;
use ferro_ostree::keyfile::KeyFile;

const GROUP: &str = "staged";

impl Sysroot {
    /// The staged deployment, if one is recorded and not finalized yet (a
    /// finalization interrupted after the switch leaves a record of a deployment that
    /// is already in the boot entries; the next cleanup removes it).
    pub fn staged(&self) -> Result<Option<Deployment>, Error> {
        let Some(staged) = self.read_staged_record()? else {
            return Ok(None);
        };
        let finalized = self.load()?.deployments.iter().any(|d| d.same(&staged));
        Ok((!finalized).then_some(staged))
    }

    /// Removes the record of a staged deployment that is in the boot entries already.
    pub(crate) fn remove_finalized_record(&self, state: &BootState) -> Result<(), Error> {
        if let Some(staged) = self.read_staged_record()?
            && state.deployments.iter().any(|d| d.same(&staged))
        {
            fsutil::remove_file_if_exists(&self.staged_record_path())?;
        }
        Ok(())
    }

    fn read_staged_record(&self) -> Result<Option<Deployment>, Error> {
        let path = self.staged_record_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ferro_sys::io_err("read", &path)(e).into()),
        };
        let record = KeyFile::parse(&text);
        let field = |key: &str| {
            record.get(GROUP, key).ok_or_else(|| Error::Layout {
                path: path.clone(),
                detail: format!("no '{key}' in the staged deployment record"),
            })
        };
        let bad = |key: &str| Error::Layout {
            path: path.clone(),
            detail: format!("invalid '{key}' in the staged deployment record"),
        };
        let osname = field("osname")?;
        let checksum = field("checksum")?.parse().map_err(|_| bad("checksum"))?;
        let serial = field("serial")?.parse().map_err(|_| bad("serial"))?;
        let origin_path = self.origin_path(&osname, &checksum, serial);
        let origin = fs::read_to_string(&origin_path).at("read", &origin_path)?;
        Ok(Some(Deployment {
            osname,
            checksum,
            serial,
            bootcsum: field("bootcsum")?,
            bootserial: 0,
            kargs: Kargs::parse(&field("kargs")?),
            origin: KeyFile::parse(&origin),
        }))
    }

    /// Prepares `rev` now (checkout, `/etc` merge, origin) and records it for
    /// [`Sysroot::finalize_staged`]; the boot entries are not touched. A deployment
    /// staged earlier is replaced.
    pub fn stage(&self, rev: &str, options: &DeployOptions) -> Result<DeployReport, Error> {
        let prepared = self.prepare(rev, options)?;
        let previous = self.staged()?;
        let d = &prepared.deployment;
        let mut record = KeyFile::default();
        for (key, value) in [
            ("osname", d.osname.clone()),
            ("checksum", d.checksum.to_string()),
            ("serial", d.serial.to_string()),
            ("bootcsum", d.bootcsum.clone()),
            ("kargs", d.kargs.to_string()),
        ] {
            record.set(GROUP, key, &value);
        }
        self.step("record staged deployment")?;
        let path = self.staged_record_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).at("create directory", dir)?;
        }
        write_file(
            &path,
            record.to_text().as_bytes(),
            WriteOptions::replace(0o644),
        )?;
        if let Some(old) = previous.filter(|old| !old.same(d)) {
            self.remove_deployment_files(&old)?;
        }
        Ok(DeployReport {
            deployment: prepared.deployment,
            etc: prepared.etc,
            cleanup: Default::default(),
        })
    }

    /// Forgets the staged deployment, if any, and deletes its directory.
    pub fn discard_staged(&self) -> Result<Option<Deployment>, Error> {
        let Some(staged) = self.staged()? else {
            return Ok(None);
        };
        self.step("discard staged deployment")?;
        fsutil::remove_file_if_exists(&self.staged_record_path())?;
        self.remove_deployment_files(&staged)?;
        Ok(Some(staged))
    }

    fn remove_deployment_files(&self, d: &Deployment) -> Result<(), Error> {
        fsutil::remove_tree(&self.dir_of(d))?;
        fsutil::remove_file_if_exists(&self.origin_path(&d.osname, &d.checksum, d.serial))
    }

    /// Makes the staged deployment the default: `/etc` is merged again from the merge
    /// deployment as it is now, then the boot entries are written and swapped in as by
    /// a deploy, and the record is removed. `None` when nothing is staged. Safe to run
    /// again after an interruption at any point.
    pub fn finalize_staged(&self) -> Result<Option<DeployReport>, Error> {
        let Some(staged) = self.read_staged_record()? else {
            return Ok(None);
        };
        let state = self.load()?;
        if !state.deployments.iter().any(|d| d.same(&staged)) {
            let booted = self.booted_index(&state)?;
            let merge = self
                .merge_deployment(&state, booted, &staged.osname)
                .cloned();
            let dir = self.dir_of(&staged);
            if !dir.join("usr").is_dir() {
                return Err(Error::Invalid(format!(
                    "the staged deployment '{}' is missing",
                    dir.display()
                )));
            }
            self.step("merge /etc again")?;
            fsutil::set_immutable(&dir, false)?;
            fsutil::remove_tree(&dir.join("etc"))?;
            let etc = prepare_etc(&dir, merge.as_ref().map(|d| self.dir_of(d)).as_deref())?;
            fsutil::set_immutable(&dir, true)?;
            let list = self.retained(staged, &state, booted, merge.as_ref());
            let new_state = self.commit_new(&state, list)?;
            self.step("remove staged record")?;
            fsutil::remove_file_if_exists(&self.staged_record_path())?;
            let cleanup = self.cleanup()?;
            return Ok(Some(DeployReport {
                deployment: new_state.deployments[0].clone(),
                etc,
                cleanup,
            }));
        }
        // An earlier run swapped the entries in but stopped before forgetting the record.
        fsutil::remove_file_if_exists(&self.staged_record_path())?;
        let cleanup = self.cleanup()?;
        Ok(Some(DeployReport {
            deployment: staged,
            etc: None,
            cleanup,
        }))
    }
}
