//! `ferro ostree admin …`: parses nothing itself, calls ferro-sysroot and prints what
//! `ostree admin` prints.

use ferro_sysroot::{DeployOptions, DeployReport, Sysroot, init_fs};

use crate::ExitStatus;
use crate::args_admin::{AdminArgs, AdminVerb, SysrootArgs};
use crate::printer::Printer;

/// Opens the sysroot the flags name. Debug builds honour `--failpoint` (or
/// `FERRO_FAILPOINT=N`), which stops the operation before its `N`-th step as a crash
/// would (crash-safety tests).
pub fn open(args: &SysrootArgs) -> anyhow::Result<Sysroot> {
    let mut sysroot = Sysroot::open(&args.sysroot)?;
    sysroot.set_cmdline_path(&args.cmdline);
    sysroot.set_run_dir(&args.run_dir);
    if cfg!(debug_assertions) {
        sysroot.set_failpoint(args.failpoint);
    }
    Ok(sysroot)
}

/// What a deploy carried over and cleaned up, as `ostree admin deploy` prints it.
pub fn deploy_text(report: &DeployReport) -> String {
    let mut text = String::new();
    if let Some(etc) = &report.etc {
        text += &format!(
            "Copying /etc changes: {} modified, {} removed, {} added\n",
            etc.modified.len(),
            etc.removed.len(),
            etc.added.len()
        );
    }
    text + &cleanup_text(&report.cleanup)
}

/// `Freed objects: N bytes` as OSTree prints it after a cleanup that freed something;
/// empty otherwise.
pub fn cleanup_text(report: &ferro_sysroot::CleanupReport) -> String {
    if report.pruned.freed > 0 {
        format!("Freed objects: {} bytes\n", report.pruned.freed)
    } else {
        String::new()
    }
}

/// Runs one `admin` verb.
pub fn run(args: AdminArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if let AdminVerb::InitFs { path } = &args.verb {
        init_fs(path)?;
        return Ok(ExitStatus::Success);
    }
    let sysroot = open(&args.sysroot)?;
    match args.verb {
        AdminVerb::InitFs { .. } => unreachable!("handled above"),
        AdminVerb::OsInit { osname } => {
            sysroot.os_init(&osname)?;
            printer.outln(format_args!(
                "ostree/deploy/{osname} initialized as OSTree root"
            ))?;
        }
        AdminVerb::Deploy {
            osname,
            kargs,
            karg_append,
            stage,
            rev,
        } => {
            let options = DeployOptions {
                osname,
                kargs: (!kargs.is_empty()).then_some(kargs),
                karg_append,
                ..DeployOptions::default()
            };
            let report = if stage {
                sysroot.stage(&rev, &options)?
            } else {
                sysroot.deploy(&rev, &options)?
            };
            printer.out(deploy_text(&report))?;
        }
        AdminVerb::FinalizeStaged => match sysroot.finalize_staged()? {
            Some(report) => {
                printer.out(deploy_text(&report))?;
                let d = &report.deployment;
                printer.outln(format_args!(
                    "Finalized staged deployment {} {}",
                    d.osname,
                    d.name()
                ))?;
            }
            None => printer.outln("No deployment staged for finalization")?,
        },
        AdminVerb::Status => {
            let rows = sysroot.status()?;
            let booted = rows.iter().position(|r| r.booted);
            for row in rows {
                let d = &row.deployment;
                let mark = if row.booted { '*' } else { ' ' };
                let suffix = match booted {
                    _ if row.staged => " (staged)",
                    Some(b) if row.index < b => " (pending)",
                    Some(b) if row.index > b => " (rollback)",
                    _ => "",
                };
                printer.outln(format_args!("{mark} {} {}{suffix}", d.osname, d.name()))?;
                if let Some(version) = &row.version {
                    printer.outln(format_args!("    Version: {version}"))?;
                }
                if d.pinned() {
                    printer.outln("    Pinned: yes")?;
                }
                match d.refspec() {
                    Some(refspec) => {
                        printer.outln(format_args!("    origin refspec: {refspec}"))?
                    }
                    None => printer.outln("    origin: none")?,
                }
            }
        }
        AdminVerb::Undeploy { index } => {
            let report = sysroot.undeploy(index)?;
            printer.outln(format_args!("Deleted deployment {index}"))?;
            printer.out(cleanup_text(&report))?;
        }
        AdminVerb::SetDefault { index } => {
            sysroot.set_default(index)?;
            printer.outln(format_args!("Deployment {index} is now the default"))?;
        }
        AdminVerb::Pin { unpin, index } => {
            sysroot.set_pinned(index, !unpin)?;
            let state = if unpin { "unpinned" } else { "pinned" };
            printer.outln(format_args!("Deployment {index} is now {state}"))?;
        }
        AdminVerb::Cleanup => {
            let report = sysroot.cleanup()?;
            printer.out(cleanup_text(&report))?;
        }
    }
    Ok(ExitStatus::Success)
}
