//! A minimal GKeyFile (`[group]` + `key=value`) for `.origin` files: groups and keys keep
//! their order, and writing reproduces GLib's layout (a blank line between groups) so
//! files round-trip byte for byte with what `ostree admin` writes.

/// An ordered key file. Comments are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    groups: Vec<(String, Vec<(String, String)>)>,
}

impl KeyFile {
    /// Parses key-file text; lines outside a group and malformed lines are ignored.
    pub fn parse(text: &str) -> Self {
        let mut file = KeyFile::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                file.group_mut(name);
            } else if let (Some((key, value)), Some(group)) =
                (line.split_once('='), file.groups.last_mut())
            {
                group
                    .1
                    .push((key.trim().to_owned(), value.trim().to_owned()));
            }
        }
        file
    }

    fn group_mut(&mut self, name: &str) -> &mut Vec<(String, String)> {
        let index = match self.groups.iter().position(|g| g.0 == name) {
            Some(index) => index,
            None => {
                self.groups.push((name.to_owned(), Vec::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[index].1
    }

    /// The value of `group.key`.
    pub fn get(&self, group: &str, key: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.0 == group)?
            .1
            .iter()
            .find(|k| k.0 == key)
            .map(|k| k.1.as_str())
    }

    /// Sets `group.key`, creating the group at the end if needed.
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        let keys = self.group_mut(group);
        match keys.iter_mut().find(|k| k.0 == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => keys.push((key.to_owned(), value.to_owned())),
        }
    }

    /// Removes `group.key`; the group stays, as GLib leaves it.
    pub fn remove(&mut self, group: &str, key: &str) {
        if let Some(g) = self.groups.iter_mut().find(|g| g.0 == group) {
            g.1.retain(|k| k.0 != key);
        }
    }

    /// The text GLib's `g_key_file_to_data` writes.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, (name, keys)) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[{name}]\n"));
            for (key, value) in keys {
                out.push_str(&format!("{key}={value}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ostree_pinned_origin() {
        let text = "[origin]\nrefspec=r\n\n[libostree-transient]\npinned=true\n";
        let mut file = KeyFile::parse(text);
        assert_eq!(file.to_text(), text);
        assert_eq!(file.get("libostree-transient", "pinned"), Some("true"));
        file.remove("libostree-transient", "pinned");
        assert_eq!(
            file.to_text(),
            "[origin]\nrefspec=r\n\n[libostree-transient]\n"
        );
    }
}
