//! The one printer: every byte `ferro` shows goes through it, so that data goes to
//! standard output, messages to standard error, progress only to a terminal, and JSON
//! is written the same way by every command.
//!
//! Output is block-buffered by the standard library when it is not a terminal; each
//! call writes whole lines, so a pipe never sees a half-written record.

use std::fmt;
use std::io::{self, Write};

/// Where a command's output goes, passed to every command.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {}

impl Printer {
    /// The printer for this process.
    pub fn new() -> Self {
        Printer {}
    }

    /// Writes `text` to standard output as it is.
    pub fn out(&self, text: impl fmt::Display) -> io::Result<()> {
        write!(io::stdout().lock(), "{text}")
    }

    /// Writes `text` and a newline to standard output.
    pub fn outln(&self, text: impl fmt::Display) -> io::Result<()> {
        writeln!(io::stdout().lock(), "{text}")
    }

    /// Writes raw bytes (a generated config, a file's contents) to standard output.
    pub fn out_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// Writes `value` as pretty JSON and a newline to standard output: `--json`.
    pub fn json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        Ok(self.outln(text)?)
    }

    /// Writes `text` to standard error as it is (reports that end their own lines).
    pub fn err(&self, text: impl fmt::Display) {
        // Standard error going away is not worth failing a command for.
        let _ = write!(io::stderr().lock(), "{text}");
    }

    /// Writes `text` and a newline to standard error.
    pub fn errln(&self, text: impl fmt::Display) {
        let _ = writeln!(io::stderr().lock(), "{text}");
    }
}
