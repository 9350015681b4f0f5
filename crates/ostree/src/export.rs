//! `export`: a commit's tree (or a subtree) as a tar archive, as `ostree export` writes
//! it: every directory, file and symlink with the owner, mode and (unless left out)
//! extended attributes the commit records, times at the epoch, names under an optional
//! prefix (the top directory is `./` without one). Extended attributes travel as PAX `SCHILY.xattr.NAME` records, which GNU tar
//! and libarchive read back.

use std::io::{self, Write};

use crate::browse::{Node, lookup, normalize};
use crate::checksum::Checksum;
use crate::error::{Error, io_err, too_deep};
use crate::object::{MAX_DEPTH, Xattrs};
use crate::repo::Repo;

/// What `export` writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Only the tree below this path of the commit (`--subpath`).
    pub subpath: Option<String>,
    /// Put before every name (`--prefix`, e.g. `the-prefix/`).
    pub prefix: Option<String>,
    /// Leave extended attributes out (`--no-xattrs`).
    pub no_xattrs: bool,
}

/// Writes the tree of `commit` to `out` as a tar archive.
pub fn export(
    repo: &Repo,
    commit: &Checksum,
    out: impl Write,
    options: &ExportOptions,
) -> Result<(), Error> {
    let commit = repo.load_commit(commit)?;
    let path = normalize(options.subpath.as_deref().unwrap_or("/"));
    let node = lookup(repo, &commit, &path)?;
    let prefix = options.prefix.clone().unwrap_or_default();
    let mut writer = Writer {
        repo,
        tar: tar::Builder::new(out),
        no_xattrs: options.no_xattrs,
    };
    match node {
        Node::Dir(tree, meta) => {
            // The top directory is `./` without a prefix, so that importing the archive
            // (`commit --tree=tar=`) finds the root's owner and mode.
            let top = if prefix.is_empty() { "./" } else { &prefix };
            writer.dir(top, &meta)?;
            writer.tree(&tree, &prefix, 0)?;
        }
        Node::File(id) => {
            let name = path.rsplit('/').next().unwrap_or_default();
            writer.file(&format!("{prefix}{name}"), &id)?;
        }
    }
    writer.tar.finish().map_err(|e| write_err(e).into())
}

/// [`export`] into the file `path`, which appears complete or not at all (replacing what
/// was there).
pub fn export_to_file(
    repo: &Repo,
    commit: &Checksum,
    path: &std::path::Path,
    options: &ExportOptions,
) -> Result<(), Error> {
    let mut failure = None;
    let options_file = ferro_sys::atomic::WriteOptions::replace(0o644);
    let written = ferro_sys::atomic::write_file_with(path, options_file, |file| {
        let mut out = io::BufWriter::new(file);
        if let Err(e) = export(repo, commit, &mut out, options) {
            let message = e.to_string();
            failure = Some(e);
            return Err(io::Error::other(message));
        }
        out.flush()
    });
    match (written, failure) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(e.into()),
        (Ok(_), None) => Ok(()),
    }
}

struct Writer<'r, W: Write> {
    repo: &'r Repo,
    tar: tar::Builder<W>,
    no_xattrs: bool,
}

fn write_err(e: io::Error) -> ferro_sys::IoError {
    io_err("write", std::path::Path::new("the tar archive"))(e)
}

impl<W: Write> Writer<'_, W> {
    fn tree(&mut self, tree: &Checksum, prefix: &str, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(too_deep("export", std::path::Path::new(prefix)));
        }
        let tree = self.repo.load_dirtree(tree)?;
        for (name, id) in &tree.files {
            self.file(&format!("{prefix}{name}"), id)?;
        }
        for (name, sub, meta) in &tree.dirs {
            let path = format!("{prefix}{name}/");
            self.dir(&path, meta)?;
            self.tree(sub, &path, depth + 1)?;
        }
        Ok(())
    }

    fn xattrs(&mut self, xattrs: &Xattrs) -> Result<(), Error> {
        if self.no_xattrs || xattrs.is_empty() {
            return Ok(());
        }
        let records: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(name, value)| {
                let name = String::from_utf8_lossy(name.strip_suffix(b"\0").unwrap_or(name));
                (format!("SCHILY.xattr.{name}"), value.as_slice())
            })
            .collect();
        self.tar
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(|e| write_err(e).into())
    }

    fn dir(&mut self, path: &str, meta: &Checksum) -> Result<(), Error> {
        let meta = self.repo.load_dirmeta(meta)?;
        self.xattrs(&meta.xattrs)?;
        let mut header = header(meta.uid, meta.gid, meta.mode, tar::EntryType::Directory);
        self.tar
            .append_data(&mut header, path, io::empty())
            .map_err(|e| write_err(e).into())
    }

    fn file(&mut self, path: &str, id: &Checksum) -> Result<(), Error> {
        let content = self.repo.read_content(id)?;
        self.xattrs(&content.header.xattrs)?;
        let h = &content.header;
        if h.is_symlink() {
            let mut header = header(h.uid, h.gid, h.mode, tar::EntryType::Symlink);
            let target = h.symlink_target.clone();
            return self
                .tar
                .append_link(&mut header, path, target)
                .map_err(|e| write_err(e).into());
        }
        let mut header = header(h.uid, h.gid, h.mode, tar::EntryType::Regular);
        header.set_size(content.size);
        self.tar
            .append_data(&mut header, path, content.reader)
            .map_err(|e| write_err(e).into())
    }
}

/// A GNU header with the owner, the permission bits and the epoch as time.
fn header(uid: u32, gid: u32, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_uid(uid.into());
    header.set_gid(gid.into());
    header.set_mode(mode & 0o7777);
    header.set_mtime(0);
    header.set_size(0);
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{CommitOptions, commit_dir};
    use crate::repo::RepoMode;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_subtree_under_a_prefix_with_modes_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(&dir.path().join("repo"), RepoMode::Archive).unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("baz/sub")).unwrap();
        std::fs::write(tree.join("top"), "top").unwrap();
        std::fs::write(tree.join("baz/cow"), "moo").unwrap();
        std::fs::set_permissions(tree.join("baz/cow"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::os::unix::fs::symlink("cow", tree.join("baz/link")).unwrap();
        let options = CommitOptions {
            branch: Some("t".into()),
            ..CommitOptions::default()
        };
        let id = commit_dir(&repo, &tree, &options).unwrap().commit;
        let mut tar = Vec::new();
        let options = ExportOptions {
            subpath: Some("baz".into()),
            prefix: Some("p/".into()),
            no_xattrs: true,
        };
        export(&repo, &id, &mut tar, &options).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mode = entry.header().mode().unwrap();
            let mut text = String::new();
            if entry.header().entry_type().is_file() {
                io::Read::read_to_string(&mut entry, &mut text).unwrap();
            }
            if let Some(target) = entry.link_name().unwrap() {
                text = target.to_string_lossy().into_owned();
            }
            seen.push((path, mode, text));
        }
        let names: Vec<&str> = seen.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(names, ["p/", "p/cow", "p/link", "p/sub/"]);
        assert_eq!(seen[1], ("p/cow".into(), 0o600, "moo".into()));
        assert_eq!(seen[2].2, "cow");
    }
}
