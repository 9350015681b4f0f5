//! Deployment commands as clap types only: `ferro ostree admin …` (OSTree's verbs) and
//! the host commands `ferro status|rollback|kargs|cleanup` (rpm-ostree's).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where the sysroot is, and which command line names the booted deployment.
#[derive(Debug, Args)]
pub struct SysrootArgs {
    /// The physical root holding `ostree/` and `boot/`.
    #[arg(long, global = true, value_name = "PATH", default_value = "/")]
    pub sysroot: PathBuf,
    /// The kernel command line whose `ostree=` names the booted deployment.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "/proc/cmdline",
        hide = true
    )]
    pub cmdline: PathBuf,
}

/// `ferro ostree admin`: manage deployments, like `ostree admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// The verb.
    #[command(subcommand)]
    pub verb: AdminVerb,
}

/// The verbs of `ferro ostree admin`.
#[derive(Debug, Subcommand)]
pub enum AdminVerb {
    /// Create the sysroot skeleton and its `bare` repository in an existing directory.
    InitFs {
        /// The directory.
        path: PathBuf,
    },
    /// Create a stateroot (`ostree/deploy/OS` with a shared `/var`).
    OsInit {
        /// The stateroot name.
        osname: String,
    },
    /// Deploy a commit as the new default boot entry.
    Deploy {
        /// The stateroot.
        #[arg(long = "os", value_name = "OSNAME")]
        osname: Option<String>,
        /// Kernel arguments, replacing the merge deployment's (repeatable).
        #[arg(long = "karg", value_name = "ARG")]
        kargs: Vec<String>,
        /// Kernel arguments appended to the inherited ones (repeatable).
        #[arg(long = "karg-append", value_name = "ARG")]
        karg_append: Vec<String>,
        /// The ref or commit.
        rev: String,
    },
    /// List deployments in boot order.
    Status,
    /// Remove a deployment.
    Undeploy {
        /// Its index in `status`.
        index: usize,
    },
    /// Make a deployment the default boot entry.
    SetDefault {
        /// Its index in `status`.
        index: usize,
    },
    /// Protect a deployment from automatic removal.
    Pin {
        /// Remove the pin instead.
        #[arg(short, long)]
        unpin: bool,
        /// Its index in `status`.
        index: usize,
    },
    /// Delete unreferenced deployments, boot files and repository objects.
    Cleanup,
}

/// `ferro status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// Print JSON shaped like `rpm-ostree status --json`.
    #[arg(long)]
    pub json: bool,
    /// Also show kernel arguments and the `/etc` files that differ from the defaults.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `ferro kargs`: show or edit the default deployment's kernel arguments.
#[derive(Debug, Args)]
pub struct KargsArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// Add an argument (repeatable).
    #[arg(long, value_name = "KEY[=VALUE]")]
    pub append: Vec<String>,
    /// Remove an argument (repeatable).
    #[arg(long, value_name = "KEY[=VALUE]")]
    pub delete: Vec<String>,
    /// Change a value: `KEY=VALUE`, or `KEY=OLD=NEW` for one of several (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub replace: Vec<String>,
    /// The deployment to edit (default: 0, the default deployment).
    #[arg(long, default_value_t = 0)]
    pub deploy_index: usize,
}
