//! `deploy`: check a commit out as a new deployment (hardlinks to the repository),
//! give it an `/etc` merged from the merge deployment and an origin, then make it the
//! default boot entry. The new directory is assembled under a staging name and renamed
//! into `deploy/` complete; the boot entries switch in one rename. [`crate::staged`]
//! shares the preparation and defers the switch to shutdown.

use std::fs;

use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_sys::IoResultExt;
use ferro_sys::atomic::{WriteOptions, write_file};

use crate::cleanup::CleanupReport;
use crate::deployment::{BootState, Deployment, parse_deploy_name};
use crate::error::Error;
use crate::etc_merge::{EtcChanges, prepare_etc};
use crate::fsutil;
use crate::kargs::KargEdit;
use crate::kernel::KernelLayout;
use crate::layout::{Sysroot, validate_osname};
use ferro_ostree::keyfile::KeyFile;

/// How to deploy, as `ostree admin deploy`'s options.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// The stateroot (`--os`); default: the booted or default deployment's, or the
    /// only stateroot.
    pub osname: Option<String>,
    /// Kernel arguments set over the merge deployment's (`--karg`), as `ostree admin
    /// deploy --karg` does: each replaces the argument with its key, or is appended.
    pub kargs: Option<Vec<String>>,
    /// Append these after that (`--karg-append`).
    pub karg_append: Vec<String>,
    /// Start the kernel arguments from the running kernel's command line instead of
    /// the merge deployment's (`--karg-proc-cmdline`).
    pub karg_proc_cmdline: bool,
    /// Start from no kernel arguments at all (`--karg-none`), not the merge
    /// deployment's.
    pub karg_none: bool,
    /// Use no merge deployment (`--no-merge`): `/etc` is the new default one and the
    /// kernel arguments start empty.
    pub no_merge: bool,
    /// Kernel arguments removed after that (`--karg-delete`).
    pub karg_delete: Vec<String>,
    /// Keep every existing deployment (`--retain`).
    pub retain: bool,
    /// Keep the deployments after the booted one (all of them when none is booted):
    /// the rollback targets (`--retain-rollback`).
    pub retain_rollback: bool,
    /// Keep the deployments before the booted one (`--retain-pending`).
    pub retain_pending: bool,
    /// Add the new deployment after the booted one (at the end when none is booted)
    /// instead of as the default (`--not-as-default`).
    pub not_as_default: bool,
    /// Staging: refuse unless this system was booted from the sysroot, as `ostree
    /// admin deploy --stage` does (and write nothing, `/run` included).
    pub stage_requires_booted: bool,
    /// More origin groups written beside the refspec: the package layering requests
    /// (`[packages]`, `[overrides]`) of a layered deployment.
    pub extra_origin: Option<KeyFile>,
    /// The origin refspec; default: the revision as given.
    pub refspec: Option<String>,
    /// Also record the commit as the origin's `override-commit`, as `rpm-ostree
    /// deploy REV` does: the deployment is of that commit, not the refspec's head.
    pub override_commit: bool,
    /// Staging: lock finalization (`--lock-finalization`), so the deployment is not
    /// made the default at shutdown until [`crate::Sysroot::unlock_staged`].
    pub lock_finalization: bool,
    /// Changes made to the new deployment's `/etc` after the merge (a pool config's
    /// files and units, [`crate::etc_edits`]); kept for a staged deployment and made
    /// again when it is finalized.
    pub etc_edits: Vec<crate::etc_edits::EtcEdit>,
}

/// A deployment directory made by [`Sysroot::prepare`], with the state it was made
/// against.
pub(crate) struct Prepared {
    /// The boot state when preparing started.
    pub(crate) state: BootState,
    /// The booted deployment's index in it.
    pub(crate) booted: Option<usize>,
    /// The deployment `/etc` and kernel arguments came from.
    pub(crate) merge: Option<Deployment>,
    /// The new deployment.
    pub(crate) deployment: Deployment,
    /// The `/etc` changes carried over.
    pub(crate) etc: Option<EtcChanges>,
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
    /// The new boot version, when the deployments were written at once (not staged).
    pub bootloader: Option<BootloaderUpdate>,
}

/// How a write of the deployment list changed the boot configuration, as OSTree
/// reports it ("Bootloader updated; …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootloaderUpdate {
    /// Whether `/boot/loader` was switched to the other boot version (new entries),
    /// rather than only the deployment links (`ostree/boot.B.S`).
    pub bootconfig_swap: bool,
    /// The boot version now in force.
    pub bootversion: u8,
    /// Its sub-version (which `ostree/boot.B.S` links are in force).
    pub subbootversion: u8,
    /// Deployments now minus before.
    pub count_change: i64,
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
            .at("list", &dir)?
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
        for entry in fs::read_dir(&dir).at("list", &dir)? {
            let name = entry.at("list", &dir)?.file_name();
            match name.to_str().and_then(parse_deploy_name) {
                Some((c, s)) if c == *checksum => next = next.max(s + 1),
                _ => {}
            }
        }
        Ok(next)
    }

    /// The deployment whose `/etc` and kernel arguments a new deployment of `osname`
    /// inherits: the booted one if it is of that stateroot, else the stateroot's first.
    pub(crate) fn merge_deployment<'a>(
        &self,
        state: &'a BootState,
        booted: Option<usize>,
        osname: &str,
    ) -> Option<&'a Deployment> {
        booted
            .map(|i| &state.deployments[i])
            .filter(|d| d.osname == osname)
            .or_else(|| state.deployments.iter().find(|d| d.osname == osname))
    }

    /// Checks `rev` out as a complete deployment directory with its `/etc` and origin,
    /// not yet in the boot entries (and not yet immutable).
    pub(crate) fn prepare(&self, rev: &str, options: &DeployOptions) -> Result<Prepared, Error> {
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
        let merge = if options.no_merge {
            None
        } else {
            self.merge_deployment(&state, booted, &osname).cloned()
        };
        let serial = self.next_serial(&osname, &checksum)?;
        crate::etc_edits::validate(&options.etc_edits)?;

        self.step("check out")?;
        let staging = self.staging_dir(&osname);
        fsutil::remove_tree(&staging)?;
        fs::create_dir_all(&staging).at("create directory", &staging)?;
        let tmp = staging.join(format!("{checksum}.{serial}"));
        // As OSTree checks a deployment out: `.ostree-wh.NAME` files (container image
        // layers shipped in the tree) become the overlayfs whiteouts they stand for.
        let checkout_options = CheckoutOptions {
            passthrough_whiteouts: true,
            ..CheckoutOptions::default()
        };
        checkout(self.repo(), &checksum, &tmp, &checkout_options)?;

        self.step("find kernel")?;
        let bootcsum = KernelLayout::find(&tmp, self.debug().no_dtb)?.bootcsum()?;

        self.step("merge /etc")?;
        let etc = prepare_etc(&tmp, merge.as_ref().map(|d| self.dir_of(d)).as_deref())?;
        // As OSTree: systemd's `ConditionNeedsUpdate=` stamps go, so that update units
        // run once on the new deployment's first boot.
        for stamp in [
            tmp.join("etc/.updated"),
            self.stateroot(&osname).join("var/.updated"),
        ] {
            match fs::remove_file(&stamp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ferro_sys::io_err("delete", &stamp)(e).into());
                }
                _ => {}
            }
        }
        crate::etc_edits::apply(&tmp.join("etc"), &options.etc_edits)?;

        self.step("write origin")?;
        let mut origin = KeyFile::default();
        origin.set(
            "origin",
            "refspec",
            options.refspec.as_deref().unwrap_or(rev),
        );
        if options.override_commit {
            origin.set("origin", "override-commit", &checksum.to_string());
        }
        if let Some(extra) = &options.extra_origin {
            for group in extra.group_names() {
                for (key, value) in extra.entries(group) {
                    origin.set(group, &key, &value);
                }
            }
        }
        let origin_path = self.origin_path(&osname, &checksum, serial);
        write_file(
            &origin_path,
            origin.to_text().as_bytes(),
            WriteOptions::replace(0o644),
        )?;

        self.step("rename deployment")?;
        let dir = self.deployment_dir(&osname, &checksum, serial);
        fs::rename(&tmp, &dir).at("rename into", &dir)?;
        fsutil::sync_dir(dir.parent().unwrap_or(&dir))?;
        fsutil::remove_tree(&staging)?;

        let mut kargs = if options.karg_none {
            Default::default()
        } else if options.karg_proc_cmdline {
            self.proc_cmdline_kargs()?
        } else {
            merge.as_ref().map(|d| d.kargs.clone()).unwrap_or_default()
        };
        for arg in options.kargs.iter().flatten() {
            kargs.replace_or_append(arg);
        }
        for arg in &options.karg_append {
            kargs.apply(&KargEdit::Append(arg.clone()))?;
        }
        for arg in &options.karg_delete {
            kargs.apply(&KargEdit::Delete(arg.clone()))?;
        }
        let deployment = Deployment {
            osname,
            checksum,
            serial,
            bootcsum,
            bootserial: 0,
            kargs,
            origin,
        };
        Ok(Prepared {
            state,
            booted,
            merge,
            deployment,
            etc,
        })
    }

    /// OSTree's retention: the new default first, then the booted, merge and pinned
    /// deployments and those of other stateroots; the rest of the stateroot goes.
    pub(crate) fn retained(
        &self,
        new: Deployment,
        state: &BootState,
        booted: Option<usize>,
        merge: Option<&Deployment>,
    ) -> Vec<Deployment> {
        let mut list = vec![new];
        for (i, d) in state.deployments.iter().enumerate() {
            let keep = d.pinned()
                || d.osname != list[0].osname
                || Some(i) == booted
                || merge.is_some_and(|m| m.same(d));
            if keep {
                list.push(d.clone());
            }
        }
        list
    }

    /// Writes and swaps in a deployment list that adds a new deployment. A real failure
    /// (disk full, read-only `/boot`) removes what was written for it at once, so the
    /// space is free again and only the previous entries remain; an injected one
    /// leaves everything as a crash would.
    pub(crate) fn commit_new(
        &self,
        state: &BootState,
        list: Vec<Deployment>,
    ) -> Result<BootState, Error> {
        self.write_deployments(state, list).inspect_err(|e| {
            if !matches!(e, Error::Injected(_)) {
                // The first error is the one to report; a failing removal is retried
                // by the next cleanup.
                let _ = self.load().and_then(|now| self.remove_unreferenced(&now));
            }
        })
    }

    /// Deploys `rev` as the new default; the previous default (the merge deployment),
    /// the booted one, pinned ones and other stateroots' are kept, others removed. A
    /// staged deployment is discarded: this one replaces it.
    pub fn deploy(&self, rev: &str, options: &DeployOptions) -> Result<DeployReport, Error> {
        let prepared = self.prepare(rev, options)?;
        self.set_deployment_immutable(&self.dir_of(&prepared.deployment), true)?;
        self.discard_staged()?;
        let list = if options.retain
            || options.retain_rollback
            || options.retain_pending
            || options.not_as_default
        {
            placed(
                prepared.deployment,
                &prepared.state,
                prepared.booted,
                options,
            )
        } else {
            self.retained(
                prepared.deployment,
                &prepared.state,
                prepared.booted,
                prepared.merge.as_ref(),
            )
        };
        let new_state = self.commit_new(&prepared.state, list)?;
        let bootloader = BootloaderUpdate {
            bootconfig_swap: new_state.bootversion != prepared.state.bootversion,
            bootversion: new_state.bootversion,
            subbootversion: new_state.subbootversion,
            count_change: new_state.deployments.len() as i64
                - prepared.state.deployments.len() as i64,
        };
        let cleanup = self.cleanup()?;
        Ok(DeployReport {
            deployment: new_state.deployments[0].clone(),
            etc: prepared.etc,
            cleanup,
            bootloader: Some(bootloader),
        })
    }
}

/// The new list when `options` keep every deployment (`--retain`), the rollback or
/// pending ones (`--retain-rollback`, `--retain-pending`), or add the new one
/// after the booted one, or last (`--not-as-default`); pinned and other stateroots'
/// deployments always stay, as in [`Sysroot::retained`].
fn placed(
    new: Deployment,
    state: &BootState,
    booted: Option<usize>,
    options: &DeployOptions,
) -> Vec<Deployment> {
    let mut list: Vec<Deployment> = state
        .deployments
        .iter()
        .enumerate()
        .filter(|&(i, d)| {
            let rollback = booted.is_none_or(|b| i > b);
            let pending = booted.is_some_and(|b| i < b);
            options.retain
                || (options.retain_rollback && rollback)
                || (options.retain_pending && pending)
                || d.pinned()
                || d.osname != new.osname
                || Some(i) == booted
        })
        .map(|(_, d)| d.clone())
        .collect();
    let at = match (options.not_as_default, booted) {
        (false, _) => 0,
        (true, Some(b)) => {
            let booted = &state.deployments[b];
            list.iter()
                .position(|d| d.same(booted))
                .map_or(list.len(), |i| i + 1)
        }
        (true, None) => list.len(),
    };
    list.insert(at, new);
    list
}
