//! `ferro installer …`: renders `ferro_installer::install` and `ferro_installer::iso`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use ferro_installer::install::{self, IgnitionSource, ImageSource, InstallOptions, Progress};
use ferro_installer::iso;
use ferro_sysroot::KargEdit;

use crate::ExitStatus;
use crate::args_installer::{
    InstallArgs, InstallerCommand, IsoCommand, IsoIgnitionCommand, IsoKargsCommand,
};
use crate::printer::Printer;

/// The disk image a live ISO carries, where the live initramfs mounts the ISO
/// (`ferro_installer::live`).
pub const LIVE_IMAGE: &str = "/run/ferro/live/media/images/disk.raw";

/// Runs one `ferro installer` command.
pub fn run(command: InstallerCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        InstallerCommand::Install(args) => install(args, printer),
        InstallerCommand::Iso(IsoCommand::Ignition(command)) => iso_ignition(command, printer),
        InstallerCommand::Iso(IsoCommand::Kargs(command)) => iso_kargs(command, printer),
    }
}

fn install(args: InstallArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let image = match (args.image_file, args.image_url) {
        (Some(file), _) => ImageSource::File(file),
        (None, Some(url)) => ImageSource::Url(url),
        (None, None) => ImageSource::File(PathBuf::from(LIVE_IMAGE)),
    };
    let options = InstallOptions {
        device: args.device,
        image,
        ignition: match (args.ignition_file, args.ignition_url) {
            (Some(file), _) => Some(IgnitionSource::File(file)),
            (None, Some(url)) => Some(IgnitionSource::Url(url)),
            (None, None) => None,
        },
        append_kargs: args.append_karg,
        delete_kargs: args.delete_karg,
        copy_network: args.copy_network.then_some(args.network_dir),
        platform: args.platform,
        console: args.console,
        save_partlabels: args.save_partlabel,
        save_partindexes: args.save_partindex,
        preserve_on_error: args.preserve_on_error,
        dry_run: args.dry_run,
        verify_key: args.verify_key,
        insecure: args.insecure,
    };
    let bar = printer.spinner("verifying the image");
    let report = install::install(&options, &mut |progress| match progress {
        Progress::Verify(done, total) => bar.set_message(format!(
            "verifying the image: {} of {} MB",
            done >> 20,
            total >> 20
        )),
        Progress::Write(done, total) => {
            bar.set_message(format!("writing: {} of {} MB", done >> 20, total >> 20))
        }
    });
    bar.finish_and_clear();
    let report = report?;
    if options.dry_run {
        printer.outln("Plan (nothing written):")?;
        for step in &report.plan {
            printer.outln(format_args!("  {step}"))?;
        }
    } else {
        printer.errln(format_args!(
            "Installed to {}: {} MB written of a {} MB image (sha256 {}).",
            options.device.display(),
            report.written >> 20,
            report.image_size >> 20,
            report.sha256
        ));
    }
    Ok(ExitStatus::Success)
}

fn iso_ignition(command: IsoIgnitionCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        IsoIgnitionCommand::Embed {
            iso: path,
            ignition_file,
            force,
            output,
        } => {
            let config = match ignition_file {
                Some(file) => std::fs::read(&file)
                    .with_context(|| format!("could not read '{}'", file.display()))?,
                None => {
                    let mut bytes = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut bytes)
                        .context("could not read the config from standard input")?;
                    bytes
                }
            };
            iso::embed_ignition(&path, &config, force, output.as_deref())?;
        }
        IsoIgnitionCommand::Show { iso: path } => match iso::show_ignition(&path)? {
            Some(config) => printer.out_bytes(&config)?,
            None => {
                printer.errln(format_args!(
                    "{} has no embedded Ignition config",
                    path.display()
                ));
                return Ok(ExitStatus::Failure);
            }
        },
        IsoIgnitionCommand::Remove { iso: path, output } => {
            iso::remove_ignition(&path, output.as_deref())?;
        }
    }
    Ok(ExitStatus::Success)
}

fn iso_kargs(command: IsoKargsCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        IsoKargsCommand::Modify {
            iso: path,
            append,
            delete,
            replace,
            output,
        } => {
            let edits: Vec<KargEdit> = delete
                .into_iter()
                .map(KargEdit::Delete)
                .chain(replace.into_iter().map(KargEdit::Replace))
                .chain(append.into_iter().map(KargEdit::Append))
                .collect();
            iso::modify_kargs(&path, &edits, output.as_deref())?;
        }
        IsoKargsCommand::Show { iso: path, default } => {
            printer.outln(iso::show_kargs(&path, default)?)?;
        }
    }
    Ok(ExitStatus::Success)
}
