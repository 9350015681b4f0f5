//! The files stage: users and groups, SSH keys, files, directories, links, units.
//!
//! [`apply`] runs the stage in Ignition's order (groups → users → SSH keys → files,
//! directories and links → units and presets) against a [`Root`], so account names
//! created by the config can own its files. This module also handles the storage entries
//! (Ignition's `filesystemEntries`): directories, files and symlinks sorted by path depth,
//! hard links last; `overwrite` removes what is there first; contents are fetched and
//! verified before anything is written, so a failed fetch leaves the target untouched.

use ferro_spec::{Config, Directory, File, Link, NodeGroup, NodeUser};

use crate::apply::{Context, id};
use crate::fetch::Fetch;
use crate::passwd::{self, Db};
use crate::root::{self, Kind, Perms, Root};
use crate::units;

pub use crate::apply::{Change, Changes, Options};
pub use crate::error::{Error, ErrorKind};

/// Runs the files stage: groups, users, SSH keys, files/directories/links, units and
/// presets, in Ignition's order, every write confined to `root`.
///
/// Stops at the first failure; what was applied before it stays applied (as with
/// Ignition, a failed stage means the machine does not boot, not a rollback).
pub fn apply(
    config: &Config,
    root: &Root,
    fetcher: &dyn Fetch,
    options: &Options,
) -> Result<Changes, Error> {
    let mut stage = Context::new(root, fetcher, options);
    let mut db = Db::load(root).map_err(|e| Error::io("$.passwd", e))?;
    passwd::apply(&mut stage, &mut db, &config.passwd)?;
    storage(&mut stage, &db, config)?;
    units::apply(&mut stage, &config.systemd.units)?;
    if !options.dry_run {
        root.sync().map_err(|e| Error::new("$", "/", e))?;
    }
    Ok(Changes {
        dry_run: options.dry_run,
        changes: stage.changes,
    })
}

/// A storage entry with its index in its config list.
enum Node<'a> {
    Dir(usize, &'a Directory),
    File(usize, &'a File),
    Symlink(usize, &'a Link),
}

impl Node<'_> {
    fn path(&self) -> &str {
        match self {
            Node::Dir(_, d) => &d.path,
            Node::File(_, f) => &f.path,
            Node::Symlink(_, l) => &l.path,
        }
    }
}

/// Number of components of a path: parents sort before their children.
fn depth(path: &str) -> usize {
    root::clean(path)
        .split('/')
        .filter(|c| !c.is_empty())
        .count()
}

/// Directories, files and symlinks sorted by path depth (stable, so equal depths keep
/// the config's order: directories, then files, then links), then hard links, which may
/// point at anything created before them.
fn storage(stage: &mut Context<'_>, db: &Db, config: &Config) -> Result<(), Error> {
    let s = &config.storage;
    let mut nodes: Vec<Node<'_>> = Vec::new();
    nodes.extend(
        s.directories
            .iter()
            .enumerate()
            .map(|(i, d)| Node::Dir(i, d)),
    );
    nodes.extend(s.files.iter().enumerate().map(|(i, f)| Node::File(i, f)));
    nodes.extend(
        s.links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.hard != Some(true))
            .map(|(i, l)| Node::Symlink(i, l)),
    );
    nodes.sort_by_key(|n| depth(n.path()));
    for node in nodes {
        match node {
            Node::Dir(i, d) => {
                stage.flush()?;
                directory(stage, db, &format!("$.storage.directories.{i}"), d)?
            }
            Node::File(i, f) => file(stage, db, &format!("$.storage.files.{i}"), f)?,
            Node::Symlink(i, l) => {
                stage.flush()?;
                symlink(stage, db, &format!("$.storage.links.{i}"), l)?
            }
        }
    }
    stage.flush()?;
    for (i, l) in s
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.hard == Some(true))
    {
        hard_link(stage, &format!("$.storage.links.{i}"), l)?;
    }
    Ok(())
}

/// A config mode as permission bits (setuid/setgid/sticky included).
fn mode(entry: &str, path: &str, value: Option<i64>) -> Result<Option<u32>, Error> {
    value
        .map(|m| {
            u32::try_from(m)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| {
                    Error::invalid(entry, path, format!("{path}: mode {m} is out of range"))
                })
        })
        .transpose()
}

/// The owner a node asks for: explicit ids win, names are looked up in the root's
/// account files (after this config's users and groups were applied); `None` keeps the
/// current owner.
fn owner(
    entry: &str,
    path: &str,
    db: &Db,
    user: &NodeUser,
    group: &NodeGroup,
) -> Result<(Option<u32>, Option<u32>), Error> {
    let uid = match (user.id, user.name.as_deref()) {
        (Some(v), _) => Some(id(entry, "uid", v)?),
        (None, Some(name)) if !name.is_empty() => Some(db.uid(name).ok_or_else(|| {
            Error::invalid(entry, path, format!("{path}: no such user {name:?}"))
        })?),
        _ => None,
    };
    let gid = match (group.id, group.name.as_deref()) {
        (Some(v), _) => Some(id(entry, "gid", v)?),
        (None, Some(name)) if !name.is_empty() => Some(db.gid(name).ok_or_else(|| {
            Error::invalid(entry, path, format!("{path}: no such group {name:?}"))
        })?),
        _ => None,
    };
    Ok((uid, gid))
}

/// `uid:gid` for messages, the creator's ids standing in for unset ones.
fn ids_text(uid: Option<u32>, gid: Option<u32>) -> String {
    let u = uid.unwrap_or_else(|| rustix::process::geteuid().as_raw());
    let g = gid.unwrap_or_else(|| rustix::process::getegid().as_raw());
    format!("{u}:{g}")
}

/// Creates the missing parents of `path` (0755, owned by the stage's user).
fn parents(stage: &Context<'_>, entry: &str, path: &str) -> Result<(), Error> {
    if !stage.dry_run {
        stage
            .root
            .create_dir_all(&root::parent(path), 0o755, None)
            .map_err(|e| Error::new(entry, path, e))?;
    }
    Ok(())
}

/// Ownership then mode (the order of Ignition ≥ 2.22: chown clears setuid/setgid, so
/// chmod comes last). Returns a description of what changed, for the change list.
fn set_permissions(
    stage: &Context<'_>,
    entry: &str,
    path: &str,
    (uid, gid): (Option<u32>, Option<u32>),
    mode: Option<u32>,
) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    if uid.is_some() || gid.is_some() {
        if !stage.dry_run {
            stage
                .root
                .chown(path, uid, gid)
                .map_err(|e| Error::new(entry, path, e))?;
        }
        done.push(format!("owner {}", ids_text(uid, gid)));
    }
    if let Some(m) = mode {
        if !stage.dry_run {
            stage
                .root
                .chmod(path, m)
                .map_err(|e| Error::new(entry, path, e))?;
        }
        done.push(format!("mode {m:04o}"));
    }
    Ok(done)
}

/// Removes what is at `path` for `overwrite: true`; returns whether something was there.
fn remove_for_overwrite(
    stage: &Context<'_>,
    entry: &str,
    path: &str,
    exists: bool,
) -> Result<bool, Error> {
    if exists && !stage.dry_run {
        stage
            .root
            .remove_all(path)
            .map_err(|e| Error::new(entry, path, e))?;
    }
    Ok(exists)
}

fn file(stage: &mut Context<'_>, db: &Db, entry: &str, f: &File) -> Result<(), Error> {
    let path = root::clean(&f.path);
    let ids = owner(entry, &path, db, &f.user, &f.group)?;
    let mode = mode(entry, &path, f.mode)?.map(|m| {
        if stage.special_mode_bits {
            m
        } else {
            m & 0o777
        }
    });
    let existing = stage
        .root
        .lstat(&path)
        .map_err(|e| Error::new(entry, &path, e))?;
    let has_source = f.contents.source.is_some();
    let overwrite = f.overwrite == Some(true);
    let keep = match existing {
        Some(m) if !overwrite => {
            if m.kind != Kind::File {
                let msg = format!(
                    "{path}: A non regular file exists there already and overwrite is false"
                );
                return Err(Error::invalid(entry, &path, msg));
            }
            if has_source {
                let msg = format!("{path}: A file exists there already and overwrite is false");
                return Err(Error::invalid(entry, &path, msg));
            }
            true
        }
        _ => false,
    };

    // Everything is fetched and verified before the root is touched.
    let mut data = Vec::new();
    if !stage.dry_run {
        if !keep && let Some(contents) = stage.fetch(entry, &path, &f.contents)? {
            data = contents;
        }
        for (j, fragment) in f.append.iter().enumerate() {
            let fragment_entry = format!("{entry}.append.{j}");
            data.extend(
                stage
                    .fetch(&fragment_entry, &path, fragment)?
                    .unwrap_or_default(),
            );
        }
    }

    if keep {
        let mut done = Vec::new();
        if !f.append.is_empty() {
            if !stage.dry_run {
                stage
                    .root
                    .append(&path, &data, 0o644)
                    .map_err(|e| Error::new(entry, &path, e))?;
            }
            done.push(format!("appended {} fragment(s)", f.append.len()));
        }
        done.extend(set_permissions(stage, entry, &path, ids, mode)?);
        let what = if done.is_empty() {
            "unchanged".to_string()
        } else {
            done.join(", ")
        };
        stage.record(entry, format!("kept file {path} ({what})"));
        return Ok(());
    }

    let replaced = remove_for_overwrite(stage, entry, &path, existing.is_some())?;
    parents(stage, entry, &path)?;
    let mode = mode.unwrap_or(0o644);
    if !stage.dry_run {
        let perms = Perms {
            uid: ids.0,
            gid: ids.1,
            mode,
        };
        stage.queue_write(entry, &path, data, perms);
    }
    let verb = if replaced { "replaced" } else { "created" };
    stage.record(
        entry,
        format!(
            "{verb} file {path} ({mode:04o}, {})",
            ids_text(ids.0, ids.1)
        ),
    );
    Ok(())
}

fn directory(stage: &mut Context<'_>, db: &Db, entry: &str, d: &Directory) -> Result<(), Error> {
    let path = root::clean(&d.path);
    let ids = owner(entry, &path, db, &d.user, &d.group)?;
    let mode = mode(entry, &path, d.mode)?;
    let existing = stage
        .root
        .lstat(&path)
        .map_err(|e| Error::new(entry, &path, e))?;
    let replaced = match existing {
        Some(m) if d.overwrite != Some(true) => {
            if m.kind != Kind::Dir {
                let msg = format!("{path}: A non-directory already exists and overwrite is false");
                return Err(Error::invalid(entry, &path, msg));
            }
            let done = set_permissions(stage, entry, &path, ids, mode)?;
            let what = if done.is_empty() {
                "unchanged".to_string()
            } else {
                done.join(", ")
            };
            stage.record(entry, format!("kept directory {path} ({what})"));
            return Ok(());
        }
        Some(_) => remove_for_overwrite(stage, entry, &path, true)?,
        None => false,
    };
    let mode = mode.unwrap_or(0o755);
    if !stage.dry_run {
        stage
            .root
            .create_dir_all(&path, 0o755, None)
            .map_err(|e| Error::new(entry, &path, e))?;
    }
    set_permissions(stage, entry, &path, ids, Some(mode))?;
    let verb = if replaced { "replaced" } else { "created" };
    stage.record(
        entry,
        format!(
            "{verb} directory {path} ({mode:04o}, {})",
            ids_text(ids.0, ids.1)
        ),
    );
    Ok(())
}

/// Go's `filepath.Clean` for link texts, relative ones included (`a/../b` → `b`).
fn clean_link(text: &str) -> String {
    if text.starts_with('/') {
        return root::clean(text);
    }
    let mut out: Vec<&str> = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

fn link_target<'a>(entry: &str, path: &str, l: &'a Link) -> Result<&'a str, Error> {
    l.target
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid(entry, path, format!("{path}: link has no target")))
}

fn symlink(stage: &mut Context<'_>, db: &Db, entry: &str, l: &Link) -> Result<(), Error> {
    let path = root::clean(&l.path);
    let target = link_target(entry, &path, l)?;
    let mut ids = owner(entry, &path, db, &l.user, &l.group)?;
    let existing = stage
        .root
        .lstat(&path)
        .map_err(|e| Error::new(entry, &path, e))?;
    let replaced = match existing {
        Some(m) if l.overwrite != Some(true) => {
            if m.kind != Kind::Symlink {
                let msg = format!(
                    "{path}: a non-symlink already exists at that path and overwrite is false"
                );
                return Err(Error::invalid(entry, &path, msg));
            }
            let current = stage
                .root
                .read_link(&path)
                .map_err(|e| Error::new(entry, &path, e))?;
            if clean_link(&current) != clean_link(target) {
                let msg = format!(
                    "{path}: a symlink already exists and points to {current:?}, not {target:?}"
                );
                return Err(Error::invalid(entry, &path, msg));
            }
            stage.record(
                entry,
                format!("kept symlink {path} -> {current} (already exists)"),
            );
            return Ok(());
        }
        Some(_) => remove_for_overwrite(stage, entry, &path, true)?,
        None => false,
    };
    parents(stage, entry, &path)?;
    if !stage.dry_run {
        stage
            .root
            .symlink(&path, target)
            .map_err(|e| Error::new(entry, &path, e))?;
        // Without a configured owner Ignition gives the link its target's owner (it
        // stats through the link); we follow the link inside the root only.
        if ids == (None, None)
            && let Ok(Some(target_meta)) = stage.root.stat(&path)
            && (target_meta.uid, target_meta.gid) != (0, 0)
        {
            ids = (Some(target_meta.uid), Some(target_meta.gid));
        }
    }
    let mut done = set_permissions(stage, entry, &path, ids, None)?;
    done.insert(
        0,
        format!(
            "{} symlink {path} -> {target}",
            if replaced { "replaced" } else { "created" }
        ),
    );
    stage.record(entry, done.join(", "));
    Ok(())
}

fn hard_link(stage: &mut Context<'_>, entry: &str, l: &Link) -> Result<(), Error> {
    let path = root::clean(&l.path);
    let target = root::clean(link_target(entry, &path, l)?);
    let lstat = |p: &str| stage.root.lstat(p).map_err(|e| Error::new(entry, p, e));
    let Some(to) = lstat(&target)? else {
        if stage.dry_run {
            // The target may be one of this config's entries, not created in a dry run.
            stage.record(
                entry,
                format!("created hard link {path} -> {target} (if {target} exists by then)"),
            );
            return Ok(());
        }
        let msg = format!("{path}: hard link target {target} does not exist");
        return Err(Error::invalid(entry, &path, msg));
    };
    let existing = lstat(&path)?;
    let replaced = match existing {
        Some(m) if l.overwrite != Some(true) => {
            if (m.dev, m.ino) != (to.dev, to.ino) {
                let msg = format!(
                    "{path}: a different file already exists at that path and overwrite is false"
                );
                return Err(Error::invalid(entry, &path, msg));
            }
            stage.record(
                entry,
                format!("kept hard link {path} -> {target} (already exists)"),
            );
            return Ok(());
        }
        Some(_) => remove_for_overwrite(stage, entry, &path, true)?,
        None => false,
    };
    parents(stage, entry, &path)?;
    if !stage.dry_run {
        stage
            .root
            .hard_link(&path, &target)
            .map_err(|e| Error::new(entry, &path, e))?;
    }
    let verb = if replaced { "replaced" } else { "created" };
    stage.record(entry, format!("{verb} hard link {path} -> {target}"));
    Ok(())
}

#[cfg(test)]
mod tests;
