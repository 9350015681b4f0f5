//! The fleet side of ferrocore: the server that many nodes ask before they reboot,
//! where they learn which release to update to, and where a booting node fetches the
//! config of its pool.
//!
//! A fleet of Fedora CoreOS machines updates itself: each node's agent (Zincati) finds a
//! new release, stages it, and then needs permission to reboot into it, so that a
//! fleet of hundreds does not reboot all at once. That permission is a slot of a
//! **counting semaphore** per *group* of nodes, taken and given back over the two-call
//! **FleetLock** protocol: `POST /v1/pre-reboot` before rebooting (take a slot, or hold
//! the one already taken: the lock is *recursive* and *owned* by the node's id) and
//! `POST /v1/steady-state` once the node is healthy again (give it back; giving back a
//! slot one does not hold succeeds too). Beyond the protocol, an optional lease frees
//! the slot of a holder silent for too long. Fedora CoreOS's server for this is Airlock, on
//! etcd; `ferro fleet serve` speaks the same protocol to the same, unchanged agents.
//!
//! The modules, from the wire inwards:
//! - [`protocol`]: the FleetLock request (parsed from the raw body whatever the
//!   `Content-Type`, since Zincati sends none), its validation, and the bounded set of
//!   error kinds with their HTTP statuses.
//! - [`semaphore`]: the semaphore of one group as a value: holders with the time they
//!   took their slot and the time they were last heard of.
//! - [`config`]: the server's TOML config; a bad config is reported with the key, line
//!   and column, as ferrocore reports every config.
//! - [`graph`]: the update graph (Cincinnati) built from the commits of an OSTree
//!   ref and release metadata in Fedora CoreOS's `updates/<stream>.json` format, with
//!   its barriers, dead-ends and rollouts.
//! - [`pools`]: pool configs as the Machine Config Server serves them: Ignition and
//!   Butane fragments merged and rendered with a content hash, `Accept` negotiation,
//!   translation between spec versions.
//! - [`api`]: the JSON documents of the admin API (`GET /v1/locks`, releases, the
//!   audit log), shared by the server and [`client`].
//! - [`agent`]: the node side, `ferro agent`: the update loop against the graph and
//!   FleetLock, health-gated, with the host's sysroot.
//! - [`client`]: the admin client behind `ferro fleet locks`, `release`, `nodes` and
//!   `releases`.
//! - [`inventory`]: the nodes that asked for the graph, and how many ran each version
//!   over time (the dashboard's chart).
//! - `store`, `etcd` and `server` (feature `server`): the embedded store, one
//!   crash-safe redb file in which every acknowledged lock change is committed before
//!   the answer, with an audit log of every change; the etcd v3 backend, where every
//!   change is a compare-and-swap retried on the server, for several servers; and the
//!   HTTP server with its metrics and its dashboard.
//! - `tls` (feature `server`): HTTPS on the listener.
//!
//! **Where it runs.** The node image and its initramfs carry the same `ferro` binary
//! but never serve a fleet. The server's dependencies (the tokio runtime, axum/hyper,
//! redb, rustls, the metrics registry) are behind the cargo feature `server` (on by default);
//! the `ferro` package passes it on as its feature `fleet-server`, so the image builds
//! `ferro` with `--no-default-features` (plus the features it wants) and keeps the admin
//! client only. `docs/fleet.md` has the commands.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod api;
pub mod client;
pub mod config;
#[cfg(feature = "server")]
pub mod etcd;
pub mod graph;
pub mod inventory;
pub mod pools;
pub mod protocol;
pub mod semaphore;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
pub mod time;
#[cfg(feature = "server")]
pub mod tls;

pub use config::{Config, ConfigError};
