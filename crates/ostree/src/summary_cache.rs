//! The cache of remote summaries a pull keeps, as OSTree keeps it:
//! `tmp/cache/summaries/REMOTE` and `REMOTE.sig` (or `DIR/summaries/…` with
//! `pull --cache-dir=DIR`).
//!
//! A summary is cached only together with its `summary.sig` and only once it was
//! accepted, so the pair always belongs together. When the remote's `summary.sig` is
//! byte for byte the cached one, the cached summary is used instead of fetching it
//! again; and should such a cached summary fail verification, the pull fetches it
//! afresh rather than trusting the cache.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::repo::{self, Repo};

/// One repository's summary cache directory.
#[derive(Debug, Clone)]
pub struct SummaryCache {
    dir: PathBuf,
}

impl SummaryCache {
    /// `cache_dir/summaries` (`pull --cache-dir`), else the repository's
    /// `tmp/cache/summaries`.
    pub fn new(repo: &Repo, cache_dir: Option<&Path>) -> Self {
        let dir = match cache_dir {
            Some(dir) => dir.join("summaries"),
            None => repo.path().join("tmp/cache/summaries"),
        };
        SummaryCache { dir }
    }

    /// The cached summary of `remote` when the cached signatures are `sig` exactly.
    pub fn load_if_same_sig(&self, remote: &str, sig: &[u8]) -> Option<Vec<u8>> {
        let cached_sig = fs::read(self.dir.join(format!("{remote}.sig"))).ok()?;
        if cached_sig != sig {
            return None;
        }
        fs::read(self.dir.join(remote)).ok()
    }

    /// Caches an accepted summary and its signatures (summary first, so a reader
    /// matching the new `.sig` never finds the old summary beside it for long; a
    /// mismatched pair fails verification and is fetched afresh anyway).
    pub fn store(
        &self,
        repo: &Repo,
        remote: &str,
        summary: &[u8],
        sig: &[u8],
    ) -> Result<(), repo::Error> {
        fs::create_dir_all(&self.dir).map_err(io_err("create directory", &self.dir))?;
        repo.write_atomic(&self.dir.join(remote), summary)?;
        repo.write_atomic(&self.dir.join(format!("{remote}.sig")), sig)?;
        Ok(())
    }
}

/// Deletes cached summaries (and signatures) of remotes that are no longer
/// configured, as `ostree prune` does.
pub fn prune_summary_cache(repo: &Repo) -> Result<(), repo::Error> {
    let dir = repo.path().join("tmp/cache/summaries");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("open directory", &dir)(e).into()),
    };
    let remotes: Vec<String> = repo
        .remote_list()
        .map(|list| list.into_iter().map(|r| r.name).collect())
        .unwrap_or_default();
    for entry in entries {
        let entry = entry.map_err(io_err("read directory", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let remote = name.strip_suffix(".sig").unwrap_or(&name);
        if !remotes.iter().any(|r| r == remote) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err("delete", &path))?;
        }
    }
    Ok(())
}
