//! Validation of an Ignition config with Ignition's rules and messages.
//!
//! Users compare our reports with `ignition-validate`'s, so entries come in Ignition's
//! order: duplicate entries first, then the config-level checks, then a depth-first walk
//! in struct field order where a struct's own checks come before its children's. Paths
//! are canonical JSON paths (`$.storage.files.0.mode`) without marks; the parser places
//! them in the user's text.

mod dups;
mod nodes;
mod paths;
mod resources;
mod storage;
mod units;

use ferro_document::{Path, Report};

use crate::{Config, Version};

pub use paths::clean as clean_path;
pub use resources::{url_error, url_scheme};

/// Every validation rule of Ignition spec `version` applied to `config`.
///
/// Rules are those of current Ignition, which backports them to every spec version; the
/// only version-dependent ones are the special-mode-bits warning (before 3.6.0), the
/// required link target (3.3.0+) and the `virtiofs` filesystem format
/// (3.7.0-experimental).
pub fn validate(config: &Config, version: Version) -> Report {
    let mut report = Report::new();
    dups::check(config, &mut report);
    nodes::check_systemd_conflicts(config, &mut report);
    let root = Path::root();
    resources::check_ignition(
        &config.ignition,
        version,
        &root.key("ignition"),
        &mut report,
    );

    let storage = &config.storage;
    let at = root.key("storage");
    nodes::check_storage_nodes(storage, version, &at, &mut report);
    storage::check_filesystems_on_disks(storage, &at, &mut report);
    for (index, directory) in storage.directories.iter().enumerate() {
        nodes::check_directory(
            directory,
            version,
            &at.key("directories").index(index),
            &mut report,
        );
    }
    for (index, disk) in storage.disks.iter().enumerate() {
        storage::check_disk(disk, &at.key("disks").index(index), &mut report);
    }
    for (index, file) in storage.files.iter().enumerate() {
        nodes::check_file(file, version, &at.key("files").index(index), &mut report);
    }
    for (index, filesystem) in storage.filesystems.iter().enumerate() {
        let at = at.key("filesystems").index(index);
        storage::check_filesystem(filesystem, version, &at, &mut report);
    }
    for (index, link) in storage.links.iter().enumerate() {
        nodes::check_link(link, &at.key("links").index(index), &mut report);
    }
    for (index, luks) in storage.luks.iter().enumerate() {
        storage::check_luks(luks, version, &at.key("luks").index(index), &mut report);
    }
    for (index, raid) in storage.raid.iter().enumerate() {
        storage::check_raid(raid, version, &at.key("raid").index(index), &mut report);
    }

    units::check_systemd(&config.systemd, &root.key("systemd"), &mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{File, Unit};

    #[test]
    fn orders_duplicates_first_then_depth_first() {
        let mut config = Config::default();
        config.ignition.version = "3.4.0".into();
        config.storage.files.push(File {
            path: "/a".into(),
            mode: Some(0o17777),
            ..File::default()
        });
        config.storage.files.push(File {
            path: "/a".into(),
            ..File::default()
        });
        config.systemd.units.push(Unit {
            name: "x".into(),
            ..Unit::default()
        });
        let lines: Vec<String> = validate(&config, Version::V3_4)
            .entries
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            lines,
            vec![
                "error at $.storage.files.1: duplicate entry defined",
                "error at $.storage.files.0.mode: illegal file mode",
                "warning at $.storage.files.0.mode: setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
                "error at $.systemd.units.0.name: invalid systemd unit extension"
            ]
        );
    }

    #[test]
    fn accepts_an_empty_config() {
        let config = Config {
            ignition: crate::Ignition {
                version: "3.6.0".into(),
                ..Default::default()
            },
            ..Config::default()
        };
        assert!(validate(&config, Version::V3_6).is_empty());
    }
}
