//! Following an origin, as rpm-ostree's `upgrade`, `rebase` and `deploy REV` do: the
//! booted deployment's origin names a refspec (`REMOTE:REF` pulled over HTTP, or a local
//! `REF`); an upgrade deploys that refspec's newest commit, a rebase switches to another
//! refspec, a deploy of a revision pins a commit with `override-commit`.

use ferro_ostree::Checksum;
use ferro_ostree::pull::{PullOptions, pull};

use crate::deploy::{DeployOptions, DeployReport};
use crate::deployment::Deployment;
use crate::error::Error;
use crate::layout::Sysroot;

/// Where the followed refspec stands compared with what is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeCheck {
    /// The stateroot.
    pub osname: String,
    /// The origin's refspec.
    pub refspec: String,
    /// The newest deployed commit: the staged deployment's, else the default's.
    pub current: Checksum,
    /// The commit the refspec names now.
    pub latest: Checksum,
}

impl UpgradeCheck {
    /// Whether an upgrade would deploy something new.
    pub fn available(&self) -> bool {
        self.current != self.latest
    }
}

/// How `ostree admin upgrade` upgrades.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeOptions {
    /// The stateroot (`--os`); default: the booted or default deployment's.
    pub osname: Option<String>,
    /// Now, or staged.
    pub apply: Apply,
    /// Deploy this commit instead of the refspec's newest (`--override-commit`),
    /// recorded as the origin's `override-commit`.
    pub override_commit: Option<String>,
    /// Deploy a commit older than the current one (`--allow-downgrade`).
    pub allow_downgrade: bool,
    /// Only pull (`--pull-only`).
    pub pull_only: bool,
    /// Only deploy what the repository already has (`--deploy-only`).
    pub deploy_only: bool,
}

/// Whether a new deployment becomes the default now or at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Apply {
    /// Write the boot entries now.
    #[default]
    Now,
    /// Stage it for [`Sysroot::finalize_staged`].
    Staged,
    /// Stage it with finalization locked (`--lock-finalization`): it becomes the
    /// default only after [`Sysroot::unlock_staged`], as an update agent stages.
    StagedLocked,
    /// Stage it, but only on a system booted from this sysroot, as `ostree admin`
    /// stages (nothing is written otherwise).
    StagedIfBooted,
}

impl Apply {
    /// [`Apply::StagedIfBooted`] when `stage` (`ostree admin … --stage`), else
    /// [`Apply::Now`].
    pub fn ostree_staged_if(stage: bool) -> Self {
        if stage {
            Apply::StagedIfBooted
        } else {
            Apply::Now
        }
    }

    /// [`Apply::Staged`] when `stage` (a `--stage` flag), else [`Apply::Now`].
    pub fn staged_if(stage: bool) -> Self {
        if stage { Apply::Staged } else { Apply::Now }
    }

    /// `--stage` / `--lock-finalization` (which implies staging).
    pub fn from_flags(stage: bool, lock_finalization: bool) -> Self {
        match (stage, lock_finalization) {
            (_, true) => Apply::StagedLocked,
            (true, false) => Apply::Staged,
            (false, false) => Apply::Now,
        }
    }
}

impl Sysroot {
    /// The deployment whose origin updates follow: the booted one, else the default;
    /// with `osname`, the booted one if it is of that stateroot, else the stateroot's
    /// first (`ostree admin upgrade --os`).
    fn origin_deployment(&self, osname: Option<&str>) -> Result<Deployment, Error> {
        let state = self.load()?;
        let booted = self.booted_index(&state)?;
        let index = match osname {
            None => booted.unwrap_or(0),
            Some(os) => booted
                .filter(|&i| state.deployments[i].osname == os)
                .or_else(|| state.deployments.iter().position(|d| d.osname == os))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "no deployments of stateroot '{os}': deploy one first"
                    ))
                })?,
        };
        state
            .deployments
            .into_iter()
            .nth(index)
            .ok_or_else(|| Error::Invalid("no deployments: deploy a commit first".to_owned()))
    }

    /// Makes `refspec`'s commit available in the repository and returns it: a
    /// `REMOTE:REF` is pulled first (with `metadata_only`, only the commit, enough to
    /// compare), a local ref is read.
    pub fn fetch_refspec(&self, refspec: &str, metadata_only: bool) -> Result<Checksum, Error> {
        self.fetch_refspec_since(refspec, metadata_only, None)
    }

    /// [`Sysroot::fetch_refspec`], refusing (before its content is fetched, and
    /// before the ref moves) a remote commit older than `floor`, as OSTree's upgrader
    /// pulls.
    fn fetch_refspec_since(
        &self,
        refspec: &str,
        metadata_only: bool,
        floor: Option<Checksum>,
    ) -> Result<Checksum, Error> {
        if let Some((remote, name)) = refspec.split_once(':') {
            let options = PullOptions {
                commit_metadata_only: metadata_only,
                timestamp_check_from: floor,
                ..PullOptions::default()
            };
            pull(self.repo(), remote, &[name.to_owned()], &options, &()).map_err(Box::new)?;
        }
        Ok(self.repo().resolve_rev(refspec)?)
    }

    /// What the origin's refspec offers; with `no_downgrade`, a commit older than the
    /// current one is refused before it is fetched.
    fn check(
        &self,
        osname: Option<&str>,
        metadata_only: bool,
        no_downgrade: bool,
    ) -> Result<UpgradeCheck, Error> {
        let origin = self.origin_deployment(osname)?;
        // An origin marked unconfigured (e.g. no subscription) names why it cannot
        // update, as `ostree admin upgrade` reports it.
        if let Some(why) = origin.origin.get("origin", "unconfigured-state") {
            return Err(Error::Invalid(why));
        }
        let refspec = origin
            .refspec()
            .ok_or_else(|| Error::Invalid("the booted deployment has no origin refspec".into()))?;
        let state = self.load()?;
        // A layered deployment's commit is local: compare its base.
        let current = self.layer_base(&match self.staged()? {
            Some(staged) => staged.checksum,
            None => self
                .merge_deployment(&state, None, &origin.osname)
                .map_or(origin.checksum, |d| d.checksum),
        });
        let floor = no_downgrade.then_some(current);
        let latest = self.fetch_refspec_since(&refspec, metadata_only, floor)?;
        let (refspec, latest) = match self.end_of_life_rebase(&refspec, &latest)? {
            Some(next) => {
                let latest = self.fetch_refspec_since(&next, metadata_only, floor)?;
                (next, latest)
            }
            None => (refspec, latest),
        };
        Ok(UpgradeCheck {
            osname: origin.osname,
            refspec,
            current,
            latest,
        })
    }

    /// Whether the origin's refspec has a commit that is not deployed yet; pulls only
    /// commit metadata from a remote.
    pub fn check_upgrade(&self) -> Result<UpgradeCheck, Error> {
        self.check(None, true, false)
    }

    /// Pulls the origin's refspec and deploys its newest commit unless it is deployed
    /// already (`None`). An `override-commit` of the origin is dropped: the deployment
    /// follows the refspec again.
    pub fn upgrade(&self, apply: Apply) -> Result<(UpgradeCheck, Option<DeployReport>), Error> {
        self.upgrade_os(None, apply)
    }

    /// [`Sysroot::upgrade`] of the stateroot `osname` (default: the booted or default
    /// deployment's), as `ostree admin upgrade --os=OSNAME`.
    pub fn upgrade_os(
        &self,
        osname: Option<&str>,
        apply: Apply,
    ) -> Result<(UpgradeCheck, Option<DeployReport>), Error> {
        let how = UpgradeOptions {
            osname: osname.map(str::to_owned),
            apply,
            ..UpgradeOptions::default()
        };
        self.upgrade_with(&how)
    }

    /// `ostree admin upgrade` with every option [`UpgradeOptions`] has. With
    /// `pull_only` nothing is deployed (`None`).
    pub fn upgrade_with(
        &self,
        how: &UpgradeOptions,
    ) -> Result<(UpgradeCheck, Option<DeployReport>), Error> {
        let mut check = if how.deploy_only {
            self.check_local(how.osname.as_deref())?
        } else {
            let no_downgrade = !how.allow_downgrade && how.override_commit.is_none();
            self.check(how.osname.as_deref(), false, no_downgrade)?
        };
        if how.pull_only {
            return Ok((check, None));
        }
        if let Some(rev) = &how.override_commit {
            // A commit named by checksum may not be in the ref's history (an update
            // graph can offer any commit): pulled pinned, as `rpm-ostree deploy` does.
            if !how.deploy_only
                && let Ok(id) = rev.parse::<Checksum>()
                && let Some((remote, name)) = check.refspec.split_once(':')
            {
                let pinned = format!("{name}@{id}");
                pull(self.repo(), remote, &[pinned], &PullOptions::default(), &())
                    .map_err(Box::new)?;
            }
            check.latest = self.repo().resolve_rev(rev)?;
        }
        if !check.available() {
            return Ok((check, None));
        }
        if !how.allow_downgrade {
            ferro_ostree::browse::check_not_older(self.repo(), &check.current, &check.latest)?;
        }
        let options = DeployOptions {
            osname: Some(check.osname.clone()),
            refspec: Some(check.refspec.clone()),
            override_commit: how.override_commit.is_some(),
            ..DeployOptions::default()
        };
        let report = self.deploy_with(&check.latest.to_string(), &options, how.apply)?;
        Ok((check, Some(report)))
    }

    /// The refspec an end-of-life commit redirects to (`ostree.endoflife-rebase`:
    /// another ref of the same remote), which upgrades follow as `ostree` does.
    fn end_of_life_rebase(
        &self,
        refspec: &str,
        commit: &Checksum,
    ) -> Result<Option<String>, Error> {
        let meta = self.repo().load_commit(commit)?;
        Ok(meta.metadata_string("ostree.endoflife-rebase").map(|next| {
            match refspec.split_once(':') {
                Some((remote, _)) => format!("{remote}:{next}"),
                None => next,
            }
        }))
    }

    /// [`Sysroot::check`] without pulling: the refspec as the repository has it.
    fn check_local(&self, osname: Option<&str>) -> Result<UpgradeCheck, Error> {
        let origin = self.origin_deployment(osname)?;
        let refspec = origin
            .refspec()
            .ok_or_else(|| Error::Invalid("the deployment has no origin refspec".into()))?;
        let latest = self.repo().resolve_rev(&refspec)?;
        let (refspec, latest) = match self.end_of_life_rebase(&refspec, &latest)? {
            Some(next) => {
                let latest = self.repo().resolve_rev(&next)?;
                (next, latest)
            }
            None => (refspec, latest),
        };
        Ok(UpgradeCheck {
            osname: origin.osname,
            refspec,
            current: self.layer_base(&origin.checksum),
            latest,
        })
    }

    /// Switches the origin to `refspec` (pulled first when it is `REMOTE:REF`) and
    /// deploys its commit; `/etc` and `/var` carry over as in every deploy.
    pub fn rebase(&self, refspec: &str, apply: Apply) -> Result<DeployReport, Error> {
        let osname = self.origin_deployment(None).ok().map(|d| d.osname);
        let commit = self.fetch_refspec(refspec, false)?;
        let options = DeployOptions {
            osname,
            refspec: Some(refspec.to_owned()),
            ..DeployOptions::default()
        };
        self.deploy_with(&commit.to_string(), &options, apply)
    }

    /// Switches stateroot `osname`'s origin (default: the booted or default
    /// deployment's) to `target` and deploys it, as `ostree admin switch`: a `target`
    /// without a remote keeps the current refspec's remote.
    pub fn switch_os(
        &self,
        osname: Option<&str>,
        target: &str,
        apply: Apply,
    ) -> Result<DeployReport, Error> {
        let origin = self.origin_deployment(osname)?;
        let current = origin.refspec().unwrap_or_default();
        let (remote, name) = match current.split_once(':') {
            Some((remote, name)) => (Some(remote), name),
            None => (None, current.as_str()),
        };
        // `REMOTE:REF`, `REMOTE:` (same ref from another remote) or `REF` (same remote).
        let refspec = match target.split_once(':') {
            Some((new_remote, "")) => format!("{new_remote}:{name}"),
            Some(_) => target.to_owned(),
            None => match remote {
                Some(remote) => format!("{remote}:{target}"),
                None => target.to_owned(),
            },
        };
        if current == refspec {
            return Err(Error::Invalid(format!(
                "Old and new refs are equal: {refspec}"
            )));
        }
        let commit = self.fetch_refspec(&refspec, false)?;
        let options = DeployOptions {
            osname: Some(origin.osname),
            refspec: Some(refspec),
            ..DeployOptions::default()
        };
        self.deploy_with(&commit.to_string(), &options, apply)
    }

    /// Deploys a revision of the local repository while keeping the origin's refspec:
    /// a commit other than the refspec's head is recorded as `override-commit`, so
    /// a later upgrade knows the deployment was chosen, not followed.
    pub fn deploy_revision(&self, rev: &str, apply: Apply) -> Result<DeployReport, Error> {
        let commit = self.repo().resolve_rev(rev)?;
        let origin = self.origin_deployment(None).ok();
        let refspec = origin
            .as_ref()
            .and_then(|d| d.refspec())
            .unwrap_or_else(|| rev.to_owned());
        let head = self.repo().resolve_rev(&refspec).ok();
        let options = DeployOptions {
            osname: origin.map(|d| d.osname),
            override_commit: head != Some(commit),
            refspec: Some(refspec),
            ..DeployOptions::default()
        };
        self.deploy_with(&commit.to_string(), &options, apply)
    }

    /// Deploys `rev` with the layered packages of the default deployment rebuilt on it
    /// ([`Sysroot::relayer`]).
    fn deploy_with(
        &self,
        rev: &str,
        options: &DeployOptions,
        apply: Apply,
    ) -> Result<DeployReport, Error> {
        let (rev, options) = self.relayer(rev, options)?;
        self.deploy_apply(&rev, &options, apply)
    }

    /// Deploys `rev` as it is, now or staged.
    pub(crate) fn deploy_apply(
        &self,
        rev: &str,
        options: &DeployOptions,
        apply: Apply,
    ) -> Result<DeployReport, Error> {
        match apply {
            Apply::Now => self.deploy(rev, options),
            Apply::Staged => self.stage(rev, options),
            Apply::StagedLocked => {
                let options = DeployOptions {
                    lock_finalization: true,
                    ..options.clone()
                };
                self.stage(rev, &options)
            }
            Apply::StagedIfBooted => {
                let options = DeployOptions {
                    stage_requires_booted: true,
                    ..options.clone()
                };
                self.stage(rev, &options)
            }
        }
    }
}
