//! The account files' line format: colon-separated entries, other lines kept verbatim.

use ferro_sys::IoError;

use crate::root::{Perms, Root};

/// One line of an account file: colon-separated fields, or anything else kept verbatim.
#[derive(Debug, Clone)]
pub(super) enum Line {
    Entry(Vec<String>),
    Raw(String),
}

/// One account file, as read from the root, with the edits made so far.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) path: &'static str,
    pub(super) lines: Vec<Line>,
    /// The file's bytes as read, for the `-` backup; `None` if it did not exist.
    pub(super) original: Option<Vec<u8>>,
    /// Owner and mode to keep; `None` if the file did not exist.
    pub(super) perms: Option<Perms>,
    /// Mode for a file created from scratch.
    pub(super) new_mode: u32,
    pub(super) dirty: bool,
}

impl Table {
    pub(super) fn load(root: &Root, path: &'static str, new_mode: u32) -> Result<Table, IoError> {
        let original = root.read(path)?;
        let perms = match &original {
            Some(_) => root.stat(path)?.map(|m| Perms {
                uid: Some(m.uid),
                gid: Some(m.gid),
                mode: m.mode,
            }),
            None => None,
        };
        let text = original
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| {
                if l.is_empty() || l.starts_with(['#', '+', '-']) || !l.contains(':') {
                    Line::Raw(l.to_string())
                } else {
                    Line::Entry(l.split(':').map(str::to_string).collect())
                }
            })
            .collect();
        Ok(Table {
            path,
            lines,
            original,
            perms,
            new_mode,
            dirty: false,
        })
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = &Vec<String>> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(f) => Some(f),
            Line::Raw(_) => None,
        })
    }

    pub(super) fn entries_mut(&mut self) -> impl Iterator<Item = &mut Vec<String>> {
        self.lines.iter_mut().filter_map(|l| match l {
            Line::Entry(f) => Some(f),
            Line::Raw(_) => None,
        })
    }

    pub(super) fn find(&self, name: &str) -> Option<&Vec<String>> {
        self.entries().find(|f| f[0] == name)
    }

    pub(super) fn find_mut(&mut self, name: &str) -> Option<&mut Vec<String>> {
        self.dirty = true;
        self.entries_mut().find(|f| f[0] == name)
    }

    pub(super) fn push(&mut self, fields: Vec<String>) {
        self.dirty = true;
        self.lines.push(Line::Entry(fields));
    }

    pub(super) fn remove(&mut self, name: &str) {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry(f) if f[0] == name));
        self.dirty |= self.lines.len() != before;
    }

    pub(super) fn render(&self) -> Vec<u8> {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Entry(f) => out.push_str(&f.join(":")),
                Line::Raw(r) => out.push_str(r),
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Writes the backup (`path-`, the previous contents with the same owner and mode)
    /// and then the file itself, atomically.
    pub(super) fn save(&self, root: &Root) -> Result<(), IoError> {
        if let (Some(original), Some(perms)) = (&self.original, self.perms) {
            root.write_file(&format!("{}-", self.path), original, perms)?;
        }
        let perms = self.perms.unwrap_or(Perms {
            uid: None,
            gid: None,
            mode: self.new_mode,
        });
        root.write_file(self.path, &self.render(), perms)
    }
}

/// Field `i` of an entry, empty when the line is short.
pub(super) fn field(f: &[String], i: usize) -> &str {
    f.get(i).map_or("", String::as_str)
}

/// Sets field `i`, padding a short line.
pub(super) fn set_field(f: &mut Vec<String>, i: usize, value: &str) {
    if f.len() <= i {
        f.resize(i + 1, String::new());
    }
    f[i] = value.to_string();
}

/// A comma-separated member list as names.
pub(super) fn members(f: &[String], i: usize) -> Vec<String> {
    field(f, i)
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}
