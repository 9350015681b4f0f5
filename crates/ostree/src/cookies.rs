//! Per-remote cookie jars: `REPO/REMOTE.cookies.txt` in the Mozilla text format that
//! OSTree's (libsoup's) jar reads and writes, so `remote add-cookie` of either tool
//! feeds the other's pulls. Every request of a pull from the remote sends the cookies
//! whose domain and path match its URL (servers gating content behind a login cookie).

use std::fs;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::io_err;
use crate::remote;
use crate::repo::{self, Repo};

/// How long a cookie added by `remote add-cookie` lives (libsoup needs an expiry to
/// keep a cookie in a text jar; OSTree gives one far in the future too).
const LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// One cookie of a jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The host it is sent to (a leading `.` includes subdomains).
    pub domain: String,
    /// The URL path prefix it is sent under.
    pub path: String,
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// When it expires (seconds since the epoch; 0: end of session).
    pub expires: u64,
}

/// Failures of cookie jar edits.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// The remote is not configured.
    #[error(transparent)]
    Remote(#[from] remote::Error),
    /// `delete-cookie` of a cookie the jar does not hold (OSTree's wording).
    #[error("Cookie not found in jar")]
    NotFound,
    /// Reading or writing the jar failed.
    #[error(transparent)]
    Repo(#[from] repo::Error),
}

/// The jar of remote `remote`.
fn jar_path(repo: &Repo, remote: &str) -> std::path::PathBuf {
    repo.path().join(format!("{remote}.cookies.txt"))
}

/// The cookies of remote `remote` (none without a jar). The remote must exist.
pub fn list_cookies(repo: &Repo, remote: &str) -> Result<Vec<Cookie>, CookieError> {
    repo.remote(remote)?;
    Ok(read_jar(repo, remote)?)
}

/// The cookies of `remote`'s jar, for its pulls; empty without a jar.
pub(crate) fn read_jar(repo: &Repo, remote: &str) -> Result<Vec<Cookie>, repo::Error> {
    let path = jar_path(repo, remote);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", &path)(e).into()),
    };
    Ok(parse_jar(&text))
}

/// Parses the Mozilla cookie file format: one cookie a line, seven tab-separated
/// fields (domain, include-subdomains, path, secure, expiry, name, value); `#` lines
/// are comments (libsoup marks HTTP-only cookies `#HttpOnly_DOMAIN`).
fn parse_jar(text: &str) -> Vec<Cookie> {
    text.lines()
        .filter_map(|line| {
            let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
            if line.starts_with('#') {
                return None;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let [domain, _, path, _, expires, name, value] = fields[..] else {
                return None;
            };
            Some(Cookie {
                domain: domain.to_owned(),
                path: path.to_owned(),
                name: name.to_owned(),
                value: value.to_owned(),
                expires: expires.parse().unwrap_or(0),
            })
        })
        .collect()
}

fn write_jar(repo: &Repo, remote: &str, cookies: &[Cookie]) -> Result<(), repo::Error> {
    let mut text = String::new();
    for c in cookies {
        let subdomains = if c.domain.starts_with('.') {
            "TRUE"
        } else {
            "FALSE"
        };
        text.push_str(&format!(
            "{}\t{subdomains}\t{}\tFALSE\t{}\t{}\t{}\n",
            c.domain, c.path, c.expires, c.name, c.value
        ));
    }
    repo.write_durable(&jar_path(repo, remote), text.as_bytes())
}

/// Adds (or replaces) cookie `name` for `domain` and `path` in `remote`'s jar
/// (`ostree remote add-cookie`).
pub fn add_cookie(
    repo: &Repo,
    remote: &str,
    (domain, path): (&str, &str),
    name: &str,
    value: &str,
) -> Result<(), CookieError> {
    repo.remote(remote)?;
    let mut cookies = read_jar(repo, remote)?;
    cookies.retain(|c| !(c.domain == domain && c.path == path && c.name == name));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    cookies.push(Cookie {
        domain: domain.to_owned(),
        path: path.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
        expires: (now + LIFETIME).as_secs(),
    });
    Ok(write_jar(repo, remote, &cookies)?)
}

/// Removes cookie `name` for `domain` and `path` from `remote`'s jar
/// (`ostree remote delete-cookie`); an error when there is no such cookie.
pub fn delete_cookie(
    repo: &Repo,
    remote: &str,
    (domain, path): (&str, &str),
    name: &str,
) -> Result<(), CookieError> {
    repo.remote(remote)?;
    let mut cookies = read_jar(repo, remote)?;
    let before = cookies.len();
    cookies.retain(|c| !(c.domain == domain && c.path == path && c.name == name));
    if cookies.len() == before {
        return Err(CookieError::NotFound);
    }
    Ok(write_jar(repo, remote, &cookies)?)
}

/// The `Cookie` header for a request to `url`: the cookies whose domain matches its
/// host and whose path prefixes its path; `None` when none do.
pub(crate) fn header_for(cookies: &[Cookie], url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let matching: Vec<String> = cookies
        .iter()
        .filter(|c| match c.domain.strip_prefix('.') {
            Some(parent) => host == parent || host.ends_with(&c.domain),
            None => host == c.domain,
        })
        .filter(|c| path.starts_with(&c.path))
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    (!matching.is_empty()).then(|| matching.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(domain: &str, path: &str, name: &str) -> Cookie {
        Cookie {
            domain: domain.into(),
            path: path.into(),
            name: name.into(),
            value: "v".into(),
            expires: 0,
        }
    }

    #[test]
    fn header_matches_host_and_path() {
        let jar = [
            cookie("127.0.0.1", "/", "a"),
            cookie("127.0.0.1", "/other", "b"),
            cookie(".example.com", "/", "c"),
            cookie("example.org", "/", "d"),
        ];
        assert_eq!(
            header_for(&jar, "http://127.0.0.1:8080/repo/config").as_deref(),
            Some("a=v")
        );
        assert_eq!(
            header_for(&jar, "https://cdn.example.com/x").as_deref(),
            Some("c=v")
        );
        assert_eq!(header_for(&jar, "https://example.net/"), None);
    }

    #[test]
    fn jar_lines_round_trip_and_comments_are_skipped() {
        let text = "# Netscape HTTP Cookie File\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t99\tfoo\tbar\n\
                    #HttpOnly_h\tFALSE\t/p\tTRUE\t0\tn\tv\n\
                    broken line\n";
        let jar = parse_jar(text);
        assert_eq!(jar.len(), 2);
        assert_eq!(jar[0].name, "foo");
        assert_eq!(jar[0].expires, 99);
        assert_eq!(jar[1].domain, "h");
    }
}
