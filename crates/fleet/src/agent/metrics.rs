//! The agent's metrics in Prometheus text format, under Zincati's names where the
//! meaning is the same (so existing dashboards keep working), `ferro_agent_*` for the
//! rest.

use std::fmt::Write;

use super::machine::Status;

/// The text exposition of `status`, with `start_time` as `process_start_time_seconds`.
pub fn render(status: &Status, start_time: u64) -> String {
    let c = &status.counters;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, labels: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}"
        );
    };
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process.",
        "",
        start_time,
    );
    metric(
        "zincati_update_agent_last_refresh_timestamp",
        "gauge",
        "Last time the update graph was checked.",
        "",
        c.last_refresh,
    );
    metric(
        "zincati_update_agent_latest_state_change_timestamp",
        "gauge",
        "Last state change.",
        "",
        c.last_state_change,
    );
    metric(
        "zincati_update_agent_finalization_attempts",
        "counter",
        "Finalization attempts.",
        "",
        c.finalization_attempts,
    );
    metric(
        "zincati_update_agent_finalization_successes",
        "counter",
        "Successful finalizations.",
        "",
        c.finalization_successes,
    );
    metric(
        "zincati_update_agent_postponed_finalizations_total",
        "counter",
        "Finalizations postponed for logged-in users.",
        "",
        c.postponed_finalizations,
    );
    metric(
        "zincati_cincinnati_update_checks_total",
        "counter",
        "Update checks.",
        "",
        c.update_checks,
    );
    metric(
        "zincati_cincinnati_update_checks_errors_total",
        "counter",
        "Failed update checks.",
        "",
        c.update_check_errors,
    );
    metric(
        "zincati_cincinnati_graph_nodes_count",
        "gauge",
        "Nodes in the last graph.",
        "",
        c.graph_nodes,
    );
    metric(
        "zincati_rpm_ostree_deploy_attempts_total",
        "counter",
        "Staging attempts.",
        "",
        c.deploy_attempts,
    );
    metric(
        "zincati_rpm_ostree_deploy_failures_total",
        "counter",
        "Failed staging attempts.",
        "",
        c.deploy_failures,
    );
    metric(
        "zincati_strategy_fleet_lock_requests_total",
        "counter",
        "FleetLock requests.",
        "",
        c.fleet_lock_requests,
    );
    metric(
        "zincati_strategy_fleet_lock_errors_total",
        "counter",
        "Failed FleetLock requests.",
        "",
        c.fleet_lock_errors,
    );
    metric(
        "zincati_update_agent_updates_enabled",
        "gauge",
        "Whether updates are enabled.",
        "",
        u64::from(status.updates_enabled),
    );
    metric(
        "zincati_update_agent_updates_allow_downgrade",
        "gauge",
        "Whether downgrades are allowed.",
        "",
        u64::from(status.allow_downgrade),
    );
    let strategy = format!("{{strategy=\"{}\"}}", status.strategy);
    metric(
        "zincati_updates_strategy_mode",
        "gauge",
        "The update strategy.",
        &strategy,
        1,
    );
    metric(
        "ferro_agent_health_checks_total",
        "counter",
        "Health check runs after an update.",
        "",
        c.health_checks,
    );
    metric(
        "ferro_agent_health_failures_total",
        "counter",
        "Failed health checks (rolled back).",
        "",
        c.health_failures,
    );
    metric(
        "ferro_agent_lock_held",
        "gauge",
        "Whether the agent holds a FleetLock slot.",
        "",
        u64::from(status.lock_held),
    );
    metric(
        "ferro_agent_config_warnings",
        "gauge",
        "Ignored config files and keys.",
        "",
        status.warnings.len() as u64,
    );
    let state = format!("{{state=\"{}\"}}", status.state.name());
    metric(
        "ferro_agent_state",
        "gauge",
        "The agent's state.",
        &state,
        1,
    );
    if let Some(w) = status.rollout_wariness {
        let _ = writeln!(
            out,
            "# HELP zincati_identity_rollout_wariness Configured rollout wariness.\n# TYPE zincati_identity_rollout_wariness gauge\nzincati_identity_rollout_wariness {w}"
        );
    }
    out
}
