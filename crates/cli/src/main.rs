//! `ferro`: the one binary of ferrocore. It parses arguments, calls the libraries and
//! renders their results; the logic lives in the library crates.

mod admin;
mod args;
mod args_admin;
mod args_fleet;
mod args_ostree;
mod args_vm;
mod butane;
mod compose;
mod exit;
mod fleet;
mod host;
mod ignition;
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
    let result = match cli.command {
        Command::Butane(args) => butane::run(args, &printer),
        Command::Ignition(command) => ignition::run(command, &printer),
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
        Command::Fleet(args) => fleet::run(args, &printer),
    };
    exit::finish(result, &printer)
}
