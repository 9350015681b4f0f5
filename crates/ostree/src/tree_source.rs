//! What `commit --tree=…` names, and committing it: the one entry point for a commit
//! whatever the tree comes from, so that callers parse a `--tree` value into a
//! [`TreeSource`] and need not know which module commits which kind of source.
//! Above both [`crate::commit`] and [`crate::commit_tar`], which it dispatches to.
//!
//! Several sources make one tree, each laid over the ones before as OSTree's mutable
//! tree does: a later file replaces an earlier one, directories merge, the later
//! directory's metadata wins, and a file and a directory of the same name are refused.
//! A stored tree (`ref=REV`) is reused by id unless the commit's rules (owner, modes,
//! statoverride, skip list, xattrs) must change it, so committing a ref over a
//! directory costs only the directory and the dirtrees on the merged paths.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::checksum::Checksum;
use crate::commit::{CommitOptions, CommitOutcome, Policy, WriteStats, finish_commit, write_dir};
use crate::commit_tar::write_tar;
use crate::error::{Error, io_err, too_deep};
use crate::object::{DirMeta, DirTree, MAX_DEPTH, ObjectType};
use crate::repo::Repo;

/// The tree a commit is made from, as `ostree commit --tree=KIND=VALUE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeSource {
    /// `dir=PATH`: a directory on disk.
    Dir(PathBuf),
    /// `tar=FILE`: a tar archive, plain or gzip-compressed; `-` reads standard input.
    Tar(PathBuf),
    /// `ref=REV`: the tree of a commit already in the repository.
    Ref(String),
}

/// A `--tree` value that names no source this implementation reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported tree '{0}': expected dir=PATH, tar=FILE (a plain or gzip tar archive; \
     tar=- reads standard input) or ref=REV"
)]
pub struct TreeSourceError(pub String);

impl FromStr for TreeSource {
    type Err = TreeSourceError;

    /// Parses `dir=PATH`, `tar=FILE` or `ref=REV`; anything else (a bare path) is
    /// refused with an error naming the value and the accepted forms.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some(("dir", dir)) if !dir.is_empty() => Ok(TreeSource::Dir(dir.into())),
            Some(("tar", file)) if !file.is_empty() => Ok(TreeSource::Tar(file.into())),
            Some(("ref", rev)) if !rev.is_empty() => Ok(TreeSource::Ref(rev.into())),
            _ => Err(TreeSourceError(text.to_owned())),
        }
    }
}

impl fmt::Display for TreeSource {
    /// The `KIND=VALUE` form [`TreeSource::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeSource::Dir(dir) => write!(f, "dir={}", dir.display()),
            TreeSource::Tar(file) => write!(f, "tar={}", file.display()),
            TreeSource::Ref(rev) => write!(f, "ref={rev}"),
        }
    }
}

/// Commits `source` into `repo`, like `ostree commit --tree=…`: a directory (then
/// deleted with `consume`), an archive (a file, or standard input for `-`), or the
/// tree of a stored commit.
pub fn commit_tree(
    repo: &Repo,
    source: &TreeSource,
    options: &CommitOptions,
) -> Result<CommitOutcome, Error> {
    commit_trees(repo, std::slice::from_ref(source), options)
}

/// Commits several sources laid over each other in order as one tree, like `ostree
/// commit --tree=… --tree=…`. Nothing is committed (and nothing consumed) unless every
/// source was read, and every statoverride path matched.
pub fn commit_trees(
    repo: &Repo,
    sources: &[TreeSource],
    options: &CommitOptions,
) -> Result<CommitOutcome, Error> {
    let Some((first, rest)) = sources.split_first() else {
        return Err(Error::Unsupported {
            verb: "commit",
            path: repo.path().to_owned(),
            detail: "no tree given".into(),
        });
    };
    let transaction = repo.begin_transaction()?;
    let before = WriteStats::read(repo);
    let (mut root, mut files) = write_source(repo, first, options)?;
    if let Some(base) = &options.base {
        let base = repo.load_commit(base)?;
        root = merge(repo, (base.root_tree, base.root_meta), root, "", 0)?;
    }
    for source in rest {
        let (top, count) = write_source(repo, source, options)?;
        root = merge(repo, root, top, "", 0)?;
        files += count;
    }
    let unmatched = options
        .modifiers
        .unmatched(|path| exists(repo, &root.0, path).unwrap_or(false));
    if !unmatched.is_empty() {
        return Err(Error::Unsupported {
            verb: "commit",
            path: repo.path().to_owned(),
            detail: format!("Unmatched statoverride paths: {}", unmatched.join(", ")),
        });
    }
    let mut outcome = finish_commit(transaction, repo, options, root, files)?;
    outcome.stats = before.since(WriteStats::read(repo));
    if options.consume {
        for source in sources {
            if let TreeSource::Dir(dir) = source {
                std::fs::remove_dir_all(dir).map_err(io_err("delete", dir))?;
            }
        }
    }
    Ok(outcome)
}

type Root = (Checksum, Checksum);

/// Stores one source; its root and the number of files it holds.
fn write_source(
    repo: &Repo,
    source: &TreeSource,
    options: &CommitOptions,
) -> Result<(Root, u64), Error> {
    match source {
        TreeSource::Dir(dir) => write_dir(repo, dir, options),
        TreeSource::Tar(file) if file == Path::new("-") => {
            write_tar(repo, std::io::stdin().lock(), file, options)
        }
        TreeSource::Tar(file) => {
            let input = std::fs::File::open(file).map_err(io_err("open", file))?;
            write_tar(repo, input, file, options)
        }
        TreeSource::Ref(rev) => {
            let commit = repo.load_commit(&repo.resolve_rev(rev)?)?;
            let root = (commit.root_tree, commit.root_meta);
            let policy = Policy::new(repo, options);
            if !policy.rewrites() {
                return Ok((root, 0));
            }
            let mut files = 0;
            let root = rewrite(repo, policy, root, "", 0, &mut files)?;
            Ok((root, files))
        }
    }
}

/// Stores a stored tree again under the commit's rules (owners, modes, statoverride,
/// skip list, xattrs); an object the rules do not change keeps its id.
fn rewrite(
    repo: &Repo,
    policy: Policy<'_>,
    (tree_id, meta_id): Root,
    rel: &str,
    depth: usize,
    files: &mut u64,
) -> Result<Root, Error> {
    if depth > MAX_DEPTH {
        return Err(too_deep(
            "commit",
            &repo.object_path(ObjectType::DirTree, &tree_id),
        ));
    }
    let meta =
        DirMeta::parse(&repo.read_metadata(ObjectType::DirMeta, &meta_id)?).map_err(|source| {
            Error::Object {
                path: repo.object_path(ObjectType::DirMeta, &meta_id),
                source,
            }
        })?;
    let (uid, gid) = policy.owner(meta.uid, meta.gid);
    let shown = if rel.is_empty() { "/" } else { rel };
    let meta = DirMeta {
        uid,
        gid,
        mode: policy.mode_at(shown, meta.mode),
        xattrs: if policy.records_xattrs() {
            meta.xattrs
        } else {
            vec![]
        },
    };
    let meta_id = repo.write_metadata(ObjectType::DirMeta, &meta.to_bytes())?;
    let tree = repo.load_dirtree(&tree_id)?;
    let mut out = DirTree::default();
    for (name, id) in tree.files {
        let child = format!("{rel}/{name}");
        if policy.skips(&child) {
            continue;
        }
        let mut content = repo.read_content(&id)?;
        let mut header = content.header.clone();
        (header.uid, header.gid) = policy.owner(header.uid, header.gid);
        if !header.is_symlink() {
            header.mode = policy.mode_at(&child, header.mode);
        }
        if !policy.records_xattrs() {
            header.xattrs.clear();
        }
        let id = if header == content.header {
            id
        } else {
            repo.write_content(&header, content.size, &mut content.reader)?
        };
        *files += 1;
        out.files.push((name, id));
    }
    for (name, sub, sub_meta) in tree.dirs {
        let child = format!("{rel}/{name}");
        if policy.skips(&child) {
            continue;
        }
        let (sub, sub_meta) = rewrite(repo, policy, (sub, sub_meta), &child, depth + 1, files)?;
        out.dirs.push((name, sub, sub_meta));
    }
    out.sort();
    Ok((
        repo.write_metadata(ObjectType::DirTree, &out.to_bytes())?,
        meta_id,
    ))
}

/// Lays the tree `top` over `base`: files of `top` replace those of `base`,
/// directories in both are merged, `top`'s directory metadata wins.
fn merge(repo: &Repo, base: Root, top: Root, rel: &str, depth: usize) -> Result<Root, Error> {
    if base.0 == top.0 {
        return Ok(top);
    }
    if depth > MAX_DEPTH {
        return Err(too_deep(
            "commit",
            &repo.object_path(ObjectType::DirTree, &top.0),
        ));
    }
    let (mut tree, over) = (repo.load_dirtree(&base.0)?, repo.load_dirtree(&top.0)?);
    let conflict = |name: &str, what: &str| Error::Unsupported {
        verb: "commit",
        path: format!("{rel}/{name}").into(),
        detail: what.into(),
    };
    for (name, id) in over.files {
        if tree.dirs.iter().any(|(n, _, _)| *n == name) {
            return Err(conflict(&name, "Can't replace directory with file"));
        }
        match tree.files.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = id,
            None => tree.files.push((name, id)),
        }
    }
    for (name, sub, meta) in over.dirs {
        if tree.files.iter().any(|(n, _)| *n == name) {
            return Err(conflict(&name, "Can't replace file with directory"));
        }
        let child = format!("{rel}/{name}");
        match tree.dirs.iter_mut().find(|(n, _, _)| *n == name) {
            Some(entry) => {
                let merged = merge(repo, (entry.1, entry.2), (sub, meta), &child, depth + 1)?;
                (entry.1, entry.2) = merged;
            }
            None => tree.dirs.push((name, sub, meta)),
        }
    }
    tree.sort();
    Ok((
        repo.write_metadata(ObjectType::DirTree, &tree.to_bytes())?,
        top.1,
    ))
}

/// Whether `path` (absolute in the tree) names an entry of the tree `root`.
fn exists(repo: &Repo, root: &Checksum, path: &str) -> Result<bool, Error> {
    let mut tree = repo.load_dirtree(root)?;
    let mut parts = path.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if last && tree.files.iter().any(|(n, _)| n == part) {
            return Ok(true);
        }
        match tree.dirs.iter().find(|(n, _, _)| n == part) {
            Some(_) if last => return Ok(true),
            Some((_, sub, _)) => tree = repo.load_dirtree(sub)?,
            None => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dir_and_tar_and_names_what_it_refuses() {
        assert_eq!(
            "dir=/a=b".parse(),
            Ok(TreeSource::Dir("/a=b".into())),
            "only the first '=' separates"
        );
        assert_eq!("tar=-".parse(), Ok(TreeSource::Tar("-".into())));
        assert_eq!("ref=main".parse(), Ok(TreeSource::Ref("main".into())));
        for bad in ["ref=", "/some/dir", "dir=", "tar"] {
            let err = bad.parse::<TreeSource>().unwrap_err();
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
            assert!(err.to_string().contains("dir=PATH, tar=FILE"), "{err}");
        }
        let source = TreeSource::Tar("x.tar.gz".into());
        assert_eq!(source.to_string().parse(), Ok(source));
    }
}
