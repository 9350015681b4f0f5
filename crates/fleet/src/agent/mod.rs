//! The node agent behind `ferro agent`: Zincati's update loop — poll the update graph,
//! stage the chosen release with finalization locked, wait for the strategy
//! (`immediate`, `periodic` windows, or a `fleet_lock` slot), finalize and reboot —
//! with ferrocore's changes: local preconditions are checked *before* a slot is taken,
//! the slot is given back only after health checks pass, a failed release is rolled
//! back, recorded as bad and reported `Degraded` while the slot stays held (so the
//! group's rollout halts until an operator runs `ferro fleet release`), and a newer
//! release replaces a staged one.
//!
//! - [`config`]: the TOML drop-ins with Zincati's keys and defaults;
//! - [`identity`]: the node id (app-specific from the machine id, as Zincati's);
//! - [`machine`]: the state machine, over an injected clock, [`machine::Host`] and
//!   [`machine::Remote`];
//! - [`window`]: maintenance windows; [`metrics`]: Prometheus text with Zincati's names;
//! - [`host`], [`remote`]: the real host (ferro-sysroot, systemd) and servers (HTTP).

pub mod config;
pub mod host;
pub mod identity;
pub mod machine;
pub mod metrics;
pub mod pool;
pub mod remote;
pub mod service;
pub mod window;

pub use config::Config;
pub use machine::{Agent, Booted, Health, Host, Persisted, Release, Remote, State, Status};
