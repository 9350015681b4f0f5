//! The repository handle: `init`/`open`, the `config` file and what it sets, and the
//! layout on disk — `objects/XX/REST.TYPE`, `tmp/`, `refs/` ([`crate::refs`]).
//!
//! How a file object is encoded in each [`RepoMode`] lives in [`crate::content`], how a
//! new object file is made in `new_object`: every object is written to a fresh
//! file in `tmp/` and only then given its final name, so a reader never sees a
//! half-written object. When that becomes durable and how writers share the repository
//! is [`crate::transaction`]'s and [`crate::lock`]'s job. This module depends on none of
//! them; they all build on it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ferro_sys::atomic::{self, Collision, Durability, WriteOptions};

use crate::checksum::Checksum;
pub use crate::error::Error;
use crate::error::io_err;
use crate::gvariant;
use crate::keyfile::KeyFile;
use crate::object::{Commit, DirMeta, DirTree, ObjectType};
use crate::object_dirs::ObjectDirs;
use crate::transaction::TestErrors;

/// How content objects are stored. With the `clap` feature it is a `clap::ValueEnum`
/// (`bare`, `bare-user`, `bare-user-only`, `archive` or its old name `archive-z2`), so
/// `init --mode` is checked by the parser and listed in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RepoMode {
    /// Files with their real owner, mode and xattrs (needs root to write).
    Bare,
    /// Files owned by the writer; real metadata in the `user.ostreemeta` xattr.
    BareUser,
    /// Files owned by the writer, canonical permissions, no xattrs.
    BareUserOnly,
    /// Compressed `.filez` objects, for serving over HTTP.
    #[cfg_attr(feature = "clap", value(alias = "archive-z2"))]
    Archive,
}

impl RepoMode {
    /// The name `ostree init --mode` takes.
    pub fn name(self) -> &'static str {
        match self {
            RepoMode::Bare => "bare",
            RepoMode::BareUser => "bare-user",
            RepoMode::BareUserOnly => "bare-user-only",
            RepoMode::Archive => "archive",
        }
    }

    /// The value written to `config` (`archive` is spelled `archive-z2` there).
    pub fn config_name(self) -> &'static str {
        match self {
            RepoMode::Archive => "archive-z2",
            other => other.name(),
        }
    }

    /// Parses a mode as given to `init --mode` or found in `config`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "bare" => RepoMode::Bare,
            "bare-user" => RepoMode::BareUser,
            "bare-user-only" => RepoMode::BareUserOnly,
            "archive" | "archive-z2" => RepoMode::Archive,
            _ => return None,
        })
    }
}

/// The mode a repository `config` declares (`[core] repo_version=1`, `mode`, default
/// `bare`); shared by [`Repo::open`] and pulls, which check a remote's `config`.
pub(crate) fn mode_from_config(text: &str) -> Result<RepoMode, String> {
    let config = KeyFile::parse(text);
    if config.get("core", "repo_version").as_deref() != Some("1") {
        return Err("[core] repo_version is not 1".into());
    }
    match config.get("core", "mode") {
        None => Ok(RepoMode::Bare),
        Some(m) => RepoMode::parse(&m).ok_or_else(|| format!("unsupported mode '{m}'")),
    }
}

/// The `[core]` settings that govern transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `fsync` (default true): sync at the commit point and on ref writes.
    pub(crate) fsync: bool,
    /// `per-object-fsync` (default false): also sync each object before it is linked
    /// into place, for filesystems where one `syncfs` is slow or unreliable.
    pub(crate) per_object_fsync: bool,
    /// `locking` (default true, as in OSTree 2022.7): take `.lock`.
    pub(crate) locking: bool,
    /// `tmp-expiry-secs` (default 86400): age after which `tmp/` leftovers go.
    pub(crate) tmp_expiry_secs: u64,
    /// `lock-timeout-secs` (default 30, as in OSTree): how long to wait for the lock;
    /// `None` (-1) waits as long as it takes.
    pub(crate) lock_timeout: Option<std::time::Duration>,
    /// `[archive] zlib-level` (default 6; OSTree clamps it to 1–9 and so do we): how
    /// hard archive `.filez` objects are compressed, see [`crate::deflate`].
    pub(crate) zlib_level: u32,
}

impl Policy {
    /// Reads the settings from the text of a repository `config`.
    pub(crate) fn from_config(text: &str) -> Result<Self, String> {
        let config = KeyFile::parse(text);
        let flag = |key: &str, default: bool| match config.get("core", key).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(format!("[core] {key}={other} is not a boolean")),
        };
        let tmp_expiry_secs = match config.get("core", "tmp-expiry-secs") {
            None => 86400,
            Some(text) => text
                .parse()
                .map_err(|_| format!("[core] tmp-expiry-secs={text} is not a number"))?,
        };
        let lock_timeout = match config.get("core", "lock-timeout-secs") {
            None => Some(30),
            Some(text) => match text.parse::<i64>() {
                Ok(secs) if secs < 0 => None,
                Ok(secs) => Some(secs.unsigned_abs()),
                Err(_) => return Err(format!("[core] lock-timeout-secs={text} is not a number")),
            },
        };
        let zlib_level = match config.get("archive", "zlib-level") {
            None => crate::deflate::DEFAULT_LEVEL,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| format!("[archive] zlib-level={text} is not a number from 1 to 9"))?
                .clamp(1, 9) as u32,
        };
        Ok(Policy {
            fsync: flag("fsync", true)?,
            per_object_fsync: flag("per-object-fsync", false)?,
            zlib_level,
            locking: flag("locking", true)?,
            tmp_expiry_secs,
            lock_timeout: lock_timeout.map(std::time::Duration::from_secs),
        })
    }
}

/// Writes `data` over `path` with the one atomic writer (mode 0644, as OSTree's), making
/// the parent directory when it is missing.
fn replace_file(path: &Path, data: &[u8], durability: Durability) -> Result<(), Error> {
    let options = WriteOptions {
        mode: 0o644,
        collision: Collision::Replace,
        durability,
    };
    match atomic::write_file(path, data, options) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.exists()) {
                fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
                atomic::write_file(path, data, options)?;
                return Ok(());
            }
            Err(e.into())
        }
        other => other.map(drop).map_err(Error::from),
    }
}

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repo {
    pub(crate) path: PathBuf,
    mode: RepoMode,
    policy: Policy,
    /// Directory handles shared by every clone, see [`crate::new_object`].
    dirs: std::sync::Arc<ObjectDirs>,
    /// The repository named by `[core] parent`: objects missing here are read from
    /// it (a "shadow" repository over a system one), never written to it.
    parent: Option<std::sync::Arc<Repo>>,
    /// `etc/ostree/remotes.d` of the deployment this repository was opened through
    /// (a non-physical sysroot), where its remotes are kept as OSTree keeps a system
    /// repository's; see [`Repo::with_remotes_dir`].
    remotes_dir: Option<PathBuf>,
    /// OSTree's fault injection (`OSTREE_REPO_TEST_ERROR`), see [`TestErrors`].
    test_errors: TestErrors,
}

impl Repo {
    /// Creates a repository (or opens one that already has this mode), like `ostree init`.
    pub fn init(path: &Path, mode: RepoMode) -> Result<Self, Error> {
        let config = path.join("config");
        if config.exists() {
            let repo = Self::open(path)?;
            if repo.mode != mode {
                return Err(Error::Config {
                    path: config,
                    detail: format!("repository exists with mode {}", repo.mode.name()),
                });
            }
            return Ok(repo);
        }
        for dir in [
            "objects",
            "refs/heads",
            "refs/remotes",
            "refs/mirrors",
            "state",
            "tmp",
            "extensions",
        ] {
            let dir = path.join(dir);
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        }
        let text = format!("[core]\nrepo_version=1\nmode={}\n", mode.config_name());
        let repo = Repo {
            path: path.to_owned(),
            mode,
            dirs: Default::default(),
            parent: None,
            remotes_dir: None,
            test_errors: TestErrors::from_env(),
            policy: Policy::from_config(&text).map_err(|detail| Error::Config {
                path: config.clone(),
                detail,
            })?,
        };
        repo.write_durable(&config, text.as_bytes())?;
        Ok(repo)
    }

    /// The repository `ostree` works on when a command names none: `explicit` (`--repo`
    /// or `OSTREE_REPO`), else `cwd` when it is a repository (has `objects/` and
    /// `config`), else `SYSROOT/ostree/repo` for `OSTREE_SYSROOT`. Unlike `ostree`,
    /// never the host's `/ostree/repo` implicitly: `None` asks the caller for a path.
    pub fn locate(explicit: Option<&Path>, cwd: &Path, sysroot: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_owned());
        }
        if cwd.join("objects").is_dir() && cwd.join("config").is_file() {
            return Some(cwd.to_owned());
        }
        sysroot.map(|root| root.join("ostree/repo"))
    }

    /// Opens the repository [`Repo::locate`] found at `path`. When it is the repository
    /// of `sysroot` and that sysroot is a deployment rather than the physical root (it
    /// has a `sysroot/` inside, as a booted deployment does), the deployment's
    /// `etc/ostree/remotes.d` holds its remotes ([`Repo::with_remotes_dir`]).
    pub fn open_located(path: &Path, sysroot: Option<&Path>) -> Result<Self, Error> {
        let repo = Self::open(path)?;
        Ok(match sysroot {
            Some(root)
                if path == root.join("ostree/repo")
                    && fs::symlink_metadata(root.join("sysroot")).is_ok() =>
            {
                repo.with_remotes_dir(root)
            }
            _ => repo,
        })
    }

    /// Opens a repository by reading its `config`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let config = path.join("config");
        let text = fs::read_to_string(&config).map_err(io_err("read", &config))?;
        let bad = |detail| Error::Config {
            path: config.clone(),
            detail,
        };
        let mode = mode_from_config(&text).map_err(bad)?;
        let policy = Policy::from_config(&text).map_err(bad)?;
        // As OSTree: a repository whose `tmp/` was removed gets it back on open. Best
        // effort: a read-only repository can still be read.
        let _ = fs::create_dir(path.join("tmp"));
        let parent = match KeyFile::parse(&text).get("core", "parent") {
            Some(parent) if !parent.is_empty() => {
                Some(std::sync::Arc::new(Self::open(Path::new(&parent))?))
            }
            _ => None,
        };
        Ok(Repo {
            path: path.to_owned(),
            mode,
            policy,
            dirs: Default::default(),
            parent,
            remotes_dir: None,
            test_errors: TestErrors::from_env(),
        })
    }

    /// This repository as the system repository of the deployment at `root` (a
    /// "non-physical" sysroot: one with `sysroot/` inside it): remotes are also read
    /// from `root/etc/ostree/remotes.d/*.conf`, and added there unless `[core]
    /// add-remotes-config-dir=false`, as OSTree does.
    pub fn with_remotes_dir(mut self, root: &Path) -> Self {
        self.remotes_dir = Some(root.join("etc/ostree/remotes.d"));
        self
    }

    /// Where remotes of a system repository are kept, when they are.
    pub(crate) fn remotes_dir(&self) -> Option<&Path> {
        self.remotes_dir.as_deref()
    }

    /// Replaces the fault injection read from `OSTREE_REPO_TEST_ERROR` at open.
    pub fn set_test_errors(&mut self, errors: TestErrors) {
        self.test_errors = errors;
    }

    /// The fault injection in force.
    pub(crate) fn test_errors(&self) -> TestErrors {
        self.test_errors
    }

    /// The repository objects missing here are read from (`[core] parent`).
    pub fn parent(&self) -> Option<&Repo> {
        self.parent.as_deref()
    }

    /// The repository directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The storage mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// The repository's `config` file, parsed.
    pub(crate) fn read_config(&self) -> Result<KeyFile, Error> {
        let path = self.path.join("config");
        let text = fs::read_to_string(&path).map_err(io_err("read", &path))?;
        Ok(KeyFile::parse(&text))
    }

    /// Replaces the repository's `config` atomically.
    pub(crate) fn write_config(&self, config: &KeyFile) -> Result<(), Error> {
        let path = self.path.join("config");
        self.write_atomic(&path, config.to_text().as_bytes())
    }

    /// Sets `core.collection-id`, which names this repository's refs the same in every
    /// repository that carries them (`ostree init --collection-id`). OSTree requires a
    /// reverse-DNS name: two or more dot-separated elements of letters, digits and `_`,
    /// none starting with a digit.
    pub fn set_collection_id(&self, id: &str) -> Result<(), Error> {
        let path = self.path.join("config");
        if !valid_collection_id(id) {
            return Err(Error::Config {
                path,
                detail: format!(
                    "invalid collection ID '{id}': expected a reverse-DNS name such as org.example.Os"
                ),
            });
        }
        let mut config = self.read_config()?;
        config.set("core", "collection-id", id);
        self.write_durable(&path, config.to_text().as_bytes())
    }

    /// The `[core]` settings for syncing, locking and `tmp/` expiry.
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// The open directory handles objects are written through.
    pub(crate) fn object_dirs(&self) -> &ObjectDirs {
        &self.dirs
    }

    /// `objects/XX/REST.EXT` for an object.
    pub fn object_path(&self, kind: ObjectType, id: &Checksum) -> PathBuf {
        let hex = id.to_hex();
        self.path.join("objects").join(&hex[..2]).join(format!(
            "{}.{}",
            &hex[2..],
            kind.extension(self.mode == RepoMode::Archive)
        ))
    }

    /// Whether an object is stored (a symlink object counts as stored).
    pub fn has_object(&self, kind: ObjectType, id: &Checksum) -> bool {
        fs::symlink_metadata(self.object_path(kind, id)).is_ok()
            || self.parent().is_some_and(|p| p.has_object(kind, id))
    }

    /// Writes `data` to `dest` (replacing it) so that a reader sees the old contents or
    /// all of `data`, never a part; nothing is synced (the commit point's `syncfs`
    /// covers it). A missing parent directory is created.
    pub(crate) fn write_atomic(&self, dest: &Path, data: &[u8]) -> Result<(), Error> {
        replace_file(dest, data, Durability::Deferred)
    }

    /// Writes `data` to `dest` so that after a crash `dest` holds either its old
    /// contents or all of `data`: with `[core] fsync` the file is synced before it
    /// replaces `dest` and the directory after (refs, `config`, the summary).
    pub(crate) fn write_durable(&self, dest: &Path, data: &[u8]) -> Result<(), Error> {
        let durability = match self.policy().fsync {
            true => Durability::Sync,
            false => Durability::Deferred,
        };
        replace_file(dest, data, durability)
    }

    /// Syncs the directory holding `path` (with `[core] fsync`), making a rename or
    /// unlink in it durable.
    pub(crate) fn sync_parent(&self, path: &Path) -> Result<(), Error> {
        match path.parent() {
            Some(dir) if self.policy().fsync => fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err("sync", dir)(e).into()),
            _ => Ok(()),
        }
    }

    /// Reads a metadata object's bytes.
    pub fn read_metadata(&self, kind: ObjectType, id: &Checksum) -> Result<Vec<u8>, Error> {
        let path = self.object_path(kind, id);
        match fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.parent() {
                Some(parent) => parent.read_metadata(kind, id),
                None => Err(Error::NotFound(format!("{id}.{}", kind.extension(false)))),
            },
            Err(e) => Err(io_err("read", &path)(e).into()),
        }
    }

    fn parse_at<T>(
        &self,
        kind: ObjectType,
        id: &Checksum,
        parse: fn(&[u8]) -> Result<T, gvariant::Error>,
    ) -> Result<T, Error> {
        let bytes = self.read_metadata(kind, id)?;
        parse(&bytes).map_err(|source| Error::Object {
            path: self.object_path(kind, id),
            source,
        })
    }

    /// Loads a commit.
    pub fn load_commit(&self, id: &Checksum) -> Result<Commit, Error> {
        self.parse_at(ObjectType::Commit, id, Commit::parse)
    }

    /// Loads a dirtree.
    pub fn load_dirtree(&self, id: &Checksum) -> Result<DirTree, Error> {
        self.parse_at(ObjectType::DirTree, id, DirTree::parse)
    }

    /// Loads a dirmeta.
    pub fn load_dirmeta(&self, id: &Checksum) -> Result<DirMeta, Error> {
        self.parse_at(ObjectType::DirMeta, id, DirMeta::parse_dir)
    }

    /// Every object of `kind` stored in `objects/`.
    pub fn list_objects(&self, kind: ObjectType) -> Result<Vec<Checksum>, Error> {
        let ext = kind.extension(self.mode == RepoMode::Archive);
        let objects = self.path.join("objects");
        let mut out = Vec::new();
        for fan in fs::read_dir(&objects).map_err(io_err("list", &objects))? {
            let fan = fan.map_err(io_err("list", &objects))?;
            let Some(prefix) = fan.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            for entry in fs::read_dir(fan.path()).map_err(io_err("list", &fan.path()))? {
                let entry = entry.map_err(io_err("list", &fan.path()))?;
                let name = entry.file_name();
                let Some((rest, e)) = name.to_str().and_then(|n| n.rsplit_once('.')) else {
                    continue;
                };
                if let (true, Ok(id)) = (e == ext, format!("{prefix}{rest}").parse()) {
                    out.push(id);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Whether `id` is a collection ID as OSTree accepts one: a reverse-DNS name of two or
/// more dot-separated elements of letters, digits and `_`, none starting with a digit,
/// at most 255 bytes.
pub fn valid_collection_id(id: &str) -> bool {
    let element = |e: &str| {
        e.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    id.len() <= 255 && id.split('.').count() >= 2 && id.split('.').all(element)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn policy_defaults_and_overrides() {
        let defaults = Policy::from_config("[core]\nmode=bare\n").unwrap();
        assert_eq!(
            defaults,
            Policy {
                fsync: true,
                per_object_fsync: false,
                locking: true,
                tmp_expiry_secs: 86400,
                lock_timeout: Some(Duration::from_secs(30)),
                zlib_level: 6,
            }
        );
        let text = "[core]\nfsync=false\nlocking=false\ntmp-expiry-secs=5\nlock-timeout-secs=2\n";
        assert!(
            Policy::from_config("[core]\nper-object-fsync=true\n")
                .unwrap()
                .per_object_fsync
        );
        let set = Policy::from_config(text).unwrap();
        assert_eq!(
            (
                set.fsync,
                set.locking,
                set.tmp_expiry_secs,
                set.lock_timeout
            ),
            (false, false, 5, Some(Duration::from_secs(2)))
        );
        let level = |text: &str| Policy::from_config(&format!("[archive]\nzlib-level={text}\n"));
        // OSTree clamps the level to 1-9.
        assert_eq!(level("3").unwrap().zlib_level, 3);
        assert_eq!(level("0").unwrap().zlib_level, 1);
        assert_eq!(level("12").unwrap().zlib_level, 9);
        assert!(level("-1").is_err());
        let forever = Policy::from_config("[core]\nlock-timeout-secs=-1\n").unwrap();
        assert_eq!(forever.lock_timeout, None);
        assert!(Policy::from_config("[core]\nfsync=maybe\n").is_err());
        assert!(Policy::from_config("[core]\nlock-timeout-secs=soon\n").is_err());
    }

    #[test]
    fn collection_id_must_be_reverse_dns() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        for bad in ["single", "org..x", "org.1x", "org.ex-ample", ""] {
            assert!(repo.set_collection_id(bad).is_err(), "{bad:?}");
        }
        repo.set_collection_id("org.example.Os_2").unwrap();
        let config = fs::read_to_string(dir.path().join("config")).unwrap();
        assert!(
            config.contains("collection-id=org.example.Os_2"),
            "{config}"
        );
        assert_eq!(Repo::open(dir.path()).unwrap().mode(), RepoMode::Archive);
    }

    #[test]
    fn init_open_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("config")).unwrap(),
            "[core]\nrepo_version=1\nmode=archive-z2\n"
        );
        assert_eq!(Repo::open(dir.path()).unwrap().mode(), RepoMode::Archive);
        assert!(Repo::init(dir.path(), RepoMode::Bare).is_err());
        let id = Checksum([9; 32]);
        repo.set_ref("a/b", Some(&id)).unwrap();
        // Files whose names no ref can have are not refs.
        fs::write(dir.path().join("refs/heads/.hidden"), format!("{id}\n")).unwrap();
        fs::create_dir_all(dir.path().join("refs/remotes/.r")).unwrap();
        fs::write(dir.path().join("refs/remotes/.r/x"), format!("{id}\n")).unwrap();
        assert_eq!(repo.list_refs().unwrap(), vec![("a/b".to_owned(), id)]);
        assert_eq!(repo.resolve_rev("a/b").unwrap(), id);
        assert!(repo.set_ref("../x", Some(&id)).is_err());
        repo.set_ref("a/b", None).unwrap();
        assert!(repo.resolve_rev("a/b").is_err());
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
    }
}
