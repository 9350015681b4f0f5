//! A repository on disk: `config`, `objects/XX/REST.TYPE`, `tmp/` (refs: [`crate::refs`]).
//!
//! Every object is written to a fresh file in the repository's `tmp/` — anonymous
//! (`O_TMPFILE`) where the filesystem allows, see [`crate::new_object`] — and only then
//! given its final name, so a reader never sees a half-written object; an object that
//! already exists is left alone. When that becomes durable and how writers share the
//! repository is [`crate::transaction`]'s and [`crate::lock`]'s job.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::DeflateDecoder;

use crate::checksum::Checksum;
use crate::gvariant;
use crate::object::{Commit, DirMeta, DirTree, FileHeader, ObjectType, S_IFLNK, S_IFMT, S_IFREG};
use crate::transaction::Policy;

/// The xattr holding a bare-user object's real uid, gid, mode and xattrs.
const OSTREEMETA: &str = "user.ostreemeta";
/// Largest `.filez` header or bare-user metadata xattr accepted (hostile-input bound).
const MAX_HEADER: usize = 16 << 20;

/// How content objects are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoMode {
    /// Files with their real owner, mode and xattrs (needs root to write).
    Bare,
    /// Files owned by the writer; real metadata in the `user.ostreemeta` xattr.
    BareUser,
    /// Files owned by the writer, canonical permissions, no xattrs.
    BareUserOnly,
    /// Compressed `.filez` objects, for serving over HTTP.
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

/// Failures of repository operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem call failed.
    #[error("could not {verb} '{path}'")]
    Io {
        /// What was being done.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An object's bytes are not a valid object of its type.
    #[error("could not parse object '{path}'")]
    Object {
        /// The object file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: gvariant::Error,
    },
    /// The `config` file is missing something or names an unknown mode.
    #[error("could not read repository config '{path}': {detail}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An object's bytes do not hash to its name (a pull verifies before storing).
    #[error("corrupt object {object}: content hashes to {actual}")]
    Corrupt {
        /// `CHECKSUM.TYPE` of the object that was claimed.
        object: String,
        /// What the bytes hash to.
        actual: Checksum,
    },
    /// A ref, commit or path does not exist.
    #[error("could not resolve '{0}': not found")]
    NotFound(String),
    /// A ref name is not valid.
    #[error("invalid ref name '{0}'")]
    InvalidRef(String),
    /// The operation is not possible in this repository or on this input.
    #[error("could not {verb} '{path}': {detail}")]
    Unsupported {
        /// What was being done.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not.
        detail: String,
    },
}

/// Shorthand for an [`Error::Io`] mapper.
pub(crate) fn io_err<'a>(
    verb: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        verb,
        path: path.to_owned(),
        source,
    }
}

/// The mode a repository `config` declares (`[core] repo_version=1`, `mode`, default
/// `bare`); shared by [`Repo::open`] and pulls, which check a remote's `config`.
pub(crate) fn mode_from_config(text: &str) -> Result<RepoMode, String> {
    let config = crate::keyfile::KeyFile::parse(text);
    if config.get("core", "repo_version").as_deref() != Some("1") {
        return Err("[core] repo_version is not 1".into());
    }
    match config.get("core", "mode") {
        None => Ok(RepoMode::Bare),
        Some(m) => RepoMode::parse(&m).ok_or_else(|| format!("unsupported mode '{m}'")),
    }
}

/// The error for a tree nested deeper than [`crate::object::MAX_DEPTH`].
pub(crate) fn too_deep(verb: &'static str, path: &Path) -> Error {
    Error::Unsupported {
        verb,
        path: path.to_owned(),
        detail: format!(
            "directories are nested deeper than {}",
            crate::object::MAX_DEPTH
        ),
    }
}

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repo {
    pub(crate) path: PathBuf,
    mode: RepoMode,
    policy: Policy,
    /// Directory handles shared by every clone, see [`crate::new_object`].
    dirs: std::sync::Arc<crate::new_object::ObjectDirs>,
}

/// A content object being read: its metadata, size and a stream of its bytes.
pub struct Content {
    /// uid, gid, mode, symlink target, xattrs.
    pub header: FileHeader,
    /// The file size (0 for symlinks).
    pub size: u64,
    /// The file bytes (empty for symlinks).
    pub reader: ContentReader,
}

/// The bytes of a content object. An enum rather than a `Box<dyn Read>` so that an
/// uncompressed object can be copied file to file by the kernel (`copy_file_range`,
/// which shares extents on filesystems that can reflink).
pub enum ContentReader {
    /// A symlink: no bytes.
    Empty,
    /// The object file itself (`bare*` modes).
    Plain(File),
    /// The deflated payload of an archive `.filez` object.
    Compressed(DeflateDecoder<BufReader<File>>),
}

impl ContentReader {
    /// Copies the remaining bytes into `out`, in the kernel when both ends are files.
    pub fn copy_to_file(&mut self, out: &mut File) -> io::Result<u64> {
        match self {
            ContentReader::Plain(file) => io::copy(file, out),
            other => io::copy(other, out),
        }
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ContentReader::Empty => Ok(0),
            ContentReader::Plain(file) => file.read(buf),
            ContentReader::Compressed(decoder) => decoder.read(buf),
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

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
            policy: Policy::from_config(&text).map_err(|detail| Error::Config {
                path: config.clone(),
                detail,
            })?,
        };
        repo.write_durable(&config, text.as_bytes())?;
        Ok(repo)
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
        Ok(Repo {
            path: path.to_owned(),
            mode,
            policy,
            dirs: Default::default(),
        })
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
    pub(crate) fn read_config(&self) -> Result<crate::keyfile::KeyFile, Error> {
        let path = self.path.join("config");
        let text = fs::read_to_string(&path).map_err(io_err("read", &path))?;
        Ok(crate::keyfile::KeyFile::parse(&text))
    }

    /// Sets `core.collection-id`, which names this repository's refs the same in every
    /// repository that carries them (`ostree init --collection-id`). OSTree requires a
    /// reverse-DNS name: two or more dot-separated elements of letters, digits and `_`,
    /// none starting with a digit.
    pub fn set_collection_id(&self, id: &str) -> Result<(), Error> {
        let path = self.path.join("config");
        let element = |e: &str| {
            e.chars().next().is_some_and(|c| !c.is_ascii_digit())
                && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if id.len() > 255 || id.split('.').count() < 2 || !id.split('.').all(element) {
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
    pub(crate) fn object_dirs(&self) -> &crate::new_object::ObjectDirs {
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
    }

    /// A fresh path in `tmp/` that nothing else uses.
    pub(crate) fn tmp_path(&self) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.path
            .join("tmp")
            .join(format!("ferro-{}-{n}-{nanos:x}", std::process::id()))
    }

    pub(crate) fn create_tmp(&self) -> Result<(File, PathBuf), Error> {
        let tmp_dir = self.path.join("tmp");
        loop {
            let path = self.tmp_path();
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create a temporary file in", &tmp_dir)(e)),
            }
        }
    }

    /// Writes `data` to `dest` through a temporary file and a rename.
    pub(crate) fn write_atomic(&self, dest: &Path, data: &[u8]) -> Result<(), Error> {
        let (mut file, tmp) = self.create_tmp()?;
        file.write_all(data).map_err(io_err("write", &tmp))?;
        drop(file);
        self.install(&tmp, dest)
    }

    /// Renames a finished temporary file onto its final path, creating the fan-out dir
    /// only when the rename finds it missing (one syscall per object in the common case).
    pub(crate) fn install(&self, tmp: &Path, dest: &Path) -> Result<(), Error> {
        let renamed = match fs::rename(tmp, dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match dest.parent() {
                Some(parent) => fs::create_dir_all(parent)
                    .map_err(io_err("create directory", parent))
                    .and_then(|()| {
                        fs::rename(tmp, dest).map_err(io_err("rename into place", dest))
                    }),
                None => Err(io_err("rename into place", dest)(e)),
            },
            other => other.map_err(io_err("rename into place", dest)),
        };
        renamed.inspect_err(|_| {
            let _ = fs::remove_file(tmp);
        })
    }

    /// Stores a metadata object (dirtree, dirmeta, commit) and returns its id.
    pub fn write_metadata(&self, kind: ObjectType, bytes: &[u8]) -> Result<Checksum, Error> {
        let id = Checksum::of(bytes);
        let dest = self.object_path(kind, &id);
        if !dest.exists() {
            let mut object = self.new_object()?;
            object.write_all(bytes)?;
            object.publish(self, kind, &id)?;
        }
        Ok(id)
    }

    /// Reads a metadata object's bytes.
    pub fn read_metadata(&self, kind: ObjectType, id: &Checksum) -> Result<Vec<u8>, Error> {
        let path = self.object_path(kind, id);
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(format!("{id}.{}", kind.extension(false))),
            _ => io_err("read", &path)(e),
        })
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

    /// Stores a content object whose bytes come from `data` (exactly `size` bytes;
    /// ignored for symlinks) and returns its id. The bytes are hashed while they are
    /// written to the temporary file, so the source is read once.
    pub fn write_content(
        &self,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<Checksum, Error> {
        self.store_content(header, size, data, None)
    }

    /// Like [`Repo::write_content`] for bytes that claim to be object `expected` (a
    /// pull): if they hash to anything else, nothing is stored and the error names
    /// the object.
    pub fn write_content_verified(
        &self,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
        expected: &Checksum,
    ) -> Result<(), Error> {
        self.store_content(header, size, data, Some(expected))
            .map(drop)
    }

    fn store_content(
        &self,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
        expected: Option<&Checksum>,
    ) -> Result<Checksum, Error> {
        let check = |id: Checksum| match expected {
            Some(want) if *want != id => Err(Error::Corrupt {
                object: format!("{want}.{}", ObjectType::File.extension(false)),
                actual: id,
            }),
            _ => Ok(id),
        };
        header.validate().map_err(|source| Error::Object {
            path: self.path.join("tmp"),
            source,
        })?;
        let mut hasher = header.hasher();
        let symlink = header.is_symlink();
        if symlink && self.mode != RepoMode::Archive && self.mode != RepoMode::BareUser {
            let id = check(hasher.finish())?;
            let dest = self.object_path(ObjectType::File, &id);
            if fs::symlink_metadata(&dest).is_err() {
                let tmp = self.tmp_path();
                std::os::unix::fs::symlink(&header.symlink_target, &tmp)
                    .map_err(io_err("create symlink", &tmp))?;
                if self.mode == RepoMode::Bare {
                    std::os::unix::fs::lchown(&tmp, Some(header.uid), Some(header.gid))
                        .map_err(io_err("change owner of", &tmp))?;
                    crate::xattrs::Node::Path(&tmp)
                        .write(&header.xattrs)
                        .map_err(io_err("set extended attributes of", &tmp))?;
                }
                set_symlink_mtime_zero(&tmp);
                self.install(&tmp, &dest)?;
            }
            return Ok(id);
        }
        let mut object = self.new_object()?;
        let tmp = object.shown().to_owned();
        self.fill_content(object.file(), &tmp, header, size, data, &mut hasher)?;
        let id = check(hasher.finish())?;
        object.publish(self, ObjectType::File, &id)?;
        Ok(id)
    }

    fn fill_content(
        &self,
        file: &mut File,
        tmp: &Path,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
        hasher: &mut crate::checksum::Hasher,
    ) -> Result<(), Error> {
        let symlink = header.is_symlink();
        let mut copy =
            |out: &mut dyn Write, hasher: &mut crate::checksum::Hasher| -> Result<(), Error> {
                let copied =
                    copy_hashed(&mut *data, size, out, hasher).map_err(io_err("write", tmp))?;
                if copied != size {
                    return Err(Error::Unsupported {
                        verb: "store",
                        path: tmp.to_owned(),
                        detail: format!(
                            "source changed size while being read ({copied} of {size} bytes)"
                        ),
                    });
                }
                Ok(())
            };
        match self.mode {
            RepoMode::Archive => {
                let size = if symlink { 0 } else { size };
                file.write_all(&header.archive_prefix(size))
                    .map_err(io_err("write", tmp))?;
                if !symlink {
                    let out = io::BufWriter::new(&mut *file);
                    crate::deflate::with_deflater(
                        self.policy.zlib_level,
                        out,
                        |w| copy(w, hasher),
                        io_err("write", tmp),
                    )?;
                }
            }
            RepoMode::BareUser => {
                if symlink {
                    let mut target = header.symlink_target.as_bytes().to_vec();
                    target.push(0);
                    file.write_all(&target).map_err(io_err("write", tmp))?;
                } else {
                    copy(&mut io::BufWriter::new(&mut *file), hasher)?;
                }
                let meta = DirMeta {
                    uid: header.uid,
                    gid: header.gid,
                    mode: header.mode,
                    xattrs: header.xattrs.clone(),
                };
                rustix::fs::fsetxattr(
                    &file,
                    OSTREEMETA,
                    &meta.to_bytes(),
                    rustix::fs::XattrFlags::empty(),
                )
                .map_err(|e| io_err("set user.ostreemeta on", tmp)(e.into()))?;
                let perms = if symlink {
                    0o644
                } else {
                    (header.mode & 0o775) | 0o400
                };
                file.set_permissions(fs::Permissions::from_mode(perms))
                    .map_err(io_err("set mode of", tmp))?;
            }
            RepoMode::BareUserOnly | RepoMode::Bare => {
                copy(&mut io::BufWriter::new(&mut *file), hasher)?;
                if self.mode == RepoMode::Bare {
                    // After the chown, which drops `security.capability`.
                    std::os::unix::fs::fchown(&file, Some(header.uid), Some(header.gid))
                        .map_err(io_err("change owner of", tmp))?;
                    crate::xattrs::Node::File(file)
                        .write(&header.xattrs)
                        .map_err(io_err("set extended attributes of", tmp))?;
                } else if header.mode & !(S_IFMT | 0o775) != 0 {
                    return Err(Error::Unsupported {
                        verb: "store",
                        path: tmp.to_owned(),
                        detail: format!(
                            "mode {:o} is not allowed in a bare-user-only repository",
                            header.mode
                        ),
                    });
                }
                file.set_permissions(fs::Permissions::from_mode(header.mode & 0o7777))
                    .map_err(io_err("set mode of", tmp))?;
            }
        }
        if self.mode != RepoMode::Archive {
            file.set_modified(std::time::UNIX_EPOCH)
                .map_err(io_err("set mtime of", tmp))?;
        }
        if self.policy.fsync {
            crate::writeback::start(file, size);
        }
        Ok(())
    }

    /// Opens a content object for reading.
    pub fn read_content(&self, id: &Checksum) -> Result<Content, Error> {
        let path = self.object_path(ObjectType::File, id);
        let not_found = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(format!("{id}.file")),
            _ => io_err("read", &path)(e),
        };
        let bad = |detail: &str| Error::Object {
            path: path.clone(),
            source: gvariant::err("content object", detail),
        };
        match self.mode {
            RepoMode::Archive => read_archive_content(&path, File::open(&path).map_err(not_found)?),
            RepoMode::BareUser => {
                let file = File::open(&path).map_err(not_found)?;
                let mut buf = vec![0u8; 4096];
                let n = match rustix::fs::fgetxattr(&file, OSTREEMETA, &mut buf[..]) {
                    Ok(n) => n,
                    Err(rustix::io::Errno::RANGE) => {
                        buf = vec![0u8; MAX_HEADER];
                        rustix::fs::fgetxattr(&file, OSTREEMETA, &mut buf[..])
                            .map_err(|e| io_err("read user.ostreemeta of", &path)(e.into()))?
                    }
                    Err(e) => return Err(io_err("read user.ostreemeta of", &path)(e.into())),
                };
                let meta = DirMeta::parse(&buf[..n]).map_err(|source| Error::Object {
                    path: path.clone(),
                    source,
                })?;
                let size = file.metadata().map_err(io_err("stat", &path))?.len();
                let mut header = FileHeader {
                    uid: meta.uid,
                    gid: meta.gid,
                    mode: meta.mode,
                    symlink_target: String::new(),
                    xattrs: meta.xattrs,
                };
                if header.mode & S_IFMT == S_IFLNK {
                    if size > MAX_HEADER as u64 {
                        return Err(bad("symlink object is too large"));
                    }
                    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
                    header.symlink_target = match bytes.split_last() {
                        Some((0, target)) => String::from_utf8(target.to_vec())
                            .map_err(|_| bad("symlink target is not UTF-8"))?,
                        _ => return Err(bad("symlink object does not end in NUL")),
                    };
                    return Ok(Content {
                        header,
                        size: 0,
                        reader: ContentReader::Empty,
                    });
                }
                header.validate().map_err(|source| Error::Object {
                    path: path.clone(),
                    source,
                })?;
                Ok(Content {
                    header,
                    size,
                    reader: ContentReader::Plain(file),
                })
            }
            RepoMode::Bare | RepoMode::BareUserOnly => {
                use std::os::unix::fs::MetadataExt;
                let st = fs::symlink_metadata(&path).map_err(not_found)?;
                let bare = self.mode == RepoMode::Bare;
                let (uid, gid) = if bare { (st.uid(), st.gid()) } else { (0, 0) };
                // Only `bare` objects carry the recorded xattrs as real ones.
                let xattrs = |node: crate::xattrs::Node| {
                    if bare {
                        node.read()
                            .map_err(io_err("read extended attributes of", &path))
                    } else {
                        Ok(vec![])
                    }
                };
                if st.file_type().is_symlink() {
                    let target = fs::read_link(&path).map_err(io_err("read symlink", &path))?;
                    let target = target
                        .into_os_string()
                        .into_string()
                        .map_err(|_| bad("symlink target is not UTF-8"))?;
                    let header = FileHeader {
                        uid,
                        gid,
                        mode: S_IFLNK | 0o777,
                        symlink_target: target,
                        xattrs: xattrs(crate::xattrs::Node::Path(&path))?,
                    };
                    return Ok(Content {
                        header,
                        size: 0,
                        reader: ContentReader::Empty,
                    });
                }
                if !st.file_type().is_file() {
                    return Err(bad("object is neither a regular file nor a symlink"));
                }
                let file = File::open(&path).map_err(io_err("open", &path))?;
                let header = FileHeader {
                    uid,
                    gid,
                    mode: S_IFREG | (st.mode() & 0o7777),
                    symlink_target: String::new(),
                    xattrs: xattrs(crate::xattrs::Node::File(&file))?,
                };
                Ok(Content {
                    header,
                    size: st.len(),
                    reader: ContentReader::Plain(file),
                })
            }
        }
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

/// Opens an archive `.filez` file (a stored object, or one fetched by a pull into
/// `tmp/` that is verified before it is renamed into place).
pub(crate) fn read_archive_content(path: &Path, file: File) -> Result<Content, Error> {
    let bad = |detail: &str| Error::Object {
        path: path.to_owned(),
        source: gvariant::err("content object", detail),
    };
    let mut file = BufReader::new(file);
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix)
        .map_err(|_| bad("shorter than its header"))?;
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > MAX_HEADER {
        return Err(bad("header is too large"));
    }
    let mut head = prefix.to_vec();
    head.resize(8 + len, 0);
    file.read_exact(&mut head[8..])
        .map_err(|_| bad("header is truncated"))?;
    let (size, header, _) = FileHeader::parse_archive(&head).map_err(|source| Error::Object {
        path: path.to_owned(),
        source,
    })?;
    let reader = if header.is_symlink() {
        ContentReader::Empty
    } else {
        ContentReader::Compressed(DeflateDecoder::new(file))
    };
    Ok(Content {
        header,
        size,
        reader,
    })
}

/// The largest chunk [`copy_hashed`] moves at once.
const COPY_CHUNK: u64 = 64 * 1024;

/// Copies at most `size` bytes from `data` to `out`, hashing them on the way, and
/// returns how many there were. Chunks of 64 KiB rather than `io::copy`'s 8 KiB: most
/// files are then stored with one read and one write.
fn copy_hashed(
    data: &mut dyn Read,
    size: u64,
    out: &mut dyn Write,
    hasher: &mut crate::checksum::Hasher,
) -> io::Result<u64> {
    let mut buf = vec![0u8; size.clamp(1, COPY_CHUNK) as usize];
    let mut copied = 0;
    while copied < size {
        let want = (size - copied).min(buf.len() as u64) as usize;
        let n = match data.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        hasher.update(&buf[..n]);
        copied += n as u64;
    }
    Ok(copied)
}

/// Sets a symlink's mtime to 0 as OSTree does; failures are harmless.
pub(crate) fn set_symlink_mtime_zero(path: &Path) {
    let zero = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: zero,
        last_modification: zero,
    };
    let _ = rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn content_round_trip_in_every_mode() {
        for mode in [
            RepoMode::Archive,
            RepoMode::BareUser,
            RepoMode::BareUserOnly,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(dir.path(), mode).unwrap();
            let header = FileHeader {
                uid: 0,
                gid: 0,
                mode: 0o100644,
                symlink_target: String::new(),
                xattrs: vec![],
            };
            let id = repo
                .write_content(&header, 6, &mut &b"hello\n"[..])
                .unwrap();
            assert_eq!(
                id.to_hex(),
                "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"
            );
            let mut content = repo.read_content(&id).unwrap();
            let mut data = Vec::new();
            content.reader.read_to_end(&mut data).unwrap();
            assert_eq!(
                (content.header, content.size, data),
                (header, 6, b"hello\n".to_vec()),
                "{mode:?}"
            );
            let link = FileHeader {
                uid: 0,
                gid: 0,
                mode: 0o120777,
                symlink_target: "hello.txt".into(),
                xattrs: vec![],
            };
            let id = repo.write_content(&link, 0, &mut io::empty()).unwrap();
            assert_eq!(repo.read_content(&id).unwrap().header, link, "{mode:?}");
        }
    }
}
