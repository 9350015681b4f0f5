//! Printing reports about a user's config on standard error.

use std::io::IsTerminal;

use ferro_document::Report;
use ferro_document::report::Pretty;

use crate::args::Color;

/// How a report is printed.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// One line per entry (`--raw-errors`).
    pub raw: bool,
    /// ANSI colours.
    pub color: bool,
}

impl Style {
    /// The style for `--raw-errors` and `--color`; `no_color` is `NO_COLOR`'s value.
    pub fn new(raw: bool, color: Color, no_color: Option<&str>) -> Self {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::io::stderr().is_terminal() && no_color.is_none_or(str::is_empty),
        };
        Self { raw, color }
    }

    /// The report as text: snippets of `source` (named `name`), or one line per entry.
    pub fn render(&self, report: &Report, source: &str, name: &str) -> String {
        if self.raw {
            return report.to_string();
        }
        Pretty {
            source,
            name,
            color: self.color,
        }
        .render(report)
    }
}

/// The entries of `report` as JSON objects, for `--json` output.
pub fn entries_json(report: &Report) -> serde_json::Value {
    report
        .entries
        .iter()
        .map(|entry| {
            serde_json::json!({
                "kind": entry.kind.to_string(),
                "path": entry.path.as_ref().map(ToString::to_string),
                "line": entry.mark.map(|m| m.line),
                "column": entry.mark.map(|m| m.column),
                "message": entry.message,
            })
        })
        .collect()
}
