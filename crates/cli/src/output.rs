//! Writing results: standard output, or a file replaced atomically with mode 0600.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` (or standard output): to a temporary file in the same
/// directory, flushed to disk, then renamed over the target, so a failure never
/// leaves a partial file. Configs hold secrets, hence mode 0600.
pub fn write(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = path else {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        return Ok(stdout.flush()?);
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".ferro-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("could not create a file in '{}'", dir.display()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("could not write '{}'", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("could not replace '{}'", path.display()))?;
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
