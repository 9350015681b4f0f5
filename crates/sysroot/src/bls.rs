//! Boot Loader Specification entries (`/boot/loader.N/entries/*.conf`): `key value`
//! lines. OSTree's deployment list *is* the set of entries of the current boot version,
//! so this is also how deployments are found.

/// One entry's fields in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    fields: Vec<(String, String)>,
}

impl BlsEntry {
    /// Parses entry text; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.split_once(char::is_whitespace) {
                Some((k, v)) => (k.to_owned(), v.trim().to_owned()),
                None => (l.to_owned(), String::new()),
            })
            .collect();
        BlsEntry { fields }
    }

    /// Adds a field at the end.
    pub fn push(&mut self, key: &str, value: &str) {
        self.fields.push((key.to_owned(), value.to_owned()));
    }

    /// Sets the first `key` field to `value`, or adds it at the end.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.fields.iter_mut().find(|f| f.0 == key) {
            Some(field) => field.1 = value.to_owned(),
            None => self.push(key, value),
        }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.0 == key)
            .map(|f| f.1.as_str())
    }

    /// The entry as OSTree writes it: one `key value` line per field.
    pub fn to_text(&self) -> String {
        self.fields
            .iter()
            .map(|(k, v)| format!("{k} {v}\n"))
            .collect()
    }
}

/// Orders entries the way OSTree lists deployments: highest `version` first (numeric
/// when both are numbers), then by file name descending.
pub(crate) fn sort_entries(entries: &mut [(String, BlsEntry)]) {
    entries.sort_by(|(an, a), (bn, b)| {
        let (av, bv) = (
            a.get("version").unwrap_or(""),
            b.get("version").unwrap_or(""),
        );
        match (av.parse::<u64>(), bv.parse::<u64>()) {
            (Ok(x), Ok(y)) => y.cmp(&x),
            _ => bv.cmp(av),
        }
        .then_with(|| bn.cmp(an))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_sorts() {
        let text = "title T 2.0 (ostree:0)\nversion 2\noptions a=b  c\nlinux /x\n";
        let e = BlsEntry::parse(text);
        assert_eq!(e.get("options"), Some("a=b  c"));
        assert_eq!(
            BlsEntry::parse(&e.to_text()).to_text(),
            "title T 2.0 (ostree:0)\nversion 2\noptions a=b  c\nlinux /x\n"
        );
        let mut v = vec![
            ("a".to_owned(), BlsEntry::parse("version 9")),
            ("b".to_owned(), BlsEntry::parse("version 10")),
        ];
        sort_entries(&mut v);
        assert_eq!(v[0].0, "b");
    }
}
