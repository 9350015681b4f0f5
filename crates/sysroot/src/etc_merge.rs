//! `/etc` of a new deployment: a copy of its `/usr/etc` defaults plus the local changes of
//! the merge deployment, computed as OSTree does (reference/ostree.md §4 step 5): diff
//! the old `/usr/etc` against the old `/etc`; removed paths are deleted from the new
//! `/etc`, modified and added paths are copied over it (local always wins, whole files,
//! directories recursively), and everything untouched keeps the new default.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use ferro_sys::IoResultExt;

use crate::error::Error;
use crate::fsutil;

/// What differs between a deployment's `/usr/etc` defaults and its `/etc`, as paths
/// relative to `/etc` (a directory counts once when it is added or removed whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcChanges {
    /// Present in both, different content, type, mode or owner.
    pub modified: Vec<String>,
    /// Default files deleted locally.
    pub removed: Vec<String>,
    /// Local files with no default.
    pub added: Vec<String>,
}

fn kind(meta: &fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "directory"
    } else if meta.is_symlink() {
        "symlink"
    } else {
        "file"
    }
}

fn lstat(path: &Path) -> Result<Option<fs::Metadata>, Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ferro_sys::io_err("stat", path)(e).into()),
    }
}

fn names(dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, Error> {
    let mut fa = fs::File::open(a).at("open", a)?;
    let mut fb = fs::File::open(b).at("open", b)?;
    let (mut ba, mut bb) = (vec![0u8; 65536], vec![0u8; 65536]);
    loop {
        let na = fa.read(&mut ba).at("read", a)?;
        let nb = fb.read_exact(&mut bb[..na]).map(|_| na).at("read", b)?;
        if ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

/// Diffs `defaults` (a `/usr/etc`) against `current` (an `/etc`); extended attributes
/// are ignored, like OSTree's `IGNORE_XATTRS`.
pub fn diff(defaults: &Path, current: &Path) -> Result<EtcChanges, Error> {
    let mut changes = EtcChanges::default();
    diff_dir(defaults, current, "", &mut changes)?;
    Ok(changes)
}

fn diff_dir(a: &Path, b: &Path, rel: &str, out: &mut EtcChanges) -> Result<(), Error> {
    let mut all = names(a)?;
    all.extend(names(b)?);
    all.sort();
    all.dedup();
    for name in all {
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let (pa, pb) = (a.join(&name), b.join(&name));
        match (lstat(&pa)?, lstat(&pb)?) {
            (Some(_), None) => out.removed.push(path),
            (None, Some(_)) => out.added.push(path),
            (Some(ma), Some(mb)) => {
                let meta_differs =
                    ma.mode() != mb.mode() || ma.uid() != mb.uid() || ma.gid() != mb.gid();
                if ma.is_dir() && mb.is_dir() {
                    if meta_differs {
                        out.modified.push(path.clone());
                    }
                    diff_dir(&pa, &pb, &path, out)?;
                } else if meta_differs
                    || (ma.is_symlink()
                        && fs::read_link(&pa).at("read link", &pa)?
                            != fs::read_link(&pb).at("read link", &pb)?)
                    || (ma.is_file() && (ma.len() != mb.len() || !same_bytes(&pa, &pb)?))
                {
                    out.modified.push(path);
                }
            }
            (None, None) => {}
        }
    }
    Ok(())
}

/// Copies `src` over `dst`; a directory over a directory merges recursively (source
/// wins). A directory and a non-directory never replace each other: that is a conflict.
fn overlay(src: &Path, dst: &Path, rel: &str) -> Result<(), Error> {
    let ms = lstat(src)?
        .ok_or_else(|| ferro_sys::io_err("stat", src)(io::ErrorKind::NotFound.into()))?;
    let Some(md) = lstat(dst)? else {
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).at("create directory", parent)?;
        }
        return fsutil::copy_tree(src, dst);
    };
    match (ms.is_dir(), md.is_dir()) {
        (true, true) => {
            copy_dir_meta(&ms, dst)?;
            for name in names(src)? {
                overlay(&src.join(&name), &dst.join(&name), &format!("{rel}/{name}"))?;
            }
            Ok(())
        }
        (false, false) => {
            fs::remove_file(dst).at("delete", dst)?;
            fsutil::copy_tree(src, dst)
        }
        _ => Err(Error::EtcConflict {
            path: rel.to_owned(),
            local: kind(&ms),
            default: kind(&md),
        }),
    }
}

fn copy_dir_meta(meta: &fs::Metadata, dst: &Path) -> Result<(), Error> {
    std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid())).at("change owner of", dst)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .at("set mode of", dst)?;
    Ok(())
}

/// Makes `deployment/etc` from `deployment/usr/etc` and, with a merge deployment,
/// carries its local changes over. Returns what was carried over.
pub(crate) fn prepare_etc(
    deployment: &Path,
    merge: Option<&Path>,
) -> Result<Option<EtcChanges>, Error> {
    let (usr_etc, etc) = (deployment.join("usr/etc"), deployment.join("etc"));
    match (lstat(&usr_etc)?.is_some(), lstat(&etc)?.is_some()) {
        (true, true) => {
            return Err(Error::Invalid(
                "Tree contains both /etc and /usr/etc".to_owned(),
            ));
        }
        (false, true) => fs::rename(&etc, &usr_etc).at("rename into", &usr_etc)?,
        (false, false) => return Ok(None),
        (true, false) => {}
    }
    fsutil::copy_tree(&usr_etc, &etc)?;
    let Some(old) = merge else { return Ok(None) };
    let (old_defaults, old_etc) = (old.join("usr/etc"), old.join("etc"));
    if !old_defaults.is_dir() || !old_etc.is_dir() {
        return Ok(None);
    }
    let changes = diff(&old_defaults, &old_etc)?;
    for path in &changes.removed {
        fsutil::remove_tree(&etc.join(path))?;
    }
    for path in &changes.modified {
        let (src, dst) = (old_etc.join(path), etc.join(path));
        match (lstat(&src)?, lstat(&dst)?) {
            (Some(ms), Some(md)) if ms.is_dir() && md.is_dir() => copy_dir_meta(&ms, &dst)?,
            _ => overlay(&src, &dst, path)?,
        }
    }
    for path in &changes.added {
        overlay(&old_etc.join(path), &etc.join(path), path)?;
    }
    Ok(Some(changes))
}
