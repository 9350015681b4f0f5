//! Extended attributes on disk, in the form OSTree records them.
//!
//! `ostree commit` records every attribute of a file or directory (`user.*`,
//! `security.*`, `trusted.*`, …) sorted by name with `strcmp` (libglnx
//! `canonicalize_xattrs`), so the same sorting here makes ids match. A filesystem
//! without xattr support simply has none, as for OSTree.

use std::fs::File;
use std::io;
use std::path::Path;

use rustix::fs::XattrFlags;
use rustix::io::Errno;

use crate::object::Xattrs;

/// Where attributes are read or written: a path (a final symlink is not followed, so
/// a symlink's own attributes are meant) or an open file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'a> {
    /// A path, as `lstat` sees it.
    Path(&'a Path),
    /// An open file.
    File(&'a File),
}

impl Node<'_> {
    /// Every attribute, sorted by name bytes.
    pub(crate) fn read(self) -> io::Result<Xattrs> {
        let names = match fetch(|| self.list_size(), |buf| self.list(buf)) {
            Err(Errno::NOTSUP) => return Ok(vec![]),
            other => other?,
        };
        let mut xattrs = names
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| {
                let value = fetch(|| self.get_size(name), |buf| self.get(name, buf))?;
                Ok((name.to_vec(), value))
            })
            .collect::<io::Result<Xattrs>>()?;
        xattrs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(xattrs)
    }

    /// Sets every attribute of `xattrs` (others already present are kept).
    pub(crate) fn write(self, xattrs: &Xattrs) -> io::Result<()> {
        for (name, value) in xattrs {
            let flags = XattrFlags::empty();
            match self {
                Node::Path(path) => rustix::fs::lsetxattr(path, &name[..], value, flags),
                Node::File(file) => rustix::fs::fsetxattr(file, &name[..], value, flags),
            }?;
        }
        Ok(())
    }

    fn list_size(self) -> rustix::io::Result<usize> {
        match self {
            Node::Path(path) => rustix::fs::llistxattr_query(path),
            Node::File(file) => rustix::fs::flistxattr_query(file),
        }
    }

    fn list(self, buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Node::Path(path) => rustix::fs::llistxattr(path, buf),
            Node::File(file) => rustix::fs::flistxattr(file, buf),
        }
    }

    fn get_size(self, name: &[u8]) -> rustix::io::Result<usize> {
        match self {
            Node::Path(path) => rustix::fs::lgetxattr_query(path, name),
            Node::File(file) => rustix::fs::fgetxattr_query(file, name),
        }
    }

    fn get(self, name: &[u8], buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Node::Path(path) => rustix::fs::lgetxattr(path, name, buf),
            Node::File(file) => rustix::fs::fgetxattr(file, name, buf),
        }
    }
}

/// Queries a size, then fills a buffer of that size; asks again if the value grew
/// in between (`ERANGE`).
fn fetch(
    size: impl Fn() -> rustix::io::Result<usize>,
    fill: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    loop {
        let mut buf = vec![0; size()?];
        if buf.is_empty() {
            return Ok(buf);
        }
        match fill(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sorts_and_write_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let wanted: Xattrs = vec![
            (b"user.zeta".to_vec(), b"1".to_vec()),
            (b"user.alpha".to_vec(), vec![0; 300]),
        ];
        if let Err(e) = Node::File(&file).write(&wanted) {
            eprintln!("skipping: the filesystem under {dir:?} refuses user xattrs ({e})");
            return;
        }
        let mut sorted = wanted.clone();
        sorted.reverse();
        assert_eq!(Node::Path(&path).read().unwrap(), sorted);
        assert_eq!(Node::File(&file).read().unwrap(), sorted);
    }
}
