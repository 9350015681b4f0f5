//! `ferro install|uninstall`, `ferro override remove|reset`, `ferro apply-live`, and
//! the layering part of `ferro status`. Rendering only; the work is in
//! `ferro_sysroot::layer`.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferro_sysroot::layer::{LayerOptions, LayerOutcome, LayerStatus, LiveReport, PackageChange};
use ferro_sysroot::{Apply, Deployment, Sysroot};
use serde_json::json;

use crate::ExitStatus;
use crate::admin::open;
use crate::args_layer::{
    ApplyLiveArgs, InstallArgs, LayerFlags, OverrideArgs, OverrideVerb, UninstallArgs,
};
use crate::host::finish_deploy;
use crate::printer::Printer;

/// The `status --json` document `doc` with each of its `deployments` (those of
/// `rows`, in order) given its layering keys.
pub fn with_layering(
    sysroot: &Sysroot,
    rows: &[&Deployment],
    mut doc: serde_json::Value,
) -> serde_json::Value {
    let live = sysroot.live_commit();
    if let Some(entries) = doc["deployments"].as_array_mut() {
        for (d, entry) in rows.iter().zip(entries) {
            status_json(sysroot, d, entry);
            if entry["booted"] == true
                && let (Some(live), Some(map)) = (&live, entry.as_object_mut())
            {
                map.insert("live-replaced".into(), json!(live));
            }
        }
    }
    doc
}

/// The `status --json` keys of a deployment's layering, named as rpm-ostree names them.
fn status_json(sysroot: &Sysroot, d: &Deployment, row: &mut serde_json::Value) {
    let s = sysroot.layer_status(d);
    let Some(map) = row.as_object_mut() else {
        return;
    };
    if let Some(base) = s.base_checksum {
        map.insert("base-checksum".into(), json!(base.to_string()));
    }
    map.insert("requested-packages".into(), json!(s.requested_packages));
    map.insert(
        "requested-local-packages".into(),
        json!(s.requested_local_packages),
    );
    map.insert(
        "requested-base-removals".into(),
        json!(s.requested_base_removals),
    );
    map.insert("packages".into(), json!(s.packages));
    map.insert("base-removals".into(), json!(s.base_removals));
}

fn list(out: &mut impl Write, key: &str, items: &[String]) -> std::io::Result<()> {
    if !items.is_empty() {
        writeln!(out, "{key:>16}: {}", items.join(" "))?;
    }
    Ok(())
}

/// The human `status` lines of a deployment's layering: `BaseCommit`,
/// `LayeredPackages`, `LocalPackages`, `RemovedBasePackages`, `LiveCommit` (the booted
/// one, after `apply-live`), and with `verbose` `InactiveRequests` and
/// `InactiveBaseRemovals`.
pub fn status_text(
    sysroot: &Sysroot,
    d: &Deployment,
    booted: bool,
    verbose: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s: LayerStatus = sysroot.layer_status(d);
    if booted && let Some(live) = sysroot.live_commit() {
        writeln!(out, "{:>16}: {live}", "LiveCommit")?;
    }
    if let Some(base) = s.base_checksum {
        writeln!(out, "{:>16}: {base}", "BaseCommit")?;
    }
    list(out, "LayeredPackages", &s.packages)?;
    list(out, "LocalPackages", &s.local_packages)?;
    list(out, "RemovedBasePackages", &s.base_removals)?;
    if verbose {
        list(out, "InactiveRequests", &s.inactive_requests())?;
        list(out, "InactiveBaseRemovals", &s.inactive_removals())?;
    }
    Ok(())
}

fn options(flags: &LayerFlags, allow_inactive: bool) -> LayerOptions {
    LayerOptions {
        apply: Apply::from_flags(flags.apply.stage, flags.apply.lock_finalization),
        dry_run: flags.dry_run,
        allow_inactive,
        idempotent: flags.idempotent,
    }
}

fn run(
    flags: LayerFlags,
    change: PackageChange,
    allow_inactive: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&flags.apply.sysroot)?;
    sysroot.check_driver(flags.apply.bypass_driver)?;
    let outcome = sysroot.change_packages(&change, &options(&flags, allow_inactive))?;
    report(&sysroot, &flags, outcome, printer)
}

fn report(
    sysroot: &Sysroot,
    flags: &LayerFlags,
    outcome: LayerOutcome,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if !outcome.changed {
        if !flags.apply.json {
            printer.outln("No change.")?;
        }
        return Ok(if flags.unchanged_exit_77 {
            ExitStatus::Unchanged
        } else {
            ExitStatus::Success
        });
    }
    if !flags.apply.json {
        let mut out = printer.stdout();
        match &outcome.transaction {
            Some(t) if !t.install.is_empty() || !t.remove.is_empty() => {
                writeln!(out, "Transaction:")?;
                out.write_all(t.to_text().as_bytes())?;
            }
            _ => writeln!(
                out,
                "Nothing to layer: the base has every requested package."
            )?,
        }
        if !outcome.inactive.is_empty() {
            writeln!(
                out,
                "Inactive requests (in the base): {}",
                outcome.inactive.join(" ")
            )?;
        }
        if let Some(build) = &outcome.build {
            if !build.kernels.is_empty() {
                writeln!(
                    out,
                    "Kernel modules changed for {}: depmod run, initramfs regenerated",
                    build.kernels.join(" ")
                )?;
            }
            writeln!(out, "Layered commit: {}", build.commit)?;
        }
    }
    if flags.dry_run {
        if flags.apply.json {
            let t = outcome.transaction.unwrap_or_default();
            printer.json(&json!({
                "install": t.install.iter().map(|p| json!({"name": p.name, "version": p.version, "arch": p.arch})).collect::<Vec<_>>(),
                "remove": t.remove.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            }))?;
        } else {
            printer.outln("Dry run: nothing changed.")?;
        }
        return Ok(ExitStatus::Success);
    }
    let Some(deployed) = outcome.deployment else {
        return Ok(ExitStatus::Success);
    };
    if flags.apply_live {
        let live = sysroot.apply_live(Path::new("/"), flags.allow_replacement)?;
        live_text(&live, printer)?;
    }
    finish_deploy(&flags.apply, &deployed, printer)
}

fn live_text(live: &LiveReport, printer: &Printer) -> anyhow::Result<()> {
    printer.outln(format_args!(
        "Applied live: {} files added, {} changed, {} removed in /usr; {} /etc files written",
        live.added, live.changed, live.removed, live.etc_written
    ))?;
    Ok(())
}

/// `ferro install`.
pub fn install(args: InstallArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let (local, names): (Vec<String>, Vec<String>) = args
        .packages
        .into_iter()
        .partition(|p| p.ends_with(".deb") || p.contains('/'));
    let change = PackageChange {
        install: names,
        install_local: local.into_iter().map(PathBuf::from).collect(),
        ..PackageChange::default()
    };
    run(args.flags, change, args.allow_inactive, printer)
}

/// `ferro uninstall`.
pub fn uninstall(args: UninstallArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let change = PackageChange {
        uninstall: args.packages,
        install: args.install,
        ..PackageChange::default()
    };
    run(args.flags, change, false, printer)
}

/// `ferro override remove|reset`.
pub fn override_(args: OverrideArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match args.verb {
        OverrideVerb::Remove { flags, packages } => {
            let change = PackageChange {
                override_remove: packages,
                ..PackageChange::default()
            };
            run(flags, change, false, printer)
        }
        OverrideVerb::Reset {
            flags,
            all,
            packages,
        } => {
            let change = PackageChange {
                override_reset: packages,
                override_reset_all: all,
                ..PackageChange::default()
            };
            run(flags, change, false, printer)
        }
    }
}

/// `ferro apply-live`.
pub fn apply_live(args: ApplyLiveArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let live = sysroot.apply_live(&args.root, args.allow_replacement)?;
    live_text(&live, printer)?;
    Ok(ExitStatus::Success)
}
