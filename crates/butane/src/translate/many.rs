//! Several Butane configs translated and merged in order (`ferro butane a.bu b.bu`), with
//! every report entry still pointing into the file it is about.

use ferro_document::{Path, Report};
use ferro_spec::Config;
use ferro_spec::merge::{Side, Transcript, merge};

use super::{Error, Options, Translation, translate};

/// The merged result.
#[derive(Debug)]
pub struct Merged {
    /// The Ignition JSON of the merged config, ending in a newline.
    pub output: String,
    /// One report per input, positioned in that input.
    pub reports: Vec<Report>,
    /// The merged config.
    pub config: Config,
}

/// A failed merge: one report per input (empty for inputs not reached), and why.
#[derive(Debug)]
pub struct MultiFailure {
    /// Per-input reports.
    pub reports: Vec<Report>,
    /// Why it stopped.
    pub error: Error,
}

/// Translates each `(name, text)` and merges the results in order with Ignition's
/// merge rules (later configs override earlier ones).
pub fn translate_many(inputs: &[(&str, &str)], options: &Options) -> Result<Merged, MultiFailure> {
    let mut reports = vec![Report::new(); inputs.len()];
    let mut translations: Vec<Translation> = Vec::with_capacity(inputs.len());
    for (index, (_, text)) in inputs.iter().enumerate() {
        match translate(text, options) {
            Ok(translation) => {
                reports[index] = translation.report.clone();
                translations.push(translation);
            }
            Err(failure) => {
                reports[index] = failure.report;
                return Err(MultiFailure {
                    reports,
                    error: failure.error,
                });
            }
        }
    }
    let expected = translations[0].config.ignition.version.clone();
    for (translation, (name, _)) in translations.iter().zip(inputs) {
        if translation.config.ignition.version != expected {
            return Err(MultiFailure {
                reports,
                error: Error::MixedVersions {
                    name: (*name).to_owned(),
                    found: translation.config.ignition.version.clone(),
                    expected,
                },
            });
        }
    }
    let mut config = translations[0].config.clone();
    let mut transcripts: Vec<Transcript> = Vec::new();
    for translation in &translations[1..] {
        let merged = merge(&config, &translation.config);
        config = merged.config;
        transcripts.push(merged.transcript);
    }
    let version = expected
        .parse()
        .unwrap_or(ferro_spec::Version::LATEST_STABLE);
    let findings = ferro_spec::validate::validate(&config, version);
    let failed = findings.is_fatal();
    for entry in findings.entries {
        let Some(path) = &entry.path else { continue };
        let (input, path) = origin(&transcripts, path);
        let mut single = Report {
            entries: vec![ferro_document::report::Entry {
                path: Some(path),
                ..entry
            }],
        };
        translations[input].place(&mut single);
        reports[input].extend(single);
    }
    if failed {
        return Err(MultiFailure {
            reports,
            error: Error::GeneratedInvalid,
        });
    }
    let mut output = ferro_spec::to_go_json(&config, options.pretty);
    output.push('\n');
    Ok(Merged {
        output,
        reports,
        config,
    })
}

/// Which input a path of the merged config came from, and its path there.
fn origin(transcripts: &[Transcript], path: &Path) -> (usize, Path) {
    let mut path = path.clone();
    for (step, transcript) in transcripts.iter().enumerate().rev() {
        match deepest_origin(transcript, &path) {
            Some((Side::Child, from)) => return (step + 1, from),
            Some((Side::Parent, from)) => path = from,
            None => {}
        }
    }
    (0, path)
}

/// The origin of `path` or of its deepest ancestor that has one, with the rest appended.
fn deepest_origin(transcript: &Transcript, path: &Path) -> Option<(Side, Path)> {
    let segments = path.segments();
    (0..=segments.len()).rev().find_map(|depth| {
        let prefix: Path = segments[..depth].iter().cloned().collect();
        let (side, from) = transcript.origin(&prefix)?;
        let rest: Path = segments[depth..].iter().cloned().collect();
        Some((side, from.join(&rest)))
    })
}
