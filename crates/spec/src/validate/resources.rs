//! Resources (URLs, compression, hashes, HTTP headers) and the `ignition` section.

use ferro_document::{Path, Report};

use crate::{DataUrl, Ignition, Proxy, Resource, Version};

/// What Go's `url.Parse` yields for the parts Ignition looks at.
struct Url<'a> {
    /// Lower-cased scheme, empty if none.
    scheme: String,
    /// The text after `scheme:` when it does not start with `/`.
    opaque: Option<&'a str>,
    /// The raw query, without `?`.
    query: &'a str,
}

/// Parses `text` the way Go's `net/url.Parse` does, far enough to tell whether it fails
/// and which scheme it has.
fn parse_url(text: &str) -> Option<Url<'_>> {
    // A branch-free fold the compiler vectorises: `data:` URLs can be megabytes.
    if text
        .bytes()
        .fold(false, |bad, b| bad | (b < 0x20) | (b == 0x7f))
    {
        return None;
    }
    let (rest, fragment) = text.split_once('#').unwrap_or((text, ""));
    if !valid_escapes(fragment) {
        return None;
    }
    let (scheme, rest) = split_scheme(rest)?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !scheme.is_empty() && !rest.starts_with('/') {
        return Some(Url {
            scheme,
            opaque: Some(rest),
            query,
        });
    }
    let path = if let Some(authority) = rest.strip_prefix("//") {
        let end = authority.find('/').unwrap_or(authority.len());
        if !valid_authority(&authority[..end]) {
            return None;
        }
        &authority[end..]
    } else {
        if scheme.is_empty() {
            // A colon in the first segment of a relative reference is ambiguous.
            let first = rest.split('/').next().unwrap_or_default();
            if first.contains(':') {
                return None;
            }
        }
        rest
    };
    if !valid_escapes(path) {
        return None;
    }
    Some(Url {
        scheme,
        opaque: None,
        query,
    })
}

/// Go's `getScheme`: letters first, then letters, digits, `+`, `-`, `.` up to a colon.
fn split_scheme(text: &str) -> Option<(String, &str)> {
    for (i, c) in text.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return None,
            ':' => return Some((text[..i].to_ascii_lowercase(), &text[i + 1..])),
            _ => break,
        }
    }
    Some((String::new(), text))
}

fn valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    // A valid escape's two hex digits are never `%`, so every `%` must start one.
    memchr::memchr_iter(b'%', bytes).all(|at| {
        matches!(bytes.get(at + 1..at + 3), Some([high, low])
            if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
    })
}

fn valid_authority(authority: &str) -> bool {
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let port = if let Some(bracketed) = host.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((_, after)) => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => return false,
            },
            None => return false,
        }
    } else {
        if host.contains(['[', ']', ' ', '<', '>', '"', '{', '}', '|', '\\', '^', '`']) {
            return false;
        }
        host.rsplit_once(':').map(|(_, port)| port)
    };
    port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit())) && valid_escapes(host)
}

/// The scheme Go's `url.Parse` finds in `text`, lower-cased (empty when there is none),
/// or `None` when it fails to parse: the reference's MachineConfig checks look at it.
pub fn url_scheme(text: &str) -> Option<String> {
    parse_url(text).map(|url| url.scheme)
}

/// Ignition's URL check: parseable, one of the fetchable schemes, and scheme-specific
/// rules. Returns the message of the first problem.
pub fn url_error(text: &str) -> Option<String> {
    let Some(url) = parse_url(text) else {
        return Some("unable to parse url".to_owned());
    };
    match url.scheme.as_str() {
        "http" | "https" | "tftp" | "gs" => None,
        "s3" => s3_version_error(url.query),
        "arn" => {
            let full = format!("arn:{}", url.opaque.unwrap_or_default());
            let full = full.split('?').next().unwrap_or_default();
            let sections: Vec<&str> = full.splitn(6, ':').collect();
            if sections.len() < 6 || sections[2] != "s3" {
                return Some("invalid S3 ARN format".to_owned());
            }
            let slashes = full.split('/').count();
            if (sections[5].starts_with("accesspoint/") && slashes < 3) || slashes < 2 {
                return Some("invalid S3 ARN format".to_owned());
            }
            s3_version_error(url.query)
        }
        // Ignition hands the whole text, scheme as written, to its data URL decoder.
        "data" => DataUrl::check(text).err().map(|error| error.to_string()),
        _ => Some("invalid url scheme".to_owned()),
    }
}

/// [`url_error`] for spec `version`, which knows `gs://` from 3.2.0 and S3 ARNs from
/// 3.4.0 on.
pub fn url_error_in(text: &str, version: Version) -> Option<String> {
    let scheme = text.split_once(':').map(|(scheme, _)| scheme);
    let known = match scheme {
        Some("gs") => version >= Version::V3_2,
        Some("arn") => version >= Version::V3_4,
        _ => true,
    };
    if known {
        url_error(text)
    } else {
        Some("invalid url scheme".to_owned())
    }
}

fn s3_version_error(query: &str) -> Option<String> {
    let mut values = query.split(['&', ';']).filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == "versionId").then_some(value)
    });
    match values.next() {
        Some("") => Some("invalid S3 object VersionId".to_owned()),
        _ => None,
    }
}

/// The checks of a resource's own fields; its headers and verification come after.
pub fn check_resource(resource: &Resource, version: Version, at: &Path, report: &mut Report) {
    check_fetched(resource, version, true, at, report);
}

/// [`check_resource`], for a resource that may (`hash_needs_source`) have to name a
/// source when it names a hash: Ignition 3.0.0's config and CA references need not.
fn check_fetched(
    resource: &Resource,
    version: Version,
    hash_needs_source: bool,
    at: &Path,
    report: &mut Report,
) {
    if let Some(compression) = &resource.compression
        && !matches!(compression.as_str(), "" | "gzip")
    {
        report.error(at.key("compression"), "invalid compression method");
    }
    if hash_needs_source && resource.verification.hash.is_some() && resource.source.is_none() {
        report.error(
            at.key("verification").key("hash"),
            "source must be specified if verification is specified",
        );
    }
    if let Some(source) = resource.source.as_deref().filter(|s| !s.is_empty())
        && let Some(message) = url_error_in(source, version)
    {
        report.error(at.key("source"), message);
    }
    if !resource.http_headers.is_empty() {
        let scheme = resource
            .source
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(parse_url)
            .map(|u| u.scheme);
        match scheme.as_deref() {
            None => report.error(at.key("httpHeaders"), "unable to parse url"),
            Some("http" | "https") => {}
            Some(_) => report.error(
                at.key("httpHeaders"),
                "cannot use HTTP headers with this source scheme",
            ),
        }
    }
    for (index, header) in resource.http_headers.iter().enumerate() {
        let at = at.key("httpHeaders").index(index);
        if header.name.is_empty() {
            report.error(at.key("name"), "HTTP header name can't be empty");
        }
        if header.value.as_deref() == Some("") {
            report.error(at.key("value"), "unable to parse HTTP header");
        }
    }
    if let Some(hash) = &resource.verification.hash {
        let at = at.key("verification").key("hash");
        if let Some(message) = hash_error(hash, version) {
            report.error(at, message);
        }
    }
}

/// `sha512-<128 hex>` or (from 3.1.0) `sha256-<64 hex>`.
fn hash_error(hash: &str, version: Version) -> Option<&'static str> {
    let Some((function, sum)) = hash.split_once('-') else {
        return Some("malformed hash specifier");
    };
    let size = match function {
        "sha512" => 128,
        "sha256" if version >= Version::V3_1 => 64,
        _ => return Some("unrecognized hash function"),
    };
    (sum.len() != size).then_some("incorrect size for hash sum")
}

/// A resource that must name a source: referenced configs and CA bundles.
fn check_required_source(resource: &Resource, version: Version, at: &Path, report: &mut Report) {
    match resource.source.as_deref().filter(|s| !s.is_empty()) {
        None => report.error(at.clone(), "source is required"),
        Some(source) => {
            if let Some(message) = url_error_in(source, version) {
                report.error(at.clone(), message);
            }
        }
    }
}

/// The `ignition` section: version, referenced configs, CAs, proxy.
pub fn check_ignition(ignition: &Ignition, version: Version, at: &Path, report: &mut Report) {
    if ignition.version != version.as_str() {
        let message = match ignition.version.parse::<Version>() {
            Err(error) => error.to_string(),
            Ok(_) => "unsupported config version".to_owned(),
        };
        report.error(at.key("version"), message);
    }
    let config = at.key("config");
    // 3.0.0's references are not resources (see `crate::v3_0`): a referenced config
    // need not name a source, even with a hash, and a CA's source is a plain string,
    // checked as a URL even when empty.
    let resources = version >= Version::V3_1;
    for (index, merge) in ignition.config.merge.iter().enumerate() {
        if resources {
            check_required_source(merge, version, &config.key("merge").index(index), report);
        }
    }
    for (index, merge) in ignition.config.merge.iter().enumerate() {
        let at = config.key("merge").index(index);
        check_fetched(merge, version, resources, &at, report);
    }
    let replace = &ignition.config.replace;
    check_fetched(replace, version, resources, &config.key("replace"), report);
    check_proxy(&ignition.proxy, &at.key("proxy"), report);
    let tls = at.key("security").key("tls");
    let cas = &ignition.security.tls.certificate_authorities;
    for (index, ca) in cas.iter().enumerate() {
        if resources {
            let at = tls.key("certificateAuthorities").index(index);
            check_required_source(ca, version, &at, report);
        }
    }
    for (index, ca) in cas.iter().enumerate() {
        let at = tls.key("certificateAuthorities").index(index);
        if !resources
            && ca.source.as_deref().is_none_or(str::is_empty)
            && let Some(message) = url_error("")
        {
            report.error(at.key("source"), message);
        }
        check_fetched(ca, version, resources, &at, report);
    }
}

fn check_proxy(proxy: &Proxy, at: &Path, report: &mut Report) {
    for (key, value, http_ok) in [
        ("httpProxy", &proxy.http_proxy, true),
        ("httpsProxy", &proxy.https_proxy, false),
    ] {
        let Some(value) = value else { continue };
        match parse_url(value).map(|u| u.scheme) {
            None => report.error(at.key(key), "unable to parse url"),
            Some(scheme) if scheme != "http" && scheme != "https" => {
                report.error(at.key(key), "proxies must be http(s)")
            }
            Some(scheme) if scheme == "http" && !http_ok => report.warning(
                at.key(key),
                "insecure plaintext HTTP proxy specified for HTTPS resources",
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpHeader, Verification};

    fn messages(resource: &Resource) -> Vec<(String, String)> {
        let mut report = Report::new();
        check_resource(resource, Version::V3_6, &Path::parse("r"), &mut report);
        report
            .entries
            .into_iter()
            .map(|e| (e.path.map(|p| p.to_string()).unwrap_or_default(), e.message))
            .collect()
    }

    fn source(s: &str) -> Resource {
        Resource {
            source: Some(s.into()),
            ..Resource::default()
        }
    }

    #[test]
    fn judges_urls() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://example.com/x", None),
            ("HTTP://example.com/x", None),
            ("tftp://h/x", None),
            ("gs://b/o", None),
            ("ftp://h/x", Some("invalid url scheme")),
            ("/just/a/path", Some("invalid url scheme")),
            ("http://h:port/", Some("unable to parse url")),
            ("http://h/%zz", Some("unable to parse url")),
            (":x", Some("unable to parse url")),
            ("s3://b/k?versionId=", Some("invalid S3 object VersionId")),
            ("s3://b/k?versionId=1", None),
            ("arn:aws:s3:::bucket/key", None),
            ("arn:aws:s3:::bucket", Some("invalid S3 ARN format")),
            ("arn:aws:ec2:::bucket/k", Some("invalid S3 ARN format")),
        ];
        for &(url, expected) in cases {
            assert_eq!(url_error(url).as_deref(), expected, "{url:?}");
        }
    }

    #[test]
    fn judges_data_urls_with_the_decoders_messages() {
        let cases: &[(&str, Option<&str>)] = &[
            ("data:,hello%20world", None),
            ("data:text/plain;charset=utf-8;base64,aGVsbG8=", None),
            (
                "data:;base64,aGVsbG8",
                Some("illegal base64 data at input byte 4"),
            ),
            ("data:text/plain", Some("incomplete media type")),
            (
                "data:,bad%zz",
                Some("rfc2396: invalid char 0x25 in unescape sequence"),
            ),
            // The scheme is matched in any case, the decoder's prefix is not.
            ("DATA:,x", Some("missing data prefix")),
            // Go's URL parser refuses control characters before the decoder sees them.
            ("data:,a\nb", Some("unable to parse url")),
        ];
        for &(url, expected) in cases {
            assert_eq!(url_error(url).as_deref(), expected, "{url:?}");
        }
    }

    #[test]
    fn judges_compression_and_hashes() {
        let r = Resource {
            compression: Some("xz".into()),
            ..source("data:,x")
        };
        assert_eq!(
            messages(&r),
            vec![(
                "$.r.compression".into(),
                "invalid compression method".into()
            )]
        );
        let hash = |h: &str| Resource {
            verification: Verification {
                hash: Some(h.into()),
            },
            ..source("data:,x")
        };
        assert_eq!(messages(&hash("sha512"))[0].1, "malformed hash specifier");
        assert_eq!(messages(&hash("md5-00"))[0].1, "unrecognized hash function");
        assert_eq!(
            messages(&hash("sha256-00"))[0].1,
            "incorrect size for hash sum"
        );
        assert!(messages(&hash(&format!("sha256-{}", "0".repeat(64)))).is_empty());
        let no_source = Resource {
            verification: Verification {
                hash: Some(format!("sha256-{}", "0".repeat(64))),
            },
            ..Resource::default()
        };
        assert_eq!(
            messages(&no_source),
            vec![(
                "$.r.verification.hash".into(),
                "source must be specified if verification is specified".into()
            )]
        );
    }

    #[test]
    fn judges_http_headers() {
        let header = |name: &str, value: Option<&str>| HttpHeader {
            name: name.into(),
            value: value.map(Into::into),
        };
        let r = Resource {
            http_headers: vec![header("a", Some("b"))],
            ..source("data:,x")
        };
        assert_eq!(
            messages(&r)[0].1,
            "cannot use HTTP headers with this source scheme"
        );
        let r = Resource {
            http_headers: vec![header("a", Some("b"))],
            ..Resource::default()
        };
        assert_eq!(
            messages(&r)[0],
            ("$.r.httpHeaders".into(), "unable to parse url".into())
        );
        let r = Resource {
            http_headers: vec![header("", Some("b")), header("c", Some(""))],
            ..source("https://h/x")
        };
        assert_eq!(
            messages(&r),
            vec![
                (
                    "$.r.httpHeaders.0.name".into(),
                    "HTTP header name can't be empty".into()
                ),
                (
                    "$.r.httpHeaders.1.value".into(),
                    "unable to parse HTTP header".into()
                )
            ]
        );
    }

    #[test]
    fn requires_sources_of_configs_and_cas() {
        let mut ignition = Ignition {
            version: "3.4.0".into(),
            ..Ignition::default()
        };
        ignition.config.merge.push(Resource::default());
        ignition
            .security
            .tls
            .certificate_authorities
            .push(Resource::default());
        let got = ignition_report(&ignition, Version::V3_4);
        assert_eq!(
            got,
            vec![
                "error at $.ignition.config.merge.0: source is required",
                "error at $.ignition.security.tls.certificateAuthorities.0: source is required"
            ]
        );
    }

    // Cases 7315 and 7801 of the differential test: Ignition 3.0.0's config and CA
    // references are no resources.
    #[test]
    fn references_of_3_0_need_no_source() {
        let hashed = Resource {
            verification: Verification {
                hash: Some("sha512-00".into()),
            },
            ..Resource::default()
        };
        let mut ignition = Ignition {
            version: "3.0.0".into(),
            ..Ignition::default()
        };
        ignition.config.merge.push(hashed.clone());
        ignition.config.replace = source("");
        ignition.security.tls.certificate_authorities =
            vec![hashed, source(""), source("https://h/ca")];
        let got = ignition_report(&ignition, Version::V3_0);
        assert_eq!(
            got,
            vec![
                "error at $.ignition.config.merge.0.verification.hash: incorrect size for hash sum",
                "error at $.ignition.security.tls.certificateAuthorities.0.source: invalid url scheme",
                "error at $.ignition.security.tls.certificateAuthorities.0.verification.hash: incorrect size for hash sum",
                "error at $.ignition.security.tls.certificateAuthorities.1.source: invalid url scheme",
            ]
        );
    }

    /// The report entries of `check_ignition` on `ignition` under `version`, as text.
    fn ignition_report(ignition: &Ignition, version: Version) -> Vec<String> {
        let mut report = Report::new();
        check_ignition(ignition, version, &Path::parse("ignition"), &mut report);
        report.entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn judges_proxies_and_versions() {
        let mut ignition = Ignition {
            version: "3.1.0".into(),
            ..Ignition::default()
        };
        ignition.proxy.http_proxy = Some("socks5://p".into());
        ignition.proxy.https_proxy = Some("http://p".into());
        let got = ignition_report(&ignition, Version::V3_2);
        assert_eq!(
            got,
            vec![
                "error at $.ignition.version: unsupported config version",
                "error at $.ignition.proxy.httpProxy: proxies must be http(s)",
                "warning at $.ignition.proxy.httpsProxy: insecure plaintext HTTP proxy specified for HTTPS resources"
            ]
        );
    }
}
