//! Kernel arguments as an ordered list, with the edits rpm-ostree and `ostree admin`
//! offer. Order matters to the kernel (last value wins for most keys), so edits keep
//! positions: a replaced argument stays where it was.

use std::fmt;

use crate::error::Error;

/// An ordered kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kargs(Vec<String>);

/// One requested change, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KargEdit {
    /// `--append K[=V]`: add at the end (duplicates allowed).
    Append(String),
    /// `--delete K[=V]`: remove that exact argument, or the only one with key `K`.
    Delete(String),
    /// `--replace K=V` (the only `K`) or `--replace K=OLD=NEW` (that value of `K`).
    Replace(String),
}

fn key(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(k, _)| k)
}

impl Kargs {
    /// Splits a BLS `options` line on whitespace.
    pub fn parse(line: &str) -> Self {
        Kargs(line.split_whitespace().map(str::to_owned).collect())
    }

    /// The arguments in order.
    pub fn args(&self) -> &[String] {
        &self.0
    }

    /// The value of the first `key=value` argument.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|a| key(a) == k)
            .map(|a| a.split_once('=').map_or("", |(_, v)| v))
    }

    /// Sets `key=value` in place of the first argument with that key (dropping other
    /// ones with the key), or appends it: how OSTree maintains `ostree=` and `init=`.
    pub fn replace_or_append(&mut self, arg: &str) {
        let k = key(arg);
        match self.0.iter().position(|a| key(a) == k) {
            Some(first) => {
                self.0[first] = arg.to_owned();
                let mut i = 0;
                self.0.retain(|a| {
                    i += 1;
                    i - 1 == first || key(a) != k
                });
            }
            None => self.0.push(arg.to_owned()),
        }
    }

    /// Applies one edit; fails without changing anything when it does not apply.
    pub fn apply(&mut self, edit: &KargEdit) -> Result<(), Error> {
        match edit {
            KargEdit::Append(arg) => self.0.push(arg.clone()),
            KargEdit::Delete(arg) => {
                let matches: Vec<usize> = (0..self.0.len())
                    .filter(|&i| {
                        if arg.contains('=') {
                            self.0[i] == *arg
                        } else {
                            key(&self.0[i]) == arg
                        }
                    })
                    .collect();
                match matches[..] {
                    [] => return Err(Error::Kargs(format!("'{arg}' is not present"))),
                    [i] => {
                        self.0.remove(i);
                    }
                    _ if arg.contains('=') => {
                        self.0.remove(matches[0]);
                    }
                    _ => {
                        return Err(Error::Kargs(format!(
                            "'{arg}' has several values; delete one with '{arg}=VALUE'"
                        )));
                    }
                }
            }
            KargEdit::Replace(arg) => {
                let Some((k, rest)) = arg.split_once('=') else {
                    return Err(Error::Kargs(format!("'{arg}' is not KEY=VALUE")));
                };
                // `K=OLD=NEW` when `K=OLD` is present, else `K=VALUE` (values may
                // contain `=`, as in `root=UUID=…`).
                let (old, new) = match rest.split_once('=') {
                    Some((old, new)) if self.0.iter().any(|a| *a == format!("{k}={old}")) => {
                        (Some(old), new)
                    }
                    _ => (None, rest),
                };
                let matches: Vec<usize> = (0..self.0.len())
                    .filter(|&i| {
                        key(&self.0[i]) == k && old.is_none_or(|o| self.0[i] == format!("{k}={o}"))
                    })
                    .collect();
                match matches[..] {
                    [] => return Err(Error::Kargs(format!("no argument '{k}' to replace"))),
                    [i] => self.0[i] = format!("{k}={new}"),
                    _ => {
                        return Err(Error::Kargs(format!(
                            "'{k}' has several values; use '{k}=OLD=NEW'"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Kargs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_positions() {
        let mut k = Kargs::parse("root=LABEL=root rw console=tty0 console=ttyS0 ostree=/a");
        k.apply(&KargEdit::Append("quiet".into())).unwrap();
        k.apply(&KargEdit::Replace("root=UUID=x".into())).unwrap();
        k.apply(&KargEdit::Replace("console=ttyS0=ttyS1".into()))
            .unwrap();
        k.apply(&KargEdit::Delete("rw".into())).unwrap();
        k.replace_or_append("ostree=/b");
        assert_eq!(
            k.to_string(),
            "root=UUID=x console=tty0 console=ttyS1 ostree=/b quiet"
        );
        assert!(k.apply(&KargEdit::Delete("console".into())).is_err());
        assert!(k.apply(&KargEdit::Delete("nosuch".into())).is_err());
        assert!(k.apply(&KargEdit::Replace("console=x".into())).is_err());
        k.apply(&KargEdit::Delete("console=tty0".into())).unwrap();
        assert_eq!(k.get("console"), Some("ttyS1"));
    }
}
