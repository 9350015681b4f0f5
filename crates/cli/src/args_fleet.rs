//! `ferro fleet …` arguments, as clap types only.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `ferro fleet`: the fleet control plane (FleetLock reboot coordination).
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// What to do.
    #[command(subcommand)]
    pub verb: FleetVerb,
}

/// The fleet commands.
#[derive(Debug, Subcommand)]
pub enum FleetVerb {
    /// Run the fleet server: FleetLock (`/v1/pre-reboot`, `/v1/steady-state`) for
    /// Zincati, the admin API and metrics, until SIGTERM.
    Serve(FleetServeArgs),
    /// List each FleetLock group's slots and holders (admin token).
    Locks(FleetLocksArgs),
    /// Free the slot a node holds, e.g. a node that died before it could give it back
    /// (admin token; recorded in the audit log).
    Release(FleetReleaseArgs),
    /// List the nodes that asked for the update graph, with their booted version and
    /// when they were last seen (admin token).
    Nodes(FleetListArgs),
    /// Show what each stream serves: releases, barriers, dead-ends and each rollout's
    /// progress (admin token).
    Releases(FleetReleasesArgs),
    /// List the config pools: the config served to booting nodes, the newest
    /// rendering, rendering errors and the nodes' reports (admin token).
    Pools(FleetListArgs),
}

/// A listing command of `ferro fleet`.
#[derive(Debug, Args)]
pub struct FleetListArgs {
    /// The server.
    #[command(flatten)]
    pub server: FleetServerArgs,
    /// Print the server's JSON document (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `ferro fleet releases`.
#[derive(Debug, Args)]
pub struct FleetReleasesArgs {
    /// The server and output format.
    #[command(flatten)]
    pub list: FleetListArgs,
    /// The architecture whose refs are shown (a stream's `${basearch}`).
    #[arg(long, default_value = "x86_64")]
    pub basearch: String,
}

/// `ferro fleet serve`.
#[derive(Debug, Args)]
pub struct FleetServeArgs {
    /// The server's TOML config.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Listen on ADDR:PORT instead of the config's `listen` (port 0: any free port;
    /// the address is printed as `listening on ADDR` on standard output).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Use the etcd v3 cluster at these endpoints instead of the embedded store.
    #[arg(long, value_name = "URL,URL", value_delimiter = ',')]
    pub etcd: Vec<String>,
    /// The log level on standard error: error, warn, info (default), debug, trace.
    #[arg(long, value_name = "LEVEL", env = crate::env::FERRO_LOG)]
    pub log: Option<String>,
}

/// How to reach a server's admin API.
#[derive(Debug, Args)]
pub struct FleetServerArgs {
    /// The server's base URL (plain http only to a loopback address).
    #[arg(
        long,
        value_name = "URL",
        env = crate::env::FERRO_FLEET_SERVER,
        default_value = "http://127.0.0.1:8410"
    )]
    pub server: String,
    /// One of the server's `admin_tokens`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = crate::env::FERRO_FLEET_TOKEN,
        hide_env_values = true
    )]
    pub token: String,
    /// Trust only the CA certificates in this PEM file for an https:// server (a
    /// fleet's private CA), instead of the public roots.
    #[arg(long, value_name = "FILE", env = crate::env::FERRO_FLEET_CA)]
    pub ca: Option<PathBuf>,
}

/// `ferro fleet locks`.
#[derive(Debug, Args)]
pub struct FleetLocksArgs {
    /// The server.
    #[command(flatten)]
    pub server: FleetServerArgs,
    /// Print the server's JSON document (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `ferro fleet release`.
#[derive(Debug, Args)]
pub struct FleetReleaseArgs {
    /// The server.
    #[command(flatten)]
    pub server: FleetServerArgs,
    /// The group.
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// The holder's id.
    #[arg(value_name = "ID")]
    pub id: String,
}
