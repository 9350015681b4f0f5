//! `ferro agent …`: runs the agent of `ferro_fleet::agent` or talks to a running one.

use std::io::Write;

use ferro_fleet::agent::host::{SystemPaths, system_agent};
use ferro_fleet::agent::service::{self, Sockets};

use crate::ExitStatus;
use crate::args_agent::{AgentArgs, AgentVerb};
use crate::printer::Printer;

/// `90m` → 5400 seconds.
fn parse_duration(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("'{text}' is not a duration (e.g. 90m, 2h, 1d)"))?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => anyhow::bail!("'{text}': unknown unit '{unit}' (s, m, h or d)"),
    };
    Ok(n * unit)
}

/// Runs one `ferro agent` command.
pub fn run(args: AgentArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let socket = &args.socket;
    match args.verb {
        None => {
            let paths = SystemPaths {
                config_root: args.config_root.clone(),
                sysroot: args.sysroot.clone(),
                run_dir: args.run_dir.clone(),
                state: args.state.clone(),
                cmdline: args.cmdline.clone(),
                ..SystemPaths::default()
            };
            let agent = system_agent(&paths).map_err(|e| anyhow::anyhow!(e))?;
            let sockets = Sockets {
                control: args.socket.clone(),
                metrics: args.metrics_socket.clone(),
            };
            service::run(agent, &sockets)?;
            Ok(ExitStatus::Success)
        }
        Some(AgentVerb::Status(status)) => {
            let doc = service::request(socket, "status")?;
            if status.json {
                printer.json(&doc)?;
                return Ok(ExitStatus::Success);
            }
            let mut out = printer.stdout();
            let field = |k: &str| doc[k].as_str().map(str::to_owned);
            writeln!(
                out,
                "State: {}",
                doc["state"]["state"].as_str().unwrap_or("?")
            )?;
            if let Some(reason) = doc["state"]["reason"].as_str() {
                writeln!(out, "Reason: {reason}")?;
            }
            writeln!(out, "Strategy: {}", field("strategy").unwrap_or_default())?;
            if let Some(next) = doc["next_window"].as_u64() {
                writeln!(
                    out,
                    "Next window: {}",
                    ferro_fleet::time::rfc3339(next * 1000)
                )?;
            }
            if let Some(v) = doc["staged"]["version"].as_str() {
                writeln!(out, "Staged: {v}")?;
            }
            writeln!(
                out,
                "Lock held: {}",
                doc["lock_held"].as_bool().unwrap_or(false)
            )?;
            if let Some(until) = doc["deferred_until"].as_u64() {
                writeln!(
                    out,
                    "Deferred until: {}",
                    ferro_fleet::time::rfc3339(until * 1000)
                )?;
            }
            if let Some(e) = field("last_error") {
                writeln!(out, "Last error: {e}")?;
            }
            for w in doc["warnings"].as_array().into_iter().flatten() {
                writeln!(out, "Warning: {}", w.as_str().unwrap_or_default())?;
            }
            Ok(ExitStatus::Success)
        }
        Some(AgentVerb::CheckNow) => {
            service::request(socket, "check-now")?;
            printer.outln("Checking for updates now")?;
            Ok(ExitStatus::Success)
        }
        Some(AgentVerb::Defer(defer)) => {
            let secs = parse_duration(&defer.duration)?;
            let doc = service::request(socket, &format!("defer {secs}"))?;
            let until = doc["deferred_until"].as_u64().unwrap_or_default();
            printer.outln(format_args!(
                "No reboot into a staged update before {}",
                ferro_fleet::time::rfc3339(until * 1000)
            ))?;
            Ok(ExitStatus::Success)
        }
        Some(AgentVerb::Metrics) => {
            let text = service::request(&args.metrics_socket, "metrics")?;
            printer.out(text.as_str().unwrap_or_default())?;
            Ok(ExitStatus::Success)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("30").unwrap(), 30);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
