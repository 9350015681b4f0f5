//! The XDG base directories, read in one place: where per-user state, caches and
//! runtime files (sockets, pidfiles) go when the user names no directory.

use std::path::PathBuf;

/// A variable's value as a path, when set and not empty (the XDG rule: an empty value
/// counts as unset).
fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_RUNTIME_DIR/SUB`: files that must not outlive the login (sockets, pidfiles);
/// `None` when the variable is unset.
pub fn runtime_dir(sub: &str) -> Option<PathBuf> {
    var("XDG_RUNTIME_DIR").map(|dir| dir.join(sub))
}

/// `$XDG_STATE_HOME/SUB`, else `~/.local/state/SUB`; `None` without a home.
pub fn state_dir(sub: &str) -> Option<PathBuf> {
    var("XDG_STATE_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".local/state")))
        .map(|dir| dir.join(sub))
}

/// `$XDG_CACHE_HOME/SUB`, else `~/.cache/SUB`; `None` without a home.
pub fn cache_dir(sub: &str) -> Option<PathBuf> {
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join(sub))
}
