//! `ferro ostree static-delta list|show|generate` over `ferro_ostree::delta`.

use ferro_ostree::Repo;
use ferro_ostree::delta::generate::{Compression, GenerateOptions, generate};
use ferro_ostree::delta::{index, read_superblock};
use ferro_sys::size::format_size;

use crate::ExitStatus;
use crate::args_ostree::{OstreeDeltaGenerateArgs, OstreeStaticDeltaVerb};
use crate::printer::Printer;

/// Runs one static-delta verb; output follows `ostree static-delta`.
pub fn run_static_delta(
    repo: &Repo,
    verb: OstreeStaticDeltaVerb,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    match verb {
        OstreeStaticDeltaVerb::List => {
            let deltas = index::stored(repo)?;
            if deltas.is_empty() {
                printer.outln("(No static deltas)")?;
            }
            for (name, _) in deltas {
                printer.outln(format_args!("{name}"))?;
            }
        }
        OstreeStaticDeltaVerb::Reindex => index::reindex(repo)?,
        OstreeStaticDeltaVerb::Indexes => {
            for id in index::indexed(repo)? {
                printer.outln(format_args!("{id}"))?;
            }
        }
        OstreeStaticDeltaVerb::Delete { delta } => ferro_ostree::delta::delete(repo, &delta)?,
        OstreeStaticDeltaVerb::ApplyOffline { path } => {
            let commit = ferro_ostree::delta::offline::apply_offline(repo, &path)?;
            printer.outln(format_args!("{commit}"))?;
        }
        OstreeStaticDeltaVerb::Show { delta } => {
            let sb = read_superblock(repo, &delta)?;
            printer.outln(format_args!("Delta: {delta}"))?;
            match sb.from {
                Some(from) => printer.outln(format_args!("From: {from}"))?,
                None => printer.outln("From: empty")?,
            }
            printer.outln(format_args!("To: {}", sb.to))?;
            let endian = if sb.big_endian { "big" } else { "little" };
            let guessed = if sb.endianness_guessed {
                " (heuristic)"
            } else {
                ""
            };
            printer.outln(format_args!("Endianness: {endian}{guessed}"))?;
            printer.outln(format_args!("Timestamp: {}", sb.timestamp))?;
            printer.outln(format_args!(
                "Number of fallback entries: {}",
                sb.fallbacks.len()
            ))?;
            printer.outln(format_args!("Number of parts: {}", sb.parts.len()))?;
            for (i, part) in sb.parts.iter().enumerate() {
                printer.outln(format_args!(
                    "PartMeta{i}: nobjects={} size={} usize={}",
                    part.objects.len(),
                    part.size,
                    part.uncompressed_size
                ))?;
            }
            let size: u64 = sb.parts.iter().map(|p| p.size).sum();
            let usize: u64 = sb.parts.iter().map(|p| p.uncompressed_size).sum();
            let fallback: u64 = sb.fallbacks.iter().map(|f| f.size).sum();
            let fallback_usize: u64 = sb.fallbacks.iter().map(|f| f.uncompressed_size).sum();
            printer.outln(format_args!("Total Part Size: {size}"))?;
            printer.outln(format_args!("Total Part Uncompressed Size: {usize}"))?;
            // As `ostree static-delta show` sums parts and fallbacks.
            let total = size + fallback;
            let total_usize = usize + fallback_usize;
            printer.outln(format_args!("Total Size: {total} ({})", format_size(total)))?;
            printer.outln(format_args!(
                "Total Uncompressed Size: {total_usize} ({})",
                format_size(total_usize)
            ))?;
        }
        OstreeStaticDeltaVerb::Generate(args) => return run_generate(repo, args, printer),
    }
    Ok(ExitStatus::Success)
}

fn run_generate(
    repo: &Repo,
    args: OstreeDeltaGenerateArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let to = args.to.or(args.rev).expect("clap requires --to or REV");
    let to = repo.resolve_rev(&to)?;
    let from = match (&args.from, args.empty) {
        (_, true) => None,
        (Some(from), false) => Some(repo.resolve_rev(from)?),
        (None, false) => Some(repo.resolve_rev(&format!("{to}^"))?),
    };
    if args.if_not_exists {
        let name = match from {
            Some(from) => format!("{from}-{to}"),
            None => to.to_string(),
        };
        if index::stored(repo)?
            .iter()
            .any(|(stored, _)| *stored == name)
        {
            printer.outln(format_args!("{name} already exists"))?;
            return Ok(ExitStatus::Success);
        }
    }
    let options = GenerateOptions {
        from,
        to,
        inline: args.inline,
        max_chunk_size: args.max_chunk_size.max(1) << 20,
        compression: if args.disable_compression {
            Compression::None
        } else {
            Compression::Xz
        },
        max_bsdiff_size: (!args.disable_bsdiff).then_some(args.max_bsdiff_size << 20),
        swap_endianness: args.swap_endianness,
        filename: args.filename,
    };
    printer.outln("Generating static delta:")?;
    match from {
        Some(from) => printer.outln(format_args!("  From: {from}"))?,
        None => printer.outln("  From: empty")?,
    }
    printer.outln(format_args!("  To:   {to}"))?;
    let generated = generate(repo, &options)?;
    // OSTree's statistics line that scripts read.
    printer.outln(format_args!("bsdiff={} objects", generated.bsdiff))?;
    printer.outln(format_args!(
        "{}: {} objects ({} by bsdiff) in {} parts, {}",
        generated.name,
        generated.objects,
        generated.bsdiff,
        generated.parts,
        format_size(generated.size)
    ))?;
    Ok(ExitStatus::Success)
}
