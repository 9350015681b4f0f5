//! The OSTree object types and their exact GVariant serialisations.
//!
//! | type | GVariant | id |
//! |---|---|---|
//! | [`Commit`] | `(a{sv}aya(say)sstayay)` | SHA-256 of the bytes |
//! | [`DirTree`] | `(a(say)a(sayay))` | SHA-256 of the bytes |
//! | [`DirMeta`] | `(uuua(ayay))` | SHA-256 of the bytes |
//! | content ([`FileHeader`]) | `(uuuusa(ayay))` + file bytes | SHA-256 of `BE32 len ‖ 0000 ‖ header ‖ bytes` |
//!
//! Integers are stored big-endian (OSTree byte-swaps them before GVariant sees them).
//! Every parser re-serialises what it read and rejects input that differs, so only
//! normal-form bytes are accepted.

use crate::checksum::{Checksum, Hasher};
use crate::gvariant::{self as gv, Error, Member, Shape, err};

/// The on-disk kinds of object this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// A content object: a regular file or a symlink with its metadata.
    File,
    /// A directory listing.
    DirTree,
    /// A directory's owner, mode and xattrs.
    DirMeta,
    /// A commit.
    Commit,
}

impl ObjectType {
    /// The loose object file suffix; `archive` repositories store content as `filez`.
    pub fn extension(self, archive: bool) -> &'static str {
        match self {
            ObjectType::File if archive => "filez",
            ObjectType::File => "file",
            ObjectType::DirTree => "dirtree",
            ObjectType::DirMeta => "dirmeta",
            ObjectType::Commit => "commit",
        }
    }

    /// OSTree's report of an object whose bytes do not hash to its name, which scripts
    /// match on: `Corrupted commit object; checksum expected='ID' actual='ACTUAL'`.
    pub fn corruption(self, expected: &Checksum, actual: &Checksum) -> String {
        format!(
            "Corrupted {} object; checksum expected='{expected}' actual='{actual}'",
            self.extension(false)
        )
    }

    /// Parses a suffix (`file`, `filez`, `dirtree`, `dirmeta`, `commit`).
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext {
            "file" | "filez" => ObjectType::File,
            "dirtree" => ObjectType::DirTree,
            "dirmeta" => ObjectType::DirMeta,
            "commit" => ObjectType::Commit,
            _ => return None,
        })
    }
}

/// Extended attributes: `(name without its NUL, value)`, sorted by name.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

pub(crate) fn xattrs_bytes(xattrs: &Xattrs) -> Vec<u8> {
    gv::array(
        xattrs.iter().map(|(name, value)| {
            let mut name = name.clone();
            name.push(0);
            gv::structure(vec![Member::bytes(&name), Member::bytes(value)])
        }),
        1,
    )
}

pub(crate) fn read_xattrs(data: &[u8]) -> Result<Xattrs, Error> {
    gv::read_array("xattrs", data, 1)?
        .into_iter()
        .map(|entry| {
            let parts = gv::read_struct("xattr", entry, &[Shape::Var(1), Shape::Var(1)])?;
            match parts[0].split_last() {
                Some((0, name)) if !name.is_empty() && !name.contains(&0) => {
                    Ok((name.to_vec(), parts[1].to_vec()))
                }
                _ => Err(err("xattr", "name is not a NUL-terminated byte string")),
            }
        })
        .collect()
}

pub(crate) fn read_checksum(what: &'static str, data: &[u8]) -> Result<Checksum, Error> {
    Checksum::from_bytes(data)
        .ok_or_else(|| err(what, format!("checksum is {} bytes, not 32", data.len())))
}

fn require_normal(what: &'static str, input: &[u8], reserialised: &[u8]) -> Result<(), Error> {
    if input == reserialised {
        Ok(())
    } else {
        Err(err(what, "not in normal form"))
    }
}

/// A valid tree entry name: non-empty, no `/`, not `.` or `..`.
pub fn validate_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// What is wrong with a tree entry name, worded as OSTree words it.
pub fn name_problem(name: &str) -> Option<String> {
    match name {
        "" => Some("Invalid empty filename".into()),
        "." => Some("Invalid self-referential filename '.'".into()),
        ".." => Some("Invalid path uplink filename '..'".into()),
        _ if name.contains('/') => Some(format!("Invalid / in filename {name}")),
        _ if name.contains('\0') => Some(format!("Invalid NUL in filename {name:?}")),
        _ => None,
    }
}

/// The deepest directory nesting accepted (OSTree's own recursion limit), so a hostile
/// repository cannot exhaust the stack.
pub const MAX_DEPTH: usize = 256;

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A symbolic link.
pub const S_IFLNK: u32 = 0o120000;

/// OSTree's rule for `--bareuseronly-files` (pulls): a regular file may only have mode
/// bits within 0775 — no setuid, no world-writable — since a `bare-user-only` checkout
/// could not represent more. Worded as OSTree words it.
pub(crate) fn check_bareuseronly_mode(id: &Checksum, mode: u32) -> Result<(), crate::Error> {
    let invalid = mode & 0o7777 & !0o775;
    if mode & S_IFMT != S_IFREG || invalid == 0 {
        return Ok(());
    }
    Err(crate::Error::Unsupported {
        verb: "pull",
        path: std::path::PathBuf::from(format!("{id}.file")),
        detail: format!(
            "Content object {id}: invalid mode 0{:04o} with bits 0{invalid:04o}",
            mode & 0o7777
        ),
    })
}

/// `(uuua(ayay))`: a directory's uid, gid, mode (with `S_IFDIR`) and xattrs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMeta {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `st_mode`, including `S_IFDIR`.
    pub mode: u32,
    /// Extended attributes, sorted by name.
    pub xattrs: Xattrs,
}

impl DirMeta {
    /// A directory owned by `uid:gid` with permission bits `perms` and no xattrs: what a
    /// tree committed without xattrs holds, and what tests build by hand.
    pub fn directory(uid: u32, gid: u32, perms: u32) -> Self {
        DirMeta {
            uid,
            gid,
            mode: S_IFDIR | perms,
            xattrs: vec![],
        }
    }

    /// The serialised object.
    pub fn to_bytes(&self) -> Vec<u8> {
        gv::structure(vec![
            Member::u32_be(self.uid),
            Member::u32_be(self.gid),
            Member::u32_be(self.mode),
            Member::var(xattrs_bytes(&self.xattrs), 1),
        ])
    }

    /// Parses a dirmeta (also the `user.ostreemeta` xattr of bare-user objects, which
    /// has the same type but any file type in `mode`).
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let p = gv::read_struct(
            "dirmeta",
            data,
            &[
                Shape::Fixed(4, 4),
                Shape::Fixed(4, 4),
                Shape::Fixed(4, 4),
                Shape::Var(1),
            ],
        )?;
        let meta = DirMeta {
            uid: gv::read_u32_be("uid", p[0])?,
            gid: gv::read_u32_be("gid", p[1])?,
            mode: gv::read_u32_be("mode", p[2])?,
            xattrs: read_xattrs(p[3])?,
        };
        require_normal("dirmeta", data, &meta.to_bytes())?;
        Ok(meta)
    }

    /// Like [`DirMeta::parse`], and checks the mode is a directory with only permission bits.
    pub fn parse_dir(data: &[u8]) -> Result<Self, Error> {
        let meta = Self::parse(data)?;
        if meta.mode & S_IFMT != S_IFDIR || meta.mode & !(S_IFMT | 0o7777) != 0 {
            return Err(err(
                "dirmeta",
                format!("mode {:o} is not a directory mode", meta.mode),
            ));
        }
        Ok(meta)
    }

    /// The object id.
    pub fn checksum(&self) -> Checksum {
        Checksum::of(&self.to_bytes())
    }
}

/// `(a(say)a(sayay))`: files `(name, content id)` and subdirectories
/// `(name, dirtree id, dirmeta id)`, each list sorted by name bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirTree {
    /// Regular files and symlinks.
    pub files: Vec<(String, Checksum)>,
    /// Subdirectories.
    pub dirs: Vec<(String, Checksum, Checksum)>,
}

impl DirTree {
    /// Sorts both lists as OSTree does (byte order of the names).
    pub fn sort(&mut self) {
        self.files
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        self.dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }

    /// The serialised object.
    pub fn to_bytes(&self) -> Vec<u8> {
        let files = gv::array(
            self.files.iter().map(|(name, id)| {
                gv::structure(vec![Member::string(name), Member::bytes(id.as_bytes())])
            }),
            1,
        );
        let dirs = gv::array(
            self.dirs.iter().map(|(name, tree, meta)| {
                gv::structure(vec![
                    Member::string(name),
                    Member::bytes(tree.as_bytes()),
                    Member::bytes(meta.as_bytes()),
                ])
            }),
            1,
        );
        gv::structure(vec![Member::var(files, 1), Member::var(dirs, 1)])
    }

    /// Parses a dirtree; names must be valid and strictly sorted.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let p = gv::read_struct("dirtree", data, &[Shape::Var(1), Shape::Var(1)])?;
        let mut tree = DirTree::default();
        for entry in gv::read_array("dirtree files", p[0], 1)? {
            let e = gv::read_struct("dirtree file", entry, &[Shape::Var(1), Shape::Var(1)])?;
            tree.files.push((
                gv::read_string("file name", e[0])?,
                read_checksum("file", e[1])?,
            ));
        }
        for entry in gv::read_array("dirtree dirs", p[1], 1)? {
            let e = gv::read_struct(
                "dirtree dir",
                entry,
                &[Shape::Var(1), Shape::Var(1), Shape::Var(1)],
            )?;
            tree.dirs.push((
                gv::read_string("dir name", e[0])?,
                read_checksum("dirtree", e[1])?,
                read_checksum("dirmeta", e[2])?,
            ));
        }
        let check = |names: Vec<&str>| {
            if let Some(problem) = names.iter().find_map(|n| name_problem(n)) {
                return Err(err("dirtree", problem));
            }
            if !names.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()) {
                return Err(err("dirtree", "names are not sorted"));
            }
            Ok(())
        };
        check(tree.files.iter().map(|f| f.0.as_str()).collect())?;
        check(tree.dirs.iter().map(|d| d.0.as_str()).collect())?;
        require_normal("dirtree", data, &tree.to_bytes())?;
        Ok(tree)
    }

    /// The object id.
    pub fn checksum(&self) -> Checksum {
        Checksum::of(&self.to_bytes())
    }
}

/// A value of an `a{sv}` dictionary: its type string and serialised bytes, kept exactly
/// as read so metadata written by others re-serialises byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The GVariant type, e.g. `s` or `as`.
    pub type_str: String,
    /// The serialised value.
    pub data: Vec<u8>,
}

impl Variant {
    /// The value in the annotated GVariant text form, integers byte-swapped first when
    /// `byteswap`, as `ostree show --print-metadata-key` prints it (`'1.2'` for a
    /// version).
    pub fn to_text(&self, byteswap: bool) -> Result<String, gv::Error> {
        gv::text::print_serialized(&self.type_str, &self.data, byteswap)
    }

    /// A value written in the GVariant text form (`'1.2'`, `uint64 5`, `['a']`), as
    /// `ostree commit --add-metadata KEY=VALUE` reads it.
    pub fn from_text(text: &str) -> Result<Self, gv::Error> {
        let value = gv::parse::parse(text, None)?;
        Ok(Variant {
            type_str: value.type_of().to_type_string(),
            data: value.encode(),
        })
    }

    /// An `s`.
    pub fn string(value: &str) -> Self {
        Variant {
            type_str: "s".into(),
            data: gv::string(value),
        }
    }

    /// A `b`.
    pub fn boolean(value: bool) -> Self {
        Variant {
            type_str: "b".into(),
            data: vec![u8::from(value)],
        }
    }

    /// An `as`.
    pub fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Variant {
            type_str: "as".into(),
            data: gv::array(values.into_iter().map(gv::string), 1),
        }
    }

    /// The value if this is an `s`.
    pub fn as_str(&self) -> Option<String> {
        (self.type_str == "s")
            .then(|| gv::read_string("s", &self.data).ok())
            .flatten()
    }

    /// The values if this is an `as`.
    pub fn as_strings(&self) -> Option<Vec<String>> {
        if self.type_str != "as" {
            return None;
        }
        gv::read_array("as", &self.data, 1)
            .ok()?
            .into_iter()
            .map(|s| gv::read_string("s", s).ok())
            .collect()
    }

    /// An `aay`, the type OSTree uses for lists of signatures.
    pub fn byte_strings<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Variant {
            type_str: "aay".into(),
            data: gv::array(values.into_iter().map(<[u8]>::to_vec), 1),
        }
    }

    /// The values if this is an `aay`.
    pub fn as_byte_strings(&self) -> Option<Vec<Vec<u8>>> {
        if self.type_str != "aay" {
            return None;
        }
        let values = gv::read_array("aay", &self.data, 1).ok()?;
        Some(values.into_iter().map(<[u8]>::to_vec).collect())
    }
}

/// `a{sv}` metadata, in the order it was written (OSTree never re-sorts it).
pub type Metadata = Vec<(String, Variant)>;

pub(crate) fn metadata_bytes(metadata: &Metadata) -> Vec<u8> {
    gv::array(
        metadata.iter().map(|(key, value)| {
            gv::structure(vec![
                Member::string(key),
                Member::var(gv::variant(&value.type_str, &value.data), 8),
            ])
        }),
        8,
    )
}

/// Parses a standalone `a{sv}` (detached metadata) and checks its framing is in
/// normal form, as the bytes of every other object are.
pub fn parse_metadata(data: &[u8]) -> Result<Metadata, Error> {
    let metadata = read_metadata(data)?;
    require_normal("a{sv}", data, &metadata_bytes(&metadata))?;
    Ok(metadata)
}

pub(crate) fn read_metadata(data: &[u8]) -> Result<Metadata, Error> {
    gv::read_array("a{sv}", data, 8)?
        .into_iter()
        .map(|entry| {
            let e = gv::read_struct("{sv}", entry, &[Shape::Var(1), Shape::Var(8)])?;
            let (type_str, value) = gv::read_variant("metadata value", e[1])?;
            Ok((
                gv::read_string("metadata key", e[0])?,
                Variant {
                    type_str: type_str.into(),
                    data: value.to_vec(),
                },
            ))
        })
        .collect()
}

/// The GVariant type of a commit object.
pub const COMMIT_TYPE: &str = "(a{sv}aya(say)sstayay)";

/// `(a{sv}aya(say)sstayay)`: a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Metadata such as `ostree.ref-binding` or `version`.
    pub metadata: Metadata,
    /// The previous commit, if any.
    pub parent: Option<Checksum>,
    /// Related objects (normally empty).
    pub related: Vec<(String, Checksum)>,
    /// One-line subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Seconds since the epoch, UTC.
    pub timestamp: u64,
    /// The root dirtree.
    pub root_tree: Checksum,
    /// The root dirmeta.
    pub root_meta: Checksum,
}

impl Commit {
    /// The serialised object.
    pub fn to_bytes(&self) -> Vec<u8> {
        let parent = self
            .parent
            .map(|p| p.as_bytes().to_vec())
            .unwrap_or_default();
        let related = gv::array(
            self.related.iter().map(|(name, id)| {
                gv::structure(vec![Member::string(name), Member::bytes(id.as_bytes())])
            }),
            1,
        );
        gv::structure(vec![
            Member::var(metadata_bytes(&self.metadata), 8),
            Member::bytes(&parent),
            Member::var(related, 1),
            Member::string(&self.subject),
            Member::string(&self.body),
            Member::u64_be(self.timestamp),
            Member::bytes(self.root_tree.as_bytes()),
            Member::bytes(self.root_meta.as_bytes()),
        ])
    }

    /// Parses a commit.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let v = Shape::Var(1);
        let p = gv::read_struct(
            "commit",
            data,
            &[Shape::Var(8), v, v, v, v, Shape::Fixed(8, 8), v, v],
        )?;
        let parent = match p[1].len() {
            0 => None,
            _ => Some(read_checksum("parent", p[1])?),
        };
        let mut related = Vec::new();
        for entry in gv::read_array("related", p[2], 1)? {
            let e = gv::read_struct("related", entry, &[Shape::Var(1), Shape::Var(1)])?;
            related.push((
                gv::read_string("related name", e[0])?,
                read_checksum("related", e[1])?,
            ));
        }
        let commit = Commit {
            metadata: read_metadata(p[0])?,
            parent,
            related,
            subject: gv::read_string("subject", p[3])?,
            body: gv::read_string("body", p[4])?,
            timestamp: gv::read_u64_be("timestamp", p[5])?,
            root_tree: read_checksum("root dirtree", p[6])?,
            root_meta: read_checksum("root dirmeta", p[7])?,
        };
        require_normal("commit", data, &commit.to_bytes())?;
        Ok(commit)
    }

    /// The object id.
    pub fn checksum(&self) -> Checksum {
        Checksum::of(&self.to_bytes())
    }

    /// What `ostree show` calls ContentChecksum: SHA-256 of the root tree and meta ids.
    pub fn content_checksum(&self) -> Checksum {
        let mut bytes = self.root_tree.0.to_vec();
        bytes.extend_from_slice(&self.root_meta.0);
        Checksum::of(&bytes)
    }

    /// A string metadata value.
    pub fn metadata_string(&self, key: &str) -> Option<String> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_str())
    }
}

/// The metadata of a content object: `(uuuusa(ayay))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `st_mode`: `S_IFREG | perms` or `S_IFLNK | 0777`.
    pub mode: u32,
    /// The symlink target, empty for regular files.
    pub symlink_target: String,
    /// Extended attributes, sorted by name.
    pub xattrs: Xattrs,
}

impl FileHeader {
    /// A regular file owned by `uid:gid` with permission bits `perms` and no xattrs.
    pub fn regular(uid: u32, gid: u32, perms: u32) -> Self {
        FileHeader {
            uid,
            gid,
            mode: S_IFREG | perms,
            symlink_target: String::new(),
            xattrs: vec![],
        }
    }

    /// Whether this is a symlink.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    fn members(&self) -> Vec<Member> {
        vec![
            Member::u32_be(self.uid),
            Member::u32_be(self.gid),
            Member::u32_be(self.mode),
            Member::u32_be(0),
            Member::string(&self.symlink_target),
            Member::var(xattrs_bytes(&self.xattrs), 1),
        ]
    }

    /// `(uuuusa(ayay))`.
    pub fn to_bytes(&self) -> Vec<u8> {
        gv::structure(self.members())
    }

    /// The length-prefixed header hashed before the file bytes: `BE32 len ‖ 0000 ‖ H`.
    pub fn content_prefix(&self) -> Vec<u8> {
        len_prefixed(self.to_bytes())
    }

    /// The length-prefixed `(tuuuusa(ayay))` header of an archive `.filez` object.
    pub fn archive_prefix(&self, size: u64) -> Vec<u8> {
        let mut members = vec![Member::u64_be(size)];
        members.extend(self.members());
        len_prefixed(gv::structure(members))
    }

    /// Checks the mode is a regular file or symlink with only permission bits.
    pub fn validate(&self) -> Result<(), Error> {
        let kind = self.mode & S_IFMT;
        if (kind != S_IFREG && kind != S_IFLNK) || self.mode & !(S_IFMT | 0o7777) != 0 {
            return Err(err(
                "file header",
                format!("mode {:o} is not a file or symlink", self.mode),
            ));
        }
        if (kind == S_IFLNK) == self.symlink_target.is_empty() {
            return Err(err("file header", "symlink target does not match the mode"));
        }
        Ok(())
    }

    /// Parses a `.filez` object's prefix: returns the uncompressed size, the header and
    /// where the compressed stream starts.
    pub fn parse_archive(data: &[u8]) -> Result<(u64, Self, usize), Error> {
        let (body, end) = split_len_prefixed(data)?;
        let f = Shape::Fixed(4, 4);
        let p = gv::read_struct(
            "archive header",
            body,
            &[Shape::Fixed(8, 8), f, f, f, f, Shape::Var(1), Shape::Var(1)],
        )?;
        let size = gv::read_u64_be("size", p[0])?;
        let header = FileHeader {
            uid: gv::read_u32_be("uid", p[1])?,
            gid: gv::read_u32_be("gid", p[2])?,
            mode: gv::read_u32_be("mode", p[3])?,
            symlink_target: gv::read_string("symlink target", p[5])?,
            xattrs: read_xattrs(p[6])?,
        };
        if gv::read_u32_be("rdev", p[4])? != 0 {
            return Err(err("archive header", "rdev is not 0"));
        }
        header.validate()?;
        require_normal(
            "archive header",
            body,
            &gv::structure({
                let mut m = vec![Member::u64_be(size)];
                m.extend(header.members());
                m
            }),
        )?;
        Ok((size, header, end))
    }

    /// The content object id of this header followed by `content`.
    pub fn checksum(&self, content: &[u8]) -> Checksum {
        let mut hasher = self.hasher();
        hasher.update(content);
        hasher.finish()
    }

    /// A hasher already fed the header, to stream the file bytes into.
    pub fn hasher(&self) -> Hasher {
        let mut hasher = Hasher::new();
        hasher.update(&self.content_prefix());
        hasher
    }
}

fn len_prefixed(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&body);
    out
}

fn split_len_prefixed(data: &[u8]) -> Result<(&[u8], usize), Error> {
    let len = data
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| err("file header", "shorter than its length prefix"))?;
    if data.get(4..8) != Some(&[0, 0, 0, 0][..]) {
        return Err(err("file header", "padding after the length is not zero"));
    }
    let end = 8usize.saturating_add(len);
    let body = data
        .get(8..end)
        .ok_or_else(|| err("file header", "header is truncated"))?;
    Ok((body, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Checksum {
        s.parse().unwrap()
    }

    #[test]
    fn dirmeta_matches_ostree() {
        let meta = DirMeta::directory(0, 0, 0o755);
        assert_eq!(meta.to_bytes(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0xed]);
        // Observed with `ostree commit` on a root-owned 0755 directory.
        assert_eq!(
            meta.checksum(),
            hex("446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488")
        );
        assert_eq!(DirMeta::parse_dir(&meta.to_bytes()).unwrap(), meta);
    }

    #[test]
    fn empty_dirtree_id() {
        let tree = DirTree::default();
        assert_eq!(tree.to_bytes(), [0]);
        assert_eq!(
            tree.checksum(),
            hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
        assert_eq!(DirTree::parse(&[0]).unwrap(), tree);
    }

    #[test]
    fn content_ids_match_ostree() {
        // `hello\n` 0644 root and `link -> hello.txt`, ids observed with `ostree ls -C`.
        let file = FileHeader::regular(0, 0, 0o644);
        assert_eq!(file.to_bytes().len(), 18);
        assert_eq!(
            file.checksum(b"hello\n"),
            hex("44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b")
        );
        let link = FileHeader {
            mode: 0o120777,
            symlink_target: "hello.txt".into(),
            ..file.clone()
        };
        assert_eq!(
            link.checksum(b""),
            hex("f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35")
        );
        let prefix = file.archive_prefix(6);
        assert_eq!(&prefix[..8], [0, 0, 0, 0x1a, 0, 0, 0, 0]);
        let (size, parsed, end) = FileHeader::parse_archive(&prefix).unwrap();
        assert_eq!((size, parsed, end), (6, file, prefix.len()));
    }

    #[test]
    fn tree_and_commit_match_ostree() {
        // The tree {hello.txt, link, sub/run.sh} committed by `ostree commit
        // --timestamp=@1577836800 -s subj -m body -b main` as root.
        let meta = hex("446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488");
        let mut sub = DirTree::default();
        sub.files.push((
            "run.sh".into(),
            hex("60599fdf7cf9cb8925354cd74476b5ded7850eca9b6a120998125a578b6a4d4c"),
        ));
        assert_eq!(
            sub.checksum(),
            hex("4d8b18d3e0e39d97d7d041adb5aa066366a53762e41952b6dbca8a53c64c13dd")
        );
        let mut root = DirTree::default();
        root.files.push((
            "link".into(),
            hex("f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35"),
        ));
        root.files.push((
            "hello.txt".into(),
            hex("44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"),
        ));
        root.dirs.push(("sub".into(), sub.checksum(), meta));
        root.sort();
        assert_eq!(
            root.checksum(),
            hex("07b1a31f7c56407c27a61ad5bf3559de90567c6604b28913ef6c80051bb4379f")
        );
        assert_eq!(DirTree::parse(&root.to_bytes()).unwrap(), root);
        let commit = Commit {
            metadata: vec![("ostree.ref-binding".into(), Variant::strings(["main"]))],
            parent: None,
            related: vec![],
            subject: "subj".into(),
            body: "body".into(),
            timestamp: 1577836800,
            root_tree: root.checksum(),
            root_meta: meta,
        };
        assert_eq!(
            commit.checksum(),
            hex("8f0221a19a64428e7eae9e48398a0f7b01938d953dc8b25479e5b0f96535aa44")
        );
        assert_eq!(Commit::parse(&commit.to_bytes()).unwrap(), commit);
        assert_eq!(
            commit.content_checksum(),
            hex("671ce5e903e7b969496625ddc99c4e1dadb54208f94ce34f9a5f7e60403b299d")
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let commit = Commit {
            metadata: vec![("version".into(), Variant::string("1"))],
            parent: Some(Checksum([7; 32])),
            related: vec![],
            subject: "s".into(),
            body: String::new(),
            timestamp: 1,
            root_tree: Checksum([1; 32]),
            root_meta: Checksum([2; 32]),
        };
        let good = commit.to_bytes();
        assert!(Commit::parse(&good).is_ok());
        let mut seed = 0x1234_5678u32;
        for len in 0..good.len() {
            assert!(Commit::parse(&good[..len]).is_err());
        }
        for _ in 0..20000 {
            let mut bytes = good.clone();
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (seed >> 8) as usize % bytes.len();
            bytes[at] ^= (seed >> 24) as u8 | 1;
            let _ = Commit::parse(&bytes);
            let _ = DirTree::parse(&bytes);
            let _ = DirMeta::parse(&bytes);
            let _ = FileHeader::parse_archive(&bytes);
        }
        assert!(
            DirTree::parse(&[0, 0]).is_err(),
            "trailing slack is not normal form"
        );
    }
}
