//! `deploy`: check a commit out as a new deployment (hardlinks to the repository),
//! give it an `/etc` merged from the merge deployment and an origin, then make it the
//! default boot entry. The new directory is assembled under a staging name and renamed
//! into `deploy/` complete; the boot entries switch in one rename.

use std::fs;

use ferro_ostree::checkout::{CheckoutOptions, checkout};

use crate::cleanup::CleanupReport;
use crate::deployment::{Deployment, parse_deploy_name};
use crate::error::{Error, io_err};
use crate::etc_merge::{EtcChanges, prepare_etc};
use crate::fsutil;
use crate::kargs::{KargEdit, Kargs};
use crate::kernel::KernelLayout;
use crate::keyfile::KeyFile;
use crate::layout::{Sysroot, validate_osname};

/// How to deploy, as `ostree admin deploy`'s options.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// The stateroot (`--os`); default: the booted or default deployment's, or the
    /// only stateroot.
    pub osname: Option<String>,
    /// Replace the kernel arguments (`--karg`); default: the merge deployment's.
    pub kargs: Option<Vec<String>>,
    /// Append these after that (`--karg-append`).
    pub karg_append: Vec<String>,
    /// The origin refspec; default: the revision as given.
    pub refspec: Option<String>,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// The new default deployment.
    pub deployment: Deployment,
    /// Local `/etc` changes carried over from the merge deployment, if there was one.
    pub etc: Option<EtcChanges>,
    /// What the cleanup after the swap removed.
    pub cleanup: CleanupReport,
}

impl Sysroot {
    fn pick_osname(
        &self,
        requested: Option<&str>,
        default: Option<&Deployment>,
    ) -> Result<String, Error> {
        if let Some(os) = requested.or(default.map(|d| d.osname.as_str())) {
            validate_osname(os)?;
            return Ok(os.to_owned());
        }
        let dir = self.path().join("ostree/deploy");
        let names: Vec<String> = fs::read_dir(&dir)
            .map_err(io_err("list", &dir))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        match &names[..] {
            [one] => Ok(one.clone()),
            _ => Err(Error::Invalid(
                "no stateroot given (--os) and there is not exactly one".to_owned(),
            )),
        }
    }

    /// 1 + the highest serial of any directory of this commit in the stateroot.
    fn next_serial(&self, osname: &str, checksum: &ferro_ostree::Checksum) -> Result<u32, Error> {
        let dir = self.stateroot(osname).join("deploy");
        let mut next = 0;
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let name = entry.map_err(io_err("list", &dir))?.file_name();
            match name.to_str().and_then(parse_deploy_name) {
                Some((c, s)) if c == *checksum => next = next.max(s + 1),
                _ => {}
            }
        }
        Ok(next)
    }

    /// Deploys `rev` as the new default; the previous default (the merge deployment),
    /// the booted one, pinned ones and other stateroots' are kept, others removed.
    pub fn deploy(&self, rev: &str, options: &DeployOptions) -> Result<DeployReport, Error> {
        let state = self.load()?;
        let booted = self.booted_index(&state)?;
        let osname = self.pick_osname(
            options.osname.as_deref(),
            booted
                .or((!state.deployments.is_empty()).then_some(0))
                .map(|i| &state.deployments[i]),
        )?;
        if !self.stateroot(&osname).join("deploy").is_dir() {
            return Err(Error::Invalid(format!(
                "stateroot '{osname}' does not exist (run os-init first)"
            )));
        }
        let checksum = self.repo().resolve_rev(rev)?;
        let merge = booted
            .map(|i| &state.deployments[i])
            .filter(|d| d.osname == osname)
            .or_else(|| state.deployments.iter().find(|d| d.osname == osname));
        let serial = self.next_serial(&osname, &checksum)?;

        self.step("check out")?;
        let staging = self.staging_dir(&osname);
        fsutil::remove_tree(&staging)?;
        fs::create_dir_all(&staging).map_err(io_err("create directory", &staging))?;
        let tmp = staging.join(format!("{checksum}.{serial}"));
        checkout(self.repo(), &checksum, &tmp, &CheckoutOptions::default())?;

        self.step("find kernel")?;
        let bootcsum = KernelLayout::find(&tmp)?.bootcsum()?;

        self.step("merge /etc")?;
        let etc = prepare_etc(&tmp, merge.map(|d| self.dir_of(d)).as_deref())?;

        self.step("write origin")?;
        let mut origin = KeyFile::default();
        origin.set(
            "origin",
            "refspec",
            options.refspec.as_deref().unwrap_or(rev),
        );
        let origin_path = self.origin_path(&osname, &checksum, serial);
        fsutil::write_atomic(&origin_path, origin.to_text().as_bytes(), 0o644)?;

        self.step("rename deployment")?;
        let dir = self.deployment_dir(&osname, &checksum, serial);
        fs::rename(&tmp, &dir).map_err(io_err("rename into", &dir))?;
        fsutil::sync_dir(dir.parent().unwrap_or(&dir))?;
        fsutil::set_immutable(&dir, true)?;
        fsutil::remove_tree(&staging)?;

        let mut kargs = match &options.kargs {
            Some(list) => Kargs::parse(&list.join(" ")),
            None => merge.map(|d| d.kargs.clone()).unwrap_or_default(),
        };
        for arg in &options.karg_append {
            kargs.apply(&KargEdit::Append(arg.clone()))?;
        }
        let new = Deployment {
            osname: osname.clone(),
            checksum,
            serial,
            bootcsum,
            bootserial: 0,
            kargs,
            origin,
        };
        let mut list = vec![new];
        for (i, d) in state.deployments.iter().enumerate() {
            let keep = d.pinned()
                || d.osname != osname
                || Some(i) == booted
                || merge.is_some_and(|m| m.same(d));
            if keep {
                list.push(d.clone());
            }
        }
        let new_state = self.write_deployments(&state, list)?;
        let cleanup = self.cleanup()?;
        Ok(DeployReport {
            deployment: new_state.deployments[0].clone(),
            etc,
            cleanup,
        })
    }
}
