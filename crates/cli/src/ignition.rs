//! `ferro ignition`: working with Ignition configs.

use std::io::Write;
use std::time::Duration;

use ferro_ignition::engine::{self, Outcome, Stage};
use ferro_ignition::fetch::Fetcher;
use ferro_ignition::sources::{Platform, PlatformError, Sources};

use crate::ExitStatus;
use crate::args::{IgnitionApplyArgs, IgnitionCommand, IgnitionRunArgs};
use crate::output;
use crate::printer::Printer;
use crate::render;

pub fn run(command: IgnitionCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        IgnitionCommand::Validate { file, json } => validate(file.as_deref(), json, printer),
        IgnitionCommand::Apply(args) => apply(args, printer),
        IgnitionCommand::Run(args) => Ok(run_stage(&args, printer)),
    }
}

/// Renders, validates and applies a config to a directory, printing each change.
fn apply(args: IgnitionApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let config = output::read_input(Some(&args.config))?;
    let base = match args.platform.as_deref() {
        Some(name) => Sources::from_env(name.parse()?).base_config()?,
        None => ferro_spec::Config::default(),
    };
    let fetcher = if args.offline {
        Fetcher::offline()
    } else {
        Fetcher::new().with_total_timeout(Some(Duration::from_secs(120)))
    };
    let changes = engine::apply(&config, &base, &args.root, &fetcher, args.dry_run)?;
    printer.out(changes)?;
    Ok(ExitStatus::Success)
}

/// One Ignition stage with Ignition's logging and exit codes.
fn run_stage(args: &IgnitionRunArgs, printer: &Printer) -> ExitStatus {
    let log_file = args.log_file.as_ref().and_then(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .inspect_err(|e| {
                printer.errln(format!("WARNING  : cannot log to {}: {e}", path.display()))
            })
            .ok()
    });
    let log = |level: &str, message: &str| {
        let line = format!("{level:<9}: {message}");
        if let Some(mut file) = log_file.as_ref() {
            // The journal copy is best effort: losing it must not fail the stage.
            let _ = writeln!(
                file,
                "<{}>{}: {message}",
                syslog_priority(level),
                args.stage
            );
        }
        if args.log_to_stdout {
            // A log line lost to a closed standard output must not change the exit code.
            let _ = printer.outln(&line);
        } else {
            printer.errln(&line);
        }
    };
    let stage: Stage = match args.stage.parse() {
        Ok(stage) => stage,
        Err(error) => {
            log("CRITICAL", &error);
            return ExitStatus::Usage;
        }
    };
    let platform: Platform = match args.platform.parse() {
        Ok(platform) => platform,
        Err(error @ PlatformError::Unknown(_)) => {
            log("CRITICAL", &error.to_string());
            return ExitStatus::Usage;
        }
        Err(error) => {
            log("CRITICAL", &error.to_string());
            return ExitStatus::Init;
        }
    };
    log(
        "INFO",
        &format!("Ignition (ferrocore {})", env!("CARGO_PKG_VERSION")),
    );
    log("INFO", &format!("Stage: {stage}"));
    let options = engine::Options {
        config_cache: args.config_cache.clone(),
        state_file: args.state_file.clone(),
        neednet: args.neednet.clone(),
        fetch_timeout: Some(Duration::from_secs(args.fetch_timeout)).filter(|t| !t.is_zero()),
        authorized_keys_fragment: args.write_authorized_keys_fragment,
        ..engine::Options::new(stage, Sources::from_env(platform), args.root.clone())
    };
    match engine::run(&options) {
        Ok(outcome) => {
            match outcome {
                Outcome::Cached {
                    origin,
                    user_config_provided,
                } => log(
                    "INFO",
                    &if user_config_provided {
                        format!("fetched config from {origin}")
                    } else {
                        format!("no config from {origin}; using an empty config")
                    },
                ),
                Outcome::NeedNetwork { reason } => {
                    log("INFO", &format!("{reason}; the fetch stage will run"));
                }
                Outcome::NothingToDo => log("INFO", "nothing to do"),
                Outcome::Applied {
                    changes,
                    previous_run,
                } => {
                    if previous_run {
                        log("WARNING", "Ignition has already run on this system");
                    }
                    for change in &changes.changes {
                        log("INFO", &change.to_string());
                    }
                }
            }
            log("INFO", "Ignition finished successfully");
            ExitStatus::Success
        }
        Err(error) => {
            log("CRITICAL", &format!("Ignition failed: {error}"));
            ExitStatus::Failure
        }
    }
}

/// The syslog priority of one of Ignition's log levels.
fn syslog_priority(level: &str) -> u8 {
    match level {
        "CRITICAL" => 2,
        "ERROR" => 3,
        "WARNING" => 4,
        "DEBUG" => 7,
        _ => 6,
    }
}

/// Prints every finding as `error at $.path, line L col C: message` on standard output,
/// like `ignition-validate`; exit 1 when the config is not usable.
fn validate(
    file: Option<&std::path::Path>,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let bytes = output::read_input(file)?;
    let outcome = ferro_spec::parse::validate_bytes(&bytes);
    let error = match &outcome.error {
        // The report already says why.
        Some(ferro_spec::parse::ParseError::Invalid { .. }) | None => None,
        Some(error) => Some(format!("couldn't parse config: {error}")),
    };
    if json {
        let document = serde_json::json!({
            "valid": outcome.is_valid(),
            "error": error,
            "entries": render::entries_json(&outcome.report),
        });
        printer.json(&document)?;
    } else {
        printer.out(&outcome.report)?;
        if let Some(error) = error {
            printer.outln(error)?;
        }
    }
    Ok(if outcome.is_valid() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
