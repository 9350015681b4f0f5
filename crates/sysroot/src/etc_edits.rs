//! Changes to a new deployment's `/etc` decided by its author rather than carried
//! over from the running system: the files and systemd units a node's pool config
//! adds, which must take effect with the reboot into that deployment, not before, and
//! must not touch the deployment being rolled back to.
//!
//! They are applied after the `/etc` merge of [`crate::Sysroot::prepare`]. A staged
//! deployment's `/etc` is merged again when it is finalized, at shutdown, so the edits
//! are also kept beside the staged record (`RUN_DIR/ferro/staged-etc-edits.json`, on
//! the same tmpfs, forgotten with it) and applied again then.
//!
//! Paths are relative to `/etc` and made of plain components only; an existing
//! directory on the way that is a symlink is refused, so nothing is written outside
//! the deployment's `/etc`.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use ferro_sys::IoResultExt;
use ferro_sys::atomic::{Durability, WriteOptions, replace_symlink, write_file};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsutil;

/// One change to `/etc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EtcEdit {
    /// A regular file with these bytes and permission bits (replacing what is there).
    Write {
        /// Relative to `/etc`.
        path: String,
        /// The contents.
        data: Vec<u8>,
        /// Permission bits.
        mode: u32,
    },
    /// A symlink (a unit enablement or mask).
    Symlink {
        /// Relative to `/etc`.
        path: String,
        /// What it points at.
        target: String,
    },
    /// Remove a file or symlink, if present.
    Remove {
        /// Relative to `/etc`.
        path: String,
    },
}

impl EtcEdit {
    /// The path it changes, relative to `/etc`.
    pub fn path(&self) -> &str {
        match self {
            EtcEdit::Write { path, .. }
            | EtcEdit::Symlink { path, .. }
            | EtcEdit::Remove { path } => path,
        }
    }
}

/// Refuses an edit whose path is not relative to `/etc` with plain components only,
/// so a bad request is turned down before any work starts.
pub fn validate(edits: &[EtcEdit]) -> Result<(), Error> {
    for edit in edits {
        let path = edit.path();
        let plain = !path.is_empty()
            && Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(Error::Invalid(format!(
                "/etc edit '{path}': give a path relative to /etc without '..'"
            )));
        }
    }
    Ok(())
}

/// `path` under `etc`; an existing directory on the way that is a symlink is refused.
fn confined(etc: &Path, path: &str) -> Result<PathBuf, Error> {
    let rel = Path::new(path);
    let mut at = etc.to_path_buf();
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        at.push(c);
        if components.peek().is_none() {
            break;
        }
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::Invalid(format!(
                    "/etc edit '{path}': '{}' is a symlink; not written through it",
                    at.display()
                )));
            }
            Ok(m) if !m.is_dir() => {
                return Err(Error::Invalid(format!(
                    "/etc edit '{path}': '{}' is not a directory",
                    at.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&at).at("create directory", &at)?;
            }
            Err(e) => return Err(ferro_sys::io_err("inspect", &at)(e).into()),
        }
    }
    Ok(at)
}

/// Applies `edits` in order to the `/etc` directory `etc`.
pub fn apply(etc: &Path, edits: &[EtcEdit]) -> Result<(), Error> {
    validate(edits)?;
    for edit in edits {
        let at = confined(etc, edit.path())?;
        match edit {
            EtcEdit::Write { data, mode, .. } => {
                write_file(&at, data, WriteOptions::replace(*mode))?;
            }
            EtcEdit::Symlink { target, .. } => {
                replace_symlink(target, &at, Durability::Sync)?;
            }
            EtcEdit::Remove { .. } => fsutil::remove_file_if_exists(&at)?,
        }
    }
    Ok(())
}

/// Reads the edits kept for a staged deployment (none when the file is absent).
pub(crate) fn load(path: &Path) -> Result<Vec<EtcEdit>, Error> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Layout {
            path: path.to_owned(),
            detail: format!("staged /etc edits: {e}"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(ferro_sys::io_err("read", path)(e).into()),
    }
}

/// Keeps `edits` for a staged deployment at `path`, or removes the file when there
/// are none.
pub(crate) fn store(path: &Path, edits: &[EtcEdit]) -> Result<(), Error> {
    if edits.is_empty() {
        return fsutil::remove_file_if_exists(path);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).at("create directory", dir)?;
    }
    let json = serde_json::to_vec(edits).map_err(|e| Error::Invalid(e.to_string()))?;
    write_file(path, &json, WriteOptions::replace(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_write_link_and_remove_inside_etc_only() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        fs::create_dir_all(etc.join("systemd/system")).unwrap();
        fs::write(etc.join("old.conf"), "old").unwrap();
        apply(
            &etc,
            &[
                EtcEdit::Write {
                    path: "systemd/system/a.service".into(),
                    data: b"[Service]\n".to_vec(),
                    mode: 0o644,
                },
                EtcEdit::Symlink {
                    path: "systemd/system/multi-user.target.wants/a.service".into(),
                    target: "/etc/systemd/system/a.service".into(),
                },
                EtcEdit::Remove {
                    path: "old.conf".into(),
                },
                EtcEdit::Remove {
                    path: "never.conf".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(etc.join("systemd/system/a.service")).unwrap(),
            "[Service]\n"
        );
        assert_eq!(
            fs::read_link(etc.join("systemd/system/multi-user.target.wants/a.service")).unwrap(),
            Path::new("/etc/systemd/system/a.service")
        );
        assert!(!etc.join("old.conf").exists());

        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, etc.join("escape")).unwrap();
        for path in ["../x", "/x", "escape/x", ""] {
            let err = apply(
                &etc,
                &[EtcEdit::Write {
                    path: path.into(),
                    data: vec![],
                    mode: 0o644,
                }],
            )
            .unwrap_err();
            assert!(err.to_string().contains("/etc edit"), "{path}: {err}");
        }
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn kept_edits_round_trip_and_none_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferro/staged-etc-edits.json");
        assert!(load(&path).unwrap().is_empty());
        let edits = vec![EtcEdit::Remove { path: "a".into() }];
        store(&path, &edits).unwrap();
        assert_eq!(load(&path).unwrap(), edits);
        store(&path, &[]).unwrap();
        assert!(!path.exists());
    }
}
