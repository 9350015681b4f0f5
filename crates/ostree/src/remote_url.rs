//! Where a pull reads a remote's files from. Metadata (`config`, `summary`, refs,
//! `.commitmeta`) comes from the remote's `url`; objects and static deltas from its
//! `contenturl` when it has one (a CDN for the bulk, a trusted server for what is
//! signed), else from `url` too. Either may name a mirror list (`mirrorlist=URL`: one
//! base URL a line, `#` comments; every file is tried on each mirror in turn), and
//! `url` may name a metalink (`metalink=URL`, [`crate::metalink`]), which also gives
//! the summary. `pull --url` replaces `url` for one pull.

use crate::fetch::{FetchError, Fetcher, RequestOptions};
use crate::metalink::{self, MetalinkError};
use crate::remote::Remote;

/// The largest mirror list fetched.
const MAX_MIRRORLIST: u64 = 1 << 20;

/// A remote URL setting, as `url` and `contenturl` hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteUrl {
    /// A base URL (`http(s)://` or `file://`).
    Plain(String),
    /// `metalink=URL`.
    Metalink(String),
    /// `mirrorlist=URL`.
    Mirrorlist(String),
}

impl RemoteUrl {
    /// Reads a `url`/`contenturl` value.
    pub fn parse(value: &str) -> Self {
        if let Some(url) = value.strip_prefix("metalink=") {
            RemoteUrl::Metalink(url.to_owned())
        } else if let Some(url) = value.strip_prefix("mirrorlist=") {
            RemoteUrl::Mirrorlist(url.to_owned())
        } else {
            RemoteUrl::Plain(value.to_owned())
        }
    }
}

/// Why a remote's URLs could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Fetching a mirror list failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A mirror list that is missing or names no URL.
    #[error("mirrorlist {0} lists no URL")]
    EmptyMirrorlist(String),
    /// The metalink gave no summary.
    #[error(transparent)]
    Metalink(#[from] MetalinkError),
    /// `contenturl=metalink=…`, which OSTree refuses too.
    #[error("metalink= is not supported for contenturl ({0})")]
    ContentMetalink(String),
}

/// The fetchers of one pull.
pub(crate) struct Sources {
    /// For `config`, `summary`, refs and detached metadata.
    pub meta: Fetcher,
    /// For objects and static deltas.
    pub content: Fetcher,
    /// The summary a metalink gave (already verified against it).
    pub summary: Option<Vec<u8>>,
}

/// The base URLs a mirror list at `url` names.
fn mirrorlist(lister: &Fetcher, url: &str) -> Result<Vec<String>, UrlError> {
    let text = lister.get_url(url, MAX_MIRRORLIST)?.unwrap_or_default();
    let mirrors = parse_mirrorlist(&String::from_utf8_lossy(&text));
    if mirrors.is_empty() {
        return Err(UrlError::EmptyMirrorlist(url.to_owned()));
    }
    Ok(mirrors)
}

/// One URL a line; blank lines and `#` comments skipped.
fn parse_mirrorlist(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Resolves `remote`'s `url` (or `url_override`) and `contenturl` into fetchers
/// sending `request`.
pub(crate) fn resolve(
    remote: &Remote,
    url_override: Option<&str>,
    request: &RequestOptions,
) -> Result<Sources, UrlError> {
    let url = url_override.unwrap_or(&remote.url);
    // Lists and metalinks are fetched with the pull's own headers and cookies.
    let lister = |url: &str| Fetcher::mirrored(&[url.to_owned()], request);
    let (meta_urls, summary) = match RemoteUrl::parse(url) {
        RemoteUrl::Plain(url) => (vec![url], None),
        RemoteUrl::Mirrorlist(list) => (mirrorlist(&lister(&list)?, &list)?, None),
        RemoteUrl::Metalink(link) => {
            let (base, summary) = metalink::resolve(&lister(&link)?, &link)?;
            (vec![base], Some(summary))
        }
    };
    let content_urls = match remote.get("contenturl").map(RemoteUrl::parse) {
        None => meta_urls.clone(),
        Some(RemoteUrl::Plain(url)) => vec![url],
        Some(RemoteUrl::Mirrorlist(list)) => mirrorlist(&lister(&list)?, &list)?,
        Some(RemoteUrl::Metalink(link)) => return Err(UrlError::ContentMetalink(link)),
    };
    Ok(Sources {
        meta: Fetcher::mirrored(&meta_urls, request)?,
        content: Fetcher::mirrored(&content_urls, request)?,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrorlists_skip_comments_and_blank_lines() {
        let text = "\n# comment\n\nhttp://a/repo\n  http://b/repo  \n\n";
        assert_eq!(parse_mirrorlist(text), ["http://a/repo", "http://b/repo"]);
        assert_eq!(
            RemoteUrl::parse("metalink=http://x/m.xml"),
            RemoteUrl::Metalink("http://x/m.xml".into())
        );
        assert_eq!(
            RemoteUrl::parse("http://x/repo"),
            RemoteUrl::Plain("http://x/repo".into())
        );
    }
}
