//! `diff`: which paths differ between two commits, as `ostree diff` reports them.
//!
//! Both root dirtrees are walked together. A subdirectory whose dirtree id is the same
//! on both sides is skipped without being read — content addressing makes "same id"
//! mean "same subtree", so a small change to a large tree costs a few object reads.
//! The result follows OSTree's rules and order: directories are listed files first,
//! then subdirectories, each in stored (byte) order; a path is *modified* when its
//! type changes, a file's content id changes, or a directory's dirmeta (owner, mode,
//! xattrs) changes; a removed directory is one entry, an added directory is listed
//! with everything below it; all modified paths come first, then removed, then added.
//!
//! Either side may also be a directory on disk ([`DiffSide::Dir`], what `ostree diff`
//! does with an argument starting with `/` or `./`): its files and directories are
//! hashed as they would be committed, seen through [`FsChecksumOptions`] (an owner to
//! assume, xattrs ignored), and its paths are printed relative to that directory.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::checksum::Checksum;
use crate::commit::{FsChecksumOptions, path_checksum};
use crate::error::{Error, io_err, too_deep};
use crate::object::{DirTree, MAX_DEPTH, ObjectType};
use crate::prune::reachable;
use crate::repo::{Repo, RepoMode};

/// The paths (absolute inside the commit, e.g. `/usr/bin/sh`) that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeDiff {
    /// Present on both sides with a different type, content or directory metadata.
    pub modified: Vec<String>,
    /// Only in the first commit (a directory is listed once, not its contents).
    pub removed: Vec<String>,
    /// Only in the second commit (a directory is followed by all of its contents).
    pub added: Vec<String>,
}

/// What two commits share, as `ostree diff --stats` prints it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffStats {
    /// Objects reachable from the first commit (itself included).
    pub a_objects: usize,
    /// Objects reachable from the second commit.
    pub b_objects: usize,
    /// Objects reachable from both.
    pub common_objects: usize,
    /// Bytes the shared objects take in the repository.
    pub common_size: u64,
}

/// Compares the trees of two commits.
pub fn diff_commits(repo: &Repo, from: &Checksum, to: &Checksum) -> Result<TreeDiff, Error> {
    Ok(walk(repo, from, to)?.diff)
}

/// The files present at the same path in both commits with different contents, as
/// (old content id, new content id): what a static delta can express as a binary
/// patch of the old file.
pub(crate) fn modified_files(
    repo: &Repo,
    from: &Checksum,
    to: &Checksum,
) -> Result<Vec<(Checksum, Checksum)>, Error> {
    Ok(walk(repo, from, to)?.modified_files)
}

fn walk<'a>(repo: &'a Repo, from: &Checksum, to: &Checksum) -> Result<Walker<'a>, Error> {
    let (a, b) = (repo.load_commit(from)?, repo.load_commit(to)?);
    let mut walker = Walker {
        repo,
        diff: TreeDiff::default(),
        modified_files: Vec::new(),
    };
    walker.dirs(&a.root_tree, &b.root_tree, "", 0)?;
    Ok(walker)
}

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffSide {
    /// The tree of a commit in the repository.
    Commit(Checksum),
    /// A directory on disk.
    Dir(PathBuf),
}

impl DiffSide {
    /// Reads an `ostree diff` argument as OSTree does: a path when it starts with `/`
    /// or `./`, else a revision resolved in `repo`.
    pub fn parse(repo: &Repo, arg: &str) -> Result<Self, Error> {
        if arg.starts_with('/') || arg.starts_with("./") {
            Ok(DiffSide::Dir(PathBuf::from(arg)))
        } else {
            Ok(DiffSide::Commit(repo.resolve_rev(arg)?))
        }
    }
}

/// Compares two sides, each a commit or a directory. `options` applies to the files of
/// the second side when it is a directory (OSTree applies `--owner-uid`/`--owner-gid`
/// there); xattrs are ignored throughout when `options` says so or the repository
/// cannot record them (`bare-user-only`).
pub fn diff(
    repo: &Repo,
    a: &DiffSide,
    b: &DiffSide,
    options: &FsChecksumOptions,
) -> Result<TreeDiff, Error> {
    if let (DiffSide::Commit(a), DiffSide::Commit(b)) = (a, b) {
        return diff_commits(repo, a, b);
    }
    let mut options = *options;
    options.ignore_xattrs |= repo.mode() == RepoMode::BareUserOnly;
    let side_a = Node::root(
        repo,
        a,
        FsChecksumOptions {
            ignore_xattrs: options.ignore_xattrs,
            ..FsChecksumOptions::default()
        },
    )?;
    let side_b = Node::root(repo, b, options)?;
    let mut diff = TreeDiff::default();
    MixedWalker {
        repo,
        diff: &mut diff,
    }
    .dirs(&side_a, &side_b, 0)?;
    Ok(diff)
}

/// Counts the objects each commit reaches (not its parents) and what they share.
pub fn diff_stats(repo: &Repo, from: &Checksum, to: &Checksum) -> Result<DiffStats, Error> {
    let none = HashSet::new();
    let a = reachable(repo, &[*from], Some(0), &none)?;
    let b = reachable(repo, &[*to], Some(0), &none)?;
    let mut stats = DiffStats {
        a_objects: a.len(),
        b_objects: b.len(),
        ..DiffStats::default()
    };
    for (id, kind) in a.intersection(&b) {
        stats.common_objects += 1;
        let kind = [
            ObjectType::File,
            ObjectType::DirTree,
            ObjectType::DirMeta,
            ObjectType::Commit,
        ]
        .into_iter()
        .find(|k| *k as u8 == *kind);
        if let Some(kind) = kind {
            let path = repo.object_path(kind, id);
            stats.common_size += fs::symlink_metadata(&path).map_or(0, |st| st.len());
        }
    }
    Ok(stats)
}

/// One entry of a dirtree, by name.
enum Entry<'a> {
    File(&'a Checksum),
    Dir(&'a Checksum, &'a Checksum),
}

fn entries(tree: &DirTree) -> HashMap<&str, Entry<'_>> {
    let files = tree
        .files
        .iter()
        .map(|(name, id)| (name.as_str(), Entry::File(id)));
    let dirs = tree
        .dirs
        .iter()
        .map(|(name, t, m)| (name.as_str(), Entry::Dir(t, m)));
    files.chain(dirs).collect()
}

struct Walker<'a> {
    repo: &'a Repo,
    diff: TreeDiff,
    /// (old id, new id) of the modified paths that are files on both sides.
    modified_files: Vec<(Checksum, Checksum)>,
}

impl Walker<'_> {
    fn dirs(&mut self, a: &Checksum, b: &Checksum, path: &str, depth: usize) -> Result<(), Error> {
        if a == b {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(too_deep(
                "diff",
                &self.repo.object_path(ObjectType::DirTree, b),
            ));
        }
        let (a, b) = (self.repo.load_dirtree(a)?, self.repo.load_dirtree(b)?);
        let (in_a, in_b) = (entries(&a), entries(&b));
        for (name, id) in &a.files {
            let child = format!("{path}/{name}");
            match in_b.get(name.as_str()) {
                None => self.diff.removed.push(child),
                Some(Entry::File(other)) if *other == id => {}
                Some(Entry::File(other)) => {
                    self.modified_files.push((*id, **other));
                    self.diff.modified.push(child);
                }
                Some(Entry::Dir(..)) => self.diff.modified.push(child),
            }
        }
        for (name, tree, meta) in &a.dirs {
            let child = format!("{path}/{name}");
            match in_b.get(name.as_str()) {
                None => self.diff.removed.push(child),
                Some(Entry::File(_)) => self.diff.modified.push(child),
                Some(Entry::Dir(other_tree, other_meta)) => {
                    if *other_meta != meta {
                        self.diff.modified.push(child.clone());
                    }
                    self.dirs(tree, other_tree, &child, depth + 1)?;
                }
            }
        }
        for (name, _) in &b.files {
            if !in_a.contains_key(name.as_str()) {
                self.diff.added.push(format!("{path}/{name}"));
            }
        }
        for (name, tree, _) in &b.dirs {
            if !in_a.contains_key(name.as_str()) {
                let child = format!("{path}/{name}");
                self.diff.added.push(child.clone());
                self.added(tree, &child, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Lists everything below an added directory.
    fn added(&mut self, tree: &Checksum, path: &str, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(too_deep(
                "diff",
                &self.repo.object_path(ObjectType::DirTree, tree),
            ));
        }
        let tree = self.repo.load_dirtree(tree)?;
        for (name, _) in &tree.files {
            self.diff.added.push(format!("{path}/{name}"));
        }
        for (name, sub, _) in &tree.dirs {
            let child = format!("{path}/{name}");
            self.diff.added.push(child.clone());
            self.added(sub, &child, depth + 1)?;
        }
        Ok(())
    }
}

/// A directory being compared: a stored tree or a directory on disk, with the name
/// its entries are printed under.
struct Node {
    kind: NodeKind,
    /// The printed path of this directory: absolute (`/usr`) in a commit, relative to
    /// the compared directory (`usr`) on disk, as `ostree diff` prints them.
    shown: String,
    options: FsChecksumOptions,
}

enum NodeKind {
    Tree(Checksum),
    Dir(PathBuf),
}

/// An entry of a [`Node`]: whether it is a directory, and how to get its id.
struct Child {
    name: String,
    is_dir: bool,
    /// Content id (files) or dirmeta id (directories) when stored; `None` on disk.
    stored: Option<Checksum>,
    /// The dirtree of a stored directory.
    tree: Option<Checksum>,
}

impl Node {
    fn root(repo: &Repo, side: &DiffSide, options: FsChecksumOptions) -> Result<Self, Error> {
        let kind = match side {
            DiffSide::Commit(id) => NodeKind::Tree(repo.load_commit(id)?.root_tree),
            DiffSide::Dir(path) => {
                let st = fs::metadata(path).map_err(io_err("stat", path))?;
                if !st.is_dir() {
                    return Err(Error::Unsupported {
                        verb: "diff",
                        path: path.clone(),
                        detail: "not a directory".into(),
                    });
                }
                NodeKind::Dir(path.clone())
            }
        };
        Ok(Node {
            kind,
            shown: String::new(),
            options,
        })
    }

    fn shown_child(&self, name: &str) -> String {
        match self.kind {
            NodeKind::Tree(_) => format!("{}/{name}", self.shown),
            NodeKind::Dir(_) if self.shown.is_empty() => name.to_owned(),
            NodeKind::Dir(_) => format!("{}/{name}", self.shown),
        }
    }

    /// The entries, files before directories for a stored tree (its stored order),
    /// by name for a directory on disk.
    fn children(&self, repo: &Repo) -> Result<Vec<Child>, Error> {
        match &self.kind {
            NodeKind::Tree(id) => {
                let tree = repo.load_dirtree(id)?;
                let files = tree.files.into_iter().map(|(name, id)| Child {
                    name,
                    is_dir: false,
                    stored: Some(id),
                    tree: None,
                });
                let dirs = tree.dirs.into_iter().map(|(name, tree, meta)| Child {
                    name,
                    is_dir: true,
                    stored: Some(meta),
                    tree: Some(tree),
                });
                Ok(files.chain(dirs).collect())
            }
            NodeKind::Dir(path) => {
                let mut children = Vec::new();
                for entry in fs::read_dir(path).map_err(io_err("read directory", path))? {
                    let entry = entry.map_err(io_err("read directory", path))?;
                    let file_type = entry.file_type().map_err(io_err("stat", &entry.path()))?;
                    children.push(Child {
                        name: entry.file_name().to_string_lossy().into_owned(),
                        is_dir: file_type.is_dir(),
                        stored: None,
                        tree: None,
                    });
                }
                children.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(children)
            }
        }
    }

    /// The child named `child` as a directory to walk.
    fn descend(&self, child: &Child) -> Node {
        let kind = match &self.kind {
            NodeKind::Tree(_) => {
                NodeKind::Tree(child.tree.expect("stored directories have a tree"))
            }
            NodeKind::Dir(path) => NodeKind::Dir(path.join(&child.name)),
        };
        Node {
            kind,
            shown: self.shown_child(&child.name),
            options: self.options,
        }
    }

    /// The id of `child` as it is stored, or as it would be stored.
    fn id(&self, child: &Child) -> Result<Checksum, Error> {
        match (&child.stored, &self.kind) {
            (Some(id), _) => Ok(*id),
            (None, NodeKind::Dir(path)) => path_checksum(&path.join(&child.name), &self.options),
            (None, NodeKind::Tree(_)) => unreachable!("stored entries carry their ids"),
        }
    }

    fn path(&self) -> Option<&Path> {
        match &self.kind {
            NodeKind::Dir(path) => Some(path),
            NodeKind::Tree(_) => None,
        }
    }
}

/// Walks two sides of which at least one is on disk, as OSTree's `ostree_diff_dirs`.
struct MixedWalker<'a> {
    repo: &'a Repo,
    diff: &'a mut TreeDiff,
}

impl MixedWalker<'_> {
    fn dirs(&mut self, a: &Node, b: &Node, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            let path = b.path().or(a.path()).unwrap_or(Path::new("/"));
            return Err(too_deep("diff", path));
        }
        let (in_a, in_b) = (a.children(self.repo)?, b.children(self.repo)?);
        let by_name: HashMap<&str, &Child> = in_b.iter().map(|c| (c.name.as_str(), c)).collect();
        let names_a: HashSet<&str> = in_a.iter().map(|c| c.name.as_str()).collect();
        for child in &in_a {
            let Some(other) = by_name.get(child.name.as_str()) else {
                self.diff.removed.push(a.shown_child(&child.name));
                continue;
            };
            if child.is_dir != other.is_dir {
                self.diff.modified.push(a.shown_child(&child.name));
                continue;
            }
            if a.id(child)? != b.id(other)? {
                self.diff.modified.push(a.shown_child(&child.name));
            }
            if child.is_dir {
                self.dirs(&a.descend(child), &b.descend(other), depth + 1)?;
            }
        }
        for child in &in_b {
            if !names_a.contains(child.name.as_str()) {
                self.diff.added.push(b.shown_child(&child.name));
                if child.is_dir {
                    self.added(&b.descend(child), depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Lists everything below an added directory.
    fn added(&mut self, node: &Node, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(too_deep("diff", node.path().unwrap_or(Path::new("/"))));
        }
        for child in node.children(self.repo)? {
            self.diff.added.push(node.shown_child(&child.name));
            if child.is_dir {
                self.added(&node.descend(&child), depth + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{CommitOptions, commit_dir};
    use crate::repo::RepoMode;

    /// An unchanged subtree is never read: the diff succeeds with its dirtree deleted.
    #[test]
    fn identical_subtrees_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("shared/deep")).unwrap();
        fs::write(src.join("shared/deep/x"), b"x").unwrap();
        fs::write(src.join("top"), b"1").unwrap();
        let repo = Repo::init(&tmp.path().join("repo"), RepoMode::Archive).unwrap();
        let options = CommitOptions {
            branch: Some("main".into()),
            timestamp: Some(0),
            ..Default::default()
        };
        let a = commit_dir(&repo, &src, &options).unwrap().commit;
        fs::write(src.join("top"), b"2").unwrap();
        let b = commit_dir(&repo, &src, &options).unwrap().commit;
        let root = repo.load_dirtree(&repo.load_commit(&a).unwrap().root_tree);
        let (_, shared, _) = root.unwrap().dirs[0].clone();
        fs::remove_file(repo.object_path(ObjectType::DirTree, &shared)).unwrap();
        let diff = diff_commits(&repo, &a, &b).unwrap();
        assert_eq!(diff.modified, vec!["/top".to_owned()]);
        assert!(diff.removed.is_empty() && diff.added.is_empty());
    }
}
