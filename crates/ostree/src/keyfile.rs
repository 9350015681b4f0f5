//! GLib key files (`config`, `remotes.d/*.conf`): `[group]` headers and `key=value`
//! lines. Edits keep every line they do not touch (comments, unknown keys, order), and
//! the file is rendered the way `GKeyFile` renders it — groups separated by exactly one
//! blank line — so that `ostree` and `ferro` rewriting the same `config` agree byte for
//! byte.

/// One line of a group: a `key=value` entry (value kept escaped) or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Entry { key: String, raw: String },
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// `None` for the comments before the first header.
    name: Option<String>,
    lines: Vec<Line>,
}

/// A parsed key file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    groups: Vec<Group>,
}

impl KeyFile {
    /// Parses key-file text. Lenient like `GKeyFile` for what it does not use: lines
    /// that are neither headers nor entries are kept as they are.
    pub fn parse(text: &str) -> Self {
        let mut groups = vec![Group {
            name: None,
            lines: Vec::new(),
        }];
        for line in text.lines() {
            let trimmed = line.trim();
            let header = trimmed
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .filter(|_| !trimmed.starts_with('#'));
            let current = groups.last_mut().expect("at least one group");
            if let Some(name) = header {
                groups.push(Group {
                    name: Some(name.to_owned()),
                    lines: Vec::new(),
                });
            } else if let (Some((key, raw)), false) =
                (line.split_once('='), trimmed.starts_with('#'))
            {
                current.lines.push(Line::Entry {
                    key: key.trim().to_owned(),
                    raw: raw.trim_start().to_owned(),
                });
            } else {
                current.lines.push(Line::Other(line.to_owned()));
            }
        }
        KeyFile { groups }
    }

    /// The text `GKeyFile` would write for these groups.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for group in &self.groups {
            let mut lines = &group.lines[..];
            while let Some((Line::Other(last), rest)) = lines.split_last() {
                if !last.trim().is_empty() {
                    break;
                }
                lines = rest;
            }
            if group.name.is_none() && lines.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            if let Some(name) = &group.name {
                out.push_str(&format!("[{name}]\n"));
            }
            for line in lines {
                match line {
                    Line::Entry { key, raw } => out.push_str(&format!("{key}={raw}\n")),
                    Line::Other(text) => out.push_str(&format!("{text}\n")),
                }
            }
        }
        out
    }

    fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name.as_deref() == Some(name))
    }

    /// Whether a `[name]` group exists.
    pub fn has_group(&self, name: &str) -> bool {
        self.group(name).is_some()
    }

    /// Names of all groups, in file order.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().filter_map(|g| g.name.as_deref())
    }

    /// A value, unescaped (`\s \n \t \r \\`); the last one wins, as in `GKeyFile`.
    pub fn get(&self, group: &str, key: &str) -> Option<String> {
        self.entries(group)
            .into_iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A list value (`a;b;`), split on unescaped `;`.
    pub fn get_list(&self, group: &str, key: &str) -> Option<Vec<String>> {
        let value = self.get(group, key)?;
        let mut items = Vec::new();
        let mut item = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.clone().next() == Some(';') => item.push(chars.next()?),
                ';' => items.push(std::mem::take(&mut item)),
                c => item.push(c),
            }
        }
        if !item.is_empty() {
            items.push(item);
        }
        Some(items)
    }

    /// Every `(key, unescaped value)` of a group, in file order.
    pub fn entries(&self, group: &str) -> Vec<(String, String)> {
        self.group(group)
            .map(|g| {
                g.lines
                    .iter()
                    .filter_map(|line| match line {
                        Line::Entry { key, raw } => Some((key.clone(), unescape(raw))),
                        Line::Other(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets a value, replacing the key in place or appending it (and the group).
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        self.set_raw(group, key, escape(value));
    }

    fn set_raw(&mut self, group: &str, key: &str, raw: String) {
        let index = match self
            .groups
            .iter()
            .position(|g| g.name.as_deref() == Some(group))
        {
            Some(index) => index,
            None => {
                self.groups.push(Group {
                    name: Some(group.to_owned()),
                    lines: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        let lines = &mut self.groups[index].lines;
        for line in lines.iter_mut() {
            if let Line::Entry { key: k, raw: r } = line
                && k == key
            {
                *r = raw;
                return;
            }
        }
        // After the last entry, before trailing blank lines and comments.
        let at = lines
            .iter()
            .rposition(|l| matches!(l, Line::Entry { .. }))
            .map_or(0, |i| i + 1);
        lines.insert(
            at,
            Line::Entry {
                key: key.to_owned(),
                raw,
            },
        );
    }

    /// Sets a list value (`a;b;`).
    pub fn set_list(&mut self, group: &str, key: &str, values: &[String]) {
        let raw: String = values
            .iter()
            .map(|v| format!("{};", escape(v).replace(';', "\\;")))
            .collect();
        self.set_raw(group, key, raw);
    }

    /// Removes every `key` entry of `group`; the group stays, as `GKeyFile` leaves it.
    pub fn remove(&mut self, group: &str, key: &str) {
        for g in self
            .groups
            .iter_mut()
            .filter(|g| g.name.as_deref() == Some(group))
        {
            g.lines
                .retain(|line| !matches!(line, Line::Entry { key: k, .. } if k == key));
        }
    }

    /// Removes a group; returns whether it existed.
    pub fn remove_group(&mut self, name: &str) -> bool {
        let before = self.groups.len();
        self.groups.retain(|g| g.name.as_deref() != Some(name));
        self.groups.len() != before
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            ' ' if i == 0 => out.push_str("\\s"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.trim_end().chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            // List separators stay escaped for `get_list`.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[core]\nrepo_version=1\nmode=archive-z2\n";

    #[test]
    fn round_trips_a_pinned_deployment_origin() {
        let text = "[origin]\nrefspec=r\n\n[libostree-transient]\npinned=true\n";
        let mut file = KeyFile::parse(text);
        assert_eq!(file.to_text(), text);
        assert_eq!(
            file.get("libostree-transient", "pinned").as_deref(),
            Some("true")
        );
        file.remove("libostree-transient", "pinned");
        assert_eq!(
            file.to_text(),
            "[origin]\nrefspec=r\n\n[libostree-transient]\n"
        );
    }

    #[test]
    fn adds_and_removes_groups_like_gkeyfile() {
        let mut kf = KeyFile::parse(CONFIG);
        assert_eq!(kf.get("core", "mode").as_deref(), Some("archive-z2"));
        kf.set("remote \"a\"", "url", "http://x");
        kf.set_list("remote \"a\"", "branches", &["main".into(), "b;c".into()]);
        kf.set("remote \"a\"", "gpg-verify", "false");
        let text = kf.to_text();
        assert_eq!(
            text,
            "[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"a\"]\nurl=http://x\n\
             branches=main;b\\;c;\ngpg-verify=false\n"
        );
        let mut again = KeyFile::parse(&text);
        assert_eq!(
            again.get_list("remote \"a\"", "branches").unwrap(),
            vec!["main", "b;c"]
        );
        assert!(again.remove_group("remote \"a\""));
        assert!(!again.remove_group("remote \"a\""));
        assert_eq!(again.to_text(), CONFIG);
    }

    #[test]
    fn keeps_comments_and_escapes_values() {
        let mut kf = KeyFile::parse("# top\n[core]\n# note\nmode=bare\n\n\n[x]\nk = v\n");
        assert_eq!(kf.get("x", "k").as_deref(), Some("v"));
        kf.set("core", "odd", " lead\tand\\");
        assert_eq!(kf.get("core", "odd").as_deref(), Some(" lead\tand\\"));
        assert_eq!(
            kf.to_text(),
            "# top\n\n[core]\n# note\nmode=bare\nodd=\\slead\\tand\\\\\n\n[x]\nk=v\n"
        );
        assert_eq!(kf.group_names().collect::<Vec<_>>(), ["core", "x"]);
    }
}
