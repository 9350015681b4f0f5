//! Package layering, as rpm-ostree's `install`, `uninstall` and `override remove|reset`,
//! on Debian packages.
//!
//! A deployment's origin records what was requested ([`Requests`]); a layered
//! deployment's commit is a local commit whose parent is the base commit and whose
//! metadata records what was layered ([`LayerMeta`]). Every change rebuilds the layer
//! from the base: a hardlink checkout of the base commit, the removals (`dpkg
//! --remove`), the packages resolved by apt against the archive the tree's own apt
//! sources name (signatures and hashes verified), unpacked and configured by `dpkg
//! --root` in a sandbox ([`apt`]), the tree shaped back ([`tree`]: users → sysusers.d,
//! `/var` → tmpfiles.d, kernel modules → depmod + initramfs), committed with the
//! devino cache so unchanged files are recorded under the base's objects without being
//! read, then deployed like any commit. `upgrade`, `rebase` and `deploy` rebuild the
//! layer on their new base (see `Sysroot::relayer`); [`Sysroot::apply_live`] makes the
//! pending deployment's additions available without a reboot.
//!
//! A failure at any step removes the work tree and leaves the deployments as they were;
//! the repository keeps at most unreferenced objects, which the next prune reclaims.

pub mod apt;
mod live;
mod requests;
mod tree;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferro_ostree::Checksum;
use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir, devino_cache};
use ferro_ostree::object::Variant;
use ferro_sys::IoResultExt;
use sha2::{Digest, Sha256};

pub use apt::{Install, Transaction};
pub use live::LiveReport;
pub use requests::{LayerMeta, LayerStatus, Requests};
pub use tree::{DPKG_DB, SYSUSERS, TMPFILES};

use crate::deploy::{DeployOptions, DeployReport};
use crate::deployment::Deployment;
use crate::error::Error;
use crate::fsutil;
use crate::layout::Sysroot;
use crate::upgrade::Apply;
use requests::{META_CLIENTLAYER, META_INSTALLED, META_LOCAL, META_PACKAGES, META_REMOVED};

/// Why layering refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The request itself is not acceptable (already requested, in the base, locked…).
    #[error("{0}")]
    Refused(String),
    /// A step of building the layer failed.
    #[error("{step} failed: {detail}")]
    Step {
        /// What was being done (and for which packages).
        step: &'static str,
        /// Why, usually the tool's own message.
        detail: String,
    },
}

fn step(step: &'static str) -> impl Fn(apt::ToolError) -> Error {
    move |e| {
        LayerError::Step {
            step,
            detail: e.to_string(),
        }
        .into()
    }
}

fn refused(message: String) -> Error {
    LayerError::Refused(message).into()
}

/// A change of the layering requests: one `ferro install|uninstall|override` command.
#[derive(Debug, Clone, Default)]
pub struct PackageChange {
    /// Archive packages to layer.
    pub install: Vec<String>,
    /// Local `.deb` files to layer.
    pub install_local: Vec<PathBuf>,
    /// Layered packages (archive or local, by name) to drop.
    pub uninstall: Vec<String>,
    /// Base packages to remove.
    pub override_remove: Vec<String>,
    /// Base removals to undo.
    pub override_reset: Vec<String>,
    /// Undo every base removal (`override reset --all`).
    pub override_reset_all: bool,
}

/// How to apply a [`PackageChange`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerOptions {
    /// Now or staged, as for deploys.
    pub apply: Apply,
    /// Resolve and print the transaction; change nothing (`--dry-run`).
    pub dry_run: bool,
    /// Accept requests the base already satisfies (`--allow-inactive`).
    pub allow_inactive: bool,
    /// A request already made is no error but a no-op (`--idempotent`).
    pub idempotent: bool,
}

/// A layer built on a base commit.
#[derive(Debug, Clone)]
pub struct LayerBuild {
    /// The layered commit (parent: the base).
    pub commit: Checksum,
    /// What apt resolved.
    pub transaction: Transaction,
    /// Kernel versions whose modules changed (depmod and initramfs redone).
    pub kernels: Vec<String>,
    /// Time spent fetching indexes, resolving and downloading.
    pub fetch_time: Duration,
    /// Time spent checking out, installing and committing (not downloading).
    pub build_time: Duration,
}

/// What a [`Sysroot::change_packages`] did.
#[derive(Debug)]
pub struct LayerOutcome {
    /// The requests after the change.
    pub requests: Requests,
    /// Whether the requests changed (an `--idempotent` repeat does not).
    pub changed: bool,
    /// Requests the base satisfies, not layered.
    pub inactive: Vec<String>,
    /// The transaction (also for `--dry-run`); `None` when nothing needs layering.
    pub transaction: Option<Transaction>,
    /// The layer, if one was built.
    pub build: Option<LayerBuild>,
    /// The new deployment (none for a dry run or no change).
    pub deployment: Option<DeployReport>,
}

/// Where the layering keeps local packages and apt's cache, in the stateroot's `/var`.
fn local_store(sysroot: &Sysroot, osname: &str) -> PathBuf {
    sysroot
        .stateroot(osname)
        .join("var/lib/ferro/layer/local-packages")
}

fn apt_cache(sysroot: &Sysroot, osname: &str) -> PathBuf {
    sysroot.stateroot(osname).join("var/cache/ferro/layer")
}

fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = fs::File::open(path).at("open", path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).at("read", path)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `NAME → VERSION` of the packages installed according to a dpkg `status` file.
pub fn installed_versions(status: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for stanza in status.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        if let (Some(name), Some(state)) = (field("Package"), field("Status"))
            && state.ends_with(" installed")
        {
            let version = field("Version").unwrap_or_default();
            out.insert(name.to_owned(), version.to_owned());
        }
    }
    out
}

/// The names of the packages installed according to a dpkg `status` file.
pub fn installed_packages(status: &str) -> BTreeSet<String> {
    installed_versions(status).into_keys().collect()
}

/// Removes the work directory however the build ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fsutil::remove_tree(&self.0);
    }
}

impl Sysroot {
    /// The base commit of `commit`: its parent when it is a layered commit, else itself.
    pub fn layer_base(&self, commit: &Checksum) -> Checksum {
        match self.repo().load_commit(commit) {
            Ok(c) if LayerMeta::of(&c).layered => c.parent.unwrap_or(*commit),
            _ => *commit,
        }
    }

    /// Points `ferro/base/N` refs at the base commits of the layered deployments
    /// among `deployments` (rpm-ostree's `rpmostree/base/N`), so that pruning, which
    /// keeps only what refs name, keeps the bases later layering starts from.
    pub(crate) fn write_base_refs(&self, deployments: &[Deployment]) -> Result<(), Error> {
        let repo = self.repo();
        for (name, _) in repo.list_refs()? {
            if name.starts_with("ferro/base/") {
                repo.set_ref(&name, None)?;
            }
        }
        let bases: BTreeSet<Checksum> = deployments
            .iter()
            .map(|d| (d.checksum, self.layer_base(&d.checksum)))
            .filter(|(commit, base)| commit != base)
            .map(|(_, base)| base)
            .collect();
        for (i, base) in bases.iter().enumerate() {
            repo.set_ref(&format!("ferro/base/{i}"), Some(base))?;
        }
        self.prune_local_packages(deployments)
    }

    /// Removes the kept local packages no deployment's origin requests any more (and
    /// copies left by a layering that failed).
    fn prune_local_packages(&self, deployments: &[Deployment]) -> Result<(), Error> {
        let wanted: BTreeSet<(String, String)> = deployments
            .iter()
            .flat_map(|d| {
                Requests::from_origin(&d.origin)
                    .local
                    .into_keys()
                    .map(|sha| (d.osname.clone(), format!("{sha}.deb")))
            })
            .collect();
        let osnames: BTreeSet<&str> = deployments.iter().map(|d| d.osname.as_str()).collect();
        for os in osnames {
            let store = local_store(self, os);
            let Ok(entries) = fs::read_dir(&store) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !wanted.contains(&(os.to_owned(), name)) {
                    fsutil::remove_file_if_exists(&entry.path())?;
                }
            }
        }
        Ok(())
    }

    /// The layering shown for `deployment` by `status`.
    pub fn layer_status(&self, deployment: &Deployment) -> LayerStatus {
        let requests = Requests::from_origin(&deployment.origin);
        let commit = self.repo().load_commit(&deployment.checksum).ok();
        let meta = commit.as_ref().map(LayerMeta::of).unwrap_or_default();
        LayerStatus {
            base_checksum: commit.filter(|_| meta.layered).and_then(|c| c.parent),
            requested_packages: requests.packages.iter().cloned().collect(),
            requested_local_packages: requests.local_entries(),
            requested_base_removals: requests.removals.iter().cloned().collect(),
            packages: meta.packages,
            local_packages: meta.local,
            base_removals: meta.removed,
        }
    }

    /// The packages the dpkg database of `commit` lists as installed.
    pub fn commit_packages(&self, commit: &Checksum) -> Result<BTreeSet<String>, Error> {
        let path = format!("/{DPKG_DB}/status");
        let mut content = ferro_ostree::browse::cat(self.repo(), commit, &path).map_err(|e| {
            refused(format!(
                "commit {commit} has no dpkg database at {path} ({e}): compose it with this \
                 version of ferro to layer packages on it"
            ))
        })?;
        let mut text = String::new();
        content
            .reader
            .read_to_string(&mut text)
            .at("read", Path::new(&path))?;
        Ok(installed_packages(&text))
    }

    /// The deployment layering changes start from: the staged one, else the default
    /// one (so changes made before a reboot accumulate, as in rpm-ostree).
    fn layering_deployment(&self) -> Result<Deployment, Error> {
        if let Some(staged) = self.staged()? {
            return Ok(staged);
        }
        let state = self.load()?;
        let booted = self.booted_index(&state)?;
        let os = booted.map(|i| state.deployments[i].osname.clone());
        state
            .deployments
            .into_iter()
            .find(|d| os.as_ref().is_none_or(|os| &d.osname == os))
            .ok_or_else(|| Error::Invalid("no deployments: deploy a commit first".to_owned()))
    }

    /// The path whose existence means the agent's staged update must not be finalized
    /// yet (OSTree's finalization lock, `staged-deployment-locked` beside the staged
    /// deployment record); layering refuses while it exists.
    pub fn finalization_lock(&self) -> PathBuf {
        self.staged_lock_path()
    }

    /// Applies `change` to the layering requests of the default (or staged)
    /// deployment, builds the layer on its base and deploys it.
    pub fn change_packages(
        &self,
        change: &PackageChange,
        options: &LayerOptions,
    ) -> Result<LayerOutcome, Error> {
        let lock = self.finalization_lock();
        // The lock file, or a record staged locked (OSTree's `locked` key).
        if self.finalization_locked()? && !options.dry_run {
            return Err(refused(format!(
                "a staged update is locked for finalization ('{}' exists, set by the update \
                 agent): layering now would replace it and drop the lock; let the agent \
                 finish (reboot into the update) or remove the lock first",
                lock.display()
            )));
        }
        let current = self.layering_deployment()?;
        let old = Requests::from_origin(&current.origin);
        let base = self.layer_base(&current.checksum);
        let base_packages = self.commit_packages(&base)?;
        let mut new = old.clone();
        let already = |what: &str| -> Result<(), Error> {
            if options.idempotent {
                Ok(())
            } else {
                Err(refused(format!(
                    "{what} is already requested (use --idempotent to accept repeats)"
                )))
            }
        };
        for name in &change.install {
            if new.packages.contains(name) {
                already(&format!("package '{name}'"))?;
                continue;
            }
            if base_packages.contains(name) && !options.allow_inactive {
                return Err(refused(format!(
                    "package '{name}' is already provided by the base commit {base}; use \
                     --allow-inactive to request it anyway (it is layered if a future base \
                     drops it)"
                )));
            }
            new.packages.insert(name.clone());
        }
        let store = local_store(self, &current.osname);
        let mut new_local_files = vec![];
        for file in &change.install_local {
            let sha = sha256_file(file)?;
            let (name, version, arch) = apt::deb_fields(file).map_err(|e| {
                refused(format!("'{}' is not a Debian package: {e}", file.display()))
            })?;
            if new.local.contains_key(&sha) {
                already(&format!("local package '{}'", file.display()))?;
                continue;
            }
            new.local
                .insert(sha.clone(), format!("{name}_{version}_{arch}"));
            new_local_files.push((file.clone(), store.join(format!("{sha}.deb"))));
        }
        for name in &change.uninstall {
            let local: Vec<String> = new
                .local
                .iter()
                .filter(|(_, nva)| nva.split('_').next() == Some(name.as_str()))
                .map(|(sha, _)| sha.clone())
                .collect();
            if !new.packages.remove(name) && local.is_empty() {
                return Err(refused(format!(
                    "package '{name}' is not currently requested (see `ferro status`)"
                )));
            }
            for sha in local {
                new.local.remove(&sha);
            }
        }
        for name in &change.override_remove {
            if new.removals.contains(name) {
                already(&format!("the removal of '{name}'"))?;
                continue;
            }
            if !base_packages.contains(name) {
                return Err(refused(format!(
                    "package '{name}' is not in the base commit {base}; nothing to remove"
                )));
            }
            if new.packages.contains(name) {
                return Err(refused(format!(
                    "package '{name}' is requested for layering; uninstall it instead"
                )));
            }
            new.removals.insert(name.clone());
        }
        for name in &change.override_reset {
            if !new.removals.remove(name) {
                return Err(refused(format!("no override of package '{name}' to reset")));
            }
        }
        if change.override_reset_all {
            new.removals.clear();
        }
        let inactive: Vec<String> = new
            .packages
            .iter()
            .filter(|p| base_packages.contains(*p))
            .cloned()
            .collect();
        let changed = new != old;
        if !changed {
            return Ok(LayerOutcome {
                requests: new,
                changed,
                inactive,
                transaction: None,
                build: None,
                deployment: None,
            });
        }
        for (from, to) in &new_local_files {
            if !options.dry_run && !to.exists() {
                let parent = to.parent().expect("has a parent");
                fs::create_dir_all(parent).at("create", parent)?;
                fs::copy(from, to).at("copy", from)?;
            }
        }
        let local_paths: Vec<PathBuf> = if options.dry_run {
            change.install_local.clone()
        } else {
            vec![]
        };
        let built = self.build_layer(
            &current.osname,
            &base,
            &new,
            options.dry_run.then_some(&local_paths[..]),
        )?;
        if options.dry_run {
            return Ok(LayerOutcome {
                requests: new,
                changed,
                inactive,
                transaction: built.map(|b| b.transaction),
                build: None,
                deployment: None,
            });
        }
        let commit = built.as_ref().map_or(base, |b| b.commit);
        let deploy = DeployOptions {
            osname: Some(current.osname.clone()),
            refspec: current.refspec(),
            extra_origin: Some(new.to_origin()),
            ..DeployOptions::default()
        };
        let report = self.deploy_apply(&commit.to_string(), &deploy, options.apply)?;
        Ok(LayerOutcome {
            requests: new,
            changed,
            inactive,
            transaction: built.as_ref().map(|b| b.transaction.clone()),
            build: built,
            deployment: Some(report),
        })
    }

    /// The revision and options a deploy of `rev` uses once the layering requests of
    /// the default (or staged) deployment are applied to it: `upgrade`, `rebase` and
    /// `deploy` keep what was layered, rebuilt on the new base. Requests the new base
    /// satisfies become inactive.
    pub(crate) fn relayer(
        &self,
        rev: &str,
        options: &DeployOptions,
    ) -> Result<(String, DeployOptions), Error> {
        let Ok(current) = self.layering_deployment() else {
            return Ok((rev.to_owned(), options.clone()));
        };
        if options
            .osname
            .as_ref()
            .is_some_and(|os| *os != current.osname)
        {
            return Ok((rev.to_owned(), options.clone()));
        }
        let requests = Requests::from_origin(&current.origin);
        if requests.is_empty() {
            return Ok((rev.to_owned(), options.clone()));
        }
        let base = self.repo().resolve_rev(rev)?;
        let base = self.layer_base(&base);
        let built = self.build_layer(&current.osname, &base, &requests, None)?;
        let options = DeployOptions {
            extra_origin: Some(requests.to_origin()),
            ..options.clone()
        };
        Ok((built.map_or(base, |b| b.commit).to_string(), options))
    }

    /// Builds the layer `requests` describe on `base`; `None` when the base already
    /// satisfies every request. With `dry_run` (the local files to resolve), only
    /// resolves: the returned build has the transaction and no commit.
    pub fn build_layer(
        &self,
        osname: &str,
        base: &Checksum,
        requests: &Requests,
        dry_run: Option<&[PathBuf]>,
    ) -> Result<Option<LayerBuild>, Error> {
        let base_packages = self.commit_packages(base)?;
        let active: Vec<String> = requests
            .packages
            .iter()
            .filter(|p| !base_packages.contains(*p))
            .cloned()
            .collect();
        let removals: Vec<String> = requests
            .removals
            .iter()
            .filter(|p| base_packages.contains(*p))
            .cloned()
            .collect();
        let store = local_store(self, osname);
        let local_files: Vec<PathBuf> = match dry_run {
            Some(files) => files
                .iter()
                .cloned()
                .chain(
                    requests
                        .local
                        .keys()
                        .map(|sha| store.join(format!("{sha}.deb")))
                        .filter(|p| p.exists()),
                )
                .collect(),
            None => requests
                .local
                .keys()
                .map(|sha| store.join(format!("{sha}.deb")))
                .collect(),
        };
        if active.is_empty() && local_files.is_empty() && removals.is_empty() {
            return Ok(None);
        }
        for file in &local_files {
            if !file.is_file() {
                return Err(refused(format!(
                    "the local package '{}' is gone; `ferro uninstall` it",
                    file.display()
                )));
            }
        }
        // A kept local package must still be the file that was requested.
        for sha in requests.local.keys() {
            let file = store.join(format!("{sha}.deb"));
            if file.is_file() && sha256_file(&file)? != *sha {
                return Err(refused(format!(
                    "the local package '{}' no longer matches its sha256 {sha}; `ferro \
                     uninstall` it and install the file again",
                    file.display()
                )));
            }
        }
        let started = Instant::now();
        let tmp = self.repo().path().join("tmp");
        fs::create_dir_all(&tmp).at("create", &tmp)?;
        let work = WorkDir(tmp.join(format!("ferro-layer-{}", std::process::id())));
        fsutil::remove_tree(&work.0)?;
        fs::create_dir_all(&work.0).at("create", &work.0)?;
        let root = work.0.join("tree");
        checkout(self.repo(), base, &root, &CheckoutOptions::default())?;
        let tree = tree::WorkTree::prepare(&root, &work.0.join("var-base"))?;
        if !removals.is_empty() && dry_run.is_none() {
            let mut args: Vec<OsString> = vec!["--purge".into()];
            args.extend(removals.iter().map(OsString::from));
            apt::dpkg(&root, &args).map_err(step("removing base packages (dpkg --purge)"))?;
        }
        let mut build_time = started.elapsed();
        let fetch_started = Instant::now();
        let cache = apt_cache(self, osname);
        let apt = apt::Apt {
            tree: &root,
            cache: &cache,
        };
        apt.prepare().at("create", &cache)?;
        let mut transaction = Transaction::default();
        let mut files = vec![];
        if !active.is_empty() || !local_files.is_empty() {
            let mut args: Vec<OsString> = active.iter().map(OsString::from).collect();
            args.extend(local_files.iter().map(|p| p.as_os_str().to_owned()));
            // Local packages alone resolve without the archive unless their
            // dependencies need it: the indexes are fetched for archive packages, or
            // when none were fetched yet.
            let needs_index = !active.is_empty()
                || fs::read_dir(cache.join("lists")).map_or(true, |d| {
                    !d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with("Packages"))
                });
            if needs_index {
                apt.update()
                    .map_err(step("fetching the archive indexes (apt-get update)"))?;
            }
            transaction = apt
                .simulate(&args)
                .map_err(step("resolving the packages (apt-get install)"))?;
            let replaced: Vec<String> = transaction
                .install
                .iter()
                .filter_map(|p| {
                    let old = p.replaces.as_ref()?;
                    Some(format!("{} {old} -> {}", p.name, p.version))
                })
                .chain(
                    transaction
                        .remove
                        .iter()
                        .map(|(name, version)| format!("{name} {version} (removed)")),
                )
                .collect();
            if !replaced.is_empty() {
                return Err(refused(format!(
                    "forbidden base package replacements: {} (the archive has moved past \
                     the base; upgrade the base first, or request an override)",
                    replaced.join(", ")
                )));
            }
            if dry_run.is_none() {
                apt.download(&args)
                    .map_err(step("downloading the packages (apt-get --download-only)"))?;
            }
            let local_by_name: Vec<(String, PathBuf)> = local_files
                .iter()
                .filter_map(|f| Some((apt::deb_fields(f).ok()?.0, f.clone())))
                .collect();
            for p in &transaction.install {
                match local_by_name.iter().find(|(n, _)| *n == p.name) {
                    Some((_, file)) => files.push(file.clone()),
                    None => files.push(apt::archive_file(&apt.archives(), p)),
                }
            }
        }
        for name in &removals {
            let version = String::new();
            transaction.remove.push((name.clone(), version));
        }
        let fetch_time = fetch_started.elapsed();
        if dry_run.is_some() {
            return Ok(Some(LayerBuild {
                commit: *base,
                transaction,
                kernels: vec![],
                fetch_time,
                build_time,
            }));
        }
        let build_started = Instant::now();
        if !files.is_empty() {
            let mut args: Vec<OsString> = vec!["--install".into()];
            args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
            apt::dpkg(&root, &args).map_err(step("installing the packages (dpkg)"))?;
        }
        let installed: Vec<String> = transaction.install.iter().map(|p| p.name.clone()).collect();
        let kernels = tree.finish(&installed)?;

        let base_commit = self.repo().load_commit(base)?;
        let mut metadata: Vec<(String, Variant)> = base_commit
            .metadata
            .iter()
            .filter(|(k, _)| !k.ends_with("-binding") && !k.starts_with("ostree.commit"))
            .cloned()
            .collect();
        let local_names: Vec<String> = requests
            .local
            .values()
            .map(|nva| nva.split('_').next().unwrap_or(nva).to_owned())
            .collect();
        metadata.push((META_CLIENTLAYER.into(), Variant::boolean(true)));
        metadata.push((
            META_PACKAGES.into(),
            Variant::strings(active.iter().map(String::as_str)),
        ));
        metadata.push((
            META_LOCAL.into(),
            Variant::strings(local_names.iter().map(String::as_str)),
        ));
        metadata.push((
            META_REMOVED.into(),
            Variant::strings(removals.iter().map(String::as_str)),
        ));
        let installed_versions: Vec<String> = transaction
            .install
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        metadata.push((
            META_INSTALLED.into(),
            Variant::strings(installed_versions.iter().map(String::as_str)),
        ));
        let options = CommitOptions {
            subject: format!("ferro layer on {base}"),
            parent: Some(*base),
            metadata,
            no_bindings: true,
            devino: Some(Arc::new(devino_cache(self.repo())?)),
            ..CommitOptions::default()
        };
        let outcome = commit_dir(self.repo(), &root, &options)?;
        build_time += build_started.elapsed();
        drop(work);
        Ok(Some(LayerBuild {
            commit: outcome.commit,
            transaction,
            kernels,
            fetch_time,
            build_time,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_reads_only_installed_stanzas() {
        let status = "Package: a\nStatus: install ok installed\nVersion: 1\n\n\
                      Package: b\nStatus: deinstall ok config-files\n\n\
                      Package: c\nVersion: 2\nStatus: install ok installed\n";
        let names: Vec<String> = installed_packages(status).into_iter().collect();
        assert_eq!(names, ["a", "c"]);
    }
}
