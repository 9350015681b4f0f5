//! Reports about a user's config: what is wrong or doubtful, and where.
//!
//! The one-line form is Ignition's and Butane's `--raw-errors` form
//! (`error at $.storage.files.0.mode, line 6 col 13: illegal file mode`); the pretty
//! form shows the lines around the place with a caret under it.

use std::fmt;

use crate::{Mark, Path};

/// How serious a report entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The config cannot be used.
    Error,
    /// The config works but probably not as intended.
    Warning,
    /// For information only.
    Info,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Error => "error",
            Kind::Warning => "warning",
            Kind::Info => "info",
        })
    }
}

/// One finding about a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// How serious it is.
    pub kind: Kind,
    /// What is wrong, in the wording of the reference tools.
    pub message: String,
    /// Where in the config, if the finding is about one place.
    pub path: Option<Path>,
    /// Where in the source text, once known.
    pub mark: Option<Mark>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.path, self.mark) {
            (Some(path), Some(mark)) => {
                write!(f, " at {path}, line {} col {}", mark.line, mark.column)?
            }
            (Some(path), None) => write!(f, " at {path}")?,
            (None, Some(mark)) => write!(f, " at line {} col {}", mark.line, mark.column)?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// An ordered list of findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The findings, in the order they were made.
    pub entries: Vec<Entry>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry of `kind` about `path`.
    pub fn add(&mut self, kind: Kind, path: Path, message: impl Into<String>) {
        self.entries.push(Entry {
            kind,
            message: message.into(),
            path: Some(path),
            mark: None,
        });
    }

    /// Adds an error about `path`.
    pub fn error(&mut self, path: Path, message: impl Into<String>) {
        self.add(Kind::Error, path, message);
    }

    /// Adds a warning about `path`.
    pub fn warning(&mut self, path: Path, message: impl Into<String>) {
        self.add(Kind::Warning, path, message);
    }

    /// Appends every entry of `other`.
    pub fn extend(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }

    /// Whether any entry is an error.
    pub fn is_fatal(&self) -> bool {
        self.entries.iter().any(|e| e.kind == Kind::Error)
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Rewrites every entry's path with `f`, e.g. to prefix or translate it.
    pub fn map_paths(&mut self, mut f: impl FnMut(&Path) -> Path) {
        for entry in &mut self.entries {
            if let Some(path) = &entry.path {
                entry.path = Some(f(path));
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(f, "{entry}")?;
        }
        Ok(())
    }
}

/// Renders entries with the source lines around their place, as Butane does by default.
#[derive(Debug, Clone, Copy)]
pub struct Pretty<'a> {
    /// The text the entries are about.
    pub source: &'a str,
    /// The name shown after `-->`, usually the file name.
    pub name: &'a str,
    /// Whether to use ANSI colours.
    pub color: bool,
}

const CONTEXT_LINES: usize = 2;

impl Pretty<'_> {
    /// Renders all entries, separated by blank lines.
    pub fn render(&self, report: &Report) -> String {
        let blocks: Vec<String> = report.entries.iter().map(|e| self.entry(e)).collect();
        blocks.join("\n")
    }

    /// Renders one entry; entries without a usable place fall back to the one-line form.
    pub fn entry(&self, entry: &Entry) -> String {
        let lines: Vec<&str> = self.source.split('\n').collect();
        let Some(mark) = entry.mark.filter(|m| {
            m.line >= 1
                && m.line <= lines.len()
                && m.column >= 1
                && m.column <= lines[m.line - 1].len()
        }) else {
            return format!("{entry}\n");
        };
        let kind = entry.kind.to_string();
        let (kind_color, blue, reset) = if self.color {
            let kind_color = match entry.kind {
                Kind::Error => "\x1b[31m",
                Kind::Warning => "\x1b[33m",
                Kind::Info => "\x1b[36m",
            };
            (kind_color, "\x1b[34m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let mut out = String::new();
        match &entry.path {
            Some(path) if !path.is_root() => {
                out.push_str(&format!("{kind_color}{kind}{reset}[{path}]:\n"))
            }
            _ => out.push_str(&format!("{kind_color}{kind}{reset}:\n")),
        }
        out.push_str(&format!(
            "  {blue}-->{reset} {}:{}:{}\n",
            self.name, mark.line, mark.column
        ));
        let first = mark.line.saturating_sub(CONTEXT_LINES).max(1);
        let last = (mark.line + CONTEXT_LINES).min(lines.len());
        let width = last.to_string().len();
        let gutter = format!(" {blue}{:width$} |{reset}", "");
        out.push_str(&gutter);
        out.push('\n');
        for number in first..=last {
            let text = lines[number - 1];
            out.push_str(&format!(" {blue}{number:>width$} |{reset} {text}\n"));
            if number == mark.line {
                // Butane indents by the column (characters) but underlines from that
                // *byte* offset to the next blank, byte by byte, as its Go code does.
                let start = mark.column - 1;
                let run = (start..text.len())
                    .find(|&at| {
                        text.is_char_boundary(at)
                            && text[at..].chars().next().is_some_and(char::is_whitespace)
                    })
                    .unwrap_or(text.len())
                    - start;
                out.push_str(&format!(
                    "{gutter} {}{blue}{}{reset} {}\n",
                    " ".repeat(start),
                    "^".repeat(run),
                    entry.message
                ));
            }
        }
        out.push_str(&gutter);
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, line: usize, column: usize, message: &str) -> Entry {
        Entry {
            kind: Kind::Warning,
            message: message.into(),
            path: Some(Path::parse(path)),
            mark: Some(Mark::new(line, column)),
        }
    }

    #[test]
    fn one_line_form_names_path_and_position() {
        let e = entry("storage.files.0.mode", 6, 13, "illegal file mode");
        assert_eq!(
            e.to_string(),
            "warning at $.storage.files.0.mode, line 6 col 13: illegal file mode"
        );
        let e = Entry { mark: None, ..e };
        assert_eq!(
            e.to_string(),
            "warning at $.storage.files.0.mode: illegal file mode"
        );
    }

    #[test]
    fn pretty_form_underlines_the_token() {
        let source = "a:\n  b:\n    - path: /x\n      mode: 644\n";
        let pretty = Pretty {
            source,
            name: "c.bu",
            color: false,
        };
        let text = pretty.entry(&entry("b.0.mode", 4, 13, "bad"));
        let expected = "warning[$.b.0.mode]:\n  --> c.bu:4:13\n   |\n 2 |   b:\n 3 |     - path: /x\n 4 |       mode: 644\n   |             ^^^ bad\n 5 | \n   |\n";
        assert_eq!(text, expected);
    }

    // Case 64 of the differential test: Butane's underline counts bytes.
    #[test]
    fn pretty_form_underlines_bytes_from_the_column() {
        let pretty = Pretty {
            source: "a:\n  - inline: \"ünïcödé ✓\"\n",
            name: "c.bu",
            color: false,
        };
        let text = pretty.entry(&entry("a.0.inline", 2, 13, "bad"));
        assert!(
            text.contains("\n   |             ^^^^^^^^^^^^ bad\n"),
            "{text}"
        );
    }

    #[test]
    fn pretty_form_falls_back_outside_the_text() {
        let pretty = Pretty {
            source: "a: 1\n",
            name: "c.bu",
            color: false,
        };
        let text = pretty.entry(&entry("a", 1, 40, "bad"));
        assert_eq!(text, "warning at $.a, line 1 col 40: bad\n");
    }
}
