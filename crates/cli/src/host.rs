//! The host commands with rpm-ostree's shape: `ferro status [--json] [-v]`,
//! `ferro rollback`, `ferro kargs`, `ferro cleanup`. Rendering only; the work is in
//! ferro-sysroot.

use std::io::Write;

use ferro_ostree::browse::format_timestamp;
use ferro_sysroot::{DeploymentStatus, KargEdit};
use serde_json::json;

use crate::ExitStatus;
use crate::admin::{open, print_cleanup};
use crate::args_admin::{KargsArgs, StatusArgs, SysrootArgs};

fn json_row(row: &DeploymentStatus) -> serde_json::Value {
    let d = &row.deployment;
    json!({
        "id": format!("{}-{}", d.osname, d.name()),
        "osname": d.osname,
        "checksum": d.checksum.to_string(),
        "serial": d.serial,
        "booted": row.booted,
        "staged": false,
        "pinned": d.pinned(),
        "origin": d.refspec(),
        "version": row.version,
        "timestamp": row.timestamp,
    })
}

/// `ferro status`.
pub fn status(args: StatusArgs) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args.sysroot)?;
    let rows = sysroot.status()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "deployments": rows.iter().map(json_row).collect::<Vec<_>>(),
            "transaction": null,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitStatus::Success);
    }
    writeln!(out, "Deployments:")?;
    for row in &rows {
        let d = &row.deployment;
        let mark = if row.booted { '●' } else { ' ' };
        let default = if row.index == 0 { " (default)" } else { "" };
        let origin = d.refspec().unwrap_or("(no origin)");
        writeln!(out, "{mark} {}:{origin}{default}", d.osname)?;
        if let Some(version) = &row.version {
            let when = format_timestamp(row.timestamp);
            writeln!(out, "{:>16}: {version} ({when})", "Version")?;
        }
        writeln!(out, "{:>16}: {}", "Commit", d.checksum)?;
        if d.pinned() {
            writeln!(out, "{:>16}: yes", "Pinned")?;
        }
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
pub fn rollback(args: SysrootArgs) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args)?;
    let previous = sysroot.rollback()?;
    println!("Moving deployment {previous} to be booted next; run `ferro status` to see it");
    Ok(ExitStatus::Success)
}

/// `ferro kargs`: prints the arguments, or edits them into a new boot version.
pub fn kargs(args: KargsArgs) -> anyhow::Result<ExitStatus> {
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
        println!("{}", d.kargs);
        return Ok(ExitStatus::Success);
    }
    let d = sysroot.edit_kargs(args.deploy_index, &edits)?;
    println!("Kernel arguments updated: {}", d.kargs);
    Ok(ExitStatus::Success)
}

/// `ferro cleanup`.
pub fn cleanup(args: SysrootArgs) -> anyhow::Result<ExitStatus> {
    let sysroot = open(&args)?;
    let report = sysroot.cleanup()?;
    let mut out = std::io::stdout().lock();
    for d in &report.deployments {
        writeln!(out, "Deleted deployment {d}")?;
    }
    print_cleanup(&mut out, &report)?;
    Ok(ExitStatus::Success)
}
