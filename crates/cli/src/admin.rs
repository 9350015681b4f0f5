//! `ferro ostree admin …`: parses nothing itself, calls ferro-sysroot and prints what
//! `ostree admin` prints.

use std::io::Write;

use ferro_sysroot::{DeployOptions, DeployReport, Sysroot, init_fs};

use crate::ExitStatus;
use crate::args_admin::{AdminArgs, AdminVerb, SysrootArgs};

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

/// Prints what a deploy carried over and cleaned up, as `ostree admin deploy` does.
pub fn print_deploy(out: &mut impl Write, report: &DeployReport) -> std::io::Result<()> {
    if let Some(etc) = &report.etc {
        writeln!(
            out,
            "Copying /etc changes: {} modified, {} removed, {} added",
            etc.modified.len(),
            etc.removed.len(),
            etc.added.len()
        )?;
    }
    print_cleanup(out, &report.cleanup)
}

/// Prints `Freed objects: N bytes` like OSTree after a cleanup that freed something.
pub fn print_cleanup(
    out: &mut impl Write,
    report: &ferro_sysroot::CleanupReport,
) -> std::io::Result<()> {
    if report.pruned.freed > 0 {
        writeln!(out, "Freed objects: {} bytes", report.pruned.freed)?;
    }
    Ok(())
}

/// Runs one `admin` verb.
pub fn run(args: AdminArgs) -> anyhow::Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    if let AdminVerb::InitFs { path } = &args.verb {
        init_fs(path)?;
        return Ok(ExitStatus::Success);
    }
    let sysroot = open(&args.sysroot)?;
    match args.verb {
        AdminVerb::InitFs { .. } => unreachable!("handled above"),
        AdminVerb::OsInit { osname } => {
            sysroot.os_init(&osname)?;
            writeln!(out, "ostree/deploy/{osname} initialized as OSTree root")?;
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
            print_deploy(&mut out, &report)?;
        }
        AdminVerb::FinalizeStaged => match sysroot.finalize_staged()? {
            Some(report) => {
                print_deploy(&mut out, &report)?;
                let d = &report.deployment;
                writeln!(out, "Finalized staged deployment {} {}", d.osname, d.name())?;
            }
            None => writeln!(out, "No deployment staged for finalization")?,
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
                writeln!(out, "{mark} {} {}{suffix}", d.osname, d.name())?;
                if let Some(version) = &row.version {
                    writeln!(out, "    Version: {version}")?;
                }
                if d.pinned() {
                    writeln!(out, "    Pinned: yes")?;
                }
                match d.refspec() {
                    Some(refspec) => writeln!(out, "    origin refspec: {refspec}")?,
                    None => writeln!(out, "    origin: none")?,
                }
            }
        }
        AdminVerb::Undeploy { index } => {
            let report = sysroot.undeploy(index)?;
            writeln!(out, "Deleted deployment {index}")?;
            print_cleanup(&mut out, &report)?;
        }
        AdminVerb::SetDefault { index } => {
            sysroot.set_default(index)?;
            writeln!(out, "Deployment {index} is now the default")?;
        }
        AdminVerb::Pin { unpin, index } => {
            sysroot.set_pinned(index, !unpin)?;
            let state = if unpin { "unpinned" } else { "pinned" };
            writeln!(out, "Deployment {index} is now {state}")?;
        }
        AdminVerb::Cleanup => {
            let report = sysroot.cleanup()?;
            print_cleanup(&mut out, &report)?;
        }
    }
    Ok(ExitStatus::Success)
}
