//! Remotes: `[remote "NAME"]` groups of the repository's `config`, written the way
//! `ostree remote add` writes them (`url`, `branches=a;b;`, the `--set` options in
//! order, then `gpg-verify=false` for `--no-gpg-verify`), so either tool can read,
//! list and delete what the other added.

use crate::keyfile::KeyFile;
use crate::repo::{self, Repo};

/// Failures of remote configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `[remote "NAME"]` group.
    #[error("remote '{0}' not found")]
    NotFound(String),
    /// `remote add` of a name that is configured already.
    #[error("remote '{0}' already exists")]
    Exists(String),
    /// A name OSTree would reject.
    #[error("invalid remote name '{0}'")]
    InvalidName(String),
    /// The remote has no `url` (OSTree's wording).
    #[error("No \"url\" option in remote \"{0}\"")]
    NoUrl(String),
    /// Reading or writing `config` failed.
    #[error(transparent)]
    Repo(#[from] repo::Error),
}

/// How `remote add` configures a remote beyond its name and URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteAdd {
    /// `branches`: the refs `pull REMOTE` fetches when none are named.
    pub branches: Vec<String>,
    /// `--set KEY=VALUE` options, in order.
    pub options: Vec<(String, String)>,
    /// `gpg-verify=false` (`--no-gpg-verify`).
    pub no_gpg_verify: bool,
    /// `--sign-verify[=…]` or `--no-sign-verify`.
    pub sign_verify: Option<SignVerify>,
    /// `collection-id` (`--collection-id`).
    pub collection_id: Option<String>,
    /// Replace a remote of that name (`--force`).
    pub replace: bool,
    /// `custom-backend` (`--custom-backend`): another tool fetches from this remote
    /// (`ostree-rs-ext` for container images); the URL is then optional.
    pub custom_backend: Option<String>,
}

/// A remote's signature requirement, as `remote add` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignVerify {
    /// `--no-sign-verify`: `sign-verify=false` and `gpg-verify=false`.
    Off,
    /// `--sign-verify`: `sign-verify=true`, keys configured separately.
    On,
    /// `--sign-verify=TYPE=inline:KEY` or `TYPE=file:PATH`: on, with that key.
    Key {
        /// The signature type (`ed25519`).
        kind: String,
        /// Whether `key` is a file of keys rather than a key.
        file: bool,
        /// The key, or the file's path.
        key: String,
    },
}

impl std::str::FromStr for SignVerify {
    type Err = String;

    /// Reads a `--sign-verify` value: empty (on), or `TYPE=inline:KEY|file:PATH`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.is_empty() {
            return Ok(SignVerify::On);
        }
        // OSTree's wording for each mistake (scripts match it).
        let Some((kind, keyref)) = spec.split_once('=') else {
            return Err(format!(
                "Failed to parse KEYTYPE=[inline|file]:DATA in {spec}"
            ));
        };
        if !matches!(kind, "ed25519" | "dummy") {
            return Err(format!(
                "Requested signature type is not implemented: '{kind}' (ed25519 or dummy)"
            ));
        }
        let (file, key) = match keyref.split_once(':') {
            Some(("inline", key)) => (false, key),
            Some(("file", path)) => (true, path),
            _ => {
                return Err(format!(
                    "Invalid key reference {keyref}, expected inline|file"
                ));
            }
        };
        if key.is_empty() {
            return Err(format!("Invalid key reference {keyref}: no key"));
        }
        Ok(SignVerify::Key {
            kind: kind.to_owned(),
            file,
            key: key.to_owned(),
        })
    }
}

/// One configured remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Its name (`origin`).
    pub name: String,
    /// Where its archive repository is served.
    pub url: String,
    /// `branches`: the refs `pull REMOTE` fetches when none are named.
    pub branches: Vec<String>,
    /// Every key of the group (including `url` and `branches`), unescaped, in file order.
    pub options: Vec<(String, String)>,
}

impl Remote {
    /// Its URL, refused (OSTree's wording) when it has none (a custom backend's).
    pub fn require_url(&self) -> Result<&str, Error> {
        if self.url.is_empty() {
            return Err(Error::NoUrl(self.name.clone()));
        }
        Ok(&self.url)
    }

    /// An option's value (the last one when a key repeats, as `GKeyFile` reads it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean option (`gpg-verify` and friends); `default` when absent.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| v == "true" || v == "1")
    }
}

/// The `config` group holding remote `name`: `[remote "NAME"]`.
pub(crate) fn group_name(name: &str) -> String {
    format!("remote \"{name}\"")
}

/// OSTree's rule: letters, digits, `-`, `_`, `.`, not starting with `-` or `.`.
fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

impl Repo {
    /// `ostree remote add [--no-gpg-verify] [--set=K=V]… NAME URL [BRANCH…]`.
    pub fn remote_add(
        &self,
        name: &str,
        url: &str,
        branches: &[String],
        options: &[(String, String)],
        no_gpg_verify: bool,
    ) -> Result<(), Error> {
        let how = RemoteAdd {
            branches: branches.to_vec(),
            options: options.to_vec(),
            no_gpg_verify,
            ..RemoteAdd::default()
        };
        self.remote_add_with(name, url, &how)
    }

    /// `ostree remote add` with every option [`RemoteAdd`] has.
    pub fn remote_add_with(&self, name: &str, url: &str, how: &RemoteAdd) -> Result<(), Error> {
        validate_name(name)?;
        let group = group_name(name);
        if self.remote(name).is_ok() {
            if !how.replace {
                return Err(Error::Exists(name.to_owned()));
            }
            self.remote_delete(name)?;
        }
        // A system repository's remotes go to the deployment's remotes.d, one file each.
        let file = match self.remotes_dir() {
            Some(dir)
                if self
                    .read_config()?
                    .get("core", "add-remotes-config-dir")
                    .as_deref()
                    != Some("false") =>
            {
                Some(dir.join(format!("{name}.conf")))
            }
            _ => None,
        };
        let mut config = match &file {
            Some(_) => KeyFile::parse(""),
            None => self.read_config()?,
        };
        if !url.is_empty() || how.custom_backend.is_none() {
            config.set(&group, "url", url);
        }
        if let Some(backend) = &how.custom_backend {
            config.set(&group, "custom-backend", backend);
        }
        if !how.branches.is_empty() {
            config.set_list(&group, "branches", &how.branches);
        }
        for (key, value) in &how.options {
            config.set(&group, key, value);
        }
        if let Some(id) = &how.collection_id {
            config.set(&group, "collection-id", id);
        }
        // `--no-sign-verify` turns off every kind of verification, GPG included.
        if how.no_gpg_verify || how.sign_verify == Some(SignVerify::Off) {
            config.set(&group, "gpg-verify", "false");
        }
        match &how.sign_verify {
            None => {}
            Some(SignVerify::Off) => config.set(&group, "sign-verify", "false"),
            Some(SignVerify::On) => config.set(&group, "sign-verify", "true"),
            Some(SignVerify::Key { kind, file, key }) => {
                config.set(&group, "sign-verify", "true");
                let which = if *file { "file" } else { "key" };
                config.set(&group, &format!("verification-{kind}-{which}"), key);
            }
        }
        match file {
            Some(file) => Ok(self.write_atomic(&file, config.to_text().as_bytes())?),
            None => Ok(self.write_config(&config)?),
        }
    }

    /// The remotes.d files of a system repository, parsed, with their paths.
    fn remotes_d(&self) -> Result<Vec<(std::path::PathBuf, KeyFile)>, Error> {
        let Some(dir) = self.remotes_dir() else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(crate::error::Error::from(crate::error::io_err("list", dir)(e)).into());
            }
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf") {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    crate::error::Error::from(crate::error::io_err("read", &path)(e))
                })?;
                files.push((path, KeyFile::parse(&text)));
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(files)
    }

    /// `ostree remote delete NAME`.
    pub fn remote_delete(&self, name: &str) -> Result<(), Error> {
        let mut config = self.read_config()?;
        if config.remove_group(&group_name(name)) {
            self.write_config(&config)?;
            // The keys it trusted go with it, as `ostree remote delete` removes them.
            let keyring = self.path().join(crate::gpg::remote_keyring_name(name));
            return match std::fs::remove_file(&keyring) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(repo::Error::from(crate::error::io_err("delete", &keyring)(e)).into())
                }
                _ => Ok(()),
            };
        }
        for (path, mut file) in self.remotes_d()? {
            if file.remove_group(&group_name(name)) {
                return Ok(self.write_atomic(&path, file.to_text().as_bytes())?);
            }
        }
        Err(Error::NotFound(name.to_owned()))
    }

    /// Every remote, sorted by name (as `ostree remote list` prints them).
    pub fn remote_list(&self) -> Result<Vec<Remote>, Error> {
        let config = self.read_config()?;
        let mut names: Vec<String> = config
            .group_names()
            .filter_map(|g| g.strip_prefix("remote \"")?.strip_suffix('"'))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        let mut remotes: Vec<Remote> = names
            .into_iter()
            .map(|name| remote_from(&config, name))
            .collect::<Result<_, _>>()?;
        for (_, file) in self.remotes_d()? {
            let names: Vec<String> = file
                .group_names()
                .filter_map(|g| g.strip_prefix("remote \"")?.strip_suffix('"'))
                .map(str::to_owned)
                .collect();
            for name in names {
                if !remotes.iter().any(|r| r.name == name) {
                    remotes.push(remote_from(&file, name)?);
                }
            }
        }
        remotes.sort_by(|a, b| a.name.cmp(&b.name));
        // A repository with `[core] parent` also has its parent's remotes (its own
        // win on a name clash), as OSTree lists them.
        if let Some(parent) = self.parent() {
            for remote in parent.remote_list()? {
                if !remotes.iter().any(|r| r.name == remote.name) {
                    remotes.push(remote);
                }
            }
            remotes.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(remotes)
    }

    /// One remote's configuration.
    pub fn remote(&self, name: &str) -> Result<Remote, Error> {
        let config = self.read_config()?;
        if config.has_group(&group_name(name)) {
            return remote_from(&config, name.to_owned());
        }
        for (_, file) in self.remotes_d()? {
            if file.has_group(&group_name(name)) {
                return remote_from(&file, name.to_owned());
            }
        }
        match self.parent() {
            Some(parent) => parent.remote(name),
            None => Err(Error::NotFound(name.to_owned())),
        }
    }
}

fn remote_from(config: &KeyFile, name: String) -> Result<Remote, Error> {
    let group = group_name(&name);
    // A remote another tool fetches from may have no URL; users of the URL refuse it.
    let url = match config.get(&group, "url") {
        Some(url) => url,
        None if config.get(&group, "custom-backend").is_some() => String::new(),
        None => return Err(Error::NoUrl(name.clone())),
    };
    Ok(Remote {
        url,
        branches: config.get_list(&group, "branches").unwrap_or_default(),
        options: config.entries(&group),
        name,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::RepoMode;

    #[test]
    fn add_list_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let set = [("tls-permissive".to_owned(), "true".to_owned())];
        repo.remote_add("origin", "http://h/r", &["main".into()], &set, true)
            .unwrap();
        repo.remote_add("b", "https://x", &[], &[], false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("config")).unwrap(),
            "[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"origin\"]\nurl=http://h/r\n\
             branches=main;\ntls-permissive=true\ngpg-verify=false\n\n[remote \"b\"]\nurl=https://x\n"
        );
        assert!(matches!(
            repo.remote_add("b", "http://y", &[], &[], false),
            Err(Error::Exists(_))
        ));
        assert!(matches!(
            repo.remote_add("../x", "http://y", &[], &[], false),
            Err(Error::InvalidName(_))
        ));
        let list = repo.remote_list().unwrap();
        assert_eq!(
            list.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["b", "origin"]
        );
        let origin = repo.remote("origin").unwrap();
        assert_eq!(origin.branches, ["main"]);
        assert!(!origin.flag("gpg-verify", true));
        assert!(list[0].flag("gpg-verify", true));
        repo.remote_delete("b").unwrap();
        assert!(matches!(repo.remote_delete("b"), Err(Error::NotFound(_))));
        assert_eq!(Repo::open(dir.path()).unwrap().mode(), RepoMode::Archive);
        assert!(
            fs::read_to_string(dir.path().join("config"))
                .unwrap()
                .ends_with("gpg-verify=false\n")
        );
    }
}
