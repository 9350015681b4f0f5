//! `ferro compose …`: renders `ferro_compose::tree` and `ferro_compose::image`.

use std::path::PathBuf;

use anyhow::Context;
use ferro_compose::image::{ImageFormat, ImageOptions, Remote, compose_image};
use ferro_compose::manifest::Manifest;
use ferro_compose::tree::{TreeOptions, compose_tree};
use ferro_installer::live::{LiveFormat, LiveOptions, build_live};

use crate::ExitStatus;
use crate::args_vm::{ComposeCommand, ComposeImageArgs, ComposeTreeArgs, ImageFormatArg};
use crate::printer::Printer;

/// Runs one `ferro compose` command.
pub fn run(command: ComposeCommand, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        ComposeCommand::Tree(args) => tree(args, printer),
        ComposeCommand::Image(args) => image(args, printer),
    }
}

/// Where downloads and the work tree go without `--cache`: the user's cache directory
/// (`~/.cache/ferro/compose`), else `/var/cache/ferro/compose` (root without a home).
fn default_cache() -> PathBuf {
    ferro_sys::dirs::cache_dir("ferro/compose")
        .unwrap_or_else(|| PathBuf::from("/var/cache/ferro/compose"))
}

fn tree(args: ComposeTreeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let text = std::fs::read_to_string(&args.manifest)
        .with_context(|| format!("could not read '{}'", args.manifest.display()))?;
    let manifest = match Manifest::parse(&text) {
        Ok(manifest) => manifest,
        Err(error) => {
            printer.errln(format_args!("error: {}: {error}", args.manifest.display()));
            return Ok(ExitStatus::Failure);
        }
    };
    let cache = args.cache.unwrap_or_else(default_cache);
    let options = TreeOptions {
        repo: args.repo,
        cache,
        ferro: std::env::current_exe().context("could not find the running ferro binary")?,
        force_nocache: args.force_nocache,
    };
    let outcome = compose_tree(&manifest, &options, &mut |step| {
        printer.errln(format_args!("{step}…"))
    })?;
    for step in &outcome.steps {
        printer.errln(format_args!(
            "  {:<12} {:>7.1} s",
            step.name,
            step.elapsed.as_secs_f64()
        ));
    }
    match &outcome.built {
        Some(built) => printer.errln(format_args!(
            "{} version {} (kernel {}, {} MB): {}",
            manifest.ref_name,
            manifest.version,
            built.kver,
            built.tree_bytes / 1_000_000,
            outcome.commit
        )),
        None => printer.errln(format_args!(
            "No apparent changes since previous commit {}; use --force-nocache to override",
            outcome.commit
        )),
    }
    printer.outln(format_args!("{}", outcome.commit))?;
    Ok(ExitStatus::Success)
}

fn image(args: ComposeImageArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let live = match args.format {
        ImageFormatArg::Iso => Some(LiveFormat::Iso),
        ImageFormatArg::Pxe => Some(LiveFormat::Pxe),
        _ => None,
    };
    if let Some(format) = live {
        return live_media(args, format, printer);
    }
    let options = ImageOptions {
        repo: args.repo,
        rev: args.rev,
        output: args.output,
        format: match args.format {
            ImageFormatArg::Raw => ImageFormat::Raw,
            ImageFormatArg::Qcow2 => ImageFormat::Qcow2,
            ImageFormatArg::Vmdk => ImageFormat::Vmdk,
            ImageFormatArg::Vhd => ImageFormat::Vhd,
            ImageFormatArg::Iso | ImageFormatArg::Pxe => unreachable!("live media return above"),
        },
        size: args.size,
        kargs: args.kargs,
        remote: args.remote.map(|(name, url)| Remote { name, url }),
    };
    let outcome = compose_image(&options, &mut |step| printer.errln(format_args!("{step}…")))?;
    for step in &outcome.steps {
        printer.errln(format_args!(
            "  {:<12} {:>7.1} s",
            step.name,
            step.elapsed.as_secs_f64()
        ));
    }
    printer.errln(format_args!(
        "{} ({}, {} MB allocated): {}",
        options.output.display(),
        options.format.name(),
        outcome.allocated / 1_000_000,
        outcome.kargs
    ));
    printer.outln(format_args!("{}", outcome.commit))?;
    Ok(ExitStatus::Success)
}

/// `--format iso|pxe`: the live media, with the disk image the ISO carries.
fn live_media(
    args: ComposeImageArgs,
    format: LiveFormat,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let options = LiveOptions {
        repo: args.repo,
        rev: args.rev,
        output: args.output,
        format,
        size: args.size,
        kargs: args.kargs,
        live_kargs: args.live_kargs,
        remote: args.remote.map(|(name, url)| Remote { name, url }),
    };
    let outcome = build_live(&options, &mut |step| printer.errln(format_args!("{step}…")))?;
    for step in &outcome.steps {
        printer.errln(format_args!(
            "  {:<12} {:>7.1} s",
            step.name,
            step.elapsed.as_secs_f64()
        ));
    }
    printer.errln(format_args!("live kernel arguments: {}", outcome.kargs));
    for file in &outcome.files {
        printer.outln(file.display())?;
    }
    Ok(ExitStatus::Success)
}
