//! The per-mode content codec: how a file object (a regular file or symlink with its
//! owner, mode and xattrs) is encoded into, and decoded from, the object store in each
//! [`RepoMode`]. `bare` keeps the real metadata on the file, `bare-user` keeps it in
//! the `user.ostreemeta` xattr of a file the writer owns, `bare-user-only` keeps only
//! canonical permissions, and `archive` writes a `.filez`: a GVariant header and the
//! deflated bytes. Metadata objects are the same bytes in every mode and are stored
//! here too ([`Repo::write_metadata`]).
//!
//! Separate from [`crate::repo`] (the handle: open, init, config, paths) so that the
//! handle does not depend on how objects are written (`new_object`,
//! `deflate`, `writeback`); this module depends on all of them.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use flate2::bufread::DeflateDecoder;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::gvariant;
use crate::object::{DirMeta, FileHeader, ObjectType, S_IFLNK, S_IFMT, S_IFREG};
use crate::repo::{Repo, RepoMode};

/// The xattr holding a bare-user object's real uid, gid, mode and xattrs.
const OSTREEMETA: &str = "user.ostreemeta";
/// Largest `.filez` header or bare-user metadata xattr accepted (hostile-input bound).
const MAX_HEADER: usize = 16 << 20;

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

/// What the caller says a content object's id is.
#[derive(Clone, Copy)]
enum Claim<'a> {
    /// Nothing: stored under what it hashes to.
    None,
    /// This id, which the bytes must hash to.
    Verify(&'a Checksum),
    /// This id, taken on trust.
    Trust(&'a Checksum),
}

impl Repo {
    /// Stores a metadata object (dirtree, dirmeta, commit) and returns its id.
    pub fn write_metadata(&self, kind: ObjectType, bytes: &[u8]) -> Result<Checksum, Error> {
        let id = Checksum::of(bytes);
        self.object_dirs()
            .counters
            .metadata_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dest = self.object_path(kind, &id);
        if !dest.exists() {
            let mut object = self.new_object()?;
            object.write_all(bytes)?;
            object.publish(self, kind, &id)?;
            if kind == ObjectType::Commit {
                self.clear_tombstone(&id)?;
            }
        }
        Ok(id)
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
        self.store_content(header, size, data, Claim::None)
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
        self.store_content(header, size, data, Claim::Verify(expected))
            .map(drop)
    }

    /// Like [`Repo::write_content_verified`] for a source the caller trusts (`ostree
    /// pull-local` without `--untrusted`): stored under `claimed` whatever the bytes hash
    /// to, as OSTree does; `fsck` is what finds a corrupt one.
    pub fn write_content_trusted(
        &self,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
        claimed: &Checksum,
    ) -> Result<(), Error> {
        self.store_content(header, size, data, Claim::Trust(claimed))
            .map(drop)
    }

    fn store_content(
        &self,
        header: &FileHeader,
        size: u64,
        data: &mut dyn Read,
        claim: Claim<'_>,
    ) -> Result<Checksum, Error> {
        let check = |id: Checksum| match claim {
            Claim::Verify(want) if *want != id => Err(Error::Corrupt {
                object: format!("{want}.{}", ObjectType::File.extension(false)),
                actual: id,
            }),
            Claim::Trust(claimed) => Ok(*claimed),
            _ => Ok(id),
        };
        header.validate().map_err(|source| Error::Object {
            path: self.path().join("tmp"),
            source,
        })?;
        let mut hasher = header.hasher();
        let symlink = header.is_symlink();
        if symlink && self.mode() != RepoMode::Archive && self.mode() != RepoMode::BareUser {
            let id = check(hasher.finish())?;
            let dest = self.object_path(ObjectType::File, &id);
            if fs::symlink_metadata(&dest).is_err() {
                let target = Path::new(&header.symlink_target);
                self.publish_symlink(&id, target, |tmp| {
                    if self.mode() == RepoMode::Bare {
                        std::os::unix::fs::lchown(tmp, Some(header.uid), Some(header.gid))
                            .map_err(io_err("change owner of", tmp))?;
                        crate::xattrs::Node::Path(tmp)
                            .write(&header.xattrs)
                            .map_err(io_err("set extended attributes of", tmp))?;
                    }
                    set_symlink_mtime_zero(tmp);
                    Ok(())
                })?;
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
        match self.mode() {
            RepoMode::Archive => {
                let size = if symlink { 0 } else { size };
                file.write_all(&header.archive_prefix(size))
                    .map_err(io_err("write", tmp))?;
                if !symlink {
                    let out = io::BufWriter::new(&mut *file);
                    crate::deflate::with_deflater(
                        self.policy().zlib_level,
                        out,
                        |w| copy(w, hasher),
                        |e| Error::from(io_err("write", tmp)(e)),
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
                if self.mode() == RepoMode::Bare {
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
        if self.mode() != RepoMode::Archive {
            file.set_modified(std::time::UNIX_EPOCH)
                .map_err(io_err("set mtime of", tmp))?;
        }
        if self.policy().fsync {
            crate::writeback::start(file, size);
        }
        Ok(())
    }

    /// Opens a content object for reading.
    pub fn read_content(&self, id: &Checksum) -> Result<Content, Error> {
        let path = self.object_path(ObjectType::File, id);
        if let Some(parent) = self.parent()
            && fs::symlink_metadata(&path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        {
            return parent.read_content(id);
        }
        let not_found = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(format!("{id}.file")),
            _ => io_err("read", &path)(e).into(),
        };
        let bad = |detail: &str| Error::Object {
            path: path.clone(),
            source: gvariant::err("content object", detail),
        };
        match self.mode() {
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
                    Err(e) => return Err(io_err("read user.ostreemeta of", &path)(e.into()).into()),
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
                let bare = self.mode() == RepoMode::Bare;
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
    fn content_round_trip_in_every_mode() {
        for mode in [
            RepoMode::Archive,
            RepoMode::BareUser,
            RepoMode::BareUserOnly,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(dir.path(), mode).unwrap();
            let header = FileHeader::regular(0, 0, 0o644);
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
