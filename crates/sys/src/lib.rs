//! The bottom layer of ferrocore: the mechanisms every other crate shares, each written
//! once so that they cannot drift apart.
//!
//! - [`atomic`]: the one atomic file writer. A file is filled while it has no name (an
//!   `O_TMPFILE` inode, or a named temporary file where the filesystem cannot do that)
//!   and only then given its name, so a reader sees the old content or the new, never a
//!   part. Its modes are named in the API: [`atomic::Collision::Keep`] (*create-only*:
//!   an existing target means "already stored", as content-addressed OSTree objects
//!   need) and [`atomic::Collision::Replace`] (config files, outputs); writes relative
//!   to a directory descriptor are the *confined* form the Ignition engine builds on.
//! - [`error`]: [`IoError`], "could not ACTION 'PATH'" with the `io::Error` as source;
//!   every crate's error type wraps it instead of defining its own.
//! - [`command`]: [`CommandRunExt`], the one way a subprocess is run, whose errors carry
//!   the command line, the exit status and the tail of standard error, and tell a
//!   program that is not installed (with the Debian package that has it) from one that
//!   failed.
//! - [`http`]: what every HTTP client of ferrocore agrees on: which failures are worth
//!   another try, the backoff between tries, and the agent settings.
//! - [`size`]: byte counts as GLib's `g_format_size` prints them, which `ostree` output
//!   uses.
//! - [`dirs`]: the XDG base directories (state, cache, runtime) with their fallbacks.
//! - [`locks`]: who waits on a file lock, the event to synchronise on instead of a sleep.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod atomic;
pub mod command;
pub mod dirs;
pub mod error;
pub mod http;
pub mod locks;
pub mod size;

pub use command::{CommandError, CommandRunExt};
pub use error::{IoError, IoResultExt, error_chain, io_err};
