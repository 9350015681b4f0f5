//! `ferro ignition`: working with Ignition configs.

use crate::ExitStatus;
use crate::args::IgnitionCommand;
use crate::output;
use crate::render;

pub fn run(command: IgnitionCommand) -> anyhow::Result<ExitStatus> {
    match command {
        IgnitionCommand::Validate { file, json } => validate(file.as_deref(), json),
    }
}

/// Prints every finding as `error at $.path, line L col C: message` on standard output,
/// like `ignition-validate`; exit 1 when the config is not usable.
fn validate(file: Option<&std::path::Path>, json: bool) -> anyhow::Result<ExitStatus> {
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
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", outcome.report);
        if let Some(error) = error {
            println!("{error}");
        }
    }
    Ok(if outcome.is_valid() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
