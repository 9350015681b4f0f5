//! Turning the user config into the config to apply (reference §2.4).
//!
//! `ignition.config.replace` discards the config for the fetched one; `ignition.config.merge`
//! children are fetched in order and merged over it, each rendered first (depth first).
//! Referenced configs may be of any 3.x spec version. Each fetch uses the timeouts, proxy
//! and certificate authorities of the config merged so far, as Ignition does. The result
//! and the result merged over the base config are validated with the newest rules.

use ferro_document::Report;
use ferro_spec::data_url::{self, Encoding};
use ferro_spec::{Config, Resource, Version};

use crate::fetch::{Fetch, FetchError, Fetcher};

/// How many levels of `replace`/`merge` references are followed: Ignition has no limit,
/// but a config that references itself would otherwise never finish.
pub const MAX_DEPTH: usize = 16;

/// Why the config to apply could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A referenced config (or certificate authority) could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A config is not valid; `findings` holds the report lines.
    #[error("{origin}: {error}{findings}")]
    Parse {
        /// Where the config came from.
        origin: String,
        /// The parser's verdict.
        error: ferro_spec::parse::ParseError,
        /// The report, one finding per line (with a leading newline), or empty.
        findings: String,
    },
    /// Merging produced a config that does not validate.
    #[error("merging configs resulted in an invalid config:\n{report}")]
    Invalid {
        /// The errors (and warnings) of the merged config.
        report: Report,
    },
    /// References nest deeper than [`MAX_DEPTH`].
    #[error("config references nest deeper than {MAX_DEPTH} levels (a reference loop?)")]
    TooDeep,
}

impl RenderError {
    /// Whether this only failed because the network is needed (the `fetch-offline` stage
    /// turns that into the neednet flag).
    pub fn needs_network(&self) -> bool {
        matches!(self, RenderError::Fetch(FetchError::NeedNetwork { .. }))
    }
}

/// Parses a config of any supported spec version; `origin` names it in errors.
pub fn parse_config(origin: &str, bytes: &[u8]) -> Result<Config, RenderError> {
    ferro_spec::parse::parse(bytes)
        .map(|parsed| parsed.config)
        .map_err(|error| {
            let findings = error
                .report()
                .map(|report| format!("\n{report}").trim_end().to_owned())
                .unwrap_or_default();
            RenderError::Parse {
                origin: origin.to_owned(),
                error,
                findings,
            }
        })
}

/// Resolves `ignition.config.replace` and `merge` recursively and validates the result.
pub fn render(config: Config, fetcher: &Fetcher) -> Result<Config, RenderError> {
    let references =
        config.ignition.config.replace.source.is_some() || !config.ignition.config.merge.is_empty();
    if !references {
        // Nothing to fetch: the config was validated when it was parsed.
        return Ok(config);
    }
    let rendered = render_at(config, fetcher, 0)?;
    validate(&rendered)?;
    Ok(rendered)
}

fn render_at(config: Config, fetcher: &Fetcher, depth: usize) -> Result<Config, RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let own = fetcher.with_settings(&config.ignition)?;
    let replace = &config.ignition.config.replace;
    if replace.source.as_deref().is_some_and(|s| !s.is_empty()) {
        let child = fetch_config(&own, replace)?;
        return render_at(child, &own, depth + 1);
    }
    let mut merged = config.clone();
    for reference in &config.ignition.config.merge {
        let so_far = fetcher.with_settings(&merged.ignition)?;
        let child = fetch_config(&so_far, reference)?;
        let child = render_at(child, &so_far, depth + 1)?;
        merged = ferro_spec::merge::merge(&merged, &child).config;
    }
    Ok(merged)
}

fn fetch_config(fetcher: &Fetcher, reference: &Resource) -> Result<Config, RenderError> {
    let origin = reference.source.clone().unwrap_or_default();
    let bytes = fetcher.fetch(reference)?.unwrap_or_default();
    parse_config(&origin, &bytes)
}

/// The config a stage applies: the user config merged over the base config, validated.
pub fn full_config(base: &Config, user: &Config) -> Result<Config, RenderError> {
    if *base == Config::default() {
        // `user` was validated when it was parsed or rendered.
        return Ok(user.clone());
    }
    let full = ferro_spec::merge::merge(base, user).config;
    validate(&full)?;
    Ok(full)
}

/// `user` merged over the system base config. Most machines have no base configs, and
/// then there is nothing to merge (merging a large config is not free).
pub fn over_base(base: &Config, user: &Config) -> Config {
    if *base == Config::default() {
        user.clone()
    } else {
        ferro_spec::merge::merge(base, user).config
    }
}

/// Validates a merged config with the newest spec's rules, as Ignition validates the
/// config translated to its internal version; only errors reject it.
pub fn validate(config: &Config) -> Result<(), RenderError> {
    let newest = Version::V3_7Experimental;
    let mut translated = config.clone();
    translated.ignition.version = newest.as_str().to_owned();
    let report = ferro_spec::validate::validate(&translated, newest);
    if report.is_fatal() {
        return Err(RenderError::Invalid { report });
    }
    Ok(())
}

/// Replaces every certificate authority by a `data:` URL of its (decompressed, verified)
/// bytes, so that later stages, which read the cached config, need no network to trust
/// the same authorities.
pub fn inline_certificate_authorities(
    config: &mut Config,
    fetcher: &Fetcher,
) -> Result<(), RenderError> {
    for authority in &mut config.ignition.security.tls.certificate_authorities {
        if let Some(bytes) = fetcher.fetch(authority)? {
            *authority = Resource {
                source: Some(data_url::encode(&bytes, Encoding::Base64)),
                verification: authority.verification.clone(),
                ..Resource::default()
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        parse_config("test", text.as_bytes()).unwrap()
    }

    fn data_url(text: &str) -> String {
        data_url::encode(text.as_bytes(), Encoding::Percent)
    }

    fn paths(config: &Config) -> Vec<&str> {
        config
            .storage
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect()
    }

    #[test]
    fn merges_children_depth_first_of_any_version() {
        let grandchild = r#"{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/c"}]}}"#;
        let child = format!(
            r#"{{"ignition":{{"version":"3.4.0","config":{{"merge":[{{"source":"{}"}}]}}}},"storage":{{"files":[{{"path":"/b"}}]}}}}"#,
            data_url(grandchild)
        );
        let user = config(&format!(
            r#"{{"ignition":{{"version":"3.2.0","config":{{"merge":[{{"source":"{}"}}]}}}},"storage":{{"files":[{{"path":"/a"}}]}}}}"#,
            data_url(&child)
        ));
        let rendered = render(user, &Fetcher::offline()).unwrap();
        assert_eq!(paths(&rendered), vec!["/a", "/b", "/c"]);
    }

    #[test]
    fn replace_discards_the_config() {
        let other = r#"{"ignition":{"version":"3.1.0"},"storage":{"files":[{"path":"/new"}]}}"#;
        let user = config(&format!(
            r#"{{"ignition":{{"version":"3.3.0","config":{{"replace":{{"source":"{}"}}}}}},"storage":{{"files":[{{"path":"/old"}}]}}}}"#,
            data_url(other)
        ));
        assert_eq!(
            paths(&render(user, &Fetcher::offline()).unwrap()),
            vec!["/new"]
        );
    }

    #[test]
    fn reports_bad_children_network_needs_and_loops() {
        let user = config(&format!(
            r#"{{"ignition":{{"version":"3.3.0","config":{{"merge":[{{"source":"{}"}}]}}}}}}"#,
            data_url(r#"{"ignition":{"version":"2.2.0"}}"#)
        ));
        let error = render(user, &Fetcher::offline()).unwrap_err();
        assert!(error.to_string().starts_with("data:,"), "{error}");
        let user = config(
            r#"{"ignition":{"version":"3.3.0","config":{"merge":[{"source":"http://h/c"}]}}}"#,
        );
        assert!(
            render(user, &Fetcher::offline())
                .unwrap_err()
                .needs_network()
        );
        // A config that replaces itself with itself, forever.
        let mut looping = String::from(r#"{"ignition":{"version":"3.0.0"}}"#);
        for _ in 0..=MAX_DEPTH + 1 {
            looping = format!(
                r#"{{"ignition":{{"version":"3.0.0","config":{{"replace":{{"source":"{}"}}}}}}}}"#,
                data_url(&looping)
            );
        }
        assert!(matches!(
            render(config(&looping), &Fetcher::offline()),
            Err(RenderError::TooDeep)
        ));
    }

    #[test]
    fn validates_the_merge_result() {
        let base = config(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"links":[{"path":"/a/b","target":"/x"}]}}"#,
        );
        let user =
            config(r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a/b/c"}]}}"#);
        let error = full_config(&base, &user).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("merging configs resulted in an invalid config"),
            "{error}"
        );
        let fine =
            config(r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/d"}]}}"#);
        assert_eq!(
            paths(&full_config(&user, &fine).unwrap()),
            vec!["/a/b/c", "/d"]
        );
    }

    #[test]
    fn inlines_certificate_authorities() {
        let mut c = Config::default();
        c.ignition.security.tls.certificate_authorities = vec![Resource {
            source: Some("data:,PEM".to_owned()),
            ..Resource::default()
        }];
        inline_certificate_authorities(&mut c, &Fetcher::offline()).unwrap();
        assert_eq!(
            c.ignition.security.tls.certificate_authorities[0]
                .source
                .as_deref(),
            Some("data:;base64,UEVN")
        );
    }
}
