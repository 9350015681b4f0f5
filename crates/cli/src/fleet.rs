//! `ferro fleet …`: renders the operations of `ferro_fleet`.

use ferro_fleet::client::AdminClient;
use ferro_fleet::time::rfc3339;

use crate::ExitStatus;
use crate::args_fleet::{
    FleetArgs, FleetListArgs, FleetLocksArgs, FleetReleaseArgs, FleetReleasesArgs, FleetServeArgs,
    FleetServerArgs, FleetVerb,
};
use crate::printer::Printer;

/// The admin client for `args`, trusting `--ca` if given.
fn admin_client(args: &FleetServerArgs) -> anyhow::Result<AdminClient> {
    let client = AdminClient::new(&args.server, &args.token)?;
    match &args.ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| ferro_sys::IoError::new("read", path, e))?;
            Ok(client.trusting(&pem)?)
        }
        None => Ok(client),
    }
}

/// Runs one `ferro fleet` command.
pub fn run(args: FleetArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match args.verb {
        FleetVerb::Serve(serve) => serve_fleet(serve, printer),
        FleetVerb::Locks(locks) => list_locks(locks, printer),
        FleetVerb::Release(release) => release_slot(release, printer),
        FleetVerb::Nodes(nodes) => list_nodes(nodes, printer),
        FleetVerb::Releases(releases) => list_releases(releases, printer),
        FleetVerb::Pools(pools) => list_pools(pools, printer),
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
    ferro_fleet::server::init_logging(args.log.as_deref());
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
    let client = admin_client(&args.server)?;
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
    let client = admin_client(&args.server)?;
    let result = client.release(&args.group, &args.id)?;
    printer.errln(format_args!(
        "released the slot of '{}' in group '{}' ({} holder(s) left)",
        args.id, args.group, result.holders
    ));
    Ok(ExitStatus::Success)
}

fn list_nodes(args: FleetListArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let client = admin_client(&args.server)?;
    let nodes = client.nodes()?;
    if args.json {
        printer.json(&nodes)?;
        return Ok(ExitStatus::Success);
    }
    printer.outln(format_args!(
        "{:<34} {:<10} {:<20} {:<12} {:<10} LAST SEEN",
        "NODE", "STREAM", "VERSION", "GROUP", "PLATFORM"
    ))?;
    for node in &nodes.nodes {
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        printer.outln(format_args!(
            "{:<34} {:<10} {:<20} {:<12} {:<10} {}",
            node.node_uuid,
            or_dash(&node.stream),
            or_dash(&node.os_version),
            or_dash(&node.group),
            or_dash(&node.platform),
            rfc3339(node.last_seen)
        ))?;
    }
    Ok(ExitStatus::Success)
}

fn list_releases(args: FleetReleasesArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let client = admin_client(&args.list.server)?;
    let releases = client.releases(&args.basearch)?;
    if args.list.json {
        printer.json(&releases)?;
        return Ok(ExitStatus::Success);
    }
    for stream in &releases.streams {
        printer.outln(format_args!("{} ({})", stream.name, stream.ref_name))?;
        if let Some(error) = &stream.error {
            printer.outln(format_args!("  not served: {error}"))?;
        }
        for release in &stream.releases {
            let mut notes = Vec::new();
            if let Some(reason) = &release.barrier {
                notes.push(format!("barrier ({reason})"));
            }
            if let Some(reason) = &release.deadend {
                notes.push(format!("dead-end ({reason})"));
            }
            if let Some(progress) = release.rollout {
                notes.push(format!("rollout {:.1} %", progress * 100.0));
            }
            printer.outln(format_args!(
                "  {:<20} {}  {}",
                release.version,
                release.payload.get(..12).unwrap_or(&release.payload),
                notes.join(", ")
            ))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn list_pools(args: FleetListArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let pools = admin_client(&args.server)?.pools()?;
    if args.json {
        printer.json(&pools)?;
        return Ok(ExitStatus::Success);
    }
    let short = |hash: &Option<String>| {
        hash.as_deref()
            .map_or("-".to_owned(), |h| h.get(..12).unwrap_or(h).to_owned())
    };
    for pool in &pools.pools {
        let pending = if pool.desired != pool.current {
            format!(
                ", desired {} (not applied by any node yet)",
                short(&pool.desired)
            )
        } else {
            String::new()
        };
        printer.outln(format_args!(
            "{}: serving {}{pending}",
            pool.name,
            short(&pool.current)
        ))?;
        if let Some(error) = &pool.error {
            printer.outln(format_args!("  rendering failed: {error}"))?;
        }
        for node in &pool.nodes {
            let reason = if node.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", node.reason)
            };
            printer.outln(format_args!(
                "  {:<34} {:<14} {} {}{reason}",
                node.node_uuid,
                format!("{:?}", node.state),
                node.config_hash.get(..12).unwrap_or(&node.config_hash),
                rfc3339(node.at)
            ))?;
        }
    }
    Ok(ExitStatus::Success)
}
