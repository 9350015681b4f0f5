//! The compose manifest: what OS tree to build, in YAML like the Butane configs it
//! boots with, read with the same parser so mistakes are reported at their line.
//!
//! ```yaml
//! ref: ferrocore/x86_64/stable     # the OSTree branch to commit to
//! version: "1"                     # recorded as the commit's `version`
//! packages: [linux-image-amd64, systemd, openssh-server]
//! debian:                          # optional
//!   suite: bookworm                # default bookworm
//!   mirror: http://deb.debian.org/debian   # default: the host's apt mirror
//! ```

use ferro_document::{Node, Value};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The OSTree branch the tree is committed to.
    pub ref_name: String,
    /// The version recorded in the commit's metadata.
    pub version: String,
    /// Debian packages installed besides the minimal base.
    pub packages: Vec<String>,
    /// The Debian release.
    pub suite: String,
    /// The Debian archive; `None` uses the host's.
    pub mirror: Option<String>,
}

/// A manifest that cannot be used, with where the problem is.
#[derive(Debug, thiserror::Error)]
#[error("manifest line {line} column {column}: {message}")]
pub struct Error {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn error(node: &Node, message: impl Into<String>) -> Error {
    Error {
        line: node.mark.line,
        column: node.mark.column,
        message: message.into(),
    }
}

/// A scalar as text; YAML's unquoted `1` is a version here, not a number.
fn scalar(node: &Node, key: &str) -> Result<String, Error> {
    match &node.value {
        Value::Str(s) | Value::Plain(s) | Value::Number(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(error(node, format!("'{key}' must be a non-empty string"))),
    }
}

/// Checks that a map has only `allowed` keys, so a typo is an error, not a default.
fn only_keys(node: &Node, allowed: &[&str], what: &str) -> Result<(), Error> {
    let Value::Map(entries) = &node.value else {
        return Err(error(node, format!("{what} must be a map")));
    };
    for entry in entries {
        if !allowed.contains(&entry.key.as_str()) {
            return Err(Error {
                line: entry.key_mark.line,
                column: entry.key_mark.column,
                message: format!(
                    "unknown key '{}' (expected one of: {})",
                    entry.key,
                    allowed.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Debian's package names: lower case letters, digits, `+`, `-`, `.`; two or more
/// characters, starting alphanumeric. Checked because they reach a command line.
fn valid_package(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

impl Manifest {
    /// Parses a manifest.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let root = ferro_document::yaml::parse(text).map_err(|e| Error {
            line: 1,
            column: 1,
            message: e.to_string(),
        })?;
        only_keys(
            &root,
            &["ref", "version", "packages", "debian"],
            "the manifest",
        )?;
        let required = |key: &str| {
            root.get(key)
                .ok_or_else(|| error(&root, format!("missing '{key}'")))
                .and_then(|node| scalar(node, key))
        };
        let ref_name = required("ref")?;
        let version = required("version")?;
        let mut packages = Vec::new();
        match root.get("packages").map(|n| (n, &n.value)) {
            None | Some((_, Value::Null)) => {}
            Some((_, Value::Seq(items))) => {
                for item in items {
                    let name = scalar(item, "packages")?;
                    if !valid_package(&name) {
                        return Err(error(
                            item,
                            format!("'{name}' is not a Debian package name"),
                        ));
                    }
                    packages.push(name);
                }
            }
            Some((node, _)) => return Err(error(node, "'packages' must be a list")),
        }
        let (mut suite, mut mirror) = ("bookworm".to_owned(), None);
        if let Some(debian) = root.get("debian") {
            only_keys(debian, &["suite", "mirror"], "'debian'")?;
            if let Some(node) = debian.get("suite") {
                suite = scalar(node, "suite")?;
            }
            if let Some(node) = debian.get("mirror") {
                mirror = Some(scalar(node, "mirror")?);
            }
        }
        Ok(Manifest {
            ref_name,
            version,
            packages,
            suite,
            mirror,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_manifest() {
        let m = Manifest::parse(
            "ref: ferrocore/x86_64/stable\nversion: 2\npackages:\n  - systemd\n  - linux-image-amd64\ndebian:\n  suite: trixie\n  mirror: http://m/debian\n",
        )
        .unwrap();
        assert_eq!(
            m,
            Manifest {
                ref_name: "ferrocore/x86_64/stable".into(),
                version: "2".into(),
                packages: vec!["systemd".into(), "linux-image-amd64".into()],
                suite: "trixie".into(),
                mirror: Some("http://m/debian".into()),
            }
        );
    }

    #[test]
    fn defaults() {
        let m = Manifest::parse("ref: r\nversion: '1.0'\n").unwrap();
        assert_eq!(
            (m.suite.as_str(), m.mirror, m.packages.len()),
            ("bookworm", None, 0)
        );
    }

    #[test]
    fn mistakes_are_located() {
        let e = Manifest::parse("ref: r\nversion: 1\npackges: [a]\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("unknown key 'packges'"), "{e}");

        let e =
            Manifest::parse("ref: r\nversion: 1\npackages:\n  - ok\n  - 'Bad;rm'\n").unwrap_err();
        assert_eq!(e.line, 5);
        assert!(e.to_string().contains("not a Debian package name"), "{e}");

        let e = Manifest::parse("version: 1\n").unwrap_err();
        assert!(e.message.contains("missing 'ref'"), "{e}");
    }
}
