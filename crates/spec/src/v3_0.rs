//! Ignition 3.0.0's own `ignition` section.
//!
//! Spec 3.1.0 made config and CA references [`Resource`]s; in 3.0.0 they are types of
//! their own, without compression or HTTP headers (a key the user writes is unused), a
//! config reference writes an absent source as `null`, and a CA's source is a plain
//! string (`""` when absent). Everywhere else 3.0.0 is a subset of the newest types. A
//! 3.0.0 config is read with these shapes (the `ignition` field's [`Earlier`] shape),
//! held as the newest [`crate::Ignition`], and written as these types.
//!
//! [`Earlier`]: ferro_document::Earlier

use serde::{Serialize, Serializer};

use crate::{Nullable, Resource, Timeouts, Verification, Version, ignition_type};

ignition_type! {
    /// Settings of Ignition itself, in spec 3.0.0.
    Ignition {
        /// Configs to merge into or replace this one.
        config: IgnitionConfig = "config" @ 0;
        /// TLS settings for fetching resources.
        security: Security = "security" @ 0;
        /// Fetch timeouts.
        timeouts: Timeouts = "timeouts" @ 0;
        /// The spec version of this config.
        version: String = "version" @ 0;
    }
}

ignition_type! {
    /// References to further configs, in spec 3.0.0.
    IgnitionConfig {
        /// Configs merged over this one, in order.
        merge: Vec<ConfigReference> = "merge" @ 0;
        /// A config that replaces this one.
        replace: ConfigReference = "replace" @ 0;
    }
}

ignition_type! {
    /// Security settings, in spec 3.0.0.
    Security {
        /// TLS settings.
        tls: Tls = "tls" @ 0;
    }
}

ignition_type! {
    /// TLS settings, in spec 3.0.0.
    Tls {
        /// Extra certificate authorities to trust.
        certificate_authorities: Vec<CaReference> = "certificateAuthorities" @ 0;
    }
}

ignition_type! {
    /// A referenced config, in spec 3.0.0.
    ConfigReference {
        /// The URL; written as `null` when absent.
        source: Nullable<String> = "source" @ 0;
        /// Expected hash of the config.
        verification: Verification = "verification" @ 0;
    }
}

ignition_type! {
    /// A certificate authority, in spec 3.0.0.
    CaReference {
        /// The URL; written as `""` when absent.
        source: String = "source" @ 0;
        /// Expected hash of the certificate bundle.
        verification: Verification = "verification" @ 0;
    }
}

impl From<&crate::Ignition> for Ignition {
    fn from(newest: &crate::Ignition) -> Self {
        let references = &newest.config;
        let authorities = &newest.security.tls.certificate_authorities;
        Ignition {
            config: IgnitionConfig {
                merge: references.merge.iter().map(ConfigReference::from).collect(),
                replace: ConfigReference::from(&references.replace),
            },
            security: Security {
                tls: Tls {
                    certificate_authorities: authorities.iter().map(CaReference::from).collect(),
                },
            },
            timeouts: newest.timeouts.clone(),
            version: newest.version.clone(),
        }
    }
}

impl From<&Resource> for ConfigReference {
    fn from(resource: &Resource) -> Self {
        ConfigReference {
            source: Nullable(resource.source.clone()),
            verification: resource.verification.clone(),
        }
    }
}

impl From<&Resource> for CaReference {
    fn from(resource: &Resource) -> Self {
        CaReference {
            source: resource.source.clone().unwrap_or_default(),
            verification: resource.verification.clone(),
        }
    }
}

/// Writes a config's `ignition` section as its own spec version's types do.
pub(crate) fn serialize_ignition<S: Serializer>(
    ignition: &crate::Ignition,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if ignition.version == Version::V3_0.as_str() {
        Ignition::from(ignition).serialize(serializer)
    } else {
        ignition.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Resource, to_go_json};

    fn config(version: &str) -> Config {
        let mut config = Config::default();
        config.ignition.version = version.into();
        config.ignition.config.merge.push(Resource::default());
        let compressed = Resource {
            compression: Some("gzip".into()),
            source: Some("https://h/c".into()),
            ..Resource::default()
        };
        config.ignition.config.replace = compressed.clone();
        config.ignition.security.tls.certificate_authorities = vec![Resource::default()];
        config.storage.files.push(crate::File {
            path: "/a".into(),
            contents: compressed,
            ..crate::File::default()
        });
        config
    }

    // Cases 3986 and 16115 of the differential test: Butane writes 3.0.0's types.
    #[test]
    fn writes_references_as_their_spec_version_types_them() {
        assert_eq!(
            to_go_json(&config("3.0.0"), false),
            r#"{"ignition":{"config":{"merge":[{"source":null}],"replace":{"source":"https://h/c"}},"security":{"tls":{"certificateAuthorities":[{"source":""}]}},"version":"3.0.0"},"storage":{"files":[{"path":"/a","contents":{"compression":"gzip","source":"https://h/c"}}]}}"#
        );
        assert_eq!(
            to_go_json(&config("3.1.0"), false),
            r#"{"ignition":{"config":{"merge":[{}],"replace":{"compression":"gzip","source":"https://h/c"}},"security":{"tls":{"certificateAuthorities":[{}]}},"version":"3.1.0"},"storage":{"files":[{"path":"/a","contents":{"compression":"gzip","source":"https://h/c"}}]}}"#
        );
    }
}
