//! systemd units and drop-ins: names, contents as go-systemd reads them, and the
//! `[Install]` section that enabling needs.

use ferro_document::{Path, Report};

use crate::Systemd;

/// systemd's LINE_MAX as go-systemd enforces it.
const LINE_MAX: usize = 2048;

/// One `Name=value` assignment of a unit file; only its section matters here.
struct UnitOption {
    section: String,
}

/// Reads unit file text the way go-systemd's `unit.Deserialize` does, returning the
/// section of every assignment or go-systemd's error text.
fn deserialize(content: &str) -> Result<Vec<UnitOption>, String> {
    let bytes = content.as_bytes();
    let mut lexer = Lexer { bytes, pos: 0 };
    let mut options = Vec::new();
    let mut section: Option<String> = None;
    loop {
        lexer.check_line_length()?;
        let Some(c) = lexer.next_char() else {
            return Ok(options);
        };
        match (c, &section) {
            ('[', _) => {
                let Some(end) = bytes[lexer.pos..].iter().position(|&b| b == b']') else {
                    return Err("unable to find end of section".to_owned());
                };
                let name = String::from_utf8_lossy(&bytes[lexer.pos..lexer.pos + end]).into_owned();
                lexer.pos += end + 1;
                lexer.check_line_length()?;
                let garbage = lexer.line_rest().trim_ascii();
                if !garbage.is_empty() {
                    // go-systemd prints the bytes with `%v` and an always-empty name.
                    let bytes: Vec<String> = garbage.iter().map(u8::to_string).collect();
                    return Err(format!(
                        "found garbage after section name : [{}]",
                        bytes.join(" ")
                    ));
                }
                section = Some(name);
            }
            ('#' | ';', _) => lexer.ignore_line(),
            (_, None) => {}
            (c, Some(_)) if c.is_whitespace() => {}
            (c, Some(name)) => {
                lexer.pos -= c.len_utf8();
                lexer.option()?;
                options.push(UnitOption {
                    section: name.clone(),
                });
            }
        }
    }
}

struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn check_line_length(&self) -> Result<(), String> {
        let rest = &self.bytes[self.pos..];
        if rest.len() >= LINE_MAX && !rest[..LINE_MAX].iter().any(|&b| b == b'\n' || b == b'\r') {
            return Err(format!("line too long (max {LINE_MAX} bytes)"));
        }
        Ok(())
    }

    fn next_char(&mut self) -> Option<char> {
        let rest = std::str::from_utf8(&self.bytes[self.pos..]).ok()?;
        let c = rest.chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// The rest of the line without its `\n` and a `\r` before it.
    fn line_rest(&mut self) -> &[u8] {
        let rest = &self.bytes[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.pos += (end + 1).min(rest.len());
        let line = &rest[..end];
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    fn ignore_line(&mut self) {
        while self.pos < self.bytes.len() {
            let line = self.line_rest();
            let line = line.strip_suffix(b" ").unwrap_or(line);
            if !line.ends_with(b"\\") {
                break;
            }
        }
    }

    /// `Name=value` with continuation lines.
    fn option(&mut self) -> Result<(), String> {
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err("EOF".to_owned());
            };
            self.pos += 1;
            match b {
                b'\n' | b'\r' => {
                    return Err(
                        "unexpected newline encountered while parsing option name".to_owned()
                    );
                }
                b'=' => break,
                _ => {}
            }
        }
        loop {
            self.check_line_length()?;
            let line = self.line_rest();
            if line.trim_ascii().is_empty()
                || !line.ends_with(b"\\")
                || self.pos >= self.bytes.len()
            {
                return Ok(());
            }
        }
    }
}

fn install_missing(content: Option<&str>) -> bool {
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        return false;
    };
    match deserialize(content) {
        Ok(options) => !options.iter().any(|o| o.section == "Install"),
        Err(_) => false,
    }
}

/// Units and drop-ins, after the section-wide template check.
pub fn check_systemd(systemd: &Systemd, at: &Path, report: &mut Report) {
    let units = at.key("units");
    for (index, unit) in systemd.units.iter().enumerate() {
        if unit.enabled != Some(true) {
            continue;
        }
        let Some((prefix, instance)) = unit.name.split_once('@') else {
            continue;
        };
        if instance.starts_with('.') || !instance.ends_with(".service") {
            continue;
        }
        let template = format!("{prefix}@.service");
        let Some(template_unit) = systemd.units.iter().rev().find(|u| u.name == template) else {
            continue;
        };
        if install_missing(template_unit.contents.as_deref()) {
            report.warning(
                units.index(index).key("contents"),
                format!(
                    "template unit {template:?} for {:?} doesn't have Install section",
                    unit.name
                ),
            );
        }
    }
    for (index, unit) in systemd.units.iter().enumerate() {
        let at = units.index(index);
        if !matches!(
            extension(&unit.name),
            ".service"
                | ".socket"
                | ".device"
                | ".mount"
                | ".automount"
                | ".swap"
                | ".target"
                | ".path"
                | ".timer"
                | ".snapshot"
                | ".slice"
                | ".scope"
        ) {
            report.error(at.key("name"), "invalid systemd unit extension");
        }
        if let Some(contents) = &unit.contents
            && let Err(error) = deserialize(contents)
        {
            report.error(at.key("contents"), format!("invalid unit content: {error}"));
        }
        if unit.enabled == Some(true) && install_missing(unit.contents.as_deref()) {
            report.warning(
                at.key("contents"),
                format!(
                    "unit {:?} is enabled, but has no install section so enable does nothing",
                    unit.name
                ),
            );
        }
        for (dropin_index, dropin) in unit.dropins.iter().enumerate() {
            let at = at.key("dropins").index(dropin_index);
            if let Some(contents) = &dropin.contents
                && let Err(error) = deserialize(contents)
            {
                report.error(at.key("contents"), format!("invalid unit content: {error}"));
            }
            if extension(&dropin.name) != ".conf" {
                report.error(at.key("name"), "invalid systemd drop-in extension");
            }
        }
    }
}

/// Go's `path.Ext`: from the last dot of the last element.
fn extension(name: &str) -> &str {
    let last = name.rfind('/').map_or(name, |i| &name[i + 1..]);
    last.rfind('.').map_or("", |i| &last[i..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dropin, Unit};

    fn error(content: &str) -> Option<String> {
        deserialize(content).err()
    }

    #[test]
    fn reads_unit_files_like_go_systemd() {
        assert_eq!(
            error("[Unit]\nDescription=x\n[Install]\nWantedBy=a\n"),
            None
        );
        assert_eq!(error("junk before\n[Unit]\n"), None);
        assert_eq!(error("[Unit]\n# c \\\n  still comment\nA=b \\\n c\n"), None);
        assert_eq!(error("[Unit"), Some("unable to find end of section".into()));
        assert_eq!(error("[Unit]\nDescription"), Some("EOF".into()));
        assert_eq!(
            error("[Unit]\nDescription\nx=1"),
            Some("unexpected newline encountered while parsing option name".into())
        );
        assert_eq!(
            error("[Unit] xy\n"),
            Some("found garbage after section name : [120 121]".into())
        );
        assert_eq!(
            error(&format!("[Unit]\nA={}", "x".repeat(LINE_MAX))),
            Some("line too long (max 2048 bytes)".into())
        );
        let options = deserialize("[Unit]\nA=1\n[Install]\nB=2").unwrap_or_default();
        assert_eq!(options.len(), 2);
        assert_eq!(options[1].section, "Install");
    }

    fn lines(systemd: &Systemd) -> Vec<String> {
        let mut report = Report::new();
        check_systemd(systemd, &Path::parse("systemd"), &mut report);
        report.entries.iter().map(|e| e.to_string()).collect()
    }

    fn unit(name: &str, enabled: bool, contents: Option<&str>) -> Unit {
        Unit {
            name: name.into(),
            enabled: Some(enabled),
            contents: contents.map(Into::into),
            ..Unit::default()
        }
    }

    #[test]
    fn checks_names_contents_and_install_sections() {
        let mut bad = unit("foo", false, Some("[Unit"));
        bad.dropins.push(Dropin {
            name: "x.txt".into(),
            contents: Some("[A]\nB".into()),
        });
        let systemd = Systemd {
            units: vec![
                bad,
                unit("a.service", true, Some("[Unit]\nA=1\n")),
                unit("b.service", true, Some("[Unit]\n")),
            ],
        };
        assert_eq!(
            lines(&systemd),
            vec![
                "error at $.systemd.units.0.name: invalid systemd unit extension",
                "error at $.systemd.units.0.contents: invalid unit content: unable to find end of section",
                "error at $.systemd.units.0.dropins.0.contents: invalid unit content: EOF",
                "error at $.systemd.units.0.dropins.0.name: invalid systemd drop-in extension",
                "warning at $.systemd.units.1.contents: unit \"a.service\" is enabled, but has no install section so enable does nothing",
                // A section without options has no Install section either
                // (as `ignition-validate` 2.14 reports it).
                "warning at $.systemd.units.2.contents: unit \"b.service\" is enabled, but has no install section so enable does nothing"
            ]
        );
    }

    #[test]
    fn checks_templates_of_enabled_instances() {
        let systemd = Systemd {
            units: vec![
                unit("echo@.service", false, Some("[Unit]\nA=1\n")),
                unit("echo@bar.service", true, None),
            ],
        };
        assert_eq!(
            lines(&systemd),
            vec![
                "warning at $.systemd.units.1.contents: template unit \"echo@.service\" for \"echo@bar.service\" doesn't have Install section"
            ]
        );
    }
}
