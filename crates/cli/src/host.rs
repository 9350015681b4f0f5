//! The host commands with rpm-ostree's shape: `ferro status [--json] [-v]`,
//! `ferro deploy|upgrade|rebase`, `ferro rollback`, `ferro kargs`, `ferro cleanup`, and
//! `ferro prepare-root`. Rendering only; the work is in ferro-sysroot.

use std::io::Write;

use ferro_ostree::browse::format_timestamp;
use ferro_sysroot::host::{HostActions, SystemHost};
use ferro_sysroot::{Apply, DeployReport, DeploymentStatus, KargEdit, UpgradeCheck};
use serde_json::json;

use crate::ExitStatus;
use crate::admin::{cleanup_text, deploy_text, open};
use crate::args_admin::{
    ApplyArgs, DeployArgs, FinalizeDeploymentArgs, KargsArgs, PrepareRootArgs, RebaseArgs,
    RollbackArgs, StatusArgs, SysrootArgs, UpgradeArgs,
};
use crate::printer::Printer;

fn json_row(row: &DeploymentStatus, locked: bool) -> serde_json::Value {
    let d = &row.deployment;
    json!({
        "id": format!("{}-{}", d.osname, d.name()),
        "osname": d.osname,
        "checksum": d.checksum.to_string(),
        "serial": d.serial,
        "booted": row.booted,
        "staged": row.staged,
        "finalization-locked": row.staged && locked,
        "pinned": d.pinned(),
        "origin": d.refspec(),
        "version": row.version,
        "timestamp": row.timestamp,
    })
}

/// `ferro status`.
pub fn status(args: StatusArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let rows = sysroot.status()?;
    let locked = sysroot.finalization_locked()?;
    let mut out = printer.stdout();
    if args.json {
        let doc = json!({
            "deployments": rows.iter().map(|r| json_row(r, locked)).collect::<Vec<_>>(),
            "update-driver": sysroot.update_driver()?.map(|d| json!({"name": d.name, "unit": d.unit})),
            "transaction": null,
        });
        drop(out);
        let rows: Vec<_> = rows.iter().map(|r| &r.deployment).collect();
        printer.json(&crate::layer::with_layering(&sysroot, &rows, doc))?;
        return Ok(ExitStatus::Success);
    }
    writeln!(out, "Deployments:")?;
    for row in &rows {
        let d = &row.deployment;
        let mark = if row.booted { '●' } else { ' ' };
        let default = if row.index == 0 && !row.staged {
            " (default)"
        } else {
            ""
        };
        let origin = d.refspec().unwrap_or_else(|| "(no origin)".into());
        writeln!(out, "{mark} {}:{origin}{default}", d.osname)?;
        if let Some(version) = &row.version {
            let when = format_timestamp(row.timestamp);
            writeln!(out, "{:>16}: {version} ({when})", "Version")?;
        }
        writeln!(out, "{:>16}: {}", "Commit", d.checksum)?;
        if row.staged {
            let locked = if locked { " (finalization locked)" } else { "" };
            writeln!(out, "{:>16}: yes{locked}", "Staged")?;
        }
        if d.pinned() {
            writeln!(out, "{:>16}: yes", "Pinned")?;
        }
        crate::layer::status_text(&sysroot, d, row.booted, args.verbose, &mut out)?;
        if args.verbose {
            writeln!(out, "{:>16}: {}", "StateRoot", d.osname)?;
            writeln!(out, "{:>16}: {}", "KernelArgs", d.kargs)?;
            let etc = sysroot.etc_changes(d)?;
            let changed: Vec<String> = etc
                .modified
                .iter()
                .map(|p| format!("M /etc/{p}"))
                .chain(etc.added.iter().map(|p| format!("A /etc/{p}")))
                .chain(etc.removed.iter().map(|p| format!("D /etc/{p}")))
                .collect();
            writeln!(
                out,
                "{:>16}: {}",
                "EtcChanges",
                if changed.is_empty() {
                    "none".into()
                } else {
                    changed.len().to_string()
                }
            )?;
            for line in changed {
                writeln!(out, "{:>18}{line}", "")?;
            }
        }
        writeln!(out)?;
    }
    Ok(ExitStatus::Success)
}

/// `ferro rollback`.
pub fn rollback(args: RollbackArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let previous = sysroot.rollback()?;
    printer.outln(format_args!(
        "Moving deployment {previous} to be booted next; run `ferro status` to see it"
    ))?;
    if args.reboot {
        reboot()?;
    }
    Ok(ExitStatus::Success)
}

/// `ferro kargs`: prints the arguments, or edits them into a new boot version.
pub fn kargs(args: KargsArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let edits: Vec<KargEdit> = args
        .append
        .into_iter()
        .map(KargEdit::Append)
        .chain(args.delete.into_iter().map(KargEdit::Delete))
        .chain(args.replace.into_iter().map(KargEdit::Replace))
        .collect();
    if edits.is_empty() {
        let state = sysroot.load()?;
        let Some(d) = state.deployments.get(args.deploy_index) else {
            anyhow::bail!("no deployment {}", args.deploy_index);
        };
        printer.outln(format_args!("{}", d.kargs))?;
        return Ok(ExitStatus::Success);
    }
    let d = sysroot.edit_kargs(args.deploy_index, &edits)?;
    printer.outln(format_args!("Kernel arguments updated: {}", d.kargs))?;
    Ok(ExitStatus::Success)
}

/// `ferro cleanup`.
pub fn cleanup(args: SysrootArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args)?;
    let report = sysroot.cleanup()?;
    let mut out = printer.stdout();
    for d in &report.deployments {
        writeln!(out, "Deleted deployment {d}")?;
    }
    out.write_all(cleanup_text(&report).as_bytes())?;
    Ok(ExitStatus::Success)
}

fn apply_mode(args: &ApplyArgs) -> Apply {
    Apply::from_flags(args.stage, args.lock_finalization)
}

/// Opens the sysroot for a manual update: refused while an update driver owns updates,
/// unless `--bypass-driver`.
fn open_for_update(args: &ApplyArgs) -> anyhow::Result<ferro_sysroot::Sysroot> {
    let sysroot = open(&args.sysroot)?;
    sysroot.check_driver(args.bypass_driver)?;
    Ok(sysroot)
}

/// Prints a new deployment (text or `--json`), then reboots if asked.
pub(crate) fn finish_deploy(
    args: &ApplyArgs,
    report: &DeployReport,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let d = &report.deployment;
    let mut out = printer.stdout();
    if args.json {
        let etc = report.etc.as_ref().map(
            |etc| json!({"modified": etc.modified, "removed": etc.removed, "added": etc.added}),
        );
        let doc = json!({
            "id": format!("{}-{}", d.osname, d.name()),
            "osname": d.osname,
            "checksum": d.checksum.to_string(),
            "serial": d.serial,
            "origin": d.refspec(),
            "staged": args.stage || args.lock_finalization,
            "finalization-locked": args.lock_finalization,
            "etc": etc,
            "deleted": report.cleanup.deployments,
        });
        printer.json(&doc)?;
    } else {
        out.write_all(deploy_text(report).as_bytes())?;
        let when = if args.lock_finalization {
            "staged with finalization locked; `ferro finalize-deployment` reboots into it"
        } else if args.stage {
            "staged; it becomes the default at shutdown"
        } else {
            "the default for the next boot"
        };
        writeln!(out, "Deployment {} {} is {when}", d.osname, d.name())?;
    }
    drop(out);
    if args.reboot {
        reboot()?;
    }
    Ok(ExitStatus::Success)
}

/// `systemctl reboot`: only on request, after the new entries are in place.
fn reboot() -> anyhow::Result<()> {
    SystemHost.reboot()?;
    Ok(())
}

/// `ferro finalize-deployment CHECKSUM`.
pub fn finalize_deployment(
    args: FinalizeDeploymentArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let d = ferro_sysroot::host::finalize_deployment(
        &sysroot,
        &SystemHost,
        &args.checksum,
        args.ignore_inhibitors,
    )?;
    printer.outln(format_args!(
        "Finalizing deployment {} {} at shutdown; rebooting",
        d.osname,
        d.name()
    ))?;
    Ok(ExitStatus::Success)
}

/// `ferro deploy REV`.
pub fn deploy(args: DeployArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open_for_update(&args.apply)?;
    let report = sysroot.deploy_revision(&args.rev, apply_mode(&args.apply))?;
    finish_deploy(&args.apply, &report, printer)
}

/// `ferro rebase REFSPEC`.
pub fn rebase(args: RebaseArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open_for_update(&args.apply)?;
    let report = sysroot.rebase(&args.refspec, apply_mode(&args.apply))?;
    finish_deploy(&args.apply, &report, printer)
}

fn check_json(check: &UpgradeCheck) -> serde_json::Value {
    json!({
        "available": check.available(),
        "osname": check.osname,
        "origin": check.refspec,
        "current": check.current.to_string(),
        "latest": check.latest.to_string(),
    })
}

/// `ferro upgrade [--check]`: exit 77 from `--check` when nothing is new, as
/// `rpm-ostree upgrade --check` does.
pub fn upgrade(args: UpgradeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.apply.sysroot)?;
    if args.check {
        let check = sysroot.check_upgrade()?;
        if args.apply.json {
            printer.json(&check_json(&check))?;
        } else if check.available() {
            printer.outln(format_args!(
                "Update available for {}: {}",
                check.refspec, check.latest
            ))?;
        } else {
            printer.outln(format_args!("No updates available for {}", check.refspec))?;
        }
        return Ok(if check.available() {
            ExitStatus::Success
        } else {
            ExitStatus::Unchanged
        });
    }
    sysroot.check_driver(args.apply.bypass_driver)?;
    match sysroot.upgrade(apply_mode(&args.apply))? {
        (_, Some(report)) => finish_deploy(&args.apply, &report, printer),
        (check, None) => {
            if args.apply.json {
                printer.json(&check_json(&check))?;
            } else {
                printer.outln(format_args!(
                    "No upgrade available: {} is at {}",
                    check.refspec, check.latest
                ))?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// `ferro prepare-root`.
pub fn prepare_root(args: PrepareRootArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let prepared = ferro_sysroot::prepare_root(&args.root, &args.cmdline)?;
    printer.outln(format_args!(
        "Mounted deployment {} at {}",
        prepared.deployment.display(),
        args.root.display()
    ))?;
    Ok(ExitStatus::Success)
}
