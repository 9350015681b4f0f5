//! `ferro agent …` arguments, as clap types only.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `ferro agent`: the node's update agent.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// What to do (default: run the agent).
    #[command(subcommand)]
    pub verb: Option<AgentVerb>,
    /// The control socket.
    #[arg(
        long,
        global = true,
        default_value = "/run/ferro/agent/control.sock",
        value_name = "PATH"
    )]
    pub socket: PathBuf,
    /// The metrics socket (Prometheus text, one dump per connection).
    #[arg(
        long,
        global = true,
        default_value = "/run/ferro/agent/metrics.promsock",
        value_name = "PATH"
    )]
    pub metrics_socket: PathBuf,
    /// The sysroot the agent updates.
    #[arg(long, global = true, default_value = "/", env = crate::env::OSTREE_SYSROOT, value_name = "PATH")]
    pub sysroot: PathBuf,
    /// The root the config drop-in directories are under.
    #[arg(
        long,
        global = true,
        default_value = "/",
        hide = true,
        value_name = "PATH"
    )]
    pub config_root: PathBuf,
    /// Runtime state (staged record, driver registration): tests.
    #[arg(long, global = true, default_value = ferro_sysroot::DEFAULT_RUN_DIR, hide = true, value_name = "DIR")]
    pub run_dir: PathBuf,
    /// The agent's record: tests.
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/ferro/agent/state.json",
        hide = true,
        value_name = "FILE"
    )]
    pub state: PathBuf,
    /// The kernel command line: tests.
    #[arg(
        long,
        global = true,
        default_value = "/proc/cmdline",
        hide = true,
        value_name = "FILE"
    )]
    pub cmdline: PathBuf,
}

/// The agent commands.
#[derive(Debug, Subcommand)]
pub enum AgentVerb {
    /// Show the agent's state, strategy, next window, staged release, last error and
    /// whether it holds a FleetLock slot.
    Status(AgentStatusArgs),
    /// Poll for updates now (and leave the halted state after a failed update once
    /// its slot was released with `ferro fleet release`).
    CheckNow,
    /// Do not reboot into a staged update for DURATION (`90m`, `2h`, `1d`, seconds).
    Defer(AgentDeferArgs),
    /// Print the agent's metrics (Prometheus text).
    Metrics,
}

/// `ferro agent status`.
#[derive(Debug, Args)]
pub struct AgentStatusArgs {
    /// Print JSON (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `ferro agent defer`.
#[derive(Debug, Args)]
pub struct AgentDeferArgs {
    /// How long: `N`, `Ns`, `Nm`, `Nh` or `Nd`.
    pub duration: String,
}
