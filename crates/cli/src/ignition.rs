//! `ferro ignition`: working with Ignition configs.

use crate::ExitStatus;
use crate::args::IgnitionCommand;
use crate::output;

pub fn run(command: IgnitionCommand) -> anyhow::Result<ExitStatus> {
    match command {
        IgnitionCommand::Validate { file } => validate(file.as_deref()),
    }
}

/// Prints every finding as `error at $.path, line L col C: message` on standard output,
/// like `ignition-validate`; exit 1 when the config is not usable.
fn validate(file: Option<&std::path::Path>) -> anyhow::Result<ExitStatus> {
    let bytes = output::read_input(file)?;
    let outcome = ferro_spec::parse::validate_bytes(&bytes);
    print!("{}", outcome.report);
    match &outcome.error {
        // The report above already says why.
        Some(ferro_spec::parse::ParseError::Invalid { .. }) | None => {}
        Some(error) => println!("couldn't parse config: {error}"),
    }
    Ok(if outcome.is_valid() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
