//! The agent's metrics in Prometheus text format, under Zincati's names where the
//! meaning is the same (so existing dashboards keep working), `ferro_agent_*` for the
//! rest. Each scrape encodes a registry of constant values read off the agent's
//! [`Status`], so the numbers and the `status` command never disagree.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use super::machine::Status;

/// A gauge family with one series of value 1 under `labels`: Zincati's way of
/// exposing a mode or identity (`…_mode{strategy="fleet_lock"} 1`).
fn info(registry: &mut Registry, name: &str, help: &str, labels: Vec<(String, String)>) {
    let family = Family::<Vec<(String, String)>, Gauge>::default();
    family.get_or_create(&labels).set(1);
    registry.register(name, help, family);
}

/// The text exposition of `status`, with `start_time` as `process_start_time_seconds`.
pub fn render(status: &Status, start_time: u64) -> String {
    let c = &status.counters;
    let gauge = |v: u64| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    let mut r = Registry::default();
    r.register(
        "process_start_time_seconds",
        "Start time of the process",
        gauge(start_time),
    );
    r.register(
        "zincati_update_agent_last_refresh_timestamp",
        "Last time the update graph was checked",
        gauge(c.last_refresh),
    );
    r.register(
        "zincati_update_agent_latest_state_change_timestamp",
        "Last state change",
        gauge(c.last_state_change),
    );
    // Zincati names these two counters without `_total`, which this crate's encoder
    // adds to every counter: exposed as gauges to keep the names dashboards use.
    r.register(
        "zincati_update_agent_finalization_attempts",
        "Finalization attempts",
        gauge(c.finalization_attempts),
    );
    r.register(
        "zincati_update_agent_finalization_successes",
        "Successful finalizations",
        gauge(c.finalization_successes),
    );
    // Counters are registered without their `_total`, which the encoder appends.
    let counters = [
        (
            "zincati_update_agent_postponed_finalizations",
            "Finalizations postponed for logged-in users",
            c.postponed_finalizations,
        ),
        (
            "zincati_cincinnati_update_checks",
            "Update checks",
            c.update_checks,
        ),
        (
            "zincati_cincinnati_update_checks_errors",
            "Failed update checks",
            c.update_check_errors,
        ),
        (
            "zincati_rpm_ostree_deploy_attempts",
            "Staging attempts",
            c.deploy_attempts,
        ),
        (
            "zincati_rpm_ostree_deploy_failures",
            "Failed staging attempts",
            c.deploy_failures,
        ),
        (
            "zincati_strategy_fleet_lock_requests",
            "FleetLock requests",
            c.fleet_lock_requests,
        ),
        (
            "zincati_strategy_fleet_lock_errors",
            "Failed FleetLock requests",
            c.fleet_lock_errors,
        ),
        (
            "ferro_agent_health_checks",
            "Health check runs after an update",
            c.health_checks,
        ),
        (
            "ferro_agent_health_failures",
            "Failed health checks (rolled back)",
            c.health_failures,
        ),
    ];
    for (name, help, value) in counters {
        r.register(name, help, ConstCounter::new(value));
    }
    r.register(
        "zincati_cincinnati_graph_nodes_count",
        "Nodes in the last graph",
        gauge(c.graph_nodes),
    );
    r.register(
        "zincati_update_agent_updates_enabled",
        "Whether updates are enabled",
        gauge(u64::from(status.updates_enabled)),
    );
    r.register(
        "zincati_update_agent_updates_allow_downgrade",
        "Whether downgrades are allowed",
        gauge(u64::from(status.allow_downgrade)),
    );
    info(
        &mut r,
        "zincati_updates_strategy_mode",
        "The update strategy",
        vec![("strategy".into(), status.strategy.into())],
    );
    let id = &status.identity;
    info(
        &mut r,
        "zincati_identity_os_info",
        "The booted OS",
        vec![
            ("os_version".into(), id.os_version.clone()),
            ("basearch".into(), id.basearch.clone()),
            ("stream".into(), id.stream.clone()),
            ("platform".into(), id.platform.clone()),
        ],
    );
    if let Some(w) = status.rollout_wariness {
        r.register(
            "zincati_identity_rollout_wariness",
            "Configured rollout wariness",
            ConstGauge::new(w),
        );
    }
    r.register(
        "ferro_agent_lock_held",
        "Whether the agent holds a FleetLock slot",
        gauge(u64::from(status.lock_held)),
    );
    r.register(
        "ferro_agent_config_warnings",
        "Ignored config files and keys",
        gauge(status.warnings.len() as u64),
    );
    info(
        &mut r,
        "ferro_agent_state",
        "The agent's state",
        vec![("state".into(), status.state.name().into())],
    );
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}
