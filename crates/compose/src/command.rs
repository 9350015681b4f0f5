//! Running the host tools an image is built with (`sgdisk`, `mkfs`, `losetup`,
//! `grub-mkimage`, `qemu-img`): a tool that is not installed is told apart from one
//! that failed, and a failure carries the tool's own message.

use std::process::{Command, ExitStatus};

/// Why a tool did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program could not be started (usually: not installed).
    #[error("could not start {program} (install the {package} package)")]
    Missing {
        /// The program.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program with its arguments.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
}

impl Error {
    /// Whether the tool is simply not installed (tests skip then).
    pub fn is_missing(&self) -> bool {
        matches!(self, Error::Missing { .. })
    }
}

/// Runs `command` to completion and returns its standard output; `package` names where
/// the program comes from, for the message when it is missing.
pub fn run(command: &mut Command, package: &'static str) -> Result<String, Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|source| Error::Missing {
        program: program.clone(),
        package,
        source,
    })?;
    if !output.status.success() {
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return Err(Error::Failed {
            program: format!("{program} {}", args.join(" ")),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
