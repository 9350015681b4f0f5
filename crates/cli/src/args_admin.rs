//! Deployment commands as clap types only: `ferro ostree admin …` (OSTree's verbs),
//! the host commands `ferro status|deploy|upgrade|rebase|rollback|kargs|cleanup`
//! (rpm-ostree's) and `ferro prepare-root` (the initramfs side).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where the sysroot is, and which command line names the booted deployment.
#[derive(Debug, Args)]
pub struct SysrootArgs {
    /// The physical root holding `ostree/` and `boot/`.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "/",
        env = crate::env::OSTREE_SYSROOT
    )]
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
    /// OSTree's debug switches, comma-separated (`mutable-deployments`, `no-dtb`,
    /// `test-fifreeze`; see ferro-sysroot's `SysrootDebug`).
    #[arg(
        long = "ostree-sysroot-debug",
        global = true,
        hide = true,
        env = crate::env::OSTREE_SYSROOT_DEBUG,
        value_name = "FLAGS"
    )]
    pub debug: Option<String>,
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
    /// Print the first deployment's directory (the booted one on a running system).
    #[arg(long)]
    pub print_current_dir: bool,
    /// The verb.
    #[command(subcommand)]
    pub verb: Option<AdminVerb>,
}

/// The verbs of `ferro ostree admin`.
#[derive(Debug, Subcommand)]
pub enum AdminVerb {
    /// Create the sysroot skeleton and its `bare` repository in an existing directory.
    InitFs {
        /// Create only `boot` and `ostree/`.
        #[arg(long)]
        modern: bool,
        /// The directory.
        path: PathBuf,
    },
    /// Installer helpers.
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
    Instutil {
        /// The helper.
        #[command(subcommand)]
        verb: InstutilVerb,
    },
    /// Edit the deployments' kernel arguments.
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
    Kargs {
        /// How.
        #[command(subcommand)]
        verb: AdminKargsVerb,
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
        /// Kernel arguments set over the merge deployment's: each replaces the argument
        /// with its key or is appended (repeatable).
        #[arg(long = "karg", value_name = "ARG")]
        kargs: Vec<String>,
        /// Kernel arguments appended to the inherited ones (repeatable).
        #[arg(long = "karg-append", value_name = "ARG")]
        karg_append: Vec<String>,
        /// Kernel arguments removed from the inherited ones (repeatable).
        #[arg(long = "karg-delete", value_name = "ARG")]
        karg_delete: Vec<String>,
        /// Start from the running kernel's arguments (`/proc/cmdline`).
        #[arg(long)]
        karg_proc_cmdline: bool,
        /// Start from no kernel arguments, not the merge deployment's.
        #[arg(long, conflicts_with = "karg_proc_cmdline")]
        karg_none: bool,
        /// Keep every existing deployment.
        #[arg(long)]
        retain: bool,
        /// Keep the rollback deployments (after the booted one; all when not booted).
        #[arg(long)]
        retain_rollback: bool,
        /// Keep the pending deployments (before the booted one).
        #[arg(long)]
        retain_pending: bool,
        /// Add it after the booted deployment (last when none is) instead of as the
        /// default.
        #[arg(long)]
        not_as_default: bool,
        /// Carry nothing over: `/etc` as shipped, no inherited kernel arguments.
        #[arg(long)]
        no_merge: bool,
        /// Prepare it now; make it the default at shutdown (`finalize-staged`); only on
        /// a system booted from this sysroot.
        #[arg(long)]
        stage: bool,
        /// The ref or commit.
        rev: String,
    },
    /// Follow another ref (the remote stays unless REF names one) and deploy it.
    Switch {
        /// The stateroot (default: the booted or default deployment's).
        #[arg(long = "os", value_name = "OSNAME")]
        osname: Option<String>,
        /// Prepare it now; make it the default at shutdown (`finalize-staged`).
        #[arg(long)]
        stage: bool,
        /// The new ref, or `REMOTE:REF`.
        refspec: String,
    },
    /// Make a deployment follow its ref from another remote (added unless it exists).
    SetOrigin {
        /// The deployment's index in `status`.
        #[arg(long, default_value_t = 0)]
        index: usize,
        /// Set an option of the new remote.
        #[arg(long, value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The remote's name.
        remote: String,
        /// Its URL.
        url: String,
        /// Accepted for compatibility (`ostree` takes a branch here).
        #[arg(hide = true)]
        branch: Option<String>,
    },
    /// Pull the stateroot's origin refspec and deploy its newest commit.
    Upgrade {
        /// The stateroot (default: the booted or default deployment's).
        #[arg(long = "os", value_name = "OSNAME")]
        osname: Option<String>,
        /// Prepare it now; make it the default at shutdown (`finalize-staged`); only on
        /// a system booted from this sysroot.
        #[arg(long, env = crate::env::OSTREE_EX_STAGE_DEPLOYMENTS)]
        stage: bool,
        /// Deploy this commit instead of the newest.
        #[arg(long, value_name = "CHECKSUM")]
        override_commit: Option<String>,
        /// Allow deploying a commit older than the current one.
        #[arg(long)]
        allow_downgrade: bool,
        /// Only pull; deploy nothing.
        #[arg(long, conflicts_with = "deploy_only")]
        pull_only: bool,
        /// Deploy what the repository has; pull nothing.
        #[arg(long)]
        deploy_only: bool,
    },
    /// Make the staged deployment the default (run at shutdown by
    /// ferro-finalize-staged.service).
    FinalizeStaged,
    /// List deployments in boot order.
    Status {
        /// Verify each deployment's commit with its remote's keys and print the verdict.
        #[arg(short = 'V', long)]
        verify: bool,
    },
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
        /// Their indices in `status`.
        #[arg(required = true)]
        indices: Vec<usize>,
    },
    /// Delete unreferenced deployments, boot files and repository objects.
    Cleanup,
}

/// `ferro ostree admin instutil` verbs.
#[derive(Debug, Subcommand)]
pub enum InstutilVerb {
    /// Set the first deployment's kernel arguments.
    SetKargs {
        /// Start from its current arguments.
        #[arg(long)]
        merge: bool,
        /// Start from the running kernel's command line (`/proc/cmdline`).
        #[arg(long)]
        import_proc_cmdline: bool,
        /// Set `KEY=VALUE` in place of the arguments with that key (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        replace: Vec<String>,
        /// Append an argument (repeatable).
        #[arg(long, value_name = "KEY[=VALUE]")]
        append: Vec<String>,
        /// Arguments appended after those.
        args: Vec<String>,
    },
}

/// `ferro ostree admin kargs` verbs.
#[derive(Debug, Subcommand)]
pub enum AdminKargsVerb {
    /// Change every deployment's kernel arguments.
    EditInPlace {
        /// Append this argument where it is missing (repeatable).
        #[arg(long, value_name = "KEY[=VALUE]")]
        append_if_missing: Vec<String>,
        /// Accepted for compatibility (`ostree` takes a refspec here and ignores it).
        #[arg(hide = true)]
        refspec: Option<String>,
    },
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
    /// Stage it with finalization locked: it stays staged at shutdown until
    /// `ferro finalize-deployment CHECKSUM` (implies --stage).
    #[arg(long)]
    pub lock_finalization: bool,
    /// Update even though an update driver (the node agent) owns updates here.
    #[arg(long)]
    pub bypass_driver: bool,
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

/// `ferro finalize-deployment CHECKSUM`.
#[derive(Debug, Args)]
pub struct FinalizeDeploymentArgs {
    /// The sysroot.
    #[command(flatten)]
    pub sysroot: SysrootArgs,
    /// The staged commit expected: anything else staged is refused.
    pub checksum: String,
    /// Reboot even while a block-mode shutdown inhibitor is held.
    #[arg(long)]
    pub ignore_inhibitors: bool,
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
