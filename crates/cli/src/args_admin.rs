//! Deployment commands as clap types only: `ferro ostree admin …` (OSTree's verbs),
//! the host commands `ferro status|deploy|upgrade|rebase|rollback|kargs|cleanup`
//! (rpm-ostree's) and `ferro prepare-root` (the initramfs side).

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
    /// Where the staged deployment is recorded (a tmpfs on a live system).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = ferro_sysroot::DEFAULT_RUN_DIR,
        hide = true
    )]
    pub run_dir: PathBuf,
    /// Debug builds only: stop the operation before its N-th step, as a crash would
    /// (the crash-safety tests set `FERRO_FAILPOINT`); release builds ignore it.
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = crate::env::FERRO_FAILPOINT,
        hide = true
    )]
    pub failpoint: Option<usize>,
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
        /// Prepare it now; make it the default at shutdown (`finalize-staged`).
        #[arg(long)]
        stage: bool,
        /// The ref or commit.
        rev: String,
    },
    /// Make the staged deployment the default (run at shutdown by
    /// ferro-finalize-staged.service).
    FinalizeStaged,
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

/// How `ferro deploy|upgrade|rebase` apply and report a new deployment.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// Prepare the deployment now and make it the default at shutdown.
    #[arg(long)]
    pub stage: bool,
    /// Run `systemctl reboot` once the new deployment is in place.
    #[arg(short, long)]
    pub reboot: bool,
    /// Print the result as JSON (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `ferro deploy REV`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Where and how.
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// A commit or ref of the sysroot's repository.
    pub rev: String,
}

/// `ferro upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Where and how.
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Only report whether an update is available (exit 77 when there is none).
    #[arg(long, conflicts_with_all = ["stage", "reboot"])]
    pub check: bool,
}

/// `ferro rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// Run `systemctl reboot` once the previous deployment is the default.
    #[arg(short, long)]
    pub reboot: bool,
}

/// `ferro rebase REFSPEC`.
#[derive(Debug, Args)]
pub struct RebaseArgs {
    /// Where and how.
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// The new origin: `REMOTE:REF` (pulled first) or a local `REF`.
    pub refspec: String,
}

/// `ferro prepare-root`.
#[derive(Debug, Args)]
pub struct PrepareRootArgs {
    /// The physical root's mount point; it becomes the deployment.
    #[arg(default_value = "/sysroot")]
    pub root: PathBuf,
    /// The kernel command line with the `ostree=` argument.
    #[arg(long, value_name = "FILE", default_value = "/proc/cmdline")]
    pub cmdline: PathBuf,
}
