//! Writing results: standard output, or a file replaced atomically with mode 0600.

use std::path::Path;

use anyhow::Context;
use ferro_sys::atomic::{WriteOptions, write_file, write_file_with};

use crate::printer::Printer;

/// Writes `bytes` to `path` (or standard output) with the one atomic writer: a failure
/// never leaves a partial file. Configs hold secrets, hence mode 0600.
pub fn write(printer: &Printer, path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(printer.out_bytes(bytes)?);
    };
    write_file(path, bytes, WriteOptions::replace(0o600))?;
    Ok(())
}

/// [`write`] with the bytes written by `fill` as they are made (buffered), for output
/// too large to hold twice.
pub fn write_with(
    printer: &Printer,
    path: Option<&Path>,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let Some(path) = path else {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, printer.stdout());
        fill(&mut out)?;
        out.flush()?;
        return Ok(());
    };
    write_file_with(path, WriteOptions::replace(0o600), |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        fill(&mut out)?;
        out.flush()
    })?;
    Ok(())
}

/// Reads an input file, or standard input for `None` and `-`.
pub fn read_input(path: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p)
            .map_err(|e| anyhow::anyhow!("failed to open {}: {}", p.display(), os_text(&e))),
    }
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .context("could not read standard input")?;
    Ok(bytes)
}

/// An OS error without Rust's `(os error N)` suffix, as Go tools print them.
fn os_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_lowercase(),
        None => text,
    }
}
