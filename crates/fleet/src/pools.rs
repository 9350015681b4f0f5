//! Pool configs: the Ignition config a booting node of a pool fetches from
//! `GET /config/<pool>`, as OpenShift's Machine Config Server serves them.
//!
//! A pool's *fragments* are Ignition (`.ign`, `.json`) or Butane (`.bu`, `.yaml`,
//! `.yml`) files, listed directly or found in listed directories; they are merged in
//! the order of their file names (Butane ones transpiled first) with Ignition's keyed
//! merge (`ferro_spec::merge`), each over the ones before. The result is validated and
//! *rendered*: emitted in the newest spec version any fragment declares and named by
//! the SHA-256 of those bytes, so that "the config changed" is "the hash changed".
//!
//! Clients name the spec versions they accept in `Accept`
//! (`application/vnd.coreos.ignition+json;version=3.4.0`, q-values honoured):
//! [`negotiate`] picks one, and [`emit_at`] writes the config in it — translated up by
//! changing only the version (every older spec is a subset of the newer), translated
//! down only when the config uses nothing the older spec lacks, else an error naming
//! the first such field.

use std::path::{Path, PathBuf};

use ferro_spec::{Config, Version};
use sha2::{Digest, Sha256};

use crate::config::PoolConfig;

/// The media type Ignition asks for.
pub const IGNITION_MEDIA_TYPE: &str = "application/vnd.coreos.ignition+json";

/// A pool's config, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// SHA-256 (hex) of [`Rendered::json`].
    pub hash: String,
    /// The merged config.
    pub config: Config,
    /// The newest spec version a fragment declares; the version of [`Rendered::json`].
    pub version: Version,
    /// The config emitted in [`Rendered::version`].
    pub json: String,
    /// The fragments, in merge order.
    pub fragments: Vec<PathBuf>,
}

/// Why a pool could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A fragment or directory could not be read.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// The pool has no fragment at all.
    #[error("pool '{0}' has no fragments (no .ign, .json, .bu, .yaml or .yml files)")]
    Empty(String),
    /// A fragment is not a valid config.
    #[error("fragment '{}' is not valid: {message}", path.display())]
    Fragment {
        /// The fragment.
        path: PathBuf,
        /// The report or error, one line per finding.
        message: String,
    },
    /// The merged config does not validate.
    #[error("the merged config of pool '{pool}' is not valid: {message}")]
    Merged {
        /// The pool.
        pool: String,
        /// The report, one line per finding.
        message: String,
    },
}

fn is_fragment(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ign" | "json" | "bu" | "yaml" | "yml")
    )
}

/// The fragments of `pool` in merge order: every listed file, and every fragment file
/// directly inside every listed directory, sorted by file name (then path).
pub fn fragments(pool: &PoolConfig) -> Result<Vec<PathBuf>, PoolError> {
    let mut found = Vec::new();
    for entry in &pool.fragments {
        let meta =
            std::fs::metadata(entry).map_err(|e| ferro_sys::IoError::new("read", entry, e))?;
        if meta.is_dir() {
            let listing =
                std::fs::read_dir(entry).map_err(|e| ferro_sys::IoError::new("list", entry, e))?;
            for item in listing {
                let path = item
                    .map_err(|e| ferro_sys::IoError::new("list", entry, e))?
                    .path();
                if path.is_file() && is_fragment(&path) {
                    found.push(path);
                }
            }
        } else {
            found.push(entry.clone());
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    found.dedup();
    Ok(found)
}

/// A fingerprint of the fragments' state (paths, sizes, modification times): the pool
/// is rendered again only when it changes.
pub fn fingerprint(pool: &PoolConfig) -> Result<Vec<(PathBuf, u64, i128)>, PoolError> {
    let mut print = Vec::new();
    for path in fragments(pool)? {
        let meta =
            std::fs::metadata(&path).map_err(|e| ferro_sys::IoError::new("read", &path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        print.push((path, meta.len(), mtime));
    }
    Ok(print)
}

fn report_lines(report: &ferro_document::Report) -> String {
    report.to_string().trim_end().replace('\n', "; ")
}

/// Reads one fragment as an Ignition config and its spec version.
fn load_fragment(path: &Path) -> Result<(Config, Version), PoolError> {
    let bytes = std::fs::read(path).map_err(|e| ferro_sys::IoError::new("read", path, e))?;
    let invalid = |message: String| PoolError::Fragment {
        path: path.to_owned(),
        message,
    };
    let ignition_json = match path.extension().and_then(|e| e.to_str()) {
        Some("bu" | "yaml" | "yml") => {
            let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8".to_owned()))?;
            let options = ferro_butane::Options {
                files_dir: path.parent().map(Path::to_path_buf),
                ..Default::default()
            };
            let translation = ferro_butane::translate(&text, &options).map_err(|failure| {
                let mut message = failure.error.to_string();
                if !failure.report.is_empty() {
                    message.push_str(": ");
                    message.push_str(&report_lines(&failure.report));
                }
                invalid(message)
            })?;
            translation.output().into_bytes()
        }
        _ => bytes,
    };
    let parsed = ferro_spec::parse::parse(&ignition_json).map_err(|e| {
        invalid(match e.report() {
            Some(report) => report_lines(report),
            None => e.to_string(),
        })
    })?;
    Ok((parsed.config, parsed.version))
}

/// Merges and renders the fragments of `pool`.
pub fn render(pool: &PoolConfig) -> Result<Rendered, PoolError> {
    let paths = fragments(pool)?;
    let mut merged: Option<(Config, Version)> = None;
    for path in &paths {
        let (config, version) = load_fragment(path)?;
        merged = Some(match merged {
            None => (config, version),
            Some((acc, acc_version)) => (
                ferro_spec::merge::merge(&acc, &config).config,
                acc_version.max(version),
            ),
        });
    }
    let Some((mut config, version)) = merged else {
        return Err(PoolError::Empty(pool.name.clone()));
    };
    config.ignition.version = version.as_str().to_owned();
    let json = ferro_spec::to_go_json(&config, false);
    // Merging valid configs can still conflict (the same path as a file in one and a
    // directory in another): the result is validated as a whole.
    let parsed = ferro_spec::parse::parse(json.as_bytes()).map_err(|e| PoolError::Merged {
        pool: pool.name.clone(),
        message: e.report().map_or_else(|| e.to_string(), report_lines),
    })?;
    Ok(Rendered {
        hash: hex_sha256(json.as_bytes()),
        config: parsed.config,
        version,
        json,
        fragments: paths,
    })
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a client's `Accept` cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// An Ignition media range names a version that is not a version.
    #[error("'{0}' is not an Ignition spec version")]
    BadVersion(String),
    /// The client accepts only Ignition versions this server cannot serve (spec 2.x,
    /// a later major).
    #[error(
        "no acceptable Ignition spec version: the server serves 3.0.0 to {}",
        Version::LATEST_STABLE
    )]
    Unacceptable,
}

/// The spec version to serve for an `Accept` header: among the Ignition media ranges
/// (`application/vnd.coreos.ignition+json;version=X.Y.Z`, `q` default 1, `q=0`
/// refused), the one of highest q, then newest version; a 3.N newer than this server
/// knows is served as the newest stable 3.N it knows, as the Machine Config Server
/// does. `None` when the header names no Ignition version (no header, `*/*`,
/// `application/json`): the caller serves the config's own version.
pub fn negotiate(accept: Option<&str>) -> Result<Option<Version>, AcceptError> {
    let Some(accept) = accept else {
        return Ok(None);
    };
    let mut best: Option<(f64, Version)> = None;
    let mut named_any = false;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        if !media.eq_ignore_ascii_case(IGNITION_MEDIA_TYPE) {
            continue;
        }
        let mut version = None;
        let mut q = 1.0;
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(value.to_owned()),
                "q" => q = value.parse::<f64>().unwrap_or(0.0),
                _ => {}
            }
        }
        let Some(text) = version else { continue };
        named_any = true;
        if q <= 0.0 {
            continue;
        }
        let Some(served) = servable(&text)? else {
            continue;
        };
        let better = match best {
            None => true,
            Some((best_q, best_v)) => q > best_q || (q == best_q && served > best_v),
        };
        if better {
            best = Some((q, served));
        }
    }
    match best {
        Some((_, version)) => Ok(Some(version)),
        None if named_any => Err(AcceptError::Unacceptable),
        None => Ok(None),
    }
}

/// The version served for a requested `text`: itself if known, the newest stable of
/// the same major for a newer minor, `None` for another major.
fn servable(text: &str) -> Result<Option<Version>, AcceptError> {
    if let Ok(version) = text.parse::<Version>() {
        return Ok(Some(version));
    }
    let bad = || AcceptError::BadVersion(text.to_owned());
    let core = text.split(['-', '+']).next().unwrap_or("");
    let numbers: Vec<u64> = core
        .split('.')
        .map(|n| n.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [major, minor, _patch] = numbers[..] else {
        return Err(bad());
    };
    if major == 3 && u32::try_from(minor).is_ok_and(|m| m > Version::LATEST_STABLE.level()) {
        return Ok(Some(Version::LATEST_STABLE));
    }
    Ok(None)
}

/// Why a config cannot be written in an older spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the config uses {field}, which Ignition spec {version} does not have")]
pub struct DowngradeError {
    /// The requested version.
    pub version: Version,
    /// The first field the older spec lacks (or what its validation refused).
    pub field: String,
}

/// `rendered` written in spec `version`: up by changing the version only, down only
/// when the older spec can say everything the config says.
pub fn emit_at(rendered: &Rendered, version: Version) -> Result<String, DowngradeError> {
    if version == rendered.version {
        return Ok(rendered.json.clone());
    }
    let mut config = rendered.config.clone();
    config.ignition.version = version.as_str().to_owned();
    let json = ferro_spec::to_go_json(&config, false);
    if version > rendered.version {
        return Ok(json);
    }
    // Parsing at the older version gates every key by the spec that introduced it:
    // a key the older spec lacks is an "unused key" finding, and its validation
    // catches values it does not allow.
    let refused = |entry: &ferro_document::report::Entry| DowngradeError {
        version,
        field: match &entry.path {
            Some(path) => format!("{path} ({})", entry.message),
            None => entry.message.clone(),
        },
    };
    match ferro_spec::parse::parse(json.as_bytes()) {
        Ok(parsed) => match parsed.report.entries.first() {
            Some(entry) => Err(refused(entry)),
            None => Ok(json),
        },
        Err(error) => Err(match error.report().and_then(|r| r.entries.first()) {
            Some(entry) => refused(entry),
            None => DowngradeError {
                version,
                field: error.to_string(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{"ignition":{"version":"3.1.0"},"storage":{"files":[{"path":"/etc/a","contents":{"source":"data:,base"},"mode":420}]}}"#;
    const EXTRA: &str = "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /etc/a\n      contents:\n        inline: extra\n    - path: /etc/b\n      contents:\n        inline: b\n";

    fn pool(dir: &Path) -> PoolConfig {
        PoolConfig {
            name: "worker".into(),
            fragments: vec![dir.to_owned()],
            require_token: false,
        }
    }

    #[test]
    fn fragments_merge_in_name_order_and_translate_down() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("10-base.ign"), BASE).unwrap();
        std::fs::write(dir.path().join("20-extra.bu"), EXTRA).unwrap();
        std::fs::write(dir.path().join("README"), "not a fragment").unwrap();
        let rendered = render(&pool(dir.path())).unwrap();
        assert_eq!(
            rendered.version,
            Version::V3_3,
            "Butane fcos 1.4.0 is Ignition 3.3.0"
        );
        assert_eq!(rendered.fragments.len(), 2);
        let files = &rendered.config.storage.files;
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/etc/a", "/etc/b"]);
        assert!(rendered.json.contains("\"version\":\"3.3.0\""));
        assert_eq!(rendered.hash.len(), 64);
        assert_eq!(
            render(&pool(dir.path())).unwrap().hash,
            rendered.hash,
            "stable"
        );

        let v31 = emit_at(&rendered, Version::V3_1).unwrap();
        assert!(v31.contains("\"version\":\"3.1.0\""), "{v31}");
        let v34 = emit_at(&rendered, Version::V3_4).unwrap();
        assert!(v34.contains("\"version\":\"3.4.0\""));

        // kernelArguments exist from 3.3.0 on.
        std::fs::write(
            dir.path().join("30-kargs.bu"),
            "variant: fcos\nversion: 1.4.0\nkernel_arguments:\n  should_exist:\n    - quiet\n",
        )
        .unwrap();
        let rendered = render(&pool(dir.path())).unwrap();
        let error = emit_at(&rendered, Version::V3_2).unwrap_err();
        assert!(error.field.contains("$.kernelArguments"), "{error}");
        assert!(emit_at(&rendered, Version::V3_3).is_ok());
    }

    #[test]
    fn bad_fragments_and_empty_pools() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            render(&pool(dir.path())),
            Err(PoolError::Empty(_))
        ));
        std::fs::write(
            dir.path().join("10-bad.ign"),
            r#"{"ignition":{"version":"3.1.0"},"storage":{"files":[{"path":"relative"}]}}"#,
        )
        .unwrap();
        match render(&pool(dir.path())) {
            Err(PoolError::Fragment { path, message }) => {
                assert!(path.ends_with("10-bad.ign"));
                assert!(message.contains("$.storage.files.0.path"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accept_negotiation() {
        let n = |accept: &str| negotiate(Some(accept));
        assert_eq!(negotiate(None), Ok(None));
        assert_eq!(n("*/*"), Ok(None));
        assert_eq!(n("application/json"), Ok(None));
        assert_eq!(
            n("application/vnd.coreos.ignition+json;version=3.4.0, */*;q=0.1"),
            Ok(Some(Version::V3_4)),
            "what Ignition 2.x sends"
        );
        assert_eq!(
            n("application/vnd.coreos.ignition+json; version=3.99.0"),
            Ok(Some(Version::LATEST_STABLE)),
            "a newer minor of the same major"
        );
        assert_eq!(
            n(
                "application/vnd.coreos.ignition+json;version=3.1.0;q=0.5, application/vnd.coreos.ignition+json;version=3.2.0;q=0.9"
            ),
            Ok(Some(Version::V3_2)),
            "q-values"
        );
        assert_eq!(
            n(
                "application/vnd.coreos.ignition+json;version=3.1.0, application/vnd.coreos.ignition+json;version=3.3.0"
            ),
            Ok(Some(Version::V3_3)),
            "equal q: the newest"
        );
        assert_eq!(
            n("application/vnd.coreos.ignition+json;version=2.2.0"),
            Err(AcceptError::Unacceptable)
        );
        assert_eq!(
            n("application/vnd.coreos.ignition+json;version=3.4.0;q=0"),
            Err(AcceptError::Unacceptable)
        );
        assert!(matches!(
            n("application/vnd.coreos.ignition+json;version=three"),
            Err(AcceptError::BadVersion(_))
        ));
    }
}
