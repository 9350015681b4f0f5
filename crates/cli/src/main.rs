//! `ferro`: the one binary of ferrocore. It parses arguments, calls the libraries and
//! renders their results; the logic lives in the library crates.

mod admin;
mod args;
mod args_admin;
mod args_ostree;
mod args_vm;
mod butane;
mod compose;
mod host;
mod ignition;
mod ostree;
mod ostree_delta;
mod ostree_remote;
mod ostree_sign;
mod output;
mod render;
mod vm;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// How a command ended, mapped to conventional exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (0).
    Success,
    /// The input was rejected (1).
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
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::Init => ExitCode::from(3),
            ExitStatus::Unchanged => ExitCode::from(77),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Butane(args) => butane::run(args),
        Command::Ignition(command) => ignition::run(command),
        Command::Ostree(args_ostree::OstreeArgs {
            verb: args_ostree::OstreeVerb::Admin(admin),
            ..
        }) => admin::run(admin),
        Command::Ostree(args) => ostree::run(args),
        Command::Status(args) => host::status(args),
        Command::Rollback(args) => host::rollback(args),
        Command::Kargs(args) => host::kargs(args),
        Command::Cleanup(args) => host::cleanup(args),
        Command::Deploy(args) => host::deploy(args),
        Command::Upgrade(args) => host::upgrade(args),
        Command::Rebase(args) => host::rebase(args),
        Command::PrepareRoot(args) => host::prepare_root(args),
        Command::Vm(args) => vm::run(args),
        Command::Compose(command) => compose::run(command),
    };
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("Error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
