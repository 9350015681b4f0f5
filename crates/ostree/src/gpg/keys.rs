//! Public keys as `gpg --with-colons --fixed-list-mode --list-keys` lists them: what
//! `remote gpg-list-keys` prints and what signatures are matched against.

use sha1::{Digest, Sha1};

/// A primary key or subkey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subkey {
    /// Its fingerprint (upper-case hex).
    pub fingerprint: String,
    /// When it was created (seconds since the epoch).
    pub created: i64,
    /// When it expires (0 never).
    pub expires: i64,
    /// Revoked.
    pub revoked: bool,
    /// Expired.
    pub expired: bool,
    /// Invalid (unusable for another reason).
    pub invalid: bool,
}

/// A user ID of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserId {
    /// The whole user ID (`Name (comment) <email>`).
    pub uid: String,
    /// Its name part.
    pub name: String,
    /// Its email part (empty when it has none).
    pub email: String,
    /// Revoked.
    pub revoked: bool,
    /// Invalid.
    pub invalid: bool,
}

impl UserId {
    /// OpenPGP Web Key Directory URLs for this user ID's email (advanced, direct), as
    /// `ostree remote gpg-list-keys` shows them; `None` without an email.
    pub fn wkd_urls(&self) -> Option<(String, String)> {
        let (local, domain) = self.email.split_once('@')?;
        let domain = domain.to_ascii_lowercase();
        let hash = zbase32(&Sha1::digest(local.to_ascii_lowercase().as_bytes()));
        let query = percent_encode(local);
        Some((
            format!(
                "https://openpgpkey.{domain}/.well-known/openpgpkey/{domain}/hu/{hash}?l={query}"
            ),
            format!("https://{domain}/.well-known/openpgpkey/hu/{hash}?l={query}"),
        ))
    }
}

/// z-base-32 (RFC 6189 alphabet), as WKD names a hashed local part.
fn zbase32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Percent-encodes all but unreserved URL characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A public key: its primary key first in `subkeys`, then its subkeys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key {
    /// The primary key, then the subkeys.
    pub subkeys: Vec<Subkey>,
    /// The user IDs, in listing order.
    pub uids: Vec<UserId>,
}

impl Key {
    /// The primary key.
    pub fn primary(&self) -> &Subkey {
        &self.subkeys[0]
    }

    /// Whether `id` (a fingerprint or key ID, long or short, optionally `0x`-prefixed)
    /// names this key or one of its subkeys.
    fn matches(&self, id: &str) -> bool {
        let id = id.trim_start_matches("0x").to_ascii_uppercase();
        !id.is_empty()
            && self
                .subkeys
                .iter()
                .any(|sub| sub.fingerprint.ends_with(&id))
    }
}

/// The key `id` names (see [`Key::matches`]).
pub(crate) fn find<'a>(keys: &'a [Key], id: &str) -> Option<&'a Key> {
    keys.iter().find(|key| key.matches(id))
}

/// Splits a user ID into name and email, as GPGME does (`Name (comment) <email>`).
fn split_uid(uid: &str) -> (String, String) {
    let (rest, email) = match (uid.rfind('<'), uid.ends_with('>')) {
        (Some(open), true) => (&uid[..open], &uid[open + 1..uid.len() - 1]),
        _ => (uid, ""),
    };
    let name = match rest.find('(') {
        Some(open) if rest.trim_end().ends_with(')') => &rest[..open],
        _ => rest,
    };
    (name.trim().to_owned(), email.to_owned())
}

/// Undoes the colon format's `\xNN` escapes.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(hex) = text.get(i + 2..i + 4)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a `--with-colons --fixed-list-mode` key listing.
pub(crate) fn parse_listing(text: &str) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let validity = field(1);
        match field(0) {
            "pub" | "sub" => {
                let sub = Subkey {
                    fingerprint: String::new(),
                    created: field(5).parse().unwrap_or(0),
                    expires: field(6).parse().unwrap_or(0),
                    revoked: validity == "r",
                    expired: validity == "e",
                    invalid: validity == "i",
                };
                if field(0) == "pub" {
                    keys.push(Key {
                        subkeys: vec![sub],
                        uids: Vec::new(),
                    });
                } else if let Some(key) = keys.last_mut() {
                    key.subkeys.push(sub);
                }
            }
            "fpr" => {
                if let Some(sub) = keys.last_mut().and_then(|k| k.subkeys.last_mut())
                    && sub.fingerprint.is_empty()
                {
                    sub.fingerprint = field(9).to_owned();
                }
            }
            "uid" => {
                if let Some(key) = keys.last_mut() {
                    let uid = unescape(field(9));
                    let (name, email) = split_uid(&uid);
                    key.uids.push(UserId {
                        uid,
                        name,
                        email,
                        revoked: validity == "r",
                        invalid: validity == "i",
                    });
                }
            }
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_user_ids_and_makes_wkd_urls() {
        assert_eq!(
            split_uid("Test Key 1"),
            ("Test Key 1".into(), String::new())
        );
        assert_eq!(
            split_uid("Ostree Tester (ci) <test@test.com>"),
            ("Ostree Tester".into(), "test@test.com".into())
        );
        let uid = UserId {
            email: "test@test.com".into(),
            ..Default::default()
        };
        // The URLs OSTree's own test expects for this address.
        let (advanced, direct) = uid.wkd_urls().unwrap();
        assert_eq!(
            advanced,
            "https://openpgpkey.test.com/.well-known/openpgpkey/test.com/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test"
        );
        assert_eq!(
            direct,
            "https://test.com/.well-known/openpgpkey/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test"
        );
    }

    #[test]
    fn parses_listing_and_matches_ids() {
        let keys = parse_listing(
            "tru::1:1796662806:0:3:1:5\n\
             pub:r:2048:1:7FCA23D8472CDAFA:1378780182:1378780183::-:::scESC::::::23::0:\n\
             fpr:::::::::5E65DE75AB1C501862D476347FCA23D8472CDAFA:\n\
             uid:r::::1378780182::EF96::Ostree Tester \\x3a) <test@test.com>::::::::::0:\n\
             sub:e:2048:1:DF20F58B408DEA49:1378780182::::::e::::::23:\n\
             fpr:::::::::CC47B2DFB520AEF231180725DF20F58B408DEA49:\n",
        );
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert!(key.primary().revoked && key.primary().expires == 1378780183);
        assert!(key.subkeys[1].expired);
        assert_eq!(key.uids[0].uid, "Ostree Tester :) <test@test.com>");
        assert!(key.uids[0].revoked);
        assert!(find(&keys, "0x408dea49").is_some());
        assert!(find(&keys, "472CDAFA").is_some());
        assert!(find(&keys, "CA950D41").is_none());
    }
}
