//! `pull-local`: copies a commit and everything reachable from it from another local
//! repository (any mode into any mode), verifying every object's checksum before it is
//! stored — unless the source is trusted ([`PullLocalOptions::trusted`], what `ostree
//! pull-local` assumes without `--untrusted`): then content objects between repositories
//! of the same mode are hardlinked without being read, as OSTree does, and `fsck`
//! is what finds a corrupt one. Children are stored before the objects that name them and the commit last,
//! so an interrupted pull never leaves a commit whose tree is incomplete; a tampered
//! object stops the pull before anything names it (and is never stored under the
//! name it claimed). A commit's detached metadata (`.commitmeta`, e.g. signatures)
//! is copied with it.

use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::error::{Error, io_err, too_deep};
use crate::object::{Commit, DirMeta, DirTree, MAX_DEPTH, ObjectType};
use crate::repo::{Repo, RepoMode};

/// What a pull copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStats {
    /// Metadata objects (commits, dirtrees, dirmetas) written.
    pub metadata: u64,
    /// Content objects written.
    pub content: u64,
    /// Bytes of file content written (uncompressed).
    pub bytes: u64,
}

/// What `pull-local` is to copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullLocalOptions {
    /// Refs or commits of the source (`REV^` allowed); empty: every local ref of the
    /// source (`refs/heads`, not its remotes' refs), as `ostree pull-local` does.
    pub refs: Vec<String>,
    /// Ancestors to copy besides each commit (`None`: all that the source has).
    pub depth: Option<u64>,
    /// Write the refs as this remote's (`refs/remotes/REMOTE/REF`, `--remote`) instead
    /// of as local branches.
    pub remote: Option<String>,
    /// Copy only the commits and their detached metadata, each marked partial
    /// (`state/CSUM.commitpartial`) as OSTree marks them (`--commit-metadata-only`).
    pub commit_metadata_only: bool,
    /// Take content objects on trust (`ostree pull-local` without `--untrusted`): the
    /// source is the caller's own. Between repositories of the same mode they are
    /// hardlinked unread; between modes, converted and stored under their names without
    /// being hashed against them. Metadata is verified either way.
    pub trusted: bool,
    /// Refuse regular files whose mode has bits outside 0775 (setuid, world-writable),
    /// which a `bare-user-only` checkout could not represent (`--bareuseronly-files`).
    pub bareuseronly_files: bool,
}

/// What `pull-local` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullLocalOutcome {
    /// Objects and bytes copied, over all the refs.
    pub stats: PullStats,
    /// The refs moved in the destination, with their commits: every requested name
    /// that is a ref (not a checksum, not `REV^`), in the order requested.
    pub refs: Vec<(String, Checksum)>,
}

/// `ferro ostree pull-local`: copies what `options` names from `src` into `dest` in one
/// transaction (shared lock, one commit point), then moves the refs it copied to the
/// same commits as in `src`. Nothing moves unless every commit was copied whole.
pub fn pull_local(
    dest: &Repo,
    src: &Repo,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome, Error> {
    let refs = if options.refs.is_empty() {
        let all: Vec<String> = src.list_refs()?.into_iter().map(|(name, _)| name).collect();
        // As `ostree pull-local` without refs: the source's remote refs (`REMOTE:REF`)
        // cannot be written as local branches, so the whole pull is refused, naming one,
        // before anything is copied.
        if let Some(remote_ref) = all.iter().find(|name| name.contains(':')) {
            return Err(Error::InvalidRef(remote_ref.clone()));
        }
        all
    } else {
        options.refs.clone()
    };
    let transaction = dest.begin_transaction()?;
    let mut outcome = PullLocalOutcome::default();
    for rev in &refs {
        // `REF@CHECKSUM`: that commit (which the source must have), written to REF.
        let (rev, id): (&str, Checksum) = match crate::refs::pinned(rev) {
            Some(named) => named,
            None => (rev, src.resolve_rev(rev)?),
        };
        let stats = copy_commits(src, dest, &id, options)?;
        outcome.stats.metadata += stats.metadata;
        outcome.stats.content += stats.content;
        outcome.stats.bytes += stats.bytes;
        if !rev.contains('^') && rev.parse::<Checksum>().is_err() {
            let name = match &options.remote {
                Some(remote) => format!("{remote}:{rev}"),
                None => rev.to_owned(),
            };
            outcome.refs.push((name, id));
        }
    }
    transaction.commit(&outcome.refs)?;
    Ok(outcome)
}

/// Copies `commit` (and `depth` of its ancestors; `None` = all that `src` has) from
/// `src` into `dest`, moving no ref: the building block of [`pull_local`] for callers
/// that run their own transaction or name the commit themselves. Objects already in
/// `dest` are trusted and skipped.
pub fn copy_commit(
    src: &Repo,
    dest: &Repo,
    commit: &Checksum,
    depth: Option<u64>,
) -> Result<PullStats, Error> {
    let options = PullLocalOptions {
        depth,
        ..PullLocalOptions::default()
    };
    copy_commits(src, dest, commit, &options)
}

/// [`copy_commit`], copying only the commit objects (marked partial) when
/// `metadata_only`; a partial commit copied whole loses its mark.
fn copy_commits(
    src: &Repo,
    dest: &Repo,
    commit: &Checksum,
    options: &PullLocalOptions,
) -> Result<PullStats, Error> {
    let metadata_only = options.commit_metadata_only;
    let mut puller = Puller {
        src,
        dest,
        stats: PullStats::default(),
        trusted: options.trusted,
        bareuseronly_files: options.bareuseronly_files,
        resume: false,
    };
    let mut next = Some(*commit);
    let mut remaining = options.depth;
    let mut first = true;
    while let Some(id) = next.take() {
        let bytes = match src.read_metadata(ObjectType::Commit, &id) {
            Ok(bytes) => bytes,
            // Ancestors may have been pruned from the source.
            Err(Error::NotFound(_)) if !first => break,
            Err(e) => return Err(e),
        };
        first = false;
        puller.verify(ObjectType::Commit, &id, &bytes)?;
        let parsed = Commit::parse(&bytes).map_err(|source| Error::Object {
            path: src.object_path(ObjectType::Commit, &id),
            source,
        })?;
        // Detached metadata (signatures) can change after the commit was made, so it
        // is copied even when the commit itself is already here.
        if let Some(detached) = src.read_commitmeta(&id)? {
            dest.write_commitmeta(&id, &detached)?;
        }
        let partial = dest.path().join(format!("state/{id}.commitpartial"));
        let stored = dest.has_object(ObjectType::Commit, &id);
        if metadata_only {
            if !stored {
                dest.write_atomic(&partial, b"")?;
                puller.store(ObjectType::Commit, &id, &bytes)?;
            }
        } else if !stored || partial.exists() {
            // A partial commit (one `fsck --delete` took objects from) is walked whole:
            // what is missing may be below a directory that is still stored.
            puller.resume = stored;
            puller.dirmeta(&parsed.root_meta)?;
            puller.dirtree(&parsed.root_tree, 0)?;
            puller.store(ObjectType::Commit, &id, &bytes)?;
            if partial.exists() {
                std::fs::remove_file(&partial).map_err(crate::error::io_err("delete", &partial))?;
            }
        }
        match remaining {
            Some(0) => break,
            Some(n) => remaining = Some(n - 1),
            None => {}
        }
        next = parsed.parent;
    }
    Ok(puller.stats)
}

struct Puller<'a> {
    src: &'a Repo,
    dest: &'a Repo,
    stats: PullStats,
    trusted: bool,
    bareuseronly_files: bool,
    /// Walk into stored directories too (completing a partial commit).
    resume: bool,
}

impl Puller<'_> {
    /// Checks a metadata object against its name, unless the source is trusted (the
    /// default of `pull-local`, which as `ostree pull-local` copies without hashing).
    fn verify(&self, kind: ObjectType, id: &Checksum, bytes: &[u8]) -> Result<(), Error> {
        if self.trusted {
            return Ok(());
        }
        let actual = Checksum::of(bytes);
        if actual == *id {
            return Ok(());
        }
        Err(corrupt(self.src, kind, id, actual))
    }

    /// Stores a verified metadata object: hardlinked to the source's file when both
    /// repositories share a filesystem (metadata objects are the same bytes in every
    /// repository mode, so `ostree pull-local` links them even between modes), else
    /// written anew.
    /// `id` is the object's name in the source: the same as its hash unless a trusted
    /// source is corrupt, which is then copied as it is, under that name.
    fn store(&mut self, kind: ObjectType, id: &Checksum, bytes: &[u8]) -> Result<(), Error> {
        if !self.link_object(kind, id)? {
            if Checksum::of(bytes) == *id {
                self.dest.write_metadata(kind, bytes)?;
            } else {
                let mut object = self.dest.new_object()?;
                object.write_all(bytes)?;
                object.publish(self.dest, kind, id)?;
            }
        }
        if kind == ObjectType::Commit {
            self.dest.clear_tombstone(id)?;
        }
        self.stats.metadata += 1;
        Ok(())
    }

    /// Reads, verifies and parses a metadata object from the source.
    fn load<T>(
        &self,
        kind: ObjectType,
        id: &Checksum,
        parse: fn(&[u8]) -> Result<T, crate::gvariant::Error>,
    ) -> Result<(Vec<u8>, T), Error> {
        let bytes = self.src.read_metadata(kind, id)?;
        self.verify(kind, id, &bytes)?;
        let parsed = parse(&bytes).map_err(|source| Error::Object {
            path: self.src.object_path(kind, id),
            source,
        })?;
        Ok((bytes, parsed))
    }

    fn dirmeta(&mut self, id: &Checksum) -> Result<(), Error> {
        if self.dest.has_object(ObjectType::DirMeta, id) {
            return Ok(());
        }
        let (bytes, _) = self.load(ObjectType::DirMeta, id, DirMeta::parse_dir)?;
        self.store(ObjectType::DirMeta, id, &bytes)
    }

    fn dirtree(&mut self, id: &Checksum, depth: usize) -> Result<(), Error> {
        if !self.resume && self.dest.has_object(ObjectType::DirTree, id) {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(too_deep(
                "pull",
                &self.src.object_path(ObjectType::DirTree, id),
            ));
        }
        let (bytes, tree) = self.load(ObjectType::DirTree, id, DirTree::parse)?;
        let this = &*self;
        let copied: Vec<Option<u64>> = tree
            .files
            .par_iter()
            .map(|(_, file)| this.content(file))
            .collect::<Result<_, _>>()?;
        for size in copied.into_iter().flatten() {
            self.stats.content += 1;
            self.stats.bytes += size;
        }
        for (_, sub, meta) in &tree.dirs {
            self.dirmeta(meta)?;
            self.dirtree(sub, depth + 1)?;
        }
        self.store(ObjectType::DirTree, id, &bytes)
    }

    /// Copies one content object, verifying it; the size when it was copied, `None`
    /// when the destination had it. Called for a directory's files on all cores.
    fn content(&self, id: &Checksum) -> Result<Option<u64>, Error> {
        if self.dest.has_object(ObjectType::File, id) {
            return Ok(None);
        }
        // A bare-user-only destination cannot hold the mode either: refused with the
        // same words, naming the object, as OSTree refuses it.
        if self.bareuseronly_files || self.dest.mode() == RepoMode::BareUserOnly {
            let header = self.src.read_content(id)?.header;
            crate::object::check_bareuseronly_mode(id, header.mode)?;
        }
        if self.src.mode() == self.dest.mode() || self.canonical_for_bare_user_only(id)? {
            let linked = if self.trusted {
                self.link_object(ObjectType::File, id)?
                    .then(|| self.content_size(id))
                    .transpose()?
            } else {
                self.link_content(id)?
            };
            if let Some(size) = linked {
                return Ok(Some(size));
            }
        }
        let mut content = self.src.read_content(id)?;
        if self.trusted {
            self.dest.write_content_trusted(
                &content.header,
                content.size,
                &mut content.reader,
                id,
            )?;
            return Ok(Some(content.size));
        }
        let actual = self
            .dest
            .write_content(&content.header, content.size, &mut content.reader)?;
        if actual != *id {
            // It went in under its real name, which nothing references (it may also be
            // a legitimate object, so it is left for `prune`); the pull stops here.
            return Err(corrupt(self.src, ObjectType::File, id, actual));
        }
        Ok(Some(content.size))
    }
}

impl Puller<'_> {
    /// Between repositories of the same mode, a verified content object is hardlinked
    /// rather than copied, as `ostree pull-local` does (the stored bytes are the same).
    /// `None` when the file cannot be linked (another filesystem): the caller copies.
    fn link_content(&self, id: &Checksum) -> Result<Option<u64>, Error> {
        let mut content = self.src.read_content(id)?;
        let mut hasher = content.header.hasher();
        let from = self.src.object_path(ObjectType::File, id);
        std::io::copy(&mut content.reader, &mut hasher).map_err(io_err("read", &from))?;
        let actual = hasher.finish();
        if actual != *id {
            return Err(corrupt(self.src, ObjectType::File, id, actual));
        }
        Ok(self
            .link_object(ObjectType::File, id)?
            .then_some(content.size))
    }

    /// Hardlinks object `id` of the source into the destination; false when it cannot
    /// be linked (another filesystem, or already there).
    fn link_object(&self, kind: ObjectType, id: &Checksum) -> Result<bool, Error> {
        let (from, to) = (
            self.src.object_path(kind, id),
            self.dest.object_path(kind, id),
        );
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        Ok(std::fs::hard_link(&from, &to).is_ok())
    }
}

impl Puller<'_> {
    /// Whether a `bare-user` object can be hardlinked into a `bare-user-only`
    /// destination, as OSTree links it: a regular file with the canonical owner (0:0),
    /// no extended attributes, and on disk exactly the mode it records (which a
    /// `bare-user-only` object's file must have).
    fn canonical_for_bare_user_only(&self, id: &Checksum) -> Result<bool, Error> {
        if (self.src.mode(), self.dest.mode()) != (RepoMode::BareUser, RepoMode::BareUserOnly) {
            return Ok(false);
        }
        let header = self.src.read_content(id)?.header;
        let path = self.src.object_path(ObjectType::File, id);
        let on_disk = std::fs::symlink_metadata(&path).map_err(io_err("inspect", &path))?;
        Ok(!header.is_symlink()
            && (header.uid, header.gid) == (0, 0)
            && header.xattrs.is_empty()
            && header.mode & !0o100775 == 0
            && std::os::unix::fs::PermissionsExt::mode(&on_disk.permissions()) == header.mode)
    }

    /// The size of a content object of the source, from its header alone.
    fn content_size(&self, id: &Checksum) -> Result<u64, Error> {
        Ok(self.src.read_content(id)?.size)
    }
}

fn corrupt(src: &Repo, kind: ObjectType, id: &Checksum, actual: Checksum) -> Error {
    Error::Unsupported {
        verb: "pull",
        path: src.object_path(kind, id),
        detail: kind.corruption(id, &actual),
    }
}
