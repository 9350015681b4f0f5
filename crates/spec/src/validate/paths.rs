//! Paths and modes of filesystem nodes, and Go's `path` helpers they are judged with.

use ferro_document::{Path, Report};

use crate::{NodeGroup, NodeUser, Version};

/// Go's `path.Clean`: the shortest lexically equivalent slash path.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The message for a node or device path that is missing, relative or not clean.
pub fn path_error(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("path not specified")
    } else if !path.starts_with('/') {
        Some("path not absolute")
    } else if clean(path) != path {
        Some("path is not fully simplified")
    } else {
        None
    }
}

/// Adds an error at `at` if `path` is not a usable absolute path.
pub fn check_path(path: &str, at: &Path, report: &mut Report) {
    if let Some(message) = path_error(path) {
        report.error(at.clone(), message);
    }
}

/// Mode checks of files and directories: the range, then the special bits that specs
/// before 3.6.0 cannot apply reliably.
pub fn check_mode(mode: Option<i64>, version: Version, at: &Path, report: &mut Report) {
    let Some(mode) = mode else { return };
    if !(0..=0o7777).contains(&mode) {
        report.error(at.clone(), "illegal file mode");
    }
    if mode & 0o7000 != 0 && version < Version::V3_6 {
        report.warning(
            at.clone(),
            "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
        );
    }
}

/// An owner is given by id or by name, never both.
pub fn check_user(user: &NodeUser, at: &Path, report: &mut Report) {
    if user.id.is_some() && user.name.as_deref().is_some_and(|n| !n.is_empty()) {
        report.error(at.clone(), "cannot set both id and name");
    }
}

/// A group is given by id or by name, never both.
pub fn check_group(group: &NodeGroup, at: &Path, report: &mut Report) {
    if group.id.is_some() && group.name.as_deref().is_some_and(|n| !n.is_empty()) {
        report.error(at.clone(), "cannot set both id and name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go() {
        assert_eq!(clean("/a//b/./c/.."), "/a/b");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean(""), ".");
    }

    #[test]
    fn judges_paths() {
        assert_eq!(path_error(""), Some("path not specified"));
        assert_eq!(path_error("etc/x"), Some("path not absolute"));
        assert_eq!(path_error("/etc/"), Some("path is not fully simplified"));
        assert_eq!(path_error("/etc//x"), Some("path is not fully simplified"));
        assert_eq!(path_error("/etc/x"), None);
    }

    #[test]
    fn judges_modes() {
        let at = Path::parse("m");
        let mut report = Report::new();
        check_mode(Some(0o10000), Version::V3_6, &at, &mut report);
        assert_eq!(report.entries[0].message, "illegal file mode");
        let mut report = Report::new();
        check_mode(Some(0o4755), Version::V3_5, &at, &mut report);
        assert!(
            report.entries[0]
                .message
                .starts_with("setuid/setgid/sticky")
        );
        let mut report = Report::new();
        check_mode(Some(0o4755), Version::V3_6, &at, &mut report);
        assert!(report.is_empty());
    }

    #[test]
    fn rejects_owner_by_id_and_name() {
        let mut report = Report::new();
        let user = NodeUser {
            id: Some(1),
            name: Some("core".into()),
        };
        check_user(&user, &Path::parse("u"), &mut report);
        let group = NodeGroup {
            id: Some(1),
            name: Some("core".into()),
        };
        check_group(&group, &Path::parse("g"), &mut report);
        assert_eq!(report.entries.len(), 2);
        assert_eq!(report.entries[1].message, "cannot set both id and name");
    }
}
