//! Package layering as clap types only: `ferro install|uninstall`, `ferro override
//! remove|reset` and `ferro apply-live`, with rpm-ostree's flags.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::args_admin::{ApplyArgs, SysrootArgs};

/// Flags every layering command has.
#[derive(Debug, Args)]
pub struct LayerFlags {
    /// Where and how the new deployment is made.
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Resolve and print the transaction; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// A request already made is a no-op, not an error.
    #[arg(long)]
    pub idempotent: bool,
    /// Exit 77 when nothing changed (with `--idempotent`).
    #[arg(long)]
    pub unchanged_exit_77: bool,
    /// Also make the new deployment's additions available now, without a reboot
    /// (`ferro apply-live`).
    #[arg(short = 'A', long)]
    pub apply_live: bool,
    /// With `--apply-live`: also apply changes and removals of files.
    #[arg(long, requires = "apply_live")]
    pub allow_replacement: bool,
}

/// `ferro install PKG…|FILE.deb…`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// How.
    #[command(flatten)]
    pub flags: LayerFlags,
    /// Accept packages the base already has (inactive requests, layered if a later
    /// base drops them).
    #[arg(long)]
    pub allow_inactive: bool,
    /// Package names from the image's apt sources, or paths of local `.deb` files.
    #[arg(required = true, value_name = "PKG|FILE.deb")]
    pub packages: Vec<String>,
}

/// `ferro uninstall PKG…`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// How.
    #[command(flatten)]
    pub flags: LayerFlags,
    /// Also add these packages (as `ferro install` does).
    #[arg(long, value_name = "PKG")]
    pub install: Vec<String>,
    /// Layered packages to remove from the request.
    #[arg(required = true, value_name = "PKG")]
    pub packages: Vec<String>,
}

/// `ferro override`.
#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// What to override.
    #[command(subcommand)]
    pub verb: OverrideVerb,
}

/// `ferro override remove|reset`.
#[derive(Debug, Subcommand)]
pub enum OverrideVerb {
    /// Remove packages of the base in a new deployment.
    Remove {
        /// How.
        #[command(flatten)]
        flags: LayerFlags,
        /// Base packages.
        #[arg(required = true, value_name = "PKG")]
        packages: Vec<String>,
    },
    /// Undo removals of base packages.
    Reset {
        /// How.
        #[command(flatten)]
        flags: LayerFlags,
        /// Undo every removal.
        #[arg(short, long, conflicts_with = "packages")]
        all: bool,
        /// Base packages.
        #[arg(required_unless_present = "all", value_name = "PKG")]
        packages: Vec<String>,
    },
}

/// `ferro apply-live`.
#[derive(Debug, Args)]
pub struct ApplyLiveArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// Also apply changes and removals of files, not only additions.
    #[arg(long)]
    pub allow_replacement: bool,
    /// The root whose `/usr` gets the overlay (tests use a scratch root).
    #[arg(long, default_value = "/", hide = true)]
    pub root: PathBuf,
}
