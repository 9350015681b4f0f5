//! Files, directories and links, and the rules that relate them to each other and to
//! systemd units.

use ferro_document::{Path, Report};

use super::paths::{check_group, check_mode, check_path, check_user, clean};
use super::resources::check_resource;
use crate::{Config, Directory, File, Link, NodeGroup, NodeUser, Storage, Version};

/// Config-level rule: a node may not be written where a unit or drop-in with contents is.
pub fn check_systemd_conflicts(config: &Config, report: &mut Report) {
    let mut unit_paths = Vec::new();
    for unit in &config.systemd.units {
        if unit.contents.as_deref().is_some_and(|c| !c.is_empty()) {
            unit_paths.push(format!("/etc/systemd/system/{}", unit.name));
        }
        for dropin in &unit.dropins {
            if dropin.contents.as_deref().is_some_and(|c| !c.is_empty()) {
                unit_paths.push(format!(
                    "/etc/systemd/system/{}.d/{}",
                    unit.name, dropin.name
                ));
            }
        }
    }
    let storage = Path::root().key("storage");
    let lists: [(&str, Vec<&str>); 3] = [
        (
            "files",
            config
                .storage
                .files
                .iter()
                .map(|f| f.path.as_str())
                .collect(),
        ),
        (
            "directories",
            config
                .storage
                .directories
                .iter()
                .map(|d| d.path.as_str())
                .collect(),
        ),
        (
            "links",
            config
                .storage
                .links
                .iter()
                .map(|l| l.path.as_str())
                .collect(),
        ),
    ];
    for (list, paths) in lists {
        for (index, path) in paths.into_iter().enumerate() {
            if unit_paths.iter().any(|p| p == path) {
                report.error(
                    storage.key(list).index(index).key("path"),
                    "path conflicts with systemd unit or dropin",
                );
            }
        }
    }
}

/// Storage-level rules about nodes, in Ignition's order: nothing may be written
/// through a configured link; then, link by link, its path, its target (required from
/// 3.3.0, where it became optional in the schema; nothing more is checked without
/// one), and for a hard link no configured directory as target and no owner (one
/// warning per owner field set).
pub fn check_storage_nodes(storage: &Storage, version: Version, at: &Path, report: &mut Report) {
    let under_link = |path: &str| {
        storage
            .links
            .iter()
            .filter(|link| path.starts_with(&format!("{}/", link.path)))
            .count()
    };
    for (index, directory) in storage.directories.iter().enumerate() {
        for _ in 0..under_link(&directory.path) {
            report.error(
                at.key("directories").index(index),
                "directory path includes link in config",
            );
        }
    }
    for (index, file) in storage.files.iter().enumerate() {
        for _ in 0..under_link(&file.path) {
            report.error(
                at.key("files").index(index),
                "file path includes link in config",
            );
        }
    }
    for (index, link) in storage.links.iter().enumerate() {
        let at = at.key("links").index(index);
        for _ in 0..under_link(&link.path) {
            report.error(at.clone(), "link path includes link in config");
        }
        let target = link.target.as_deref().filter(|t| !t.is_empty());
        if version >= Version::V3_3 && target.is_none() {
            report.error(at.key("target"), "link target is required");
            continue;
        }
        if link.hard != Some(true) {
            continue;
        }
        // A relative target is taken below the link's own path, as Ignition does.
        let target = target.unwrap_or_default();
        let mut resolved = clean(target);
        if !resolved.starts_with('/') {
            resolved = clean(&format!("{}/{}", link.path, target));
        }
        for directory in &storage.directories {
            if directory.path == resolved {
                report.error(at.clone(), "hard link target is a directory");
            }
        }
        let owner = [
            ("user", "id", link.user.id.is_some()),
            (
                "user",
                "name",
                link.user.name.as_deref().is_some_and(|n| !n.is_empty()),
            ),
            ("group", "id", link.group.id.is_some()),
            (
                "group",
                "name",
                link.group.name.as_deref().is_some_and(|n| !n.is_empty()),
            ),
        ];
        for (owner, field, set) in owner {
            if set {
                report.warning(at.key(owner).key(field), "user/group ignored for hard link");
            }
        }
    }
}

fn check_owner(user: &NodeUser, group: &NodeGroup, at: &Path, report: &mut Report) {
    check_group(group, &at.key("group"), report);
    check_user(user, &at.key("user"), report);
}

/// A directory entry.
pub fn check_directory(directory: &Directory, version: Version, at: &Path, report: &mut Report) {
    check_path(&directory.path, &at.key("path"), report);
    check_mode(directory.mode, version, &at.key("mode"), report);
    check_owner(&directory.user, &directory.group, at, report);
}

/// A file entry: path, mode, overwrite, then owner and contents.
pub fn check_file(file: &File, version: Version, at: &Path, report: &mut Report) {
    check_path(&file.path, &at.key("path"), report);
    check_mode(file.mode, version, &at.key("mode"), report);
    if file.overwrite == Some(true) && file.contents.source.is_none() {
        report.error(
            at.key("overwrite"),
            "overwrite must be false if source is unspecified",
        );
    }
    check_owner(&file.user, &file.group, at, report);
    for (index, fragment) in file.append.iter().enumerate() {
        check_resource(fragment, version, &at.key("append").index(index), report);
    }
    check_resource(&file.contents, version, &at.key("contents"), report);
}

/// A link entry: path and ownership.
pub fn check_link(link: &Link, at: &Path, report: &mut Report) {
    check_path(&link.path, &at.key("path"), report);
    check_owner(&link.user, &link.group, at, report);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dropin, Resource, Unit};

    fn lines(report: &Report) -> Vec<String> {
        report.entries.iter().map(|e| e.to_string()).collect()
    }

    fn link(path: &str, target: &str, hard: bool) -> Link {
        Link {
            path: path.into(),
            target: Some(target.into()),
            hard: Some(hard),
            ..Link::default()
        }
    }

    #[test]
    fn finds_nodes_under_links() {
        let storage = Storage {
            directories: vec![Directory {
                path: "/a/d".into(),
                ..Directory::default()
            }],
            files: vec![File {
                path: "/a/f".into(),
                ..File::default()
            }],
            links: vec![link("/a", "/b", false), link("/a/l", "/c", false)],
            ..Storage::default()
        };
        let mut report = Report::new();
        check_storage_nodes(
            &storage,
            Version::V3_4,
            &Path::parse("storage"),
            &mut report,
        );
        assert_eq!(
            lines(&report),
            vec![
                "error at $.storage.directories.0: directory path includes link in config",
                "error at $.storage.files.0: file path includes link in config",
                "error at $.storage.links.1: link path includes link in config"
            ]
        );
    }

    #[test]
    fn rejects_hard_links_to_directories() {
        let storage = Storage {
            directories: vec![Directory {
                path: "/etc/l/d".into(),
                ..Directory::default()
            }],
            links: vec![link("/etc/l", "d", true), link("/etc/m", "/etc/l/d", true)],
            ..Storage::default()
        };
        let mut report = Report::new();
        check_storage_nodes(
            &storage,
            Version::V3_4,
            &Path::parse("storage"),
            &mut report,
        );
        // As the reference reports it: a relative target is joined to the link's path.
        assert_eq!(
            lines(&report),
            vec![
                "error at $.storage.directories.0: directory path includes link in config",
                "error at $.storage.links.0: hard link target is a directory",
                "error at $.storage.links.1: hard link target is a directory"
            ]
        );
    }

    // Ignition checks link by link: its path under other links, then its target
    // (cases 5124, 8729).
    #[test]
    fn checks_links_one_at_a_time() {
        let mut report = Report::new();
        let storage = Storage {
            links: vec![
                Link {
                    path: "/a".into(),
                    ..Link::default()
                },
                link("/a/x", "/b", false),
            ],
            ..Storage::default()
        };
        check_storage_nodes(&storage, Version::V3_4, &Path::parse("s"), &mut report);
        assert_eq!(
            lines(&report),
            vec![
                "error at $.s.links.0.target: link target is required",
                "error at $.s.links.1: link path includes link in config"
            ]
        );
    }

    #[test]
    fn checks_link_fields() {
        let mut report = Report::new();
        let mut l = Link {
            path: "/x".into(),
            hard: Some(true),
            ..Link::default()
        };
        l.user.id = Some(1);
        l.group.name = Some("g".into());
        let storage = Storage {
            links: vec![l],
            ..Storage::default()
        };
        check_storage_nodes(&storage, Version::V3_3, &Path::parse("s"), &mut report);
        // As Butane v0.29.0 (current Ignition) reports them: nothing more once the
        // target is missing, else one warning per owner field.
        assert_eq!(
            lines(&report),
            vec!["error at $.s.links.0.target: link target is required"]
        );
        let mut report = Report::new();
        check_storage_nodes(&storage, Version::V3_2, &Path::parse("s"), &mut report);
        assert_eq!(
            lines(&report),
            vec![
                "warning at $.s.links.0.user.id: user/group ignored for hard link",
                "warning at $.s.links.0.group.name: user/group ignored for hard link"
            ]
        );
    }

    #[test]
    fn checks_file_fields() {
        let mut report = Report::new();
        let file = File {
            path: "x".into(),
            overwrite: Some(true),
            mode: Some(-1),
            ..File::default()
        };
        check_file(&file, Version::V3_6, &Path::parse("f"), &mut report);
        assert_eq!(
            lines(&report),
            vec![
                "error at $.f.path: path not absolute",
                "error at $.f.mode: illegal file mode",
                "error at $.f.overwrite: overwrite must be false if source is unspecified"
            ]
        );
        let mut report = Report::new();
        let file = File {
            path: "/x".into(),
            overwrite: Some(true),
            contents: Resource {
                source: Some("data:,".into()),
                ..Resource::default()
            },
            ..File::default()
        };
        check_file(&file, Version::V3_6, &Path::parse("f"), &mut report);
        assert!(report.is_empty());
    }

    #[test]
    fn checks_directory_fields() {
        let mut report = Report::new();
        let directory = Directory {
            path: "/d/".into(),
            ..Directory::default()
        };
        check_directory(&directory, Version::V3_6, &Path::parse("d"), &mut report);
        assert_eq!(
            lines(&report),
            vec!["error at $.d.path: path is not fully simplified"]
        );
    }

    #[test]
    fn finds_conflicts_with_units() {
        let mut config = Config::default();
        config.systemd.units.push(Unit {
            name: "a.service".into(),
            contents: Some("[Unit]".into()),
            dropins: vec![Dropin {
                name: "x.conf".into(),
                contents: Some("[Unit]".into()),
            }],
            ..Unit::default()
        });
        config.storage.files.push(File {
            path: "/etc/systemd/system/a.service".into(),
            ..File::default()
        });
        config.storage.links.push(Link {
            path: "/etc/systemd/system/a.service.d/x.conf".into(),
            ..Link::default()
        });
        let mut report = Report::new();
        check_systemd_conflicts(&config, &mut report);
        assert_eq!(
            lines(&report),
            vec![
                "error at $.storage.files.0.path: path conflicts with systemd unit or dropin",
                "error at $.storage.links.0.path: path conflicts with systemd unit or dropin"
            ]
        );
    }
}
