//! Small filesystem primitives every operation builds on: fsync of directories, and
//! removal of trees that may carry the immutable attribute. (Files and symlinks are
//! replaced through `ferro_sys::atomic`, the one atomic writer.)

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use std::os::fd::OwnedFd;

use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, IFlags, Mode, OFlags};

use ferro_sys::IoResultExt;

use crate::error::Error;

/// fsyncs a directory so renames and new entries in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    Ok(File::open(dir).and_then(|d| d.sync_all()).at("sync", dir)?)
}

/// Removes a file or symlink; a missing one is fine (checked first: on a read-only
/// filesystem `unlink` fails with EROFS even for a missing name).
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
        return Ok(());
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(ferro_sys::io_err("delete", path)(e).into())
        }
        _ => Ok(()),
    }
}

/// Reads a symlink; `None` if it does not exist.
pub(crate) fn read_link(path: &Path) -> Result<Option<String>, Error> {
    match fs::read_link(path) {
        Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ferro_sys::io_err("read link", path)(e).into()),
    }
}

/// Sets or clears the immutable attribute (`chattr +i`) of a deployment root, as OSTree
/// does so that nothing edits a deployment in place. Filesystems without attribute
/// support (tmpfs) are accepted silently.
pub(crate) fn set_immutable(dir: &Path, on: bool) -> Result<(), Error> {
    let file = File::open(dir).at("open", dir)?;
    let flags = match rustix::fs::ioctl_getflags(&file) {
        Ok(flags) => flags,
        Err(rustix::io::Errno::NOTTY | rustix::io::Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(ferro_sys::io_err("read attributes of", dir)(e.into()).into()),
    };
    let wanted = if on {
        flags | IFlags::IMMUTABLE
    } else {
        flags - IFlags::IMMUTABLE
    };
    if wanted == flags {
        return Ok(());
    }
    Ok(rustix::fs::ioctl_setflags(&file, wanted).at("set attributes of", dir)?)
}

/// Removes a directory tree (or a file), clearing the immutable attribute of the top
/// directory first; a missing path is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ferro_sys::io_err("stat", path)(e).into()),
    };
    if !meta.is_dir() {
        return remove_file_if_exists(path);
    }
    set_immutable(path, false)?;
    let open = |dir: &Path| rustix::fs::open(dir, DIR_FLAGS, Mode::empty());
    open(path)
        .and_then(remove_contents)
        .and_then(|()| rustix::fs::unlinkat(rustix::fs::CWD, path, AtFlags::REMOVEDIR))
        .at("delete", path)?;
    Ok(())
}

/// How directories are opened for removal: never through a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Empties the directory `dir`, its subdirectories on all cores: removing an old
/// deployment unlinks as many files as deploying one linked. Every step is relative to
/// an open directory and never follows a symlink, so a tree that changes meanwhile
/// cannot redirect the removal elsewhere.
fn remove_contents(dir: OwnedFd) -> rustix::io::Result<()> {
    let mut subdirs = Vec::new();
    for entry in Dir::read_from(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::Unknown => FileType::from_raw_mode(
                rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode,
            ),
            kind => kind,
        };
        if kind == FileType::Directory {
            subdirs.push(name.to_owned());
        } else {
            rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
        }
    }
    subdirs.par_iter().try_for_each(|name| {
        let sub = rustix::fs::openat(&dir, name.as_c_str(), DIR_FLAGS, Mode::empty())?;
        remove_contents(sub)?;
        rustix::fs::unlinkat(&dir, name.as_c_str(), AtFlags::REMOVEDIR)
    })
}

/// Copies a file, symlink or directory tree with modes, owners and mtimes (no
/// hardlinks): how `/etc` is made from `/usr/etc`, so that local edits never write
/// through to repository objects.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    let meta = fs::symlink_metadata(src).at("stat", src)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).at("read link", src)?;
        std::os::unix::fs::symlink(target, dst).at("create symlink", dst)?;
        std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
            .at("change owner of", dst)?;
        return Ok(());
    }
    if ft.is_dir() {
        fs::create_dir(dst).at("create directory", dst)?;
        for entry in fs::read_dir(src).at("list", src)? {
            let entry = entry.at("list", src)?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
    } else {
        fs::copy(src, dst).at("copy to", dst)?;
        File::options()
            .write(true)
            .open(dst)
            .and_then(|f| f.set_modified(meta.modified()?))
            .at("set mtime of", dst)?;
    }
    std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid())).at("change owner of", dst)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .at("set mode of", dst)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_deletes_nested_trees_but_never_follows_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"x").unwrap();
        let tree = tmp.path().join("deployment");
        for dir in ["usr/lib/a", "usr/share/b", "etc"] {
            fs::create_dir_all(tree.join(dir)).unwrap();
            fs::write(tree.join(dir).join("f"), b"f").unwrap();
        }
        std::os::unix::fs::symlink(&outside, tree.join("usr/lib/link")).unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("etc/dirlink")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        assert_eq!(fs::read(outside.join("keep")).unwrap(), b"x");
        remove_tree(&tree).expect("a missing tree is fine");
    }
}
