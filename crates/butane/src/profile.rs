//! Which Butane variants and versions exist, and what each one accepts and produces.

use std::fmt;

use ferro_spec::Version as IgnitionVersion;

/// A Butane variant: the distribution a config is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Fedora CoreOS.
    Fcos,
    /// Flatcar Container Linux.
    Flatcar,
    /// OpenShift (RHCOS nodes), written as a MachineConfig.
    Openshift,
    /// RHEL for Edge.
    R4e,
    /// Fedora IoT.
    Fiot,
}

impl Variant {
    /// The name used in `variant:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Fcos => "fcos",
            Variant::Flatcar => "flatcar",
            Variant::Openshift => "openshift",
            Variant::R4e => "r4e",
            Variant::Fiot => "fiot",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that depends on the variant and version of a Butane config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The variant.
    pub variant: Variant,
    /// The version string as registered (`1.6.0`, `4.23.0-experimental`).
    pub version: &'static str,
    /// The Ignition spec version produced.
    pub target: IgnitionVersion,
    /// For fcos and openshift: the minor of the fcos spec this one builds on
    /// (openshift 4.14 builds on fcos 1.5); `None` for variants built on the base alone.
    pub fcos_minor: Option<u32>,
}

/// Every registered variant and version.
pub const PROFILES: &[Profile] = &[
    fcos("1.0.0", IgnitionVersion::V3_0, 0),
    fcos("1.1.0", IgnitionVersion::V3_1, 1),
    fcos("1.2.0", IgnitionVersion::V3_2, 2),
    fcos("1.3.0", IgnitionVersion::V3_2, 3),
    fcos("1.4.0", IgnitionVersion::V3_3, 4),
    fcos("1.5.0", IgnitionVersion::V3_4, 5),
    fcos("1.6.0", IgnitionVersion::V3_5, 6),
    fcos("1.7.0", IgnitionVersion::V3_6, 7),
    fcos("1.8.0-experimental", IgnitionVersion::V3_7Experimental, 8),
    base(Variant::Flatcar, "1.0.0", IgnitionVersion::V3_3),
    base(Variant::Flatcar, "1.1.0", IgnitionVersion::V3_4),
    base(
        Variant::Flatcar,
        "1.2.0-experimental",
        IgnitionVersion::V3_7Experimental,
    ),
    openshift("4.8.0", IgnitionVersion::V3_2, 3),
    openshift("4.9.0", IgnitionVersion::V3_2, 3),
    openshift("4.10.0", IgnitionVersion::V3_2, 3),
    openshift("4.11.0", IgnitionVersion::V3_2, 3),
    openshift("4.12.0", IgnitionVersion::V3_2, 3),
    openshift("4.13.0", IgnitionVersion::V3_2, 3),
    openshift("4.14.0", IgnitionVersion::V3_4, 5),
    openshift("4.15.0", IgnitionVersion::V3_4, 5),
    openshift("4.16.0", IgnitionVersion::V3_4, 5),
    openshift("4.17.0", IgnitionVersion::V3_4, 5),
    openshift("4.18.0", IgnitionVersion::V3_4, 5),
    openshift("4.19.0", IgnitionVersion::V3_5, 6),
    openshift("4.20.0", IgnitionVersion::V3_5, 6),
    openshift("4.21.0", IgnitionVersion::V3_5, 6),
    openshift("4.22.0", IgnitionVersion::V3_5, 6),
    openshift("4.23.0-experimental", IgnitionVersion::V3_7Experimental, 8),
    base(Variant::R4e, "1.0.0", IgnitionVersion::V3_3),
    base(Variant::R4e, "1.1.0", IgnitionVersion::V3_4),
    base(
        Variant::R4e,
        "1.2.0-experimental",
        IgnitionVersion::V3_7Experimental,
    ),
    base(Variant::Fiot, "1.0.0", IgnitionVersion::V3_4),
    base(
        Variant::Fiot,
        "1.1.0-experimental",
        IgnitionVersion::V3_7Experimental,
    ),
];

const fn fcos(version: &'static str, target: IgnitionVersion, minor: u32) -> Profile {
    profile(Variant::Fcos, version, target, Some(minor))
}

const fn openshift(version: &'static str, target: IgnitionVersion, fcos_minor: u32) -> Profile {
    profile(Variant::Openshift, version, target, Some(fcos_minor))
}

const fn base(variant: Variant, version: &'static str, target: IgnitionVersion) -> Profile {
    profile(variant, version, target, None)
}

const fn profile(
    variant: Variant,
    version: &'static str,
    target: IgnitionVersion,
    fcos_minor: Option<u32>,
) -> Profile {
    Profile {
        variant,
        version,
        target,
        fcos_minor,
    }
}

/// Why the `variant`/`version` pair of a config names no known profile; Butane's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// `variant` is missing.
    #[error("error parsing variant; must be specified")]
    NoVariant,
    /// `version` is missing or not `X.Y.Z`.
    #[error("error parsing version; must be a valid semver")]
    BadVersion,
    /// The removed `rhcos` variant.
    #[error(
        "rhcos variant has been removed; use openshift variant instead: https://coreos.github.io/butane/upgrading-openshift/"
    )]
    Rhcos,
    /// No such variant/version pair.
    #[error("No translator exists for variant {variant} with version {version}")]
    Unknown {
        /// The variant as written.
        variant: String,
        /// The version as written.
        version: String,
    },
}

impl Profile {
    /// The profile for a config's `variant` and `version`.
    pub fn lookup(variant: Option<&str>, version: Option<&str>) -> Result<Profile, ProfileError> {
        let variant = variant
            .filter(|v| !v.is_empty())
            .ok_or(ProfileError::NoVariant)?;
        let version = version
            .filter(|v| ferro_spec::is_semver(v))
            .ok_or(ProfileError::BadVersion)?;
        // Only `rhcos` 0.1.0 is registered (to say it was removed); other versions are
        // just unknown, as in Butane's registry.
        if variant == "rhcos" && version == "0.1.0" {
            return Err(ProfileError::Rhcos);
        }
        PROFILES
            .iter()
            .find(|p| p.variant.as_str() == variant && p.version == version)
            .copied()
            .ok_or_else(|| ProfileError::Unknown {
                variant: variant.to_owned(),
                version: version.to_owned(),
            })
    }

    /// The shape level of the fields this profile accepts (Ignition 3.N's N).
    pub fn level(&self) -> u32 {
        self.target.level()
    }

    /// Whether the fcos spec this profile builds on is at least 1.`minor`.
    pub fn fcos_at_least(&self, minor: u32) -> bool {
        self.fcos_minor.is_some_and(|m| m >= minor)
    }

    /// The openshift minor (4.N), for openshift profiles.
    pub fn openshift_minor(&self) -> Option<u32> {
        (self.variant == Variant::Openshift)
            .then(|| self.version.split('.').nth(1)?.parse().ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_registered_profiles() {
        let p = Profile::lookup(Some("fcos"), Some("1.6.0")).unwrap();
        assert_eq!(p.target, IgnitionVersion::V3_5);
        let p = Profile::lookup(Some("openshift"), Some("4.14.0")).unwrap();
        assert_eq!((p.fcos_minor, p.openshift_minor()), (Some(5), Some(14)));
    }

    #[test]
    fn explains_unknown_profiles() {
        assert_eq!(
            Profile::lookup(None, Some("1.0.0")),
            Err(ProfileError::NoVariant)
        );
        assert_eq!(
            Profile::lookup(Some("fcos"), Some("1.6")),
            Err(ProfileError::BadVersion)
        );
        assert_eq!(
            Profile::lookup(Some("rhcos"), Some("0.1.0")),
            Err(ProfileError::Rhcos)
        );
        assert_eq!(
            Profile::lookup(Some("fcos"), Some("1.9.0"))
                .unwrap_err()
                .to_string(),
            "No translator exists for variant fcos with version 1.9.0"
        );
    }
}
