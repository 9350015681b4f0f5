//! Committing a tar archive, like `ostree commit --tree=tar=FILE`: plain or gzip
//! (recognised by its magic bytes), read once as a stream — each entry's bytes go
//! straight into a content object, nothing is extracted.
//!
//! What `ostree commit` 2022.7 does, observed, and done here the same way: owners,
//! modes and symlink targets come from the entry headers; xattrs from GNU tar's
//! `SCHILY.xattr.*` pax records; a hardlink gets its target's content object; a later
//! entry replaces an earlier one of the same path, and a directory entry only sets the
//! metadata of a directory already implied; leading `/` and `./` are ignored. A
//! directory the archive does not list is an error unless `tar_autocreate_parents`
//! asks for it to be made `0755`, owned like the entry that needs it; without a `./`
//! entry (or that option) the root has no metadata and the commit is refused.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::checksum::Checksum;
use crate::commit::{CommitOptions, CommitOutcome, Policy, ScannedDir, finish_commit, write_trees};
use crate::error::{Error, io_err, too_deep};
use crate::object::{
    DirMeta, FileHeader, ObjectType, S_IFDIR, S_IFLNK, S_IFREG, Xattrs, validate_name,
};
use crate::repo::Repo;

/// The pax record prefix GNU tar (`--xattrs`) uses for extended attributes.
const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Commits the tar archive read from `input` (named `source` in errors).
pub fn commit_tar(
    repo: &Repo,
    input: impl Read,
    source: &Path,
    options: &CommitOptions,
) -> Result<CommitOutcome, Error> {
    let transaction = repo.begin_transaction()?;
    let (root, files) = write_tar(repo, input, source, options)?;
    finish_commit(transaction, repo, options, root, files)
}

/// Stores the archive's tree inside a running transaction: its root `(dirtree,
/// dirmeta)` and the number of files.
pub(crate) fn write_tar(
    repo: &Repo,
    input: impl Read,
    source: &Path,
    options: &CommitOptions,
) -> Result<((Checksum, Checksum), u64), Error> {
    let mut input = BufReader::new(input);
    let gzip = input
        .fill_buf()
        .map_err(io_err("read", source))?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut importer = Importer {
        repo,
        policy: Policy::new(repo, options),
        autocreate: options.tar_autocreate_parents,
        source,
        root: Dir::default(),
        files: 0,
    };
    let mut archive = tar::Archive::new(stream);
    for entry in archive.entries().map_err(io_err("read", source))? {
        importer.add(entry.map_err(io_err("read", source))?)?;
    }
    let files = importer.files;
    let mut file_ids = Vec::new();
    let scanned = importer.root.store(repo, source, &mut file_ids)?;
    Ok((write_trees(repo, scanned, &file_ids)?, files))
}

/// A directory being assembled from entries in archive order.
#[derive(Default)]
struct Dir {
    /// `None` while only implied by its children's paths.
    meta: Option<DirMeta>,
    files: BTreeMap<String, Checksum>,
    dirs: BTreeMap<String, Dir>,
}

impl Dir {
    /// Writes the dirmetas and turns the tree into the form [`write_trees`] takes.
    fn store(
        self,
        repo: &Repo,
        source: &Path,
        file_ids: &mut Vec<Checksum>,
    ) -> Result<ScannedDir, Error> {
        let meta = self.meta.ok_or_else(|| Error::Unsupported {
            verb: "commit",
            path: source.to_owned(),
            detail: "the archive has no entry for the root directory `./` \
                     (--tar-autocreate-parents makes one)"
                .into(),
        })?;
        let files = self
            .files
            .into_iter()
            .map(|(name, id)| {
                file_ids.push(id);
                (name, file_ids.len() - 1)
            })
            .collect();
        let dirs = self
            .dirs
            .into_iter()
            .map(|(name, dir)| Ok((name, dir.store(repo, source, file_ids)?)))
            .collect::<Result<_, Error>>()?;
        Ok(ScannedDir {
            meta_id: repo.write_metadata(ObjectType::DirMeta, &meta.to_bytes())?,
            files,
            dirs,
        })
    }
}

struct Importer<'a> {
    repo: &'a Repo,
    policy: Policy<'a>,
    autocreate: bool,
    source: &'a Path,
    root: Dir,
    files: u64,
}

impl Importer<'_> {
    fn bad(&self, entry: &str, detail: impl Into<String>) -> Error {
        Error::Unsupported {
            verb: "commit",
            path: self.source.to_owned(),
            detail: format!("entry '{entry}': {}", detail.into()),
        }
    }

    fn add<R: Read>(&mut self, mut entry: tar::Entry<R>) -> Result<(), Error> {
        let path = entry.path_bytes().into_owned();
        let raw = String::from_utf8_lossy(&path).into_owned();
        let parts = self.components(&raw, &path)?;
        let rel = format!("/{}", parts.join("/"));
        if self.policy.skips(&rel) {
            return Ok(());
        }
        let header = entry.header();
        let kind = header.entry_type();
        let number = |value: io::Result<u64>| {
            value
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| self.bad(&raw, "invalid uid or gid"))
        };
        let (uid, gid) = self
            .policy
            .owner(number(header.uid())?, number(header.gid())?);
        let perms = header.mode().map_err(|_| self.bad(&raw, "invalid mode"))? & 0o7777;
        let xattrs = self.xattrs(&raw, &mut entry)?;
        if kind.is_dir() {
            let meta = Some(DirMeta {
                uid,
                gid,
                mode: self.policy.mode_at(&rel, S_IFDIR | perms),
                xattrs,
            });
            match parts.split_last() {
                None => self.root.meta = meta,
                Some((name, parents)) => {
                    let parent = self.parent(&raw, parents, (uid, gid))?;
                    parent.files.remove(*name);
                    parent.dirs.entry((*name).to_owned()).or_default().meta = meta;
                }
            }
            return Ok(());
        }
        let Some((name, parents)) = parts.split_last() else {
            return Err(self.bad(&raw, "the root must be a directory"));
        };
        let link = entry.link_name_bytes().map(|t| t.into_owned());
        let id = if kind.is_file() || kind.is_contiguous() {
            let header = FileHeader {
                uid,
                gid,
                mode: self.policy.mode_at(&rel, S_IFREG | perms),
                symlink_target: String::new(),
                xattrs,
            };
            let size = entry.size();
            self.repo.write_content(&header, size, &mut entry)?
        } else if kind.is_symlink() {
            let target = link
                .and_then(|t| String::from_utf8(t).ok())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| self.bad(&raw, "symlink target is missing or not UTF-8"))?;
            let header = FileHeader {
                uid,
                gid,
                mode: S_IFLNK | 0o777,
                symlink_target: target,
                xattrs,
            };
            self.repo.write_content(&header, 0, &mut io::empty())?
        } else if kind.is_hard_link() {
            let target = link.unwrap_or_default();
            let target_raw = String::from_utf8_lossy(&target).into_owned();
            lookup(&self.root, &self.components(&target_raw, &target)?).ok_or_else(|| {
                self.bad(
                    &raw,
                    format!("hardlink target '{target_raw}' is not a file earlier in the archive"),
                )
            })?
        } else {
            return Err(self.bad(
                &raw,
                "only regular files, symlinks, hardlinks and directories can be committed",
            ));
        };
        let parent = self.parent(&raw, parents, (uid, gid))?;
        parent.dirs.remove(*name);
        parent.files.insert((*name).to_owned(), id);
        self.files += 1;
        Ok(())
    }

    /// The directory an entry goes in (see [`parent_dir`]).
    fn parent(
        &mut self,
        raw: &str,
        parents: &[&str],
        owner: (u32, u32),
    ) -> Result<&mut Dir, Error> {
        let source = self.source;
        parent_dir(&mut self.root, parents, self.autocreate.then_some(owner)).map_err(|missing| {
            Error::Unsupported {
                verb: "commit",
                path: source.to_owned(),
                detail: format!(
                    "entry '{raw}': parent directory '{missing}' is not in the archive \
                     (--tar-autocreate-parents makes it)"
                ),
            }
        })
    }

    /// The path's components without leading `/`, `.` and empty ones; `..`, names
    /// OSTree cannot store and paths nested deeper than OSTree allows are refused.
    fn components<'p>(&self, raw: &str, bytes: &'p [u8]) -> Result<Vec<&'p str>, Error> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.bad(raw, "the path is not UTF-8"))?;
        let parts = text
            .split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .map(|part| {
                if validate_name(part) {
                    Ok(part)
                } else {
                    Err(self.bad(raw, format!("'{part}' is not a valid file name")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.len() > crate::object::MAX_DEPTH {
            return Err(too_deep("commit", self.source));
        }
        Ok(parts)
    }

    /// The entry's `SCHILY.xattr.*` records, sorted by name, when xattrs are recorded.
    fn xattrs<R: Read>(&self, raw: &str, entry: &mut tar::Entry<R>) -> Result<Xattrs, Error> {
        if !self.policy.records_xattrs() {
            return Ok(vec![]);
        }
        let Some(records) = entry
            .pax_extensions()
            .map_err(io_err("read", self.source))?
        else {
            return Ok(vec![]);
        };
        let mut xattrs = Xattrs::new();
        for record in records {
            let record = record.map_err(|_| self.bad(raw, "malformed pax record"))?;
            if let Some(name) = record.key_bytes().strip_prefix(XATTR_PREFIX) {
                xattrs.push((name.to_vec(), record.value_bytes().to_vec()));
            }
        }
        xattrs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(xattrs)
    }
}

/// The directory at `parents` below `root`. A missing one is made (mode 0755, owner
/// `autocreate`) when `autocreate` is given, else its path is the error; the root's
/// metadata is likewise filled in on the way when missing.
fn parent_dir<'d>(
    root: &'d mut Dir,
    parents: &[&str],
    autocreate: Option<(u32, u32)>,
) -> Result<&'d mut Dir, String> {
    let implied = |(uid, gid)| DirMeta {
        uid,
        gid,
        mode: S_IFDIR | 0o755,
        xattrs: vec![],
    };
    if let (None, Some(owner)) = (&root.meta, autocreate) {
        root.meta = Some(implied(owner));
    }
    let mut dir = root;
    for (depth, name) in parents.iter().enumerate() {
        if !dir.dirs.contains_key(*name) {
            let owner = autocreate.ok_or_else(|| parents[..=depth].join("/"))?;
            dir.files.remove(*name);
            dir.dirs.insert(
                (*name).to_owned(),
                Dir {
                    meta: Some(implied(owner)),
                    ..Dir::default()
                },
            );
        }
        dir = dir.dirs.get_mut(*name).ok_or_else(|| name.to_string())?;
    }
    Ok(dir)
}

/// The content object stored at `path`, if it is a file.
fn lookup(root: &Dir, path: &[&str]) -> Option<Checksum> {
    let (name, parents) = path.split_last()?;
    let mut dir = root;
    for part in parents {
        dir = dir.dirs.get(*part)?;
    }
    dir.files.get(*name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::RepoMode;

    /// A GNU header named by raw bytes (the builder refuses `/abs`, which tar files hold).
    fn append(
        out: &mut tar::Builder<Vec<u8>>,
        name: &str,
        kind: tar::EntryType,
        owner: u64,
        mode: u32,
        link: &str,
        data: &[u8],
    ) {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_uid(owner);
        header.set_gid(owner);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        if !link.is_empty() {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        out.append(&header, data).unwrap();
    }

    /// Implied parents, a directory entry after its implied creation, a file replaced
    /// by a later entry, `/` and `./` prefixes, a hardlink and a late root entry: the
    /// root ids `ostree commit --tar-autocreate-parents` made of the same archive.
    #[test]
    fn archive_order_and_paths_as_ostree() {
        use tar::EntryType::{Directory, Link, Regular};
        let mut out = tar::Builder::new(Vec::new());
        append(&mut out, "a/b/f", Regular, 5, 0o644, "", b"x");
        append(&mut out, "c", Regular, 6, 0o644, "", b"y");
        append(&mut out, "a/", Directory, 9, 0o700, "", b"");
        append(&mut out, "c", Regular, 6, 0o644, "", b"zz");
        append(&mut out, "/abs", Regular, 0, 0o644, "", b"q");
        append(&mut out, "./dot/x", Regular, 0, 0o644, "", b"q");
        append(&mut out, "h", Link, 3, 0o600, "a/b/f", b"");
        append(&mut out, "./", Directory, 1, 0o711, "", b"");
        let bytes = out.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let options = CommitOptions {
            tar_autocreate_parents: true,
            orphan: true,
            ..Default::default()
        };
        let outcome = commit_tar(&repo, &bytes[..], Path::new("mix.tar"), &options).unwrap();
        let commit = repo.load_commit(&outcome.commit).unwrap();
        assert_eq!(
            (commit.root_tree.to_hex(), commit.root_meta.to_hex()),
            (
                "03705657bad93ccfeab315ca5824c35dbc5192621b3eda62cda641382e06032f".into(),
                "94527e3818e0bd8492afdf6046f250ad7b4be6f18da10e9d175d201612a1ac13".into()
            )
        );
        let without = CommitOptions {
            tar_autocreate_parents: false,
            ..options
        };
        let refused = commit_tar(&repo, &bytes[..], Path::new("mix.tar"), &without);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("parent directory 'a'")
        );
    }
}
