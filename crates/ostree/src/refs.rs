//! Refs: `refs/heads/NAME` (local), `refs/remotes/REMOTE/NAME` (shown as
//! `REMOTE:NAME`) and `refs/mirrors/COLLECTION/NAME` (refs of other collections kept for
//! peer-to-peer distribution), each a file holding 64 hex digits and a newline, and
//! revision syntax (`REF`, a full checksum, `REV^` for the parent).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::repo::Repo;

/// A ref named by collection, as `ostree refs --collections` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CollectionRef {
    /// The collection id, e.g. `org.example.Os`.
    pub collection: String,
    /// The ref name within the collection.
    pub name: String,
    /// The commit it points to.
    pub commit: Checksum,
    /// The file holding it.
    pub path: PathBuf,
}

impl Repo {
    /// The commit a ref points to; `None` if the ref does not exist.
    pub fn read_ref(&self, name: &str) -> Result<Option<Checksum>, Error> {
        read_ref_file(&self.ref_path(name)?)
    }

    /// Mirrored refs, `refs/mirrors/COLLECTION/NAME`. Plain `ostree refs` does not list
    /// them, but their commits are reachable: prune keeps them and fsck checks them.
    pub fn mirror_refs(&self) -> Result<Vec<CollectionRef>, Error> {
        let mut out = Vec::new();
        for (collection, dir) in subdirectories(&self.path.join("refs/mirrors"))? {
            collect_collection_refs(&dir, &collection, &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// Every ref, mirrored ones included, as (name, file, commit): the tips prune keeps
    /// and fsck checks. Mirrored refs are named `(COLLECTION, NAME)`, as OSTree shows them.
    pub fn all_refs(&self) -> Result<Vec<(String, PathBuf, Checksum)>, Error> {
        let mut out = self.ref_files()?;
        out.extend(
            self.mirror_refs()?
                .into_iter()
                .map(|r| (format!("({}, {})", r.collection, r.name), r.path, r.commit)),
        );
        Ok(out)
    }

    /// Every ref that has a collection id, as `ostree refs --collections` lists them:
    /// local refs under the repository's `core.collection-id`, a remote's refs under
    /// its `collection-id`, and mirrored refs. Sorted.
    pub fn collection_refs(&self) -> Result<Vec<CollectionRef>, Error> {
        let config = self.read_config()?;
        let mut out = self.mirror_refs()?;
        let mut named = vec![(
            config.get("core", "collection-id"),
            self.path.join("refs/heads"),
        )];
        for (remote, dir) in subdirectories(&self.path.join("refs/remotes"))? {
            named.push((
                config.get(&crate::remote::group_name(&remote), "collection-id"),
                dir,
            ));
        }
        for (collection, dir) in named {
            if let Some(collection) = collection.filter(|c| !c.is_empty()) {
                collect_collection_refs(&dir, &collection, &mut out)?;
            }
        }
        out.sort();
        Ok(out)
    }

    fn ref_path(&self, name: &str) -> Result<PathBuf, Error> {
        let (dir, name) = match name.split_once(':') {
            Some((remote, rest)) => (format!("refs/remotes/{remote}"), rest),
            None => ("refs/heads".to_owned(), name),
        };
        if !dir.split('/').skip(2).all(valid_component) || !name.split('/').all(valid_component) {
            return Err(Error::InvalidRef(name.to_owned()));
        }
        Ok(self.path.join(dir).join(name))
    }

    /// Points a local ref at a commit, or deletes it (`None`), durably (see
    /// [`crate::transaction`]). Writers that stored the commit's objects move refs through
    /// [`crate::transaction::Transaction::commit`] instead, which syncs the objects first.
    pub fn set_ref(&self, name: &str, target: Option<&Checksum>) -> Result<(), Error> {
        let path = self.ref_path(name)?;
        match target {
            Some(id) => self.write_durable(&path, format!("{id}\n").as_bytes()),
            None => match fs::remove_file(&path) {
                Ok(()) => {
                    // Directories the ref was the last one in go too (as in OSTree), so
                    // that their names can become refs again.
                    let top = self.path.join("refs");
                    let mut removed = path.clone();
                    while let Some(d) = removed.parent().filter(|d| d.parent() != Some(&top)) {
                        if fs::remove_dir(d).is_err() {
                            break;
                        }
                        removed = d.to_owned();
                    }
                    self.sync_parent(&removed)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(Error::NotFound(name.to_owned()))
                }
                Err(e) => Err(io_err("delete", &path)(e).into()),
            },
        }
    }

    /// All refs, local ones as `NAME` and remote ones as `REMOTE:NAME`, sorted. Mirrored
    /// refs are not among them, as in `ostree refs`: see [`Repo::mirror_refs`].
    pub fn list_refs(&self) -> Result<Vec<(String, Checksum)>, Error> {
        let refs = self.ref_files()?;
        Ok(refs.into_iter().map(|(name, _, id)| (name, id)).collect())
    }

    /// [`Repo::list_refs`] with the file holding each ref, sorted by name.
    fn ref_files(&self) -> Result<Vec<(String, PathBuf, Checksum)>, Error> {
        // Both directories are made by `init`; one missing means a damaged repository,
        // which OSTree reports rather than listing fewer refs.
        for name in ["heads", "remotes"] {
            let dir = self.path.join("refs").join(name);
            if let Err(e) = fs::metadata(&dir) {
                return Err(Error::Unsupported {
                    verb: "list refs",
                    path: dir,
                    detail: format!("Listing refs: opendir({name}): {e}"),
                });
            }
        }
        let mut out = Vec::new();
        collect_refs(&self.path.join("refs/heads"), "", &mut out)?;
        for (remote, dir) in subdirectories(&self.path.join("refs/remotes"))? {
            collect_refs(&dir, &format!("{remote}:"), &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// The refs `ostree refs PREFIX` selects, as `(name, display, commit)`: the ref
    /// named exactly `prefix` (displayed in full), every ref of a remote for
    /// `REMOTE:` (in full), or every ref under the directory `prefix/` (displayed
    /// without the prefix, or in full with `full`).
    pub fn refs_under(
        &self,
        prefix: &str,
        full: bool,
    ) -> Result<Vec<(String, String, Checksum)>, Error> {
        // As OSTree: `REMOTE:.` is `REMOTE:`, every ref of the remote.
        let prefix = match prefix.strip_suffix('.') {
            Some(remote) if remote.ends_with(':') => remote,
            _ => prefix,
        };
        let dir = format!("{prefix}/");
        Ok(self
            .list_refs()?
            .into_iter()
            .filter_map(|(name, id)| {
                let shown = if name == prefix || (prefix.ends_with(':') && name.starts_with(prefix))
                {
                    name.clone()
                } else if let Some(rest) = name.strip_prefix(&dir) {
                    match prefix.split_once(':') {
                        _ if full => name.clone(),
                        // As `ostree refs REMOTE:PREFIX`: relative, but still the remote's.
                        Some((remote, _)) => format!("{remote}:{rest}"),
                        None => rest.to_owned(),
                    }
                } else {
                    return None;
                };
                Some((name, shown, id))
            })
            .collect())
    }

    /// Resolves a ref name or checksum, with optional `^` suffixes for parents.
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum, Error> {
        let base = rev.trim_end_matches('^');
        let mut id = match base.parse::<Checksum>() {
            Ok(id) => id,
            Err(_) => match self.read_ref(base)? {
                Some(id) => id,
                None => match self.find_in_remotes(base)? {
                    Some(id) => id,
                    None => self.find_partial_commit(base)?,
                },
            },
        };
        for _ in 0..rev.len() - base.len() {
            id = self
                .load_commit(&id)?
                .parent
                .ok_or_else(|| Error::NotFound(rev.to_owned()))?;
        }
        Ok(id)
    }
}

impl Repo {
    /// A commit named by a unique prefix of its checksum, as `ostree rev-parse` takes
    /// it when no ref has that name.
    fn find_partial_commit(&self, prefix: &str) -> Result<Checksum, Error> {
        let hex = !prefix.is_empty()
            && prefix.len() < 64
            && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(Error::NotFound(prefix.to_owned()));
        }
        let prefix = prefix.to_ascii_lowercase();
        let matching: Vec<Checksum> = self
            .list_objects(crate::object::ObjectType::Commit)?
            .into_iter()
            .filter(|id| id.to_string().starts_with(&prefix))
            .collect();
        match matching[..] {
            [one] => Ok(one),
            [] => Err(Error::NotFound(prefix)),
            _ => Err(Error::Unsupported {
                verb: "resolve",
                path: self.path.clone(),
                detail: format!("Refspec '{prefix}' not unique"),
            }),
        }
    }

    /// A ref not found locally, looked up as `ostree rev-parse` does among the remotes'
    /// refs: `refs/remotes/NAME` (`REMOTE/REF`), then `REF` under each remote in name
    /// order.
    fn find_in_remotes(&self, name: &str) -> Result<Option<Checksum>, Error> {
        if name.contains(':') {
            return Ok(None);
        }
        if let Some((remote, rest)) = name.split_once('/')
            && let Some(id) = self.read_ref(&format!("{remote}:{rest}"))?
        {
            return Ok(Some(id));
        }
        for (remote, _) in subdirectories(&self.path.join("refs/remotes"))? {
            if let Some(id) = self.read_ref(&format!("{remote}:{name}"))? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

/// The commit in the ref file at `path`; `None` if there is none.
fn read_ref_file(path: &Path) -> Result<Option<Checksum>, Error> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .trim_end()
            .parse()
            .map(Some)
            .map_err(|_| Error::Unsupported {
                verb: "read ref",
                path: path.to_owned(),
                detail: "content is not a checksum".into(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e).into()),
    }
}

/// Whether `part` may be one component of a ref name (or a remote's name), as OSTree
/// allows: not empty, not starting with `.` or `-`, letters, digits, `-`, `.` and `_`.
pub(crate) fn valid_component(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with(['.', '-'])
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The entries of `dir` whose names are valid ref components, with whether each is a
/// directory (none if `dir` is missing). Anything else there is not a ref.
fn ref_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_err("list", dir)(e).into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let is_dir = entry
            .file_type()
            .map_err(io_err("stat", &entry.path()))?
            .is_dir();
        if let Ok(name) = entry.file_name().into_string()
            && valid_component(&name)
        {
            out.push((name, entry.path(), is_dir));
        }
    }
    Ok(out)
}

/// The subdirectories of `dir` with valid names: remotes, or mirrored collections.
fn subdirectories(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let entries = ref_entries(dir)?;
    Ok(entries
        .into_iter()
        .filter_map(|(name, path, is_dir)| is_dir.then_some((name, path)))
        .collect())
}

/// Every ref file under `dir`, as refs of `collection`.
fn collect_collection_refs(
    dir: &Path,
    collection: &str,
    out: &mut Vec<CollectionRef>,
) -> Result<(), Error> {
    let mut refs = Vec::new();
    collect_refs(dir, "", &mut refs)?;
    out.extend(refs.into_iter().map(|(name, path, commit)| CollectionRef {
        collection: collection.to_owned(),
        name,
        commit,
        path,
    }));
    Ok(())
}

/// Every ref file under `dir`, named `prefix` + its path below `dir`, with its file.
fn collect_refs(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, PathBuf, Checksum)>,
) -> Result<(), Error> {
    for (name, path, is_dir) in ref_entries(dir)? {
        let full = format!("{prefix}{name}");
        if is_dir {
            collect_refs(&path, &format!("{full}/"), out)?;
        } else if let Ok(Some(id)) = read_ref_file(&path) {
            out.push((full, path, id));
        }
    }
    Ok(())
}

/// `REF@CHECKSUM`, a ref pinned to a commit (as `ostree pull` and `pull-local` take
/// it): the ref name and the commit; `None` for anything else.
pub fn pinned(spec: &str) -> Option<(&str, Checksum)> {
    let (name, id) = spec.split_once('@')?;
    Some((name, id.parse().ok()?))
}

/// Creates ref `name` pointing at the commit `target` names (a ref, checksum or `REV^`),
/// as `ostree refs --create=NAME TARGET` does: an existing ref is moved only with
/// `force` (`--force`), so a typo cannot silently repoint a branch. Returns the commit.
pub fn create(repo: &Repo, name: &str, target: &str, force: bool) -> Result<Checksum, Error> {
    if !force && repo.read_ref(name)?.is_some() {
        return Err(Error::RefExists(name.to_owned()));
    }
    let id = repo.resolve_rev(target)?;
    repo.set_ref(name, Some(&id))?;
    crate::summary::refs_changed(repo)?;
    Ok(id)
}

/// The local ref aliases (`refs/heads` symlinks to other local refs, which OSTree
/// creates with `refs --alias`), as `(alias, target)` in name order.
pub fn aliases(repo: &Repo) -> Result<Vec<(String, String)>, Error> {
    let heads = repo.path().join("refs/heads");
    let mut out = Vec::new();
    for (name, _) in repo.list_refs()? {
        if name.contains(':') {
            continue;
        }
        let path = heads.join(&name);
        let Ok(link) = fs::read_link(&path) else {
            continue;
        };
        let Some(dir) = path.parent() else { continue };
        // Resolve the relative target lexically below `refs/heads`.
        let mut parts: Vec<String> = dir
            .strip_prefix(&heads)
            .unwrap_or(Path::new(""))
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        for part in link.iter() {
            match part.to_str() {
                Some("..") => {
                    parts.pop();
                }
                Some(".") => {}
                Some(p) => parts.push(p.to_owned()),
                None => {}
            }
        }
        out.push((name, parts.join("/")));
    }
    Ok(out)
}

/// Makes the local ref `alias` follow the local ref `target` (a relative symlink, as
/// `ostree refs --alias --create=ALIAS TARGET` makes it): a commit to `target` moves
/// `alias` too. An existing alias is repointed; an ordinary ref is replaced only with
/// `force`.
pub fn create_alias(repo: &Repo, alias: &str, target: &str, force: bool) -> Result<(), Error> {
    let refused = |detail: String| Error::Unsupported {
        verb: "create ref alias in",
        path: repo.path().to_owned(),
        detail,
    };
    if let Some((remote, _)) = alias.split_once(':') {
        return Err(refused(format!(
            "Cannot create alias to remote ref: {remote}"
        )));
    }
    if target.contains(':') || repo.read_ref(target)?.is_none() {
        return Err(refused(format!(
            "Cannot create alias to non-existent ref: {target}"
        )));
    }
    let path = repo.ref_path(alias)?;
    repo.ref_path(target)?;
    let existing = fs::symlink_metadata(&path);
    if existing.as_ref().is_ok_and(|m| !m.is_symlink()) && !force {
        return Err(Error::RefExists(alias.to_owned()));
    }
    let link = format!("{}{target}", "../".repeat(alias.matches('/').count()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    }
    ferro_sys::atomic::replace_symlink(link, &path, ferro_sys::atomic::Durability::Sync)?;
    crate::summary::refs_changed(repo)?;
    Ok(())
}

/// The repository's only commit, as `ostree rev-parse --single` finds it; refused when
/// there is none or more than one.
pub fn single_commit(repo: &Repo) -> Result<Checksum, Error> {
    let commits = repo.list_objects(crate::object::ObjectType::Commit)?;
    match commits[..] {
        [one] => Ok(one),
        _ => Err(Error::Unsupported {
            verb: "rev-parse --single in",
            path: repo.path().to_owned(),
            detail: if commits.is_empty() {
                "No commit objects found".into()
            } else {
                "Multiple commit objects found".into()
            },
        }),
    }
}

/// Points the existing ref `name` at the commit `rev` names, as `ostree reset REF REV`
/// (to an ancestor, typically `REF^`). Returns the commit.
pub fn reset(repo: &Repo, name: &str, rev: &str) -> Result<Checksum, Error> {
    if repo.read_ref(name)?.is_none() {
        return Err(Error::NotFound(name.to_owned()));
    }
    let id = repo.resolve_rev(rev)?;
    repo.set_ref(name, Some(&id))?;
    crate::summary::refs_changed(repo)?;
    Ok(id)
}

/// Creates `COLLECTION:NAME` pointing at the commit `target` names, as `ostree refs
/// --collections --create`: a local ref when COLLECTION is the repository's
/// `core.collection-id`, else a mirrored ref (`refs/mirrors/COLLECTION/NAME`).
pub fn create_in_collection(
    repo: &Repo,
    collection_ref: &str,
    target: &str,
    force: bool,
) -> Result<Checksum, Error> {
    let Some((collection, name)) = collection_ref.split_once(':') else {
        return Err(Error::InvalidRef(format!(
            "{collection_ref} (expected COLLECTION:REF)"
        )));
    };
    if repo.read_config()?.get("core", "collection-id").as_deref() == Some(collection) {
        return create(repo, name, target, force);
    }
    let valid = |parts: &str| parts.split('/').all(valid_component);
    if !valid(collection) || !valid(name) {
        return Err(Error::InvalidRef(collection_ref.to_owned()));
    }
    let path = repo.path().join("refs/mirrors").join(collection).join(name);
    if !force && read_ref_file(&path)?.is_some() {
        return Err(Error::RefExists(collection_ref.to_owned()));
    }
    let id = repo.resolve_rev(target)?;
    repo.write_durable(&path, format!("{id}\n").as_bytes())?;
    Ok(id)
}

/// Deletes every ref of each of `collections` (local, remote and mirrored), as
/// `ostree refs --collections --delete`; a collection without refs is not an error.
pub fn delete_collections(
    repo: &Repo,
    collections: &[String],
) -> Result<Vec<CollectionRef>, Error> {
    let doomed: Vec<CollectionRef> = repo
        .collection_refs()?
        .into_iter()
        .filter(|r| collections.contains(&r.collection))
        .collect();
    for r in &doomed {
        fs::remove_file(&r.path).map_err(io_err("delete", &r.path))?;
        repo.sync_parent(&r.path)?;
    }
    Ok(doomed)
}

/// Deletes every ref each of `prefixes` selects (see [`Repo::refs_under`]: the ref of
/// that name, a remote's refs for `REMOTE:`, the refs under a directory), as `ostree
/// refs --delete` does; a prefix that selects nothing is not an error. Returns the
/// deleted names, in order.
pub fn delete(repo: &Repo, prefixes: &[String]) -> Result<Vec<String>, Error> {
    let mut doomed = Vec::new();
    for prefix in prefixes {
        doomed.extend(
            repo.refs_under(prefix, true)?
                .into_iter()
                .map(|(name, _, _)| name),
        );
    }
    // As OSTree: a ref an alias (that is not deleted too) points at stays.
    for (alias, target) in aliases(repo)? {
        if doomed.contains(&target) && !doomed.contains(&alias) {
            return Err(Error::Unsupported {
                verb: "delete ref in",
                path: repo.path().to_owned(),
                detail: format!("Ref '{target}' has an active alias: '{alias}'"),
            });
        }
    }
    let mut deleted = Vec::new();
    for name in doomed {
        repo.set_ref(&name, None)?;
        deleted.push(name);
    }
    if !deleted.is_empty() {
        crate::summary::refs_changed(repo)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::RepoMode;

    #[test]
    fn create_never_moves_a_ref_and_delete_takes_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let (a, b) = (Checksum([1; 32]), Checksum([2; 32]));
        repo.set_ref("os/x", Some(&a)).unwrap();
        repo.set_ref("os/y", Some(&b)).unwrap();
        assert_eq!(create(&repo, "copy", "os/x", false).unwrap(), a);
        let exists = create(&repo, "copy", "os/y", false).unwrap_err();
        assert_eq!(exists.to_string(), "ref 'copy' already exists");
        assert_eq!(repo.read_ref("copy").unwrap(), Some(a));
        assert!(matches!(
            create(&repo, "new", "missing", false),
            Err(Error::NotFound(_))
        ));
        let prefixes = ["os".to_owned(), "nothing".to_owned()];
        assert_eq!(delete(&repo, &prefixes).unwrap(), ["os/x", "os/y"]);
        assert_eq!(repo.list_refs().unwrap(), vec![("copy".to_owned(), a)]);
    }
}
