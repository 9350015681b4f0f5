//! How a command ends, and the one path from a command's result to the process's
//! exit code.

use std::process::ExitCode;

use crate::printer::Printer;

/// How a command ended, mapped to conventional exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (0).
    Success,
    /// The input was rejected, or the operation failed (1).
    Failure,
    /// Bad usage (2), as Ignition exits for a missing or invalid stage or platform.
    Usage,
    /// Could not start (3), as Ignition exits when it cannot set itself up.
    Init,
    /// Nothing to do (77), as `rpm-ostree upgrade --check` exits when no update exists.
    Unchanged,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Init => 3,
            ExitStatus::Unchanged => 77,
        })
    }
}

/// A bad option value found after parsing (a library refused it): exit 2, like an
/// argument clap refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Ends the process for an argument clap refused, as clap does, but in `ostree`'s words
/// where scripts match them: a command group without its verb says "No command
/// specified" (with its help), an unknown verb "Unknown command".
pub fn parse_error(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let text = error.render().to_string();
    let reworded = match error.kind() {
        ErrorKind::InvalidSubcommand => {
            text.replacen("unrecognized subcommand", "Unknown command", 1)
        }
        ErrorKind::MissingSubcommand => match text.split_once('\n') {
            Some((_, rest)) => format!("error: No command specified\n{rest}"),
            None => text,
        },
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            format!("error: No command specified\n\n{text}")
        }
        _ => error.exit(),
    };
    eprint!("{reworded}");
    std::process::exit(2)
}

/// How an error is introduced on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `Error: …`, as Butane, Ignition and rpm-ostree print it.
    Capitalised,
    /// `error: …`, as `ostree` prints it (its test scripts match on it).
    Ostree,
}

/// The exit code of a command's `result`, printing its error (once, with its causes,
/// introduced as `style` says) when there is one. A closed standard output (`ferro … |
/// head`) is not an error.
pub fn finish_styled(
    result: anyhow::Result<ExitStatus>,
    printer: &Printer,
    style: ErrorStyle,
) -> ExitCode {
    let error = match result {
        Ok(status) => return status.into(),
        Err(error) => error,
    };
    let broken_pipe = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let prefix = match style {
        ErrorStyle::Capitalised => "Error",
        ErrorStyle::Ostree => "error",
    };
    printer.errln(format_args!("{prefix}: {error:#}"));
    if error.downcast_ref::<UsageError>().is_some() {
        ExitStatus::Usage.into()
    } else {
        ExitStatus::Failure.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let code = |s| format!("{:?}", ExitCode::from(s));
        assert_eq!(
            code(ExitStatus::Unchanged),
            format!("{:?}", ExitCode::from(77))
        );
        let printer = Printer::new();
        let usage = finish_styled(
            Err(UsageError("bad".into()).into()),
            &printer,
            ErrorStyle::Ostree,
        );
        assert_eq!(format!("{usage:?}"), format!("{:?}", ExitCode::from(2)));
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let closed = finish_styled(
            Err(anyhow::Error::from(pipe)),
            &printer,
            ErrorStyle::Capitalised,
        );
        assert_eq!(format!("{closed:?}"), format!("{:?}", ExitCode::SUCCESS));
    }
}
