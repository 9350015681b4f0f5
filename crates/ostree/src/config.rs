//! `ostree config get|set|unset`: one key of the repository's `config` key file, named
//! `GROUP.KEY` (split at the first dot) or by `--group` and the key.

use crate::error::Error;
use crate::repo::Repo;

/// A key of the repository config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// The group, e.g. `core` or `remote "origin"`.
    pub group: String,
    /// The key in it.
    pub key: String,
}

/// Why a config key cannot be read or named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `GROUP.KEY` without a dot and no `--group`.
    #[error("'{0}' names no group: write GROUP.KEY (e.g. core.mode) or give --group")]
    NoGroup(String),
    /// The key is not set (ostree's wording).
    #[error("Key file does not have key '{key}' in group '{group}'")]
    NotSet {
        /// The group.
        group: String,
        /// The key.
        key: String,
    },
    /// Reading or writing the repository failed.
    #[error(transparent)]
    Repo(#[from] Error),
}

impl ConfigKey {
    /// The key `name` names: in `group` when given, else `GROUP.KEY`.
    pub fn parse(group: Option<&str>, name: &str) -> Result<Self, ConfigError> {
        let (group, key) = match group {
            Some(group) => (group, name),
            None => name
                .split_once('.')
                .ok_or_else(|| ConfigError::NoGroup(name.to_owned()))?,
        };
        Ok(ConfigKey {
            group: group.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// The value of `key`, as `ostree config get` prints it.
pub fn get(repo: &Repo, key: &ConfigKey) -> Result<String, ConfigError> {
    repo.read_config()?
        .get(&key.group, &key.key)
        .ok_or_else(|| ConfigError::NotSet {
            group: key.group.clone(),
            key: key.key.clone(),
        })
}

/// Sets `key` to `value` (creating its group), rewriting `config` atomically.
pub fn set(repo: &Repo, key: &ConfigKey, value: &str) -> Result<(), ConfigError> {
    let mut config = repo.read_config()?;
    config.set(&key.group, &key.key, value);
    Ok(repo.write_config(&config)?)
}

/// Removes `key`; a key or group that does not exist is not an error, as in `ostree`.
pub fn unset(repo: &Repo, key: &ConfigKey) -> Result<(), ConfigError> {
    let mut config = repo.read_config()?;
    if config.get(&key.group, &key.key).is_some() {
        config.remove(&key.group, &key.key);
        repo.write_config(&config)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::RepoMode;

    #[test]
    fn set_get_unset_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        assert_eq!(
            get(&repo, &ConfigKey::parse(None, "core.mode").unwrap()).unwrap(),
            "archive-z2"
        );
        let key = ConfigKey::parse(Some("remote \"a\""), "xa.title").unwrap();
        set(&repo, &key, "A title").unwrap();
        assert_eq!(get(&repo, &key).unwrap(), "A title");
        unset(&repo, &key).unwrap();
        unset(&repo, &key).unwrap();
        let missing = get(&repo, &key).unwrap_err().to_string();
        assert_eq!(
            missing,
            "Key file does not have key 'xa.title' in group 'remote \"a\"'"
        );
        assert!(matches!(
            ConfigKey::parse(None, "nodot"),
            Err(ConfigError::NoGroup(_))
        ));
    }
}
