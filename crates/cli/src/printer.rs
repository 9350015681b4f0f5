//! The one printer: every byte `ferro` shows goes through it, so that data goes to
//! standard output, messages to standard error, progress only to a terminal, and JSON
//! is written the same way by every command.
//!
//! Output is block-buffered by the standard library when it is not a terminal; each
//! call writes whole lines, so a pipe never sees a half-written record.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Where a command's output goes, passed to every command.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Whether standard error is a terminal: progress is drawn only there.
    progress: bool,
}

impl Printer {
    /// The printer for this process.
    pub fn new() -> Self {
        Printer {
            progress: io::stderr().is_terminal(),
        }
    }

    /// Standard output, locked, for a command that writes a table line by line.
    pub fn stdout(&self) -> io::StdoutLock<'static> {
        io::stdout().lock()
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

    /// Copies everything `reader` yields to standard output (a file's contents, which
    /// may be larger than memory) and flushes; the number of bytes copied.
    pub fn copy_out(&self, reader: &mut dyn Read) -> io::Result<u64> {
        let mut out = io::stdout().lock();
        let copied = io::copy(reader, &mut out)?;
        out.flush()?;
        Ok(copied)
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

    /// A spinner showing `message` and the time elapsed, on a terminal; hidden (and
    /// free) in a pipe, so logs stay clean.
    pub fn spinner(&self, message: impl Into<String>) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}
