//! What `ostree commit` changes in a tree as it stores it, path by path: a statoverride
//! file (`--statoverride`: mode bits to add, or permissions to set), a skip list
//! (`--skip-list`: paths left out, a directory with everything below it) and
//! `--mode-ro-executables` (no write bits on a file that has an execute bit). Paths are
//! absolute inside the commit (`/usr/bin/sudo`), as OSTree's commit filter sees them.
//! A module of its own so that directory, archive and stored-tree sources apply the same
//! rules through [`crate::commit::Policy`].

use std::collections::{BTreeMap, BTreeSet};

use crate::object::{S_IFMT, S_IFREG};

/// The per-path changes of a commit; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitModifiers {
    /// Mode bits added to a path (`MODE PATH` or `+MODE PATH` lines; MODE in decimal).
    pub mode_adds: BTreeMap<String, u32>,
    /// Permission bits that replace a path's (`=MODE PATH` lines).
    pub mode_sets: BTreeMap<String, u32>,
    /// Paths left out, each with everything below it.
    pub skip: BTreeSet<String>,
    /// Clear the write bits of regular files that have an execute bit.
    pub ro_executables: bool,
}

/// A statoverride line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed statoverride line {line} '{text}': expected '[+|=]DECIMAL-MODE /path'")]
pub struct StatOverrideError {
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
}

impl CommitModifiers {
    /// Reads a statoverride file's text into [`CommitModifiers::mode_adds`] and
    /// [`CommitModifiers::mode_sets`]; empty lines are skipped.
    pub fn add_statoverride(&mut self, text: &str) -> Result<(), StatOverrideError> {
        for (index, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let bad = || StatOverrideError {
                line: index + 1,
                text: line.to_owned(),
            };
            let (mode, path) = line.split_once(' ').ok_or_else(bad)?;
            let (set, digits) = match mode.strip_prefix('=') {
                Some(rest) => (true, rest),
                None => (false, mode.strip_prefix('+').unwrap_or(mode)),
            };
            let mode: u32 = digits.parse().map_err(|_| bad())?;
            let table = if set {
                &mut self.mode_sets
            } else {
                &mut self.mode_adds
            };
            table.insert(path.to_owned(), mode);
        }
        Ok(())
    }

    /// Reads a skip list's text: one path a line, empty lines skipped.
    pub fn add_skip_list(&mut self, text: &str) {
        self.skip.extend(path_list(text));
    }

    /// Whether nothing is changed path by path (a stored tree can then be reused whole).
    pub fn is_empty(&self) -> bool {
        self.mode_adds.is_empty()
            && self.mode_sets.is_empty()
            && self.skip.is_empty()
            && !self.ro_executables
    }

    /// Whether `path` is left out.
    pub fn skips(&self, path: &str) -> bool {
        self.skip.contains(path)
    }

    /// The statoverride for `path` applied to `mode` (the file type is kept).
    pub fn override_mode(&self, path: &str, mode: u32) -> u32 {
        if let Some(add) = self.mode_adds.get(path) {
            mode | add
        } else if let Some(set) = self.mode_sets.get(path) {
            (mode & S_IFMT) | (set & 0o7777)
        } else {
            mode
        }
    }

    /// `--mode-ro-executables` applied to `mode`.
    pub fn finish_mode(&self, mode: u32) -> u32 {
        if self.ro_executables && mode & S_IFMT == S_IFREG && mode & 0o111 != 0 {
            mode & !0o222
        } else {
            mode
        }
    }

    /// The statoverride paths of which `exists` finds none: OSTree refuses a commit
    /// whose statoverride names a path the tree lacks.
    pub fn unmatched(&self, exists: impl Fn(&str) -> bool) -> Vec<String> {
        self.mode_adds
            .keys()
            .chain(self.mode_sets.keys())
            .filter(|p| !exists(p))
            .cloned()
            .collect()
    }
}

/// The paths of a skip list (`commit --skip-list`, `checkout --skip-list`): one a line,
/// empty lines skipped.
pub fn path_list(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statoverride_lines_add_set_and_refuse() {
        let mut m = CommitModifiers::default();
        m.add_statoverride("+1048 /a/2\n2048 /a/3\n\n=384 /a/ro\n")
            .unwrap();
        // Decimal, as OSTree reads it: 1048 is 0o2030.
        assert_eq!(m.override_mode("/a/2", S_IFREG | 0o644), S_IFREG | 0o2674);
        assert_eq!(m.override_mode("/a/3", S_IFREG | 0o644), S_IFREG | 0o4644);
        assert_eq!(m.override_mode("/a/ro", S_IFREG | 0o664), S_IFREG | 0o600);
        assert_eq!(m.override_mode("/other", 0o644), 0o644);
        let err = m.add_statoverride("2048/no-space").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(m.add_statoverride("abc /x").is_err());
        assert_eq!(m.unmatched(|p| p == "/a/2"), ["/a/3", "/a/ro"]);
    }

    #[test]
    fn ro_executables_clears_write_bits_of_executables_only() {
        let m = CommitModifiers {
            ro_executables: true,
            ..CommitModifiers::default()
        };
        for (mode, want) in [
            (0o755, 0o555),
            (0o575, 0o555),
            (0o775, 0o555),
            (0o555, 0o555),
            (0o644, 0o644),
        ] {
            assert_eq!(m.finish_mode(S_IFREG | mode), S_IFREG | want, "{mode:o}");
        }
        assert_eq!(
            m.finish_mode(0o040775),
            0o040775,
            "directories keep their bits"
        );
    }
}
