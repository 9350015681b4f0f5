//! Refs: `refs/heads/NAME` (local) and `refs/remotes/REMOTE/NAME` (shown as
//! `REMOTE:NAME`), each a file holding 64 hex digits and a newline, and revision syntax
//! (`REF`, a full checksum, `REV^` for the parent).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checksum::Checksum;
use crate::repo::{Error, Repo, io_err};

impl Repo {
    /// The commit a ref points to; `None` if the ref does not exist.
    pub fn read_ref(&self, name: &str) -> Result<Option<Checksum>, Error> {
        let path = self.ref_path(name)?;
        match fs::read_to_string(&path) {
            Ok(text) => text
                .trim_end()
                .parse()
                .map(Some)
                .map_err(|_| Error::Unsupported {
                    verb: "read ref",
                    path,
                    detail: "content is not a checksum".into(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    fn ref_path(&self, name: &str) -> Result<PathBuf, Error> {
        let (dir, name) = match name.split_once(':') {
            Some((remote, rest)) => (format!("refs/remotes/{remote}"), rest),
            None => ("refs/heads".to_owned(), name),
        };
        let valid = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        };
        if !dir.split('/').skip(2).all(valid) || !name.split('/').all(valid) {
            return Err(Error::InvalidRef(name.to_owned()));
        }
        Ok(self.path.join(dir).join(name))
    }

    /// Points a local ref at a commit, or deletes it (`None`), durably (see
    /// [`crate::transaction`]). Writers that stored the commit's objects move refs through
    /// [`crate::transaction::Transaction::commit`] instead, which syncs the objects first.
    pub fn set_ref(&self, name: &str, target: Option<&Checksum>) -> Result<(), Error> {
        let path = self.ref_path(name)?;
        match target {
            Some(id) => self.write_durable(&path, format!("{id}\n").as_bytes()),
            None => match fs::remove_file(&path) {
                Ok(()) => self.sync_parent(&path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(Error::NotFound(name.to_owned()))
                }
                Err(e) => Err(io_err("delete", &path)(e)),
            },
        }
    }

    /// All refs, local ones as `NAME` and remote ones as `REMOTE:NAME`, sorted.
    pub fn list_refs(&self) -> Result<Vec<(String, Checksum)>, Error> {
        let mut out = Vec::new();
        let heads = self.path.join("refs/heads");
        self.collect_refs(&heads, "", &mut out)?;
        let remotes = self.path.join("refs/remotes");
        if let Ok(entries) = fs::read_dir(&remotes) {
            for entry in entries.flatten() {
                if let Some(remote) = entry.file_name().to_str() {
                    self.collect_refs(&entry.path(), &format!("{remote}:"), &mut out)?;
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The refs `ostree refs PREFIX` selects, as `(name, display, commit)`: the ref
    /// named exactly `prefix` (displayed in full), every ref of a remote for
    /// `REMOTE:` (in full), or every ref under the directory `prefix/` (displayed
    /// without the prefix, or in full with `full`).
    pub fn refs_under(
        &self,
        prefix: &str,
        full: bool,
    ) -> Result<Vec<(String, String, Checksum)>, Error> {
        let dir = format!("{prefix}/");
        Ok(self
            .list_refs()?
            .into_iter()
            .filter_map(|(name, id)| {
                let shown = if name == prefix || (prefix.ends_with(':') && name.starts_with(prefix))
                {
                    name.clone()
                } else if let Some(rest) = name.strip_prefix(&dir) {
                    if full { name.clone() } else { rest.to_owned() }
                } else {
                    return None;
                };
                Some((name, shown, id))
            })
            .collect())
    }

    fn collect_refs(
        &self,
        dir: &Path,
        prefix: &str,
        out: &mut Vec<(String, Checksum)>,
    ) -> Result<(), Error> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("list", dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("list", dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let full = format!("{prefix}{name}");
            if entry
                .file_type()
                .map_err(io_err("stat", &entry.path()))?
                .is_dir()
            {
                self.collect_refs(&entry.path(), &format!("{full}/"), out)?;
            } else if let Ok(Some(id)) = self.read_ref(&full) {
                out.push((full, id));
            }
        }
        Ok(())
    }

    /// Resolves a ref name or checksum, with optional `^` suffixes for parents.
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum, Error> {
        let base = rev.trim_end_matches('^');
        let mut id = match base.parse::<Checksum>() {
            Ok(id) => id,
            Err(_) => self
                .read_ref(base)?
                .ok_or_else(|| Error::NotFound(base.to_owned()))?,
        };
        for _ in 0..rev.len() - base.len() {
            id = self
                .load_commit(&id)?
                .parent
                .ok_or_else(|| Error::NotFound(rev.to_owned()))?;
        }
        Ok(id)
    }
}
