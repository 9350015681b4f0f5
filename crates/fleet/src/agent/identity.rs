//! Who the node is to the servers, as Zincati tells it: an app-specific id derived from
//! the machine id, the group, the OS version and base commit, stream, architecture and
//! platform.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Zincati's application id: node ids derived with it are the ids Zincati sends, so a
/// node switching from Zincati to ferro keeps its id (and its FleetLock slot).
pub const ZINCATI_APP_ID: [u8; 16] = [
    0xde, 0x35, 0x10, 0x6b, 0x6e, 0xc2, 0x46, 0x88, 0xb6, 0x3a, 0xfd, 0xda, 0xa1, 0x56, 0x67, 0x9b,
];

/// `sd_id128_get_machine_app_specific(app)`: HMAC-SHA256 of the app id keyed by the
/// machine id, truncated to 128 bits and marked as a v4 UUID; lower hex, no dashes.
/// `None` when `machine_id` is not 32 hex digits.
pub fn app_specific_id(machine_id: &str, app: &[u8; 16]) -> Option<String> {
    let key = parse_id128(machine_id.trim())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(app);
    let digest = mac.finalize().into_bytes();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}

fn parse_id128(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// The node as the update graph and the lock server see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// 32 lower-case hex digits.
    pub node_uuid: String,
    /// The FleetLock group.
    pub group: String,
    /// `basearch` (`x86_64`, `aarch64`).
    pub basearch: String,
    /// The stream the booted commit belongs to.
    pub stream: String,
    /// `ignition.platform.id` of the kernel command line (`metal` otherwise).
    pub platform: String,
    /// The booted version.
    pub os_version: String,
    /// The booted base commit (not a layered one).
    pub os_checksum: String,
}

/// `ignition.platform.id=` of a kernel command line.
pub fn platform_from_cmdline(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix("ignition.platform.id="))
        .map(str::to_owned)
}

/// The architecture name Cincinnati uses for this build.
pub fn this_basearch() -> &'static str {
    std::env::consts::ARCH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_specific_id_matches_systemd_id128() {
        let machine_id = "3d1219c7c4c5404aaa1f6d2a48adfda4";
        let id = app_specific_id(machine_id, &ZINCATI_APP_ID).unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(&id[12..13], "4");
        // The oracle: `systemd-id128 machine-id -a de35…` on a machine with this id
        // (checked against the real tool in tests/agent.rs when it is installed).
        assert!(app_specific_id("not-an-id", &ZINCATI_APP_ID).is_none());
    }

    #[test]
    fn platform_comes_from_the_command_line() {
        assert_eq!(
            platform_from_cmdline("ro ignition.platform.id=qemu quiet").as_deref(),
            Some("qemu")
        );
        assert_eq!(platform_from_cmdline("ro"), None);
    }
}
