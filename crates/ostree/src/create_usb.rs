//! `create-usb`: copies collection refs onto removable media (a mounted USB stick) as an
//! archive repository, so that other machines can find and pull them offline, as
//! `ostree create-usb` does: the repository at `.ostree/repo` (or `--destination-repo`)
//! under the mount, refs as mirrored collection refs (`refs/mirrors/COLLECTION/REF`),
//! a fresh summary, and for a repository elsewhere on the medium a symlink
//! `.ostree/repos.d/NN-generated` that OSTree's mount finder follows.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::Checksum;
use crate::error::{Error, io_err};
use crate::repo::{Repo, RepoMode, valid_collection_id};

/// Where OSTree's mount finder looks without a `repos.d` link.
const WELL_KNOWN: [&str; 2] = [".ostree/repo", "ostree/repo"];

/// What `create-usb` copies and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateUsbOptions {
    /// `(collection id, ref name)` pairs, at least one.
    pub refs: Vec<(String, String)>,
    /// The repository's directory relative to the mount (`--destination-repo`;
    /// default `.ostree/repo`).
    pub destination_repo: Option<PathBuf>,
    /// Copy this commit instead of the ref's (`--commit`; one pair only).
    pub commit: Option<Checksum>,
}

/// What `create-usb` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateUsbOutcome {
    /// The repository's directory relative to the mount.
    pub destination_repo: PathBuf,
    /// The refs written, with their commits, in the order given.
    pub refs: Vec<(String, String, Checksum)>,
    /// The `repos.d` link made, if one was needed and none pointed there yet.
    pub link: Option<PathBuf>,
}

fn usage(mount: &Path, detail: impl Into<String>) -> Error {
    Error::Unsupported {
        verb: "create-usb",
        path: mount.to_owned(),
        detail: detail.into(),
    }
}

/// `ferro ostree create-usb MOUNT COLLECTION REF…`: copies each collection ref of `src`
/// (and the whole tree of its commit, no ancestors) into the archive repository on
/// `mount`, creating it if needed, then regenerates its summary. Refs already on the
/// medium stay; a copied ref replaces the one of the same name.
pub fn create_usb(
    src: &Repo,
    mount: &Path,
    options: &CreateUsbOptions,
) -> Result<CreateUsbOutcome, Error> {
    if options.refs.is_empty() {
        return Err(usage(
            mount,
            "At least one COLLECTION-ID REF pair must be specified",
        ));
    }
    if options.commit.is_some() && options.refs.len() > 1 {
        return Err(usage(
            mount,
            "The --commit option can only be used when a single COLLECTION-ID REF pair is specified",
        ));
    }
    for (collection, name) in &options.refs {
        if !valid_collection_id(collection) {
            return Err(usage(mount, format!("Invalid collection ID {collection}")));
        }
        if !name.split('/').all(crate::refs::valid_component) {
            return Err(Error::InvalidRef(name.clone()));
        }
    }
    let relative = options
        .destination_repo
        .clone()
        .unwrap_or_else(|| PathBuf::from(WELL_KNOWN[0]));
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(usage(
            mount,
            "--destination-repo must be a descendent of MOUNT-PATH",
        ));
    }
    let mount_meta = fs::metadata(mount).map_err(io_err("open the mount", mount))?;
    if !mount_meta.is_dir() {
        return Err(usage(mount, "MOUNT-PATH is not a directory"));
    }
    // Every source commit is known before anything is written on the medium.
    let available = src.collection_refs()?;
    let mut wanted = Vec::new();
    for (collection, name) in &options.refs {
        let commit = match options.commit {
            Some(commit) => commit,
            None => available
                .iter()
                .find(|r| &r.collection == collection && &r.name == name)
                .map(|r| r.commit)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "ref ({collection}, {name}) in the source repository"
                    ))
                })?,
        };
        wanted.push((collection.clone(), name.clone(), commit));
    }

    let dest_path = mount.join(&relative);
    fs::create_dir_all(&dest_path).map_err(io_err("create", &dest_path))?;
    let dest_meta = fs::metadata(&dest_path).map_err(io_err("open", &dest_path))?;
    if dest_meta.dev() != mount_meta.dev() {
        return Err(usage(
            mount,
            "--destination-repo must be a descendent of MOUNT-PATH",
        ));
    }
    let same = |a: &Path, b: &Path| matches!((fs::metadata(a), fs::metadata(b)), (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino());
    if same(src.path(), &dest_path) {
        return Err(usage(
            mount,
            "--destination-repo must not be the source repository",
        ));
    }
    // Archive, as OSTree always makes it: no xattrs needed (FAT), compressed.
    let dest = Repo::init(&dest_path, RepoMode::Archive)?;
    // Every tree is on the medium, durably, before any ref names it.
    let transaction = dest.begin_transaction()?;
    for (_, _, commit) in &wanted {
        crate::pull_local::copy_commit(src, &dest, commit, Some(0))?;
    }
    transaction.commit(&[])?;
    for (collection, name, commit) in &wanted {
        crate::refs::create_in_collection(
            &dest,
            &format!("{collection}:{name}"),
            &commit.to_hex(),
            true,
        )?;
    }
    crate::summary::update_summary(&dest)?;

    let link = if WELL_KNOWN.iter().any(|w| relative == Path::new(w)) {
        None
    } else {
        repos_d_link(mount, &relative, &dest_meta)?
    };
    Ok(CreateUsbOutcome {
        destination_repo: relative,
        refs: wanted,
        link,
    })
}

/// `.ostree/repos.d/NN-generated` → `../../RELATIVE`, unless an entry there already
/// is the repository.
fn repos_d_link(
    mount: &Path,
    relative: &Path,
    dest_meta: &fs::Metadata,
) -> Result<Option<PathBuf>, Error> {
    let dir = mount.join(".ostree/repos.d");
    fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
        let entry = entry.map_err(io_err("list", &dir))?;
        if fs::metadata(entry.path())
            .is_ok_and(|m| m.dev() == dest_meta.dev() && m.ino() == dest_meta.ino())
        {
            return Ok(None);
        }
    }
    let target = Path::new("../..").join(relative);
    for i in 0..100 {
        let link = dir.join(format!("{i:02}-generated"));
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => return Ok(Some(link)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create the symlink", &link)(e).into()),
        }
    }
    Err(usage(
        mount,
        "Could not find an unused symlink name for the repository",
    ))
}
