//! Metalink remotes (`url=metalink=URL`): the remote's URL names a Metalink 3.0
//! document whose `<file name="summary">` lists where the summary is served, its size
//! and its SHA-256/SHA-512. The first listed URL whose body has that size and hash
//! gives the summary, and its directory becomes the remote's base URL, as OSTree
//! resolves such remotes (a mirror network publishing one signed-by-hash list).

use sha2::{Digest, Sha256, Sha512};

use crate::fetch::{FetchError, Fetcher};

/// The largest metalink document fetched.
const MAX_METALINK: u64 = 1 << 20;
/// The largest summary fetched through a metalink (OSTree's metadata limit).
const MAX_SUMMARY: u64 = 10 << 20;

/// Why a metalink gave no summary (worded as OSTree words it).
#[derive(Debug, thiserror::Error)]
pub enum MetalinkError {
    /// The metalink itself could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The metalink URL answered 404.
    #[error("metalink {0}: not found")]
    Missing(String),
    /// Not XML at all.
    #[error("Document must begin with an element (e.g. <book>)")]
    NotXml,
    /// Not well-formed XML.
    #[error("invalid metalink XML: {0}")]
    Malformed(String),
    /// No `<file name="summary">`.
    #[error("No <file name=\"summary\"> element found in the metalink")]
    NoFile,
    /// A `<hash>` that is not a hex digest of its type.
    #[error("Invalid hash digest for {0}")]
    BadDigest(String),
    /// Neither a SHA-256 nor a SHA-512 hash.
    #[error("No <verification> with known <hash type=> (sha256, sha512) found")]
    NoVerification,
    /// No URL to fetch the summary from.
    #[error("No <url method=\"http\"> elements found")]
    NoUrls,
    /// A listed URL served a body of another size.
    #[error("Expected size is {expected} bytes but content is {actual} bytes")]
    Size {
        /// `<size>`.
        expected: u64,
        /// What was served.
        actual: u64,
    },
    /// A listed URL served a body with another hash.
    #[error("Expected checksum is {expected} but actual is {actual}")]
    Checksum {
        /// The metalink's digest.
        expected: String,
        /// The body's.
        actual: String,
    },
    /// Every listed URL failed; the last failure.
    #[error("Exhausted {count} metalink targets, last error: {last}")]
    Exhausted {
        /// How many URLs were tried.
        count: usize,
        /// Why the last one failed.
        last: Box<MetalinkError>,
    },
}

/// The `summary` entry of a metalink document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metalink {
    /// `<size>` (0 when absent: not checked).
    pub size: u64,
    /// The SHA-256 digest, lower-case hex.
    pub sha256: Option<String>,
    /// The SHA-512 digest, lower-case hex (preferred over SHA-256).
    pub sha512: Option<String>,
    /// The URLs, in document order.
    pub urls: Vec<String>,
}

/// Parses a metalink document (unknown elements anywhere are ignored).
pub fn parse(text: &str) -> Result<Metalink, MetalinkError> {
    let body = text.trim_start();
    if !body.starts_with('<') {
        return Err(MetalinkError::NotXml);
    }
    let doc =
        roxmltree::Document::parse(text).map_err(|e| MetalinkError::Malformed(e.to_string()))?;
    let named =
        |node: &roxmltree::Node, name: &str| node.is_element() && node.tag_name().name() == name;
    let root = doc.root_element();
    let file = root
        .children()
        .filter(|n| named(n, "files"))
        .flat_map(|files| files.children())
        .find(|n| named(n, "file") && n.attribute("name") == Some("summary"))
        .ok_or(MetalinkError::NoFile)?;
    let child = |name: &str| file.children().find(|n| named(n, name));
    let size = child("size")
        .and_then(|n| n.text())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let (mut sha256, mut sha512) = (None, None);
    for hash in child("verification")
        .into_iter()
        .flat_map(|v| v.children())
        .filter(|n| named(n, "hash"))
    {
        let digest = hash.text().unwrap_or("").trim().to_ascii_lowercase();
        let (slot, len) = match hash.attribute("type") {
            Some("sha256") => (&mut sha256, 64),
            Some("sha512") => (&mut sha512, 128),
            _ => continue,
        };
        if digest.len() != len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            let kind = hash.attribute("type").unwrap_or_default();
            return Err(MetalinkError::BadDigest(kind.to_owned()));
        }
        *slot = Some(digest);
    }
    let urls: Vec<String> = child("resources")
        .into_iter()
        .flat_map(|r| r.children())
        .filter(|n| named(n, "url"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect();
    if sha256.is_none() && sha512.is_none() {
        return Err(MetalinkError::NoVerification);
    }
    if urls.is_empty() {
        return Err(MetalinkError::NoUrls);
    }
    Ok(Metalink {
        size,
        sha256,
        sha512,
        urls,
    })
}

impl Metalink {
    /// Whether `body` is the summary this metalink describes.
    fn check(&self, body: &[u8]) -> Result<(), MetalinkError> {
        if self.size > 0 && self.size != body.len() as u64 {
            return Err(MetalinkError::Size {
                expected: self.size,
                actual: body.len() as u64,
            });
        }
        let (expected, actual) = match (&self.sha512, &self.sha256) {
            (Some(expected), _) => (expected, hex(&Sha512::digest(body))),
            (None, Some(expected)) => (expected, hex(&Sha256::digest(body))),
            (None, None) => return Err(MetalinkError::NoVerification),
        };
        if *expected != actual {
            return Err(MetalinkError::Checksum {
                expected: expected.clone(),
                actual,
            });
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fetches the metalink at `url` and then the summary it lists: the base URL of the
/// repository (the summary URL's directory) and the verified summary.
pub(crate) fn resolve(fetcher: &Fetcher, url: &str) -> Result<(String, Vec<u8>), MetalinkError> {
    let text = fetcher
        .get_url(url, MAX_METALINK)?
        .ok_or_else(|| MetalinkError::Missing(url.to_owned()))?;
    let metalink = parse(&String::from_utf8_lossy(&text))?;
    let mut last = None;
    for target in &metalink.urls {
        let outcome = match fetcher.get_url(target, MAX_SUMMARY) {
            Ok(Some(body)) => metalink.check(&body).map(|()| body),
            Ok(None) => Err(FetchError::Status {
                url: target.clone(),
                status: 404,
            }
            .into()),
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(body) => {
                let base = target.rsplit_once('/').map_or(target.as_str(), |(b, _)| b);
                return Ok((base.to_owned(), body));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(MetalinkError::Exhausted {
        count: metalink.urls.len(),
        last: Box::new(last.expect("a metalink has URLs")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
  <deeply><nested>ignored</nested></deeply>
  <files>
    <file name="other"><resources><url>http://x/other</url></resources></file>
    <file name="summary">
      <size>5</size>
      <verification>
        <hash type="md5">whatever</hash>
        <hash type="sha256">2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824</hash>
      </verification>
      <resources maxconnections="1">
        <url protocol="http" preference="100">http://a/repo/summary</url>
        <url protocol="ftp">ftp://b/summary</url>
      </resources>
    </file>
  </files>
</metalink>"#;

    #[test]
    fn parses_the_summary_entry_and_checks_bodies() {
        let m = parse(DOC).unwrap();
        assert_eq!(m.size, 5);
        assert_eq!(m.urls, ["http://a/repo/summary"]);
        assert!(m.sha512.is_none());
        m.check(b"hello").unwrap();
        assert!(matches!(
            m.check(b"hell"),
            Err(MetalinkError::Size {
                expected: 5,
                actual: 4
            })
        ));
        assert!(matches!(
            m.check(b"HELLO"),
            Err(MetalinkError::Checksum { .. })
        ));
    }

    #[test]
    fn refuses_what_ostree_refuses() {
        assert!(matches!(parse("bacon"), Err(MetalinkError::NotXml)));
        let bad = DOC.replace("2cf24dba", "bacon");
        assert_eq!(
            parse(&bad).unwrap_err().to_string(),
            "Invalid hash digest for sha256"
        );
        let no_hash = DOC.replace("sha256", "sha1");
        assert!(matches!(
            parse(&no_hash),
            Err(MetalinkError::NoVerification)
        ));
        let no_url = DOC.replace("http://a/repo/summary", "");
        assert!(matches!(parse(&no_url), Err(MetalinkError::NoUrls)));
    }
}
