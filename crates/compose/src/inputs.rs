//! The input hash of a compose, as rpm-ostree's `rpmostree.inputhash`: when nothing that
//! goes into a tree has changed since the ref's last commit, composing again would only
//! make the same tree, so `compose tree` keeps that commit instead (seconds instead of
//! minutes).
//!
//! What goes in: the manifest's settings, the `ferro` binary installed into the tree
//! (it carries every file ferrocore adds, compiled in), and the Debian archive's
//! signed `InRelease` index for the suite, which changes whenever a package does.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use ferro_sys::http::{Backoff, agent_config, is_transient, is_transient_status};
use ferro_sys::{IoError, IoResultExt};
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

/// The commit metadata key holding the input hash (rpm-ostree's name for it).
pub const METADATA_KEY: &str = "rpmostree.inputhash";

/// Why the inputs could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binary could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The archive's index could not be fetched.
    #[error(
        "could not fetch '{url}': {source} (is the Debian archive reachable? \
         `debian.mirror` in the manifest names another)"
    )]
    Fetch {
        /// The index URL.
        url: String,
        /// The cause.
        #[source]
        source: Box<ureq::Error>,
    },
}

/// The URL of the archive's signed index for `suite`.
pub fn release_url(mirror: &str, suite: &str) -> String {
    format!("{}/dists/{suite}/InRelease", mirror.trim_end_matches('/'))
}

/// How often the index is asked for before a compose gives up: a mirror that resets a
/// connection or answers 503 for a moment should not cost a build.
const ATTEMPTS: u32 = 4;

/// Fetches the archive's signed index (a few hundred kilobytes), trying again after
/// transient failures (see `ferro_sys::http`).
pub fn fetch_release(mirror: &str, suite: &str) -> Result<Vec<u8>, Error> {
    let url = release_url(mirror, suite);
    let agent: ureq::Agent = agent_config(concat!("ferro-compose/", env!("CARGO_PKG_VERSION")))
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut delays =
        Backoff::new(Duration::from_millis(500), Duration::from_secs(5)).attempts(ATTEMPTS);
    loop {
        let error = match agent.get(&url).call() {
            Ok(mut response) if response.status() == 200 => {
                match response.body_mut().read_to_vec() {
                    Ok(body) => return Ok(body),
                    Err(e) => e,
                }
            }
            // Statuses are answers (`agent_config`); any but 200 fails this fetch.
            Ok(response) => ureq::Error::StatusCode(response.status().as_u16()),
            Err(e) => e,
        };
        let transient = match &error {
            ureq::Error::StatusCode(status) => is_transient_status(*status),
            other => is_transient(other),
        };
        match delays.next() {
            Some(delay) if transient => std::thread::sleep(delay),
            _ => {
                return Err(Error::Fetch {
                    url,
                    source: Box::new(error),
                });
            }
        }
    }
}

/// The input hash (lower-case hex SHA-256) of composing `manifest` from the archive
/// whose index is `release`, with the binary at `ferro`.
pub fn input_hash(
    manifest: &Manifest,
    mirror: &str,
    release: &[u8],
    ferro: &Path,
) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    // Length-prefixed fields, so no two different inputs hash the same bytes.
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(manifest.ref_name.as_bytes());
    field(manifest.version.as_bytes());
    field(manifest.suite.as_bytes());
    field(mirror.as_bytes());
    field(manifest.packages.join("\n").as_bytes());
    field(release);
    let mut binary = File::open(ferro).at("read", ferro)?;
    let mut binary_hash = Sha256::new();
    io::copy(&mut binary, &mut binary_hash).at("read", ferro)?;
    field(&binary_hash.finalize());
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(version: &str, packages: &str) -> Manifest {
        Manifest::parse(&format!(
            "ref: os/x\nversion: '{version}'\npackages: [{packages}]\n"
        ))
        .unwrap()
    }

    #[test]
    fn every_input_changes_the_hash_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let ferro = dir.path().join("ferro");
        std::fs::write(&ferro, "binary 1").unwrap();
        let base = manifest("1", "systemd, udev");
        let hash = |m: &Manifest, mirror: &str, release: &[u8]| {
            input_hash(m, mirror, release, &ferro).unwrap()
        };
        let first = hash(&base, "http://m/debian", b"Date: 1");
        assert_eq!(first.len(), 64);
        assert_eq!(first, hash(&base, "http://m/debian", b"Date: 1"));
        let mut seen = vec![first.clone()];
        for other in [
            hash(
                &manifest("2", "systemd, udev"),
                "http://m/debian",
                b"Date: 1",
            ),
            hash(&manifest("1", "systemd"), "http://m/debian", b"Date: 1"),
            hash(
                &manifest("1", "systemd, udev, sudo"),
                "http://m/debian",
                b"Date: 1",
            ),
            hash(&base, "http://other/debian", b"Date: 1"),
            hash(&base, "http://m/debian", b"Date: 2"),
        ] {
            assert!(!seen.contains(&other), "each input matters");
            seen.push(other);
        }
        std::fs::write(&ferro, "binary 2").unwrap();
        assert_ne!(hash(&base, "http://m/debian", b"Date: 1"), first);
    }

    /// A server on 127.0.0.1 giving one canned response per connection, in order, then
    /// closing; returns the mirror URL and a handle telling how many it served.
    fn serve(responses: Vec<&'static str>) -> (String, std::thread::JoinHandle<usize>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            for response in &responses {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                (&stream).write_all(response.as_bytes()).unwrap();
            }
            responses.len()
        });
        (url, server)
    }

    #[test]
    fn a_transient_failure_is_retried_and_a_missing_suite_is_not() {
        let (mirror, server) = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nDate: 1",
        ]);
        assert_eq!(fetch_release(&mirror, "bookworm").unwrap(), b"Date: 1");
        assert_eq!(server.join().unwrap(), 2);

        let (mirror, server) = serve(vec![
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ]);
        let error = fetch_release(&mirror, "nosuch").unwrap_err();
        assert_eq!(server.join().unwrap(), 1);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "could not fetch '{mirror}/dists/nosuch/InRelease'"
            )),
            "{message}"
        );
        assert!(
            matches!(error, Error::Fetch { ref source, .. } if matches!(**source, ureq::Error::StatusCode(404))),
            "{message}"
        );
    }

    #[test]
    fn the_index_url_is_the_suites_inrelease() {
        assert_eq!(
            release_url("http://deb.debian.org/debian/", "bookworm"),
            "http://deb.debian.org/debian/dists/bookworm/InRelease"
        );
    }
}
