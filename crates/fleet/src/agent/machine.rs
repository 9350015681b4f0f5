//! The update state machine: Zincati's states (§2.3 of the reference) with ferrocore's
//! changes — local preconditions before the FleetLock slot is taken, health checks
//! before `steady-state`, rollback with the slot kept and the release recorded as bad,
//! and a newer release replacing a staged one.
//!
//! Everything outside the machine is injected: the clock (each [`Agent::tick`] is
//! given `now`), the host ([`Host`]: the sysroot and systemd) and the servers
//! ([`Remote`]: graph, FleetLock, reports). A tick does at most one step and returns
//! how long to wait before the next one, so a simulation can run many agents on a
//! simulated clock and the service loop can sleep.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{NodeReport, NodeState};
use crate::graph::{Graph, keys};
use crate::protocol::Operation;
use ferro_sysroot::etc_edits::EtcEdit;

use super::config::{Config, Strategy};
use super::identity::Identity;
use super::pool::{Plan, plan};
use super::window;

/// A release the graph offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Its version.
    pub version: String,
    /// Its commit checksum (the graph's payload).
    pub checksum: String,
    /// `age_index` (newer is higher).
    pub age_index: u64,
}

/// What the host says about its deployments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Booted {
    /// The booted base commit.
    pub checksum: String,
    /// Its version.
    pub version: String,
    /// The staged commit, if any.
    pub staged: Option<String>,
    /// Every deployment in the boot entries (Zincati's deny-list: a release once
    /// deployed and left is not updated to again).
    pub deployed: Vec<String>,
}

/// The outcome of the health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// All passed.
    Passed,
    /// One failed or timed out: why.
    Failed(String),
}

/// The host operations the agent needs, injected (the real one is
/// [`super::host::SysrootHost`]). Errors are messages for `status`.
pub trait Host {
    /// The booted deployment and what else is deployed.
    fn booted(&self) -> Result<Booted, String>;
    /// Registers the agent as the update driver.
    fn register_driver(&self) -> Result<(), String>;
    /// Stages `release` with finalization locked (replacing anything staged).
    fn stage(&self, release: &Release, allow_downgrade: bool) -> Result<(), String>;
    /// Unlocks the staged `checksum` and reboots into it.
    fn finalize_and_reboot(&self, checksum: &str) -> Result<(), String>;
    /// Makes the previous deployment the default and reboots.
    fn rollback_and_reboot(&self) -> Result<(), String>;
    /// Runs the health checks, each within `timeout`.
    fn health(&self, timeout: Duration) -> Health;
    /// The terminals of logged-in interactive sessions.
    fn interactive_sessions(&self) -> Result<Vec<String>, String>;
    /// Writes `message` to those terminals.
    fn warn_sessions(&self, message: &str);
    /// Holders of block-mode shutdown inhibitors.
    fn block_inhibitors(&self) -> Result<Vec<String>, String>;
    /// Writes the in-place part of a pool config plan.
    fn apply_in_place(&self, plan: &Plan) -> Result<(), String>;
    /// Stages the booted commit again with kernel arguments appended and deleted,
    /// finalization locked; returns its checksum.
    fn stage_config(
        &self,
        append: &[String],
        delete: &[String],
        etc: &[EtcEdit],
    ) -> Result<String, String>;
    /// A unit file the OS ships, by name (`/etc/systemd/system`, then
    /// `/usr/lib/systemd/system`): the `[Install]` section of a unit a pool enables.
    fn unit_file(&self, _name: &str) -> Option<String> {
        None
    }
    /// What survives restarts and reboots.
    fn load_state(&self) -> Result<Persisted, String>;
    /// Saves it.
    fn save_state(&self, state: &Persisted) -> Result<(), String>;
}

/// The servers, injected (the real one is [`super::remote::HttpRemote`]).
pub trait Remote {
    /// `GET /v1/graph` for this node.
    fn graph(&self, identity: &Identity, wariness: Option<f64>) -> Result<Graph, String>;
    /// A FleetLock operation; `Err` is a refusal or a failure (its kind or message).
    fn lock(&self, identity: &Identity, op: Operation) -> Result<(), String>;
    /// `POST /v1/nodes/<uuid>/report`; the hash of the config the pool wants, if any.
    fn report(&self, report: &NodeReport) -> Result<Option<String>, String>;
    /// `GET /config/<pool>?hash=HASH`: that rendered config (Ignition JSON).
    fn pool_config(&self, hash: &str) -> Result<serde_json::Value, String>;
}

/// The agent's record on disk (`/var/lib/ferro/agent/state.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Persisted {
    /// The release finalized and rebooted into, not yet health-checked.
    #[serde(default)]
    pub expecting: Option<Release>,
    /// Releases that failed their health checks: never updated to again.
    #[serde(default)]
    pub bad: Vec<Release>,
    /// Set after a rollback: the slot stays held until an operator clears it.
    #[serde(default)]
    pub halted: Option<String>,
    /// The pool config applied last: its hash and its Ignition JSON.
    #[serde(default)]
    pub config: Option<(String, serde_json::Value)>,
    /// A pool config staged with a reboot, applied once that boot is healthy.
    #[serde(default)]
    pub pending_config: Option<(String, serde_json::Value)>,
}

/// The states, Zincati's plus `Halted` and `Disabled`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Not initialized yet.
    Start,
    /// Driver registered, health checked.
    Initialized,
    /// Steady state reported (the slot given back).
    ReportedSteady,
    /// Polled; nothing newer.
    NoNewUpdate,
    /// A release to stage.
    UpdateAvailable {
        /// It.
        release: Release,
        /// Failed staging attempts so far.
        failed_attempts: u32,
    },
    /// Staged with finalization locked; waiting for the strategy.
    UpdateStaged {
        /// It.
        release: Release,
        /// Postponements left for logged-in users.
        postponements_left: u32,
    },
    /// Finalized; the reboot is under way.
    UpdateFinalized {
        /// It.
        release: Release,
    },
    /// Health checks failed after an update: rolled back, slot held, reported
    /// Degraded. Cleared by `ferro agent check-now` once an operator released the slot.
    Halted {
        /// Why.
        reason: String,
    },
    /// `updates.enabled = false`.
    Disabled,
}

impl State {
    /// The state's name as `status` and the tables show it.
    pub fn name(&self) -> &'static str {
        match self {
            State::Start => "start",
            State::Initialized => "initialized",
            State::ReportedSteady => "reported_steady",
            State::NoNewUpdate => "no_new_update",
            State::UpdateAvailable { .. } => "update_available",
            State::UpdateStaged { .. } => "update_staged",
            State::UpdateFinalized { .. } => "update_finalized",
            State::Halted { .. } => "halted",
            State::Disabled => "disabled",
        }
    }
}

/// Attempts at staging before giving the release up (Zincati: 12).
pub const MAX_DEPLOY_ATTEMPTS: u32 = 12;
/// Postponements for logged-in users, a minute each (Zincati: 10).
pub const MAX_POSTPONEMENTS: u32 = 10;

/// Counters for the metrics, named after Zincati's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// `zincati_cincinnati_update_checks_total`.
    pub update_checks: u64,
    /// `zincati_cincinnati_update_checks_errors_total`.
    pub update_check_errors: u64,
    /// `zincati_rpm_ostree_deploy_attempts_total`.
    pub deploy_attempts: u64,
    /// `zincati_rpm_ostree_deploy_failures_total`.
    pub deploy_failures: u64,
    /// `zincati_update_agent_finalization_attempts`.
    pub finalization_attempts: u64,
    /// `zincati_update_agent_finalization_successes`.
    pub finalization_successes: u64,
    /// `zincati_update_agent_postponed_finalizations_total`.
    pub postponed_finalizations: u64,
    /// `zincati_strategy_fleet_lock_requests_total` (both APIs).
    pub fleet_lock_requests: u64,
    /// `zincati_strategy_fleet_lock_errors_total`.
    pub fleet_lock_errors: u64,
    /// `zincati_cincinnati_graph_nodes_count` (last graph).
    pub graph_nodes: u64,
    /// `zincati_update_agent_last_refresh_timestamp`.
    pub last_refresh: u64,
    /// `zincati_update_agent_latest_state_change_timestamp`.
    pub last_state_change: u64,
    /// Health check runs / failures (ferrocore).
    pub health_checks: u64,
    /// Failed health checks.
    pub health_failures: u64,
}

/// The agent: config, identity, state, and what it reports.
pub struct Agent<H: Host, R: Remote> {
    /// The effective config.
    pub config: Config,
    /// Who the node is (its version fields follow the booted deployment).
    pub identity: Identity,
    /// The host.
    pub host: H,
    /// The servers.
    pub remote: R,
    state: State,
    persisted: Persisted,
    last_error: Option<String>,
    lock_held: bool,
    deferred_until: u64,
    counters: Counters,
    rng: u64,
    config_status: ConfigStatus,
}

/// What `ferro agent status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// `immediate`, `periodic` or `fleet_lock`.
    pub strategy: &'static str,
    /// The next maintenance window's start (seconds since the epoch), for `periodic`.
    pub next_window: Option<u64>,
    /// The release staged, if any.
    pub staged: Option<Release>,
    /// The last error, until a step succeeds.
    pub last_error: Option<String>,
    /// Whether the agent holds (or believes it holds) a FleetLock slot.
    pub lock_held: bool,
    /// Finalization deferred until then (seconds since the epoch).
    pub deferred_until: Option<u64>,
    /// The identity.
    pub identity: Identity,
    /// Releases never to be updated to again.
    pub bad_releases: Vec<Release>,
    /// Config warnings (unknown keys, ignored files).
    pub warnings: Vec<String>,
    /// Counters.
    pub counters: Counters,
    /// The pool config: applied hash, and why the desired one is not applied.
    pub config: ConfigStatus,
    /// `updates.enabled`.
    pub updates_enabled: bool,
    /// `updates.allow_downgrade`.
    pub allow_downgrade: bool,
    /// `identity.rollout_wariness`, when set.
    pub rollout_wariness: Option<f64>,
}

/// Where the node stands with its pool's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigStatus {
    /// The hash applied.
    pub applied: Option<String>,
    /// The hash the pool wants.
    pub desired: Option<String>,
    /// `done`, `working` (staged, rebooting), `unreconcilable` or `degraded`.
    pub state: Option<&'static str>,
    /// Why not done.
    pub reason: Option<String>,
}

/// Picks the update as Zincati does: the booted node found by its checksum, its edges'
/// targets less `deny`, the highest `age_index` (ties: version, then checksum), and
/// no downgrade unless allowed. `Err` says why there is none when that is worth
/// showing (booted release absent from the graph).
pub fn pick_target(
    graph: &Graph,
    booted: &str,
    deny: &[String],
    allow_downgrade: bool,
) -> Result<Option<Release>, String> {
    let release = |i: usize| {
        let node = graph.nodes.get(i)?;
        let age = node.metadata.get(keys::AGE_INDEX)?.parse().ok()?;
        Some(Release {
            version: node.version.clone(),
            checksum: node.payload.clone(),
            age_index: age,
        })
    };
    let Some(me) = graph.nodes.iter().position(|n| n.payload == booted) else {
        return Err(format!(
            "the booted deployment {booted} is not in the update graph"
        ));
    };
    let order = |r: &Release| (r.age_index, r.version.clone(), r.checksum.clone());
    let best = graph
        .edges
        .iter()
        .filter(|(from, _)| *from as usize == me)
        .filter_map(|(_, to)| release(*to as usize))
        .filter(|r| !deny.contains(&r.checksum))
        .max_by_key(order);
    let Some(best) = best else { return Ok(None) };
    match release(me) {
        Some(current) if order(&best) <= order(&current) && !allow_downgrade => Ok(None),
        _ => Ok(Some(best)),
    }
}

impl<H: Host, R: Remote> Agent<H, R> {
    /// An agent in [`State::Start`].
    pub fn new(config: Config, identity: Identity, host: H, remote: R) -> Self {
        let rng = identity
            .node_uuid
            .bytes()
            .fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
            | 1;
        // Read again (with errors reported) when the machine starts.
        let persisted = host.load_state().unwrap_or_default();
        Agent {
            config,
            identity,
            host,
            remote,
            state: State::Start,
            persisted,
            last_error: None,
            lock_held: false,
            deferred_until: 0,
            counters: Counters::default(),
            rng,
            config_status: ConfigStatus::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The last error, until a step succeeds.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Whether the agent holds a slot.
    pub fn lock_held(&self) -> bool {
        self.lock_held
    }

    /// Sets the state (tests start from any state).
    pub fn set_state(&mut self, state: State) {
        self.state = state;
    }

    /// Counters for the metrics.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// What `status` shows at `now`.
    pub fn status(&self, now: u64) -> Status {
        let next_window = match &self.config.strategy {
            Strategy::Periodic { windows, time_zone } => {
                Some(window::next_start(windows, time_zone, now))
            }
            _ => None,
        };
        let staged = match &self.state {
            State::UpdateStaged { release, .. } | State::UpdateFinalized { release } => {
                Some(release.clone())
            }
            _ => None,
        };
        Status {
            state: self.state.clone(),
            strategy: self.config.strategy.name(),
            next_window,
            staged,
            last_error: self.last_error.clone(),
            lock_held: self.lock_held,
            deferred_until: (self.deferred_until > now).then_some(self.deferred_until),
            identity: self.identity.clone(),
            bad_releases: self.persisted.bad.clone(),
            warnings: self.config.warnings.clone(),
            counters: self.counters.clone(),
            config: ConfigStatus {
                applied: self.persisted.config.as_ref().map(|(h, _)| h.clone()),
                ..self.config_status.clone()
            },
            updates_enabled: self.config.enabled,
            allow_downgrade: self.config.allow_downgrade,
            rollout_wariness: self.config.rollout_wariness,
        }
    }

    /// `ferro agent defer`: no finalization before `until`.
    pub fn defer(&mut self, until: u64) {
        self.deferred_until = until;
    }

    /// `ferro agent check-now`: leaves [`State::Halted`] (an operator cleared the
    /// failure) and makes the next tick poll.
    pub fn check_now(&mut self) -> Result<(), String> {
        if let State::Halted { .. } = self.state {
            self.persisted.halted = None;
            self.host.save_state(&self.persisted)?;
            self.state = State::Initialized;
        } else if self.state == State::NoNewUpdate {
            self.state = State::ReportedSteady;
        }
        Ok(())
    }

    fn jitter(&mut self, secs: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        secs + self.rng % (secs / 10 + 1)
    }

    /// One step at `now` (seconds since the epoch); returns the delay before the next.
    pub fn tick(&mut self, now: u64) -> Duration {
        let before = self.state.name();
        let result = self.step(now);
        match result {
            Ok(()) => self.last_error = None,
            Err(e) => self.last_error = Some(e),
        }
        if self.state.name() != before {
            self.counters.last_state_change = now;
            // Any change but ReportedSteady → NoNewUpdate is followed at once.
            if !(before == "reported_steady" && self.state == State::NoNewUpdate) {
                return Duration::ZERO;
            }
        }
        let secs = match &self.state {
            State::ReportedSteady | State::NoNewUpdate => self.config.steady_interval_secs,
            State::UpdateStaged {
                postponements_left, ..
            } if *postponements_left < MAX_POSTPONEMENTS => return Duration::from_secs(60),
            State::Disabled | State::Halted { .. } => 3 * 3600,
            _ => 300,
        };
        Duration::from_secs(self.jitter(secs))
    }

    fn report(&mut self, state: NodeState, reason: &str) -> Option<String> {
        let pool = self.config.pool.as_ref()?;
        let report = NodeReport {
            node_uuid: self.identity.node_uuid.clone(),
            pool: pool.name.clone(),
            config_hash: self
                .persisted
                .config
                .as_ref()
                .map(|(h, _)| h.clone())
                .unwrap_or_default(),
            booted_version: self.identity.os_version.clone(),
            state,
            reason: reason.to_owned(),
            at: 0,
        };
        // A report is information for operators; a failure to send it is not an
        // update failure.
        self.remote.report(&report).ok().flatten()
    }

    /// Brings the node to its pool's desired config (see [`super::pool`]). `Some`
    /// release when a reboot is staged for it.
    fn reconcile(&mut self) -> Result<Option<Release>, String> {
        let (state, reason) = match self.config_status.state {
            Some("unreconcilable") => {
                (NodeState::Unreconcilable, self.config_status.reason.clone())
            }
            _ => (NodeState::Done, None),
        };
        let Some(desired) = self.report(state, &reason.unwrap_or_default()) else {
            return Ok(None);
        };
        self.config_status.desired = Some(desired.clone());
        let applied = self.persisted.config.as_ref().map(|(h, _)| h.clone());
        if desired.is_empty() || applied.as_deref() == Some(desired.as_str()) {
            return Ok(None);
        }
        if self.config_status.state == Some("unreconcilable")
            && self
                .config_status
                .reason
                .as_deref()
                .is_some_and(|r| r.contains(&desired))
        {
            return Ok(None);
        }
        let new = self
            .remote
            .pool_config(&desired)
            .map_err(|e| format!("pool config: {e}"))?;
        let Some((_, old)) = self.persisted.config.clone() else {
            // The node was provisioned from this pool at first boot: that is applied.
            self.persisted.config = Some((desired, new));
            self.host.save_state(&self.persisted)?;
            self.config_status.state = Some("done");
            return Ok(None);
        };
        let no_reboot = self
            .config
            .pool
            .as_ref()
            .map(|p| p.no_reboot.clone())
            .unwrap_or_default();
        match plan(&old, &new, &no_reboot, &|name| self.host.unit_file(name)) {
            Plan::Unreconcilable(why) => {
                let reason = format!("config {desired}: {why}");
                self.config_status.state = Some("unreconcilable");
                self.config_status.reason = Some(reason.clone());
                self.report(NodeState::Unreconcilable, &reason);
                Err(reason)
            }
            Plan::Reboot {
                append,
                delete,
                etc,
                in_place,
            } => {
                self.host.apply_in_place(&in_place)?;
                let checksum = self.host.stage_config(&append, &delete, &etc)?;
                self.persisted.pending_config = Some((desired.clone(), new));
                self.host.save_state(&self.persisted)?;
                self.config_status.state = Some("working");
                self.report(
                    NodeState::Working,
                    "config staged in a new deployment; rebooting through the lock",
                );
                Ok(Some(Release {
                    version: format!("config {desired}"),
                    checksum,
                    age_index: u64::MAX,
                }))
            }
            in_place => {
                self.host.apply_in_place(&in_place)?;
                self.persisted.config = Some((desired, new));
                self.host.save_state(&self.persisted)?;
                self.config_status = ConfigStatus {
                    state: Some("done"),
                    ..ConfigStatus::default()
                };
                self.report(NodeState::Done, "");
                Ok(None)
            }
        }
    }

    fn lock(&mut self, op: Operation) -> Result<(), String> {
        self.counters.fleet_lock_requests += 1;
        match self.remote.lock(&self.identity, op) {
            Ok(()) => {
                self.lock_held = op == Operation::PreReboot;
                Ok(())
            }
            Err(e) => {
                self.counters.fleet_lock_errors += 1;
                Err(format!("FleetLock {}: {e}", op.path()))
            }
        }
    }

    fn refresh_booted(&mut self) -> Result<Booted, String> {
        let booted = self.host.booted()?;
        self.identity.os_checksum = booted.checksum.clone();
        self.identity.os_version = booted.version.clone();
        Ok(booted)
    }

    /// Polls the graph; the best release, if any.
    fn poll(&mut self, now: u64) -> Result<Option<Release>, String> {
        let booted = self.refresh_booted()?;
        self.counters.update_checks += 1;
        self.counters.last_refresh = now;
        let graph = match self
            .remote
            .graph(&self.identity, self.config.rollout_wariness)
        {
            Ok(graph) => graph,
            Err(e) => {
                self.counters.update_check_errors += 1;
                return Err(format!("update graph: {e}"));
            }
        };
        self.counters.graph_nodes = graph.nodes.len() as u64;
        let mut deny: Vec<String> = booted
            .deployed
            .iter()
            .filter(|c| **c != booted.checksum)
            .cloned()
            .collect();
        deny.extend(self.persisted.bad.iter().map(|r| r.checksum.clone()));
        pick_target(&graph, &booted.checksum, &deny, self.config.allow_downgrade)
    }

    fn step(&mut self, now: u64) -> Result<(), String> {
        match self.state.clone() {
            State::Start => self.start(),
            State::Initialized => {
                if let Strategy::FleetLock { .. } = self.config.strategy {
                    self.lock(Operation::SteadyState)?;
                }
                self.lock_held = false;
                self.report(NodeState::Done, "");
                self.state = State::ReportedSteady;
                Ok(())
            }
            State::ReportedSteady | State::NoNewUpdate => {
                match self.reconcile() {
                    Ok(Some(release)) => {
                        self.state = State::UpdateStaged {
                            release,
                            postponements_left: MAX_POSTPONEMENTS,
                        };
                        return Ok(());
                    }
                    Ok(None) => {}
                    Err(e) if self.config_status.state == Some("unreconcilable") => {
                        // Reported; OS updates go on.
                        self.last_error = Some(e);
                    }
                    Err(e) => return Err(e),
                }
                let target = self.poll(now);
                match target {
                    Ok(Some(release)) => {
                        self.state = State::UpdateAvailable {
                            release,
                            failed_attempts: 0,
                        };
                        Ok(())
                    }
                    Ok(None) => {
                        self.state = State::NoNewUpdate;
                        Ok(())
                    }
                    Err(e) => {
                        self.state = State::NoNewUpdate;
                        Err(e)
                    }
                }
            }
            State::UpdateAvailable {
                release,
                failed_attempts,
            } => {
                self.counters.deploy_attempts += 1;
                match self.host.stage(&release, self.config.allow_downgrade) {
                    Ok(()) => {
                        self.state = State::UpdateStaged {
                            release,
                            postponements_left: MAX_POSTPONEMENTS,
                        };
                        Ok(())
                    }
                    Err(e) => {
                        self.counters.deploy_failures += 1;
                        let failed_attempts = failed_attempts + 1;
                        self.state = if failed_attempts >= MAX_DEPLOY_ATTEMPTS {
                            State::NoNewUpdate
                        } else {
                            State::UpdateAvailable {
                                release: release.clone(),
                                failed_attempts,
                            }
                        };
                        Err(format!("staging {}: {e}", release.version))
                    }
                }
            }
            State::UpdateStaged {
                release,
                postponements_left,
            } => self.staged(now, release, postponements_left),
            State::UpdateFinalized { .. } | State::Halted { .. } | State::Disabled => Ok(()),
        }
    }

    fn start(&mut self) -> Result<(), String> {
        if !self.config.enabled {
            self.state = State::Disabled;
            return Ok(());
        }
        self.host.register_driver()?;
        self.persisted = self.host.load_state()?;
        let booted = self.refresh_booted()?;
        if let Some(reason) = self.persisted.halted.clone() {
            // Rolled back earlier: keep the slot, say so again.
            self.lock_held = matches!(self.config.strategy, Strategy::FleetLock { .. });
            self.report(NodeState::Degraded, &reason);
            self.state = State::Halted { reason };
            return Ok(());
        }
        let Some(expected) = self.persisted.expecting.clone() else {
            self.state = State::Initialized;
            return Ok(());
        };
        self.counters.health_checks += 1;
        let health = if booted.checksum != expected.checksum {
            Health::Failed(format!(
                "booted {} instead of the finalized {} ({})",
                booted.checksum, expected.checksum, expected.version
            ))
        } else {
            self.host
                .health(Duration::from_secs(self.config.health_timeout_secs))
        };
        match health {
            Health::Passed => {
                self.persisted.expecting = None;
                if let Some(pending) = self.persisted.pending_config.take() {
                    self.persisted.config = Some(pending);
                }
                self.host.save_state(&self.persisted)?;
                self.state = State::Initialized;
                Ok(())
            }
            Health::Failed(why) => {
                self.counters.health_failures += 1;
                let reason = format!(
                    "release {} failed its health checks: {why}",
                    expected.version
                );
                self.persisted.expecting = None;
                self.persisted.pending_config = None;
                if !self.persisted.bad.contains(&expected) {
                    self.persisted.bad.push(expected.clone());
                }
                self.persisted.halted = Some(reason.clone());
                self.host.save_state(&self.persisted)?;
                self.lock_held = matches!(self.config.strategy, Strategy::FleetLock { .. });
                self.report(NodeState::Degraded, &reason);
                self.state = State::Halted {
                    reason: reason.clone(),
                };
                if booted.checksum == expected.checksum {
                    self.host.rollback_and_reboot()?;
                }
                Err(reason)
            }
        }
    }

    fn staged(
        &mut self,
        now: u64,
        release: Release,
        postponements_left: u32,
    ) -> Result<(), String> {
        // A newer release replaces the staged one (zincati#928).
        if let Ok(Some(newer)) = self.poll(now)
            && newer.age_index > release.age_index
        {
            self.state = State::UpdateAvailable {
                release: newer,
                failed_attempts: 0,
            };
            return Ok(());
        }
        if now < self.deferred_until {
            return Err(format!(
                "finalization deferred until {}",
                self.deferred_until
            ));
        }
        let allowed_by_time = match &self.config.strategy {
            Strategy::Periodic { windows, time_zone } => window::contains(windows, time_zone, now),
            _ => true,
        };
        if !allowed_by_time {
            self.state = State::UpdateStaged {
                release,
                postponements_left: MAX_POSTPONEMENTS,
            };
            return Ok(());
        }
        // Local preconditions first, so a slot is never held by a node that waits.
        let sessions = self.host.interactive_sessions().unwrap_or_default();
        if !sessions.is_empty() && postponements_left > 0 {
            self.counters.postponed_finalizations += 1;
            self.host.warn_sessions(&format!(
                "ferro agent: update {} is staged; this machine reboots in about {} minutes",
                release.version, postponements_left
            ));
            self.state = State::UpdateStaged {
                release,
                postponements_left: postponements_left - 1,
            };
            return Ok(());
        }
        let inhibitors = self.host.block_inhibitors()?;
        if !inhibitors.is_empty() {
            return Err(format!(
                "reboot blocked by shutdown inhibitors: {}",
                inhibitors.join("; ")
            ));
        }
        if let Strategy::FleetLock { .. } = self.config.strategy {
            self.lock(Operation::PreReboot)?;
        }
        self.counters.finalization_attempts += 1;
        self.persisted.expecting = Some(release.clone());
        self.host.save_state(&self.persisted)?;
        match self.host.finalize_and_reboot(&release.checksum) {
            Ok(()) => {
                self.counters.finalization_successes += 1;
                self.report(
                    NodeState::Working,
                    &format!("rebooting into {}", release.version),
                );
                self.state = State::UpdateFinalized { release };
                Ok(())
            }
            Err(e) => {
                self.persisted.expecting = None;
                self.host.save_state(&self.persisted)?;
                Err(format!("finalizing {}: {e}", release.version))
            }
        }
    }
}
