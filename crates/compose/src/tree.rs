//! `ferro compose tree`: manifest → debootstrap → post-processing → OSTree commit, each
//! step timed, with the work directory and download cache under one cache directory.
//! Skipped, keeping the ref's commit, when the [`inputs`](crate::inputs) have not
//! changed since it was made.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferro_ostree::Checksum;
use ferro_sys::{IoError, IoResultExt};

use crate::debootstrap::{self, Debootstrap};
use crate::manifest::Manifest;
use crate::postprocess;

/// Why a tree could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Installing the packages.
    #[error(transparent)]
    Debootstrap(#[from] debootstrap::Error),
    /// Installing ferrocore into the tree.
    #[error(transparent)]
    Integrate(#[from] crate::integrate::Error),
    /// Reshaping the tree.
    #[error(transparent)]
    Postprocess(#[from] postprocess::Error),
    /// Hashing the inputs (fetching the archive's index).
    #[error(transparent)]
    Inputs(#[from] crate::inputs::Error),
    /// Committing.
    #[error(transparent)]
    Commit(#[from] ferro_ostree::repo::Error),
    /// A filesystem is still mounted in the work directory (a debootstrap killed
    /// midway leaves `proc` mounted); deleting through it would reach the host.
    #[error("'{0}' is still mounted; unmount it before composing again")]
    Mounted(PathBuf),
    /// The work directory could not be cleared.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// How long one step took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step's name.
    pub name: &'static str,
    /// Its duration.
    pub elapsed: Duration,
}

/// What was composed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The ref's commit: the new one, or the previous one if nothing changed.
    pub commit: Checksum,
    /// What was built; `None` when the inputs were unchanged and nothing was.
    pub built: Option<Built>,
    /// Each step's duration, in order.
    pub steps: Vec<Step>,
}

/// A tree that was built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The kernel version in the tree.
    pub kver: String,
    /// Bytes of files and symlinks in the tree (apparent size).
    pub tree_bytes: u64,
}

/// Where and with what a tree is composed.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// The repository (created in archive mode if missing).
    pub repo: PathBuf,
    /// Downloads go to `cache/debs`, the tree is built in `cache/rootfs`.
    pub cache: PathBuf,
    /// The binary installed as the tree's `ferro` (normally the running one).
    pub ferro: PathBuf,
    /// Build even if the inputs are unchanged (rpm-ostree's `--force-nocache`).
    pub force_nocache: bool,
}

/// Fails if anything is mounted at or below `dir`.
fn ensure_unmounted(dir: &Path) -> Result<(), Error> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // Field 5 is the mount point (spaces escaped as \040, which a cache path rarely has).
    let mounted = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .find(|point| Path::new(point).starts_with(dir));
    match mounted {
        Some(point) => Err(Error::Mounted(point.into())),
        None => Ok(()),
    }
}

/// Removes the work directory of an earlier run, if any.
fn clear(dir: &Path) -> Result<(), Error> {
    ensure_unmounted(dir)?;
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(IoError::new("remove", dir, e).into()),
        _ => Ok(()),
    }
}

/// Sum of file and symlink sizes below `dir`, without following links.
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => tree_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The ref's current commit in `repo`, if the repository exists and it carries
/// `input_hash`.
fn unchanged(repo: &Path, ref_name: &str, input_hash: &str) -> Option<Checksum> {
    let repo = ferro_ostree::Repo::open(repo).ok()?;
    let commit = repo.read_ref(ref_name).ok()??;
    let stored = repo.load_commit(&commit).ok()?;
    (stored
        .metadata_string(crate::inputs::METADATA_KEY)
        .as_deref()
        == Some(input_hash))
    .then_some(commit)
}

/// Composes `manifest` as `options` say; `on_step` is told each step's name as it
/// starts.
pub fn compose_tree(
    manifest: &Manifest,
    options: &TreeOptions,
    on_step: &mut dyn FnMut(&str),
) -> Result<Outcome, Error> {
    let cache = std::path::absolute(&options.cache).at("resolve", &options.cache)?;
    let rootfs = cache.join("rootfs");
    let mut steps = Vec::new();
    let mut begin = |name: &'static str| {
        on_step(name);
        (name, Instant::now())
    };
    let end = |steps: &mut Vec<Step>, (name, start): (&'static str, Instant)| {
        steps.push(Step {
            name,
            elapsed: start.elapsed(),
        })
    };

    let step = begin("inputs");
    let mirror = manifest
        .mirror
        .clone()
        .unwrap_or_else(debootstrap::host_mirror);
    let release = crate::inputs::fetch_release(&mirror, &manifest.suite)?;
    let input_hash = crate::inputs::input_hash(manifest, &mirror, &release, &options.ferro)?;
    end(&mut steps, step);
    if !options.force_nocache
        && let Some(commit) = unchanged(&options.repo, &manifest.ref_name, &input_hash)
    {
        return Ok(Outcome {
            commit,
            built: None,
            steps,
        });
    }

    let step = begin("debootstrap");
    clear(&rootfs)?;
    Debootstrap {
        suite: manifest.suite.clone(),
        mirror,
        packages: manifest.packages.clone(),
        cache_dir: cache.join("debs"),
    }
    .run(&rootfs, &cache.join("debootstrap.log"))?;
    end(&mut steps, step);

    let step = begin("integrate");
    ensure_unmounted(&rootfs)?;
    crate::integrate::integrate(&rootfs, &options.ferro, &manifest.version)?;
    end(&mut steps, step);

    let step = begin("postprocess");
    ensure_unmounted(&rootfs)?;
    let report = postprocess::postprocess(&rootfs)?;
    end(&mut steps, step);

    let step = begin("commit");
    let tree_bytes = tree_bytes(&rootfs);
    // The stream is the ref's last component (`ferrocore/x86_64/stable`); the node
    // agent reads it from the booted commit to ask the update graph for its stream.
    let stream = manifest.ref_name.rsplit('/').next().unwrap_or_default();
    let commit = crate::commit::commit_tree(
        &options.repo,
        &rootfs,
        &manifest.ref_name,
        &manifest.version,
        &[
            (crate::inputs::METADATA_KEY, &input_hash),
            ("ferrocore.stream", stream),
        ],
    )?;
    clear(&rootfs)?;
    end(&mut steps, step);

    Ok(Outcome {
        commit,
        built: Some(Built {
            kver: report.kver,
            tree_bytes,
        }),
        steps,
    })
}
