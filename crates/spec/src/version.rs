//! Ignition spec versions.

use std::fmt;
use std::str::FromStr;

/// A spec version Ignition accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 3.0.0
    V3_0,
    /// 3.1.0
    V3_1,
    /// 3.2.0
    V3_2,
    /// 3.3.0
    V3_3,
    /// 3.4.0
    V3_4,
    /// 3.5.0
    V3_5,
    /// 3.6.0, the newest stable spec.
    V3_6,
    /// 3.7.0-experimental.
    V3_7Experimental,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 8] = [
        Version::V3_0,
        Version::V3_1,
        Version::V3_2,
        Version::V3_3,
        Version::V3_4,
        Version::V3_5,
        Version::V3_6,
        Version::V3_7Experimental,
    ];

    /// The newest stable version.
    pub const LATEST_STABLE: Version = Version::V3_6;

    /// The minor number, which is also the shape level of the version's fields.
    pub fn level(self) -> u32 {
        self as u32
    }

    /// The version string as written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3_0 => "3.0.0",
            Version::V3_1 => "3.1.0",
            Version::V3_2 => "3.2.0",
            Version::V3_3 => "3.3.0",
            Version::V3_4 => "3.4.0",
            Version::V3_5 => "3.5.0",
            Version::V3_6 => "3.6.0",
            Version::V3_7Experimental => "3.7.0-experimental",
        }
    }

    /// Whether the version may still change.
    pub fn is_experimental(self) -> bool {
        self == Version::V3_7Experimental
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a version string is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not a semantic version at all.
    #[error("invalid config version (couldn't parse)")]
    Invalid,
    /// A semantic version, but not one of the spec versions (2.x, 3.1.1, old experimentals).
    #[error("unsupported config version")]
    Unsupported,
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(version) = Version::ALL.iter().find(|v| v.as_str() == text) {
            return Ok(*version);
        }
        if is_semver(text) {
            Err(VersionError::Unsupported)
        } else {
            Err(VersionError::Invalid)
        }
    }
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre` and `+build`, as go-semver accepts it.
pub fn is_semver(text: &str) -> bool {
    let core = text.split('+').next().unwrap_or_default();
    let core = core
        .split_once('-')
        .map_or(core, |(core, pre)| if pre.is_empty() { "" } else { core });
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_spec_versions() {
        assert_eq!("3.4.0".parse(), Ok(Version::V3_4));
        assert_eq!("3.7.0-experimental".parse(), Ok(Version::V3_7Experimental));
        assert_eq!("3.1.1".parse::<Version>(), Err(VersionError::Unsupported));
        assert_eq!("2.3.0".parse::<Version>(), Err(VersionError::Unsupported));
        assert_eq!(
            "3.4.0-experimental".parse::<Version>(),
            Err(VersionError::Unsupported)
        );
        assert_eq!("3.4".parse::<Version>(), Err(VersionError::Invalid));
        assert_eq!("".parse::<Version>(), Err(VersionError::Invalid));
    }
}
