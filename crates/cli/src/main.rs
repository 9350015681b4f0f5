//! `ferro`: the one binary of ferrocore. It parses arguments, calls the libraries and
//! renders their results; the logic lives in the library crates.

mod admin;
mod agent;
mod args;
mod args_admin;
mod args_agent;
mod args_fleet;
mod args_gpg;
mod args_installer;
mod args_layer;
mod args_ostree;
mod args_vm;
mod butane;
mod compose;
mod env;
mod exit;
mod fleet;
mod host;
mod ignition;
mod installer;
mod layer;
mod ostree;
mod ostree_delta;
mod ostree_gpg;
mod ostree_remote;
mod ostree_sign;
mod output;
mod printer;
mod render;
mod vm;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

pub use exit::ExitStatus;
use printer::Printer;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(args::hoist_ostree_options(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => exit::parse_error(e),
    };
    let printer = Printer::new();
    let style = match cli.command {
        Command::Ostree(_) => exit::ErrorStyle::Ostree,
        _ => exit::ErrorStyle::Capitalised,
    };
    let result = match cli.command {
        Command::Butane(args) => butane::run(args, &printer),
        Command::Ignition(command) => ignition::run(command, &printer),
        Command::Ostree(args) => match *args {
            args_ostree::OstreeArgs {
                verb: Some(args_ostree::OstreeVerb::Admin(admin)),
                ..
            } => admin::run(admin, &printer),
            args => ostree::run(args, &printer),
        },
        Command::Status(args) => host::status(args, &printer),
        Command::Rollback(args) => host::rollback(args, &printer),
        Command::Kargs(args) => host::kargs(args, &printer),
        Command::Cleanup(args) => host::cleanup(args, &printer),
        Command::Deploy(args) => host::deploy(args, &printer),
        Command::Upgrade(args) => host::upgrade(args, &printer),
        Command::FinalizeDeployment(args) => host::finalize_deployment(args, &printer),
        Command::Rebase(args) => host::rebase(args, &printer),
        Command::PrepareRoot(args) => host::prepare_root(args, &printer),
        Command::Install(args) => layer::install(args, &printer),
        Command::Uninstall(args) => layer::uninstall(args, &printer),
        Command::Override(args) => layer::override_(args, &printer),
        Command::ApplyLive(args) => layer::apply_live(args, &printer),
        Command::Vm(args) => vm::run(args, &printer),
        Command::Compose(command) => compose::run(command, &printer),
        Command::Fleet(args) => fleet::run(args, &printer),
        Command::Agent(args) => agent::run(args, &printer),
        Command::Installer(command) => installer::run(command, &printer),
    };
    exit::finish_styled(result, &printer, style)
}
