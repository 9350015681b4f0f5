//! The environment variables `ferro` reads, named once. Each is the default of an
//! argument (clap's `env`), so `--help` shows it and a flag always wins over it.

/// The OSTree repository `ferro ostree` works on when `--repo` is not given.
pub const OSTREE_REPO: &str = "OSTREE_REPO";
/// The sysroot `ferro ostree admin` (and host commands) work on when `--sysroot` is
/// not given, and whose `ostree/repo` other `ferro ostree` verbs use without `--repo`.
pub const OSTREE_SYSROOT: &str = "OSTREE_SYSROOT";
/// OSTree's switch making `ostree admin upgrade` stage the new deployment (`1`).
pub const OSTREE_EX_STAGE_DEPLOYMENTS: &str = "OSTREE_EX_STAGE_DEPLOYMENTS";
/// The reproducible-builds commit time (seconds since the epoch) of `ferro ostree
/// commit` when `--timestamp` is not given.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// OSTree's sysroot debug switches (`mutable-deployments`), which its test suite sets.
pub const OSTREE_SYSROOT_DEBUG: &str = "OSTREE_SYSROOT_DEBUG";
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
/// The log level of `ferro fleet serve` (`error`, `warn`, `info`, `debug`, `trace`).
pub const FERRO_LOG: &str = "FERRO_LOG";
/// The fleet server the admin commands (`ferro fleet locks`, …) talk to.
pub const FERRO_FLEET_SERVER: &str = "FERRO_FLEET_SERVER";
/// The admin token of the fleet admin commands.
pub const FERRO_FLEET_TOKEN: &str = "FERRO_FLEET_TOKEN";
/// The CA certificates (PEM) the fleet admin commands trust for an https:// server.
pub const FERRO_FLEET_CA: &str = "FERRO_FLEET_CA";
