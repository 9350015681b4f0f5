//! `ferro fleet …`: renders the operations of `ferro_fleet`.

use ferro_fleet::client::AdminClient;
use ferro_fleet::time::rfc3339;

use crate::ExitStatus;
use crate::args_fleet::{FleetArgs, FleetLocksArgs, FleetReleaseArgs, FleetServeArgs, FleetVerb};
use crate::printer::Printer;

/// Runs one `ferro fleet` command.
pub fn run(args: FleetArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match args.verb {
        FleetVerb::Serve(serve) => serve_fleet(serve, printer),
        FleetVerb::Locks(locks) => list_locks(locks, printer),
        FleetVerb::Release(release) => release_slot(release, printer),
    }
}

#[cfg(feature = "fleet-server")]
fn serve_fleet(args: FleetServeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut config = ferro_fleet::Config::load(&args.config)?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.etcd.is_empty() {
        config.etcd = args.etcd;
    }
    ferro_fleet::server::init_logging();
    let mut announced = Ok(());
    ferro_fleet::server::serve(config, |addr| {
        announced = printer.out_bytes(format!("listening on {addr}\n").as_bytes());
    })?;
    anyhow::Context::context(announced, "could not announce the address")?;
    Ok(ExitStatus::Success)
}

#[cfg(not(feature = "fleet-server"))]
fn serve_fleet(_: FleetServeArgs, _: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("this ferro was built without the fleet server (cargo feature `fleet-server`)")
}

fn list_locks(args: FleetLocksArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let client = AdminClient::new(&args.server.server, &args.server.token)?;
    let locks = client.locks()?;
    if args.json {
        printer.json(&locks)?;
        return Ok(ExitStatus::Success);
    }
    printer.outln(format_args!(
        "{:<20} {:>7}  {:<34} {:<20} LAST SEEN",
        "GROUP", "HELD", "HOLDER", "ACQUIRED"
    ))?;
    for group in &locks.groups {
        let held = format!("{}/{}", group.holders.len(), group.slots);
        if group.holders.is_empty() {
            printer.outln(format_args!("{:<20} {held:>7}  -", group.name))?;
        }
        for holder in &group.holders {
            printer.outln(format_args!(
                "{:<20} {held:>7}  {:<34} {:<20} {}",
                group.name,
                holder.id,
                rfc3339(holder.acquired_at),
                rfc3339(holder.last_seen)
            ))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn release_slot(args: FleetReleaseArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let client = AdminClient::new(&args.server.server, &args.server.token)?;
    let result = client.release(&args.group, &args.id)?;
    printer.errln(format_args!(
        "released the slot of '{}' in group '{}' ({} holder(s) left)",
        args.id, args.group, result.holders
    ));
    Ok(ExitStatus::Success)
}
