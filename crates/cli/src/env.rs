//! The environment variables `ferro` reads, named once. Each is the default of an
//! argument (clap's `env`), so `--help` shows it and a flag always wins over it.

/// The OSTree repository `ferro ostree` works on when `--repo` is not given.
pub const OSTREE_REPO: &str = "OSTREE_REPO";
/// Where `ferro vm` keeps its VMs' files when `--state-dir` is not given.
pub const FERRO_VM_STATE_DIR: &str = "FERRO_VM_STATE_DIR";
/// Ignition's switch for writing SSH keys into `authorized_keys.d` fragments
/// (`false`: into `authorized_keys` itself).
pub const IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT: &str = "IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT";
/// The no-colour convention (<https://no-color.org>): set and not empty, no ANSI colours.
pub const NO_COLOR: &str = "NO_COLOR";
/// Debug builds only: stop a sysroot operation before its N-th step, as a crash would
/// (the crash-safety tests).
pub const FERRO_FAILPOINT: &str = "FERRO_FAILPOINT";
