//! `ferro`: the one binary of ferrocore. It parses arguments, calls the libraries and
//! renders their results; the logic lives in the library crates.

mod admin;
mod args;
mod args_admin;
mod args_fleet;
mod args_installer;
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
mod ostree;
mod ostree_delta;
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
    let cli = Cli::parse();
    let printer = Printer::new();
    let style = match cli.command {
        Command::Ostree(_) => exit::ErrorStyle::Ostree,
        _ => exit::ErrorStyle::Capitalised,
    };
    let result = match cli.command {
        Command::Butane(args) => butane::run(args, &printer),
        Command::Ignition(command) => ignition::run(command, &printer),
        Command::Ostree(args_ostree::OstreeArgs {
            verb: Some(args_ostree::OstreeVerb::Admin(admin)),
            ..
        }) => admin::run(admin, &printer),
        Command::Ostree(args) => ostree::run(args, &printer),
        Command::Status(args) => host::status(args, &printer),
        Command::Rollback(args) => host::rollback(args, &printer),
        Command::Kargs(args) => host::kargs(args, &printer),
        Command::Cleanup(args) => host::cleanup(args, &printer),
        Command::Deploy(args) => host::deploy(args, &printer),
        Command::Upgrade(args) => host::upgrade(args, &printer),
        Command::Rebase(args) => host::rebase(args, &printer),
        Command::PrepareRoot(args) => host::prepare_root(args, &printer),
        Command::Vm(args) => vm::run(args, &printer),
        Command::Compose(command) => compose::run(command, &printer),
        Command::Fleet(args) => fleet::run(args, &printer),
        Command::Installer(command) => installer::run(command, &printer),
    };
    exit::finish_styled(result, &printer, style)
}
