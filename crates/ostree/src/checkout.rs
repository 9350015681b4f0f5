//! Checking a commit out into a directory: copies, or hardlinks to the repository's
//! objects when the repository mode makes the object files usable as they are.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::object::{DirMeta, ObjectType};
use crate::repo::{Error, Repo, RepoMode, io_err, set_symlink_mtime_zero};

/// Whether to hardlink files to the repository's objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Hardlink when the repository mode allows it, otherwise copy.
    #[default]
    Auto,
    /// Hardlink every regular file or fail (`-H`/`--require-hardlinks`).
    Require,
    /// Always copy (`--force-copy`).
    Copy,
}

/// How to check out, as `ostree checkout`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    /// Ignore stored owners and drop setuid/setgid bits (`-U`).
    pub user_mode: bool,
    /// Hardlinks or copies.
    pub link: LinkMode,
    /// Check out only this directory of the commit (`--subpath`), e.g. `/usr/bin`.
    pub subpath: Option<String>,
}

/// Counts of what a checkout made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckoutStats {
    /// Regular files copied.
    pub copied: u64,
    /// Regular files hardlinked.
    pub linked: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Directories created.
    pub dirs: u64,
}

/// Checks out `commit` into `dest`, which must not exist yet.
pub fn checkout(
    repo: &Repo,
    commit: &Checksum,
    dest: &Path,
    options: &CheckoutOptions,
) -> Result<CheckoutStats, Error> {
    let commit = repo.load_commit(commit)?;
    let (mut tree, mut meta) = (commit.root_tree, commit.root_meta);
    if let Some(subpath) = &options.subpath {
        for part in subpath.split('/').filter(|p| !p.is_empty()) {
            let dirtree = repo.load_dirtree(&tree)?;
            let (_, t, m) = dirtree
                .dirs
                .iter()
                .find(|d| d.0 == part)
                .ok_or_else(|| Error::NotFound(subpath.clone()))?;
            (tree, meta) = (*t, *m);
        }
    }
    let can_link = match repo.mode() {
        RepoMode::Bare => !options.user_mode,
        RepoMode::BareUser | RepoMode::BareUserOnly => options.user_mode,
        RepoMode::Archive => false,
    };
    if options.link == LinkMode::Require && !can_link {
        return Err(Error::Unsupported {
            verb: "hardlink from",
            path: repo.path().to_owned(),
            detail: format!(
                "a {} repository needs {} for hardlink checkouts",
                repo.mode().name(),
                if repo.mode() == RepoMode::Bare {
                    "no -U"
                } else {
                    "-U"
                }
            ),
        });
    }
    let writer = Writer {
        repo,
        options,
        link: can_link && options.link != LinkMode::Copy,
    };
    let mut plan = Plan::default();
    writer.plan(&tree, &meta, dest, 0, &mut plan)?;
    let mut stats = CheckoutStats {
        dirs: plan.dirs.len() as u64,
        ..CheckoutStats::default()
    };
    let made: Vec<Made> = plan
        .files
        .par_iter()
        .map(|(id, path)| writer.file(id, path))
        .collect::<Result<_, _>>()?;
    for made in made {
        match made {
            Made::Copied => stats.copied += 1,
            Made::Linked => stats.linked += 1,
            Made::Symlink => stats.symlinks += 1,
        }
    }
    // Children before parents, so a read-only directory gets its mode last.
    for (path, meta) in plan.dirs.iter().rev() {
        writer.finish_dir(path, meta)?;
    }
    Ok(stats)
}

/// The checkout's shape, made by a sequential walk of the dirtrees: directories are
/// created as they are planned (owner and mode come at the end), files are written
/// afterwards on all cores.
#[derive(Default)]
struct Plan {
    /// Directories in creation order, with the metadata to apply once they are full.
    dirs: Vec<(PathBuf, DirMeta)>,
    /// Content objects and where they go.
    files: Vec<(Checksum, PathBuf)>,
}

/// What checking out one content object made.
enum Made {
    Copied,
    Linked,
    Symlink,
}

struct Writer<'a> {
    repo: &'a Repo,
    options: &'a CheckoutOptions,
    link: bool,
}

impl Writer<'_> {
    fn plan(
        &self,
        tree: &Checksum,
        meta: &Checksum,
        dest: &Path,
        depth: usize,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        if depth > crate::object::MAX_DEPTH {
            return Err(crate::repo::too_deep("check out", dest));
        }
        let dirtree = self.repo.load_dirtree(tree)?;
        let dirmeta: DirMeta = self.repo.load_dirmeta(meta)?;
        fs::DirBuilder::new()
            .mode(0o700)
            .create(dest)
            .map_err(io_err("create directory", dest))?;
        plan.dirs.push((dest.to_owned(), dirmeta));
        plan.files.extend(
            dirtree
                .files
                .iter()
                .map(|(name, id)| (*id, dest.join(name))),
        );
        for (name, t, m) in &dirtree.dirs {
            self.plan(t, m, &dest.join(name), depth + 1, plan)?;
        }
        Ok(())
    }

    fn finish_dir(&self, dest: &Path, dirmeta: &DirMeta) -> Result<(), Error> {
        if !self.options.user_mode {
            std::os::unix::fs::chown(dest, Some(dirmeta.uid), Some(dirmeta.gid))
                .map_err(io_err("change owner of", dest))?;
        }
        fs::set_permissions(dest, fs::Permissions::from_mode(dirmeta.mode & 0o7777))
            .map_err(io_err("set mode of", dest))
    }

    fn file(&self, id: &Checksum, dest: &Path) -> Result<Made, Error> {
        let mut content = self.repo.read_content(id)?;
        let header = &content.header;
        if header.is_symlink() {
            std::os::unix::fs::symlink(&header.symlink_target, dest)
                .map_err(io_err("create symlink", dest))?;
            if !self.options.user_mode {
                std::os::unix::fs::lchown(dest, Some(header.uid), Some(header.gid))
                    .map_err(io_err("change owner of", dest))?;
            }
            set_symlink_mtime_zero(dest);
            return Ok(Made::Symlink);
        }
        if self.link {
            let object = self.repo.object_path(ObjectType::File, id);
            match fs::hard_link(&object, dest) {
                Ok(()) => return Ok(Made::Linked),
                Err(e) if self.options.link == LinkMode::Require => {
                    return Err(io_err("hardlink", dest)(e));
                }
                // EMLINK, EXDEV and the like: fall back to a copy.
                Err(_) => {}
            }
        }
        let mut mode = header.mode & 0o7777;
        if self.options.user_mode {
            mode &= !0o6000;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(io_err("create", dest))?;
        let copied = content
            .reader
            .copy_to_file(&mut file)
            .map_err(io_err("write", dest))?;
        if copied != content.size {
            return Err(Error::Unsupported {
                verb: "check out",
                path: dest.to_owned(),
                detail: format!(
                    "object {id} has {copied} bytes, its header says {}",
                    content.size
                ),
            });
        }
        if !self.options.user_mode {
            std::os::unix::fs::fchown(&file, Some(header.uid), Some(header.gid))
                .map_err(io_err("change owner of", dest))?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err("set mode of", dest))?;
        file.set_modified(std::time::UNIX_EPOCH)
            .map_err(io_err("set mtime of", dest))?;
        Ok(Made::Copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{CommitOptions, commit_dir};

    #[test]
    fn round_trip_copy_and_hardlink() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("d")).unwrap();
        fs::write(src.path().join("d/x"), b"xx").unwrap();
        fs::set_permissions(src.path().join("d/x"), fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("d/x", src.path().join("l")).unwrap();
        for mode in [RepoMode::Archive, RepoMode::BareUser] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(&dir.path().join("repo"), mode).unwrap();
            let id = commit_dir(
                &repo,
                src.path(),
                &CommitOptions {
                    timestamp: Some(0),
                    ..Default::default()
                },
            )
            .unwrap()
            .commit;
            let out = dir.path().join("out");
            let options = CheckoutOptions {
                user_mode: true,
                ..Default::default()
            };
            let stats = checkout(&repo, &id, &out, &options).unwrap();
            assert_eq!((stats.symlinks, stats.dirs), (1, 2));
            assert_eq!(stats.linked, u64::from(mode == RepoMode::BareUser));
            assert_eq!(fs::read(out.join("d/x")).unwrap(), b"xx");
            assert_eq!(fs::read_link(out.join("l")).unwrap(), Path::new("d/x"));
            if mode == RepoMode::Archive {
                assert_eq!(
                    fs::metadata(out.join("d/x")).unwrap().permissions().mode() & 0o7777,
                    0o751
                );
            }
            let sub = checkout(
                &repo,
                &id,
                &dir.path().join("sub"),
                &CheckoutOptions {
                    subpath: Some("/d".into()),
                    ..options
                },
            );
            assert_eq!(sub.unwrap().dirs, 1);
        }
    }
}
