//! Storing a post-processed tree as an OSTree commit carrying its version.

use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::object::Variant;
use ferro_ostree::{Checksum, Repo, RepoMode, repo};

/// Commits `tree` to branch `ref_name` of the repository at `repo_path` with metadata
/// `version` and `extra` string entries, creating the repository if there is none.
///
/// A new repository is made in `archive` mode: compose output is served to machines
/// over HTTP (`ferro upgrade` pulls from archive repositories), and archive mode
/// records owners and modes without needing root to read the objects back.
pub fn commit_tree(
    repo_path: &Path,
    tree: &Path,
    ref_name: &str,
    version: &str,
    extra: &[(&str, &str)],
) -> Result<Checksum, repo::Error> {
    let repo = if repo_path.join("config").is_file() {
        Repo::open(repo_path)?
    } else {
        Repo::init(repo_path, RepoMode::Archive)?
    };
    let options = CommitOptions {
        branch: Some(ref_name.to_owned()),
        subject: format!("{ref_name} {version}"),
        metadata: std::iter::once(("version", version))
            .chain(extra.iter().copied())
            .map(|(key, value)| (key.to_owned(), Variant::string(value)))
            .collect(),
        ..CommitOptions::default()
    };
    Ok(commit_dir(&repo, tree, &options)?.commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_records_version_and_moves_the_ref() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("usr/etc")).unwrap();
        std::fs::write(tree.join("usr/etc/os-release"), "ID=ferro\n").unwrap();
        let repo_path = dir.path().join("repo");
        let first = commit_tree(&repo_path, &tree, "ferro/test", "1", &[]).unwrap();
        let second = commit_tree(&repo_path, &tree, "ferro/test", "2", &[("k", "v")]).unwrap();

        let repo = Repo::open(&repo_path).unwrap();
        assert_eq!(repo.mode(), RepoMode::Archive);
        assert_eq!(repo.read_ref("ferro/test").unwrap(), Some(second));
        let commit = repo.load_commit(&second).unwrap();
        assert_eq!(commit.metadata_string("version").as_deref(), Some("2"));
        assert_eq!(commit.metadata_string("k").as_deref(), Some("v"));
        assert_eq!(commit.parent, Some(first));
    }
}
