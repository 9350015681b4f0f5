//! Staged deployments: an update prepared while the system runs and switched to at
//! shutdown, so `/etc` changes made after the update was downloaded are not lost.
//!
//! [`Sysroot::stage`] does everything a deploy does up to the boot entries (checkout,
//! `/etc` merge, origin) and records the deployment where OSTree records it,
//! `RUN_DIR/ostree/staged-deployment` (a GVariant, [`crate::staged_record`]), so
//! `ostree admin` and rpm-ostree see the same staged deployment; the directory lives
//! in `deploy/` beside the others and cleanups keep it while the record exists.
//! [`Sysroot::finalize_staged`], run by `dist/systemd/ferro-finalize-staged.service`
//! at shutdown, merges `/etc` again from the merge deployment as it is now, writes the
//! boot entries and swaps them in — unless finalization is locked
//! (`RUN_DIR/ostree/staged-deployment-locked`, or `locked` in the record), as an update
//! agent stages it: then only [`Sysroot::unlock_staged`] (`ferro finalize-deployment`)
//! lets the next shutdown finalize it. The record is on a tmpfs: a staged deployment
//! nobody finalized is forgotten at boot and its directory removed by the next cleanup.

use std::fs;
use std::io;

use ferro_ostree::Checksum;
use ferro_sys::IoResultExt;
use ferro_sys::atomic::{WriteOptions, write_file};

use crate::deploy::{DeployOptions, DeployReport};
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::etc_merge::prepare_etc;
use crate::fsutil;
use crate::kargs::Kargs;
use crate::layout::Sysroot;
use crate::staged_record::StagedRecord;
use ferro_ostree::keyfile::KeyFile;

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
            fsutil::remove_file_if_exists(&self.staged_etc_edits_path())?;
        }
        Ok(())
    }

    fn read_staged_record(&self) -> Result<Option<Deployment>, Error> {
        Ok(self.read_raw_record()?.map(|(d, _)| d))
    }

    /// The staged deployment and whether the record itself locks finalization.
    fn read_raw_record(&self) -> Result<Option<(Deployment, bool)>, Error> {
        let path = self.staged_record_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ferro_sys::io_err("read", &path)(e).into()),
        };
        let bad = |detail: String| Error::Layout {
            path: path.clone(),
            detail: format!("staged deployment record: {detail}"),
        };
        let record = StagedRecord::decode(&bytes).map_err(bad)?;
        let checksum: Checksum = record
            .checksum
            .parse()
            .map_err(|_| bad(format!("invalid 'csum' '{}'", record.checksum)))?;
        let serial = u32::try_from(record.serial)
            .map_err(|_| bad(format!("invalid 'deployserial' {}", record.serial)))?;
        let origin_path = self.origin_path(&record.osname, &checksum, serial);
        let origin = fs::read_to_string(&origin_path).at("read", &origin_path)?;
        let kargs = match &record.kargs {
            Some(args) => Kargs::parse(&args.join(" ")),
            // OSTree leaves `kargs` out when staging with the merge deployment's: the
            // deployment's own boot config, written at checkout, has them.
            None => Kargs::default(),
        };
        Ok(Some((
            Deployment {
                osname: record.osname,
                checksum,
                serial,
                bootcsum: record.bootcsum,
                bootserial: u32::try_from(record.bootserial).unwrap_or(0),
                kargs,
                origin: KeyFile::parse(&origin),
            },
            record.locked,
        )))
    }

    fn write_record(&self, d: &Deployment, locked: bool) -> Result<(), Error> {
        let record = StagedRecord {
            osname: d.osname.clone(),
            checksum: d.checksum.to_string(),
            serial: i32::try_from(d.serial).unwrap_or(i32::MAX),
            bootcsum: d.bootcsum.clone(),
            bootserial: i32::try_from(d.bootserial).unwrap_or(0),
            // `ostree=` is the boot entry's own, written when the entries are.
            kargs: Some(
                d.kargs
                    .args()
                    .iter()
                    .filter(|a| !a.starts_with("ostree="))
                    .cloned()
                    .collect(),
            ),
            locked,
        };
        let path = self.staged_record_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).at("create directory", dir)?;
        }
        write_file(&path, &record.encode(), WriteOptions::replace(0o644))?;
        Ok(())
    }

    /// Whether the staged deployment (if any) may not be finalized at shutdown: the
    /// lock file OSTree honours exists, or the record says `locked`.
    pub fn finalization_locked(&self) -> Result<bool, Error> {
        let by_record = self.read_raw_record()?.is_some_and(|(_, locked)| locked);
        Ok(by_record || self.staged_lock_path().exists())
    }

    /// Lets the staged deployment be finalized at the next shutdown, as `rpm-ostree
    /// finalize-deployment` does before rebooting: refused unless `expected` is the
    /// staged commit (so an agent never reboots into something else staged behind
    /// its back). Returns the staged deployment.
    pub fn unlock_staged(&self, expected: &str) -> Result<Deployment, Error> {
        let Some((staged, locked)) = self.read_raw_record()? else {
            return Err(Error::Invalid("No staged deployment to finalize".into()));
        };
        if staged.checksum.to_string() != expected {
            return Err(Error::Invalid(format!(
                "Expected staged base checksum {expected}, but found {}",
                staged.checksum
            )));
        }
        self.step("unlock staged deployment")?;
        if locked {
            self.write_record(&staged, false)?;
        }
        fsutil::remove_file_if_exists(&self.staged_lock_path())?;
        Ok(staged)
    }

    /// Prepares `rev` now (checkout, `/etc` merge, origin) and records it for
    /// [`Sysroot::finalize_staged`]; the boot entries are not touched. A deployment
    /// staged earlier is replaced.
    pub fn stage(&self, rev: &str, options: &DeployOptions) -> Result<DeployReport, Error> {
        if options.stage_requires_booted && self.booted_index(&self.load()?)?.is_none() {
            return Err(Error::Invalid(
                "Cannot stage deployment: Not currently booted into an OSTree system".into(),
            ));
        }
        let prepared = self.prepare(rev, options)?;
        let previous = self.staged()?;
        let d = &prepared.deployment;
        self.step("record staged deployment")?;
        // A new staging replaces the lock too, as OSTree's does: locked only if asked.
        let lock = self.staged_lock_path();
        if let Some(dir) = lock.parent() {
            fs::create_dir_all(dir).at("create directory", dir)?;
        }
        if options.lock_finalization {
            let lock = self.staged_lock_path();
            write_file(&lock, b"", WriteOptions::replace(0o644))?;
        } else {
            fsutil::remove_file_if_exists(&self.staged_lock_path())?;
        }
        crate::etc_edits::store(&self.staged_etc_edits_path(), &options.etc_edits)?;
        self.write_record(d, false)?;
        if let Some(old) = previous.filter(|old| !old.same(d)) {
            self.remove_deployment_files(&old)?;
        }
        Ok(DeployReport {
            deployment: prepared.deployment,
            etc: prepared.etc,
            cleanup: Default::default(),
            bootloader: None,
        })
    }

    /// Forgets the staged deployment, if any, and deletes its directory.
    pub fn discard_staged(&self) -> Result<Option<Deployment>, Error> {
        let Some(staged) = self.staged()? else {
            return Ok(None);
        };
        self.step("discard staged deployment")?;
        fsutil::remove_file_if_exists(&self.staged_record_path())?;
        fsutil::remove_file_if_exists(&self.staged_lock_path())?;
        fsutil::remove_file_if_exists(&self.staged_etc_edits_path())?;
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
    /// again after an interruption at any point. Refused ([`Error::Invalid`], nothing
    /// changed) while finalization is locked: the deployment stays staged until the
    /// record is forgotten at boot.
    pub fn finalize_staged(&self) -> Result<Option<DeployReport>, Error> {
        let Some(staged) = self.read_staged_record()? else {
            return Ok(None);
        };
        if self.finalization_locked()? {
            return Err(Error::Invalid(format!(
                "Not finalizing; found {}",
                self.staged_lock_path().display()
            )));
        }
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
            let edits_path = self.staged_etc_edits_path();
            crate::etc_edits::apply(&dir.join("etc"), &crate::etc_edits::load(&edits_path)?)?;
            self.set_deployment_immutable(&dir, true)?;
            let list = self.retained(staged, &state, booted, merge.as_ref());
            let new_state = self.commit_new(&state, list)?;
            self.step("remove staged record")?;
            fsutil::remove_file_if_exists(&self.staged_record_path())?;
            fsutil::remove_file_if_exists(&edits_path)?;
            let cleanup = self.cleanup()?;
            return Ok(Some(DeployReport {
                deployment: new_state.deployments[0].clone(),
                etc,
                cleanup,
                bootloader: None,
            }));
        }
        // An earlier run swapped the entries in but stopped before forgetting the record.
        fsutil::remove_file_if_exists(&self.staged_record_path())?;
        fsutil::remove_file_if_exists(&self.staged_etc_edits_path())?;
        let cleanup = self.cleanup()?;
        Ok(Some(DeployReport {
            deployment: staged,
            etc: None,
            cleanup,
            bootloader: None,
        }))
    }
}
