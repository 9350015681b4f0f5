//! `ferro ostree static-delta list|show|generate` over `ferro_ostree::delta`.

use std::io::Write;

use ferro_ostree::Repo;
use ferro_ostree::browse::format_size;
use ferro_ostree::delta::generate::{Compression, GenerateOptions, generate};
use ferro_ostree::delta::{index, read_superblock};

use crate::ExitStatus;
use crate::args_ostree::{OstreeDeltaGenerateArgs, OstreeStaticDeltaVerb};

/// Runs one static-delta verb; output follows `ostree static-delta`.
pub fn run_static_delta(
    repo: &Repo,
    verb: OstreeStaticDeltaVerb,
    out: &mut impl Write,
) -> anyhow::Result<ExitStatus> {
    match verb {
        OstreeStaticDeltaVerb::List => {
            for (name, _) in index::stored(repo)? {
                writeln!(out, "{name}")?;
            }
        }
        OstreeStaticDeltaVerb::Show { delta } => {
            let sb = read_superblock(repo, &delta)?;
            writeln!(out, "Delta: {delta}")?;
            match sb.from {
                Some(from) => writeln!(out, "From: {from}")?,
                None => writeln!(out, "From: empty")?,
            }
            writeln!(out, "To: {}", sb.to)?;
            let endian = if sb.big_endian { "big" } else { "little" };
            writeln!(out, "Endianness: {endian}")?;
            writeln!(out, "Timestamp: {}", sb.timestamp)?;
            writeln!(out, "Number of fallback entries: {}", sb.fallbacks.len())?;
            writeln!(out, "Number of parts: {}", sb.parts.len())?;
            for (i, part) in sb.parts.iter().enumerate() {
                writeln!(
                    out,
                    "PartMeta{i}: nobjects={} size={} usize={}",
                    part.objects.len(),
                    part.size,
                    part.uncompressed_size
                )?;
            }
            let size: u64 = sb.parts.iter().map(|p| p.size).sum();
            let usize: u64 = sb.parts.iter().map(|p| p.uncompressed_size).sum();
            writeln!(out, "Total Part Size: {size}")?;
            writeln!(out, "Total Part Uncompressed Size: {usize}")?;
        }
        OstreeStaticDeltaVerb::Generate(args) => return run_generate(repo, args, out),
    }
    Ok(ExitStatus::Success)
}

fn run_generate(
    repo: &Repo,
    args: OstreeDeltaGenerateArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitStatus> {
    let to = repo.resolve_rev(&args.to)?;
    let from = match (&args.from, args.empty) {
        (_, true) => None,
        (Some(from), false) => Some(repo.resolve_rev(from)?),
        (None, false) => Some(repo.resolve_rev(&format!("{to}^"))?),
    };
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
    };
    writeln!(out, "Generating static delta:")?;
    match from {
        Some(from) => writeln!(out, "  From: {from}")?,
        None => writeln!(out, "  From: empty")?,
    }
    writeln!(out, "  To:   {to}")?;
    let generated = generate(repo, &options)?;
    writeln!(
        out,
        "{}: {} objects ({} by bsdiff) in {} parts, {}",
        generated.name,
        generated.objects,
        generated.bsdiff,
        generated.parts,
        format_size(generated.size)
    )?;
    Ok(ExitStatus::Success)
}
