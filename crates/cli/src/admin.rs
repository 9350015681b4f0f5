//! `ferro ostree admin …`: parses nothing itself, calls ferro-sysroot and prints what
//! `ostree admin` prints.

use ferro_sysroot::{
    DeployOptions, DeployReport, InitFsLayout, SetKargs, Sysroot, SysrootDebug, init_fs_layout,
};

use crate::ExitStatus;
use crate::args_admin::{AdminArgs, AdminKargsVerb, AdminVerb, InstutilVerb, SysrootArgs};
use crate::printer::Printer;

/// Opens the sysroot the flags name. Debug builds honour `--failpoint` (or
/// `FERRO_FAILPOINT=N`), which stops the operation before its `N`-th step as a crash
/// would (crash-safety tests).
pub fn open(args: &SysrootArgs) -> anyhow::Result<Sysroot> {
    let mut sysroot = Sysroot::open(&args.sysroot)?;
    sysroot.set_cmdline_path(&args.cmdline);
    sysroot.set_run_dir(&args.run_dir);
    sysroot.set_debug(SysrootDebug::parse(
        args.debug.as_deref().unwrap_or_default(),
    ));
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
    if let Some(b) = &report.bootloader {
        text += &format!(
            "Bootloader updated; bootconfig swap: {}; bootversion: boot.{}.{}, deployment count \
             change: {}\n",
            if b.bootconfig_swap { "yes" } else { "no" },
            b.bootversion,
            b.subbootversion,
            b.count_change
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
    if let Some(AdminVerb::InitFs { modern, path }) = &args.verb {
        let layout = if *modern {
            InitFsLayout::Modern
        } else {
            InitFsLayout::Full
        };
        init_fs_layout(path, layout)?;
        return Ok(ExitStatus::Success);
    }
    if args.verb.is_none() && !args.print_current_dir {
        return Err(crate::ostree::usage(crate::ostree::no_command(&[
            "ostree", "admin",
        ])));
    }
    let sysroot = open(&args.sysroot)?;
    let Some(verb) = args.verb else {
        printer.outln(format_args!("{}", sysroot.current_dir()?.display()))?;
        return Ok(ExitStatus::Success);
    };
    match verb {
        AdminVerb::InitFs { .. } => unreachable!("handled above"),
        AdminVerb::Instutil {
            verb:
                InstutilVerb::SetKargs {
                    merge,
                    import_proc_cmdline,
                    replace,
                    append,
                    args,
                },
        } => {
            let how = SetKargs {
                merge,
                import_proc_cmdline,
                replace,
                append: append.into_iter().chain(args).collect(),
            };
            sysroot.set_kargs(&how)?;
        }
        AdminVerb::Kargs {
            verb: AdminKargsVerb::EditInPlace {
                append_if_missing, ..
            },
        } => sysroot.append_kargs_if_missing(&append_if_missing)?,
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
            karg_delete,
            karg_proc_cmdline,
            karg_none,
            retain,
            retain_rollback,
            retain_pending,
            not_as_default,
            no_merge,
            stage,
            rev,
        } => {
            let options = DeployOptions {
                osname,
                kargs: (!kargs.is_empty()).then_some(kargs),
                karg_append,
                karg_delete,
                karg_proc_cmdline,
                karg_none,
                no_merge,
                retain,
                retain_rollback,
                retain_pending,
                not_as_default,
                stage_requires_booted: true,
                ..DeployOptions::default()
            };
            let report = if stage {
                sysroot.stage(&rev, &options)?
            } else {
                sysroot.deploy(&rev, &options)?
            };
            printer.out(deploy_text(&report))?;
        }
        AdminVerb::SetOrigin {
            index,
            set,
            remote,
            url,
            branch: _,
        } => {
            let options = set
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| {
                            crate::exit::UsageError(format!("--set '{kv}' is not KEY=VALUE"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            sysroot.set_origin(index, &remote, &url, &options)?;
        }
        AdminVerb::Switch {
            osname,
            stage,
            refspec,
        } => {
            let apply = ferro_sysroot::Apply::ostree_staged_if(stage);
            let report = sysroot.switch_os(osname.as_deref(), &refspec, apply)?;
            printer.out(deploy_text(&report))?;
        }
        AdminVerb::Upgrade {
            osname,
            stage,
            override_commit,
            allow_downgrade,
            pull_only,
            deploy_only,
        } => {
            let how = ferro_sysroot::UpgradeOptions {
                osname,
                apply: ferro_sysroot::Apply::ostree_staged_if(stage),
                override_commit,
                allow_downgrade,
                pull_only,
                deploy_only,
            };
            match sysroot.upgrade_with(&how)? {
                (_, None) if pull_only => {}
                (_, Some(report)) => printer.out(deploy_text(&report))?,
                (_, None) => printer.outln("No update available.")?,
            }
        }
        // A locked staged deployment stays staged, as OSTree's finalize-staged says.
        AdminVerb::FinalizeStaged
            if sysroot.staged()?.is_some() && sysroot.finalization_locked()? =>
        {
            printer.outln("Not finalizing; found /run/ostree/staged-deployment-locked")?;
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
        AdminVerb::Status { verify } => {
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
                printer.out(crate::ostree_gpg::deployment_signatures(
                    sysroot.repo(),
                    d,
                    verify,
                )?)?;
                if let Some(title) = &row.source_title {
                    printer.outln(format_args!("    `- {title}"))?;
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
        AdminVerb::Pin { unpin, indices } => {
            let state = if unpin { "unpinned" } else { "pinned" };
            for index in indices {
                sysroot.set_pinned(index, !unpin)?;
                printer.outln(format_args!("Deployment {index} is now {state}"))?;
            }
        }
        AdminVerb::Cleanup => {
            let report = sysroot.cleanup()?;
            printer.out(cleanup_text(&report))?;
        }
    }
    Ok(ExitStatus::Success)
}
