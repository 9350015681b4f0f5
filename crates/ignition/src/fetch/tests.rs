use super::*;
use test_server::{Reply, TestServer};

fn resource(source: &str) -> Resource {
    Resource {
        source: Some(source.to_owned()),
        ..Resource::default()
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new().with_total_timeout(Some(Duration::from_secs(5)))
}

#[test]
fn decodes_data_urls() {
    let f = Fetcher::offline();
    let get = |url: &str| f.fetch(&resource(url)).unwrap().unwrap();
    assert_eq!(get("data:,hello%20world%0A"), b"hello world\n");
    assert_eq!(get("data:;base64,aGVsbG8="), b"hello");
    assert_eq!(
        get("data:text/plain;charset=utf-8;base64,aGVsbG8="),
        b"hello"
    );
    assert_eq!(get("data:,"), b"");
    assert_eq!(get("data:,%e2%82%AC%41"), "€A".as_bytes());
    // The scheme is read in any case, as Go's URL parser lower-cases it.
    assert_eq!(get("DATA:,x"), b"x");
    assert_eq!(f.fetch(&resource("")).unwrap(), None);
    assert_eq!(f.fetch(&Resource::default()).unwrap(), None);
}

/// What Ignition's decoder refuses is refused here too, though this fetcher once took
/// it: a `%` without hex digits, white space or missing padding in base64, `;base64`
/// that is not last.
#[test]
fn refuses_the_data_urls_ignition_refuses() {
    let f = Fetcher::offline();
    for url in [
        "data:,a%zz",
        "data:,a%4",
        "data:;base64,aGVsbG8",
        "data:;base64,aGVs%0A bG8=",
        "data:;base64;charset=x,aGVsbG8=",
        "data:;base64,!!",
        "data:nocomma",
        "data:,hello world",
    ] {
        let error = f.fetch(&resource(url)).unwrap_err();
        assert!(
            matches!(error, FetchError::InvalidDataUrl { .. }),
            "{url}: {error}"
        );
    }
}

#[test]
fn gunzips_then_verifies() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"hello").unwrap();
    let url = ferro_spec::data_url::encode(
        &gz.finish().unwrap(),
        ferro_spec::data_url::Encoding::Base64,
    );
    let sha256 = "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let mut r = resource(&url);
    r.compression = Some("gzip".to_owned());
    r.verification.hash = Some(sha256.to_owned());
    assert_eq!(Fetcher::offline().fetch(&r).unwrap().unwrap(), b"hello");
    r.verification.hash = Some(sha256.replace("2cf2", "0000"));
    let error = Fetcher::offline().fetch(&r).unwrap_err();
    assert!(
        matches!(error, FetchError::HashMismatch { ref calculated, .. } if calculated == sha256)
    );
    let mut plain = resource("data:,hello");
    plain.verification.hash = Some(
        "sha512-9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043".to_owned(),
    );
    assert!(Fetcher::offline().fetch(&plain).is_ok());
}

#[test]
fn offline_needs_network_and_unsupported_schemes_say_so() {
    let offline = Fetcher::offline();
    for url in ["http://example.invalid/x", "tftp://h/x", "s3://b/k"] {
        assert!(matches!(
            offline.fetch(&resource(url)),
            Err(FetchError::NeedNetwork { .. })
        ));
    }
    let online = fetcher();
    for url in ["tftp://h/x", "s3://b/k", "gs://b/o", "arn:aws:s3:::b/k"] {
        let error = online.fetch(&resource(url)).unwrap_err();
        assert!(
            error.to_string().contains("not supported by ferrocore yet"),
            "{error}"
        );
    }
    assert!(matches!(
        online.fetch(&resource("ftp://h/x")),
        Err(FetchError::UnsupportedScheme { .. })
    ));
}

#[test]
fn sends_default_headers_and_lets_the_config_override_them() {
    let server = TestServer::start(|request| {
        Reply::ok(format!(
            "{}|{}|{}|{}",
            request.header("user-agent").unwrap_or_default(),
            request.header("accept").unwrap_or_default(),
            request.header("accept-encoding").unwrap_or_default(),
            request.header("x-auth").unwrap_or_default(),
        ))
    });
    let body = fetcher().fetch_url(&server.url("/h")).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!(
            "{}|application/vnd.coreos.ignition+json;version=3.6.0, */*;q=0.1|identity|",
            user_agent()
        )
    );
    let mut r = resource(&server.url("/h"));
    r.http_headers = vec![
        HttpHeader {
            name: "user-agent".to_owned(),
            value: Some("MyUA".to_owned()),
        },
        HttpHeader {
            name: "X-Auth".to_owned(),
            value: Some("secret".to_owned()),
        },
    ];
    let body = fetcher().fetch(&r).unwrap().unwrap();
    assert!(body.starts_with(b"MyUA|application/"), "{body:?}");
    assert!(body.ends_with(b"|identity|secret"));
}

#[test]
fn drops_config_headers_on_redirect() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/from" if request.header("x-auth").is_some() => Reply::redirect("/to"),
        "/to" => Reply::ok(request.header("x-auth").unwrap_or("none").to_owned()),
        _ => Reply::status(401),
    });
    let mut r = resource(&server.url("/from"));
    r.http_headers = vec![HttpHeader {
        name: "X-Auth".to_owned(),
        value: Some("secret".to_owned()),
    }];
    assert_eq!(fetcher().fetch(&r).unwrap().unwrap(), b"none");
}

/// A server answering `/flaky` with 503 twice and then 200, recording when each try
/// of it came.
fn recording_server() -> (TestServer, std::sync::Arc<std::sync::Mutex<Vec<Instant>>>) {
    let tries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = TestServer::start({
        let tries = tries.clone();
        move |request| match request.path.as_str() {
            "/flaky" => {
                let mut tries = tries.lock().unwrap();
                tries.push(Instant::now());
                if tries.len() <= 2 {
                    Reply::status(503)
                } else {
                    Reply::ok("finally")
                }
            }
            "/down" => {
                tries.lock().unwrap().push(Instant::now());
                Reply::status(500)
            }
            "/denied" => Reply::status(403),
            _ => Reply::status(404),
        }
    });
    (server, tries)
}

#[test]
fn retries_server_errors_but_not_404() {
    let (server, tries) = recording_server();
    assert_eq!(
        fetcher().fetch_url(&server.url("/flaky")).unwrap().unwrap(),
        b"finally"
    );
    // Three tries, 200 ms then 400 ms of backoff apart at least (a sleep never ends
    // early, so these bounds hold on any machine).
    let tries = tries.lock().unwrap().clone();
    assert_eq!(tries.len(), 3);
    assert!(tries[1] - tries[0] >= Duration::from_millis(200));
    assert!(tries[2] - tries[1] >= Duration::from_millis(400));
    assert!(matches!(
        fetcher().fetch_url(&server.url("/missing")),
        Err(FetchError::NotFound { .. })
    ));
    let error = fetcher().fetch_url(&server.url("/denied")).unwrap_err();
    assert!(error.to_string().contains("status 403"), "{error}");
}

#[test]
fn client_errors_are_answers_as_in_ignition() {
    // Ignition retries 5xx only: 408 and 429 fail at the first answer.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = TestServer::start({
        let calls = calls.clone();
        move |request| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match request.path.as_str() {
                "/busy" => Reply::status(429),
                _ => Reply::status(408),
            }
        }
    });
    for path in ["/busy", "/slow"] {
        let error = fetcher().fetch_url(&server.url(path)).unwrap_err();
        assert!(error.to_string().contains("status 4"), "{error}");
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn gives_up_after_http_total() {
    let (server, tries) = recording_server();
    let mut ignition = Ignition::default();
    ignition.timeouts.http_total = Some(1);
    let f = Fetcher::new().with_settings(&ignition).unwrap();
    let error = f.fetch_url(&server.url("/down")).unwrap_err();
    assert!(error.to_string().contains("httpTotal"), "{error}");
    // Tries start at 0 s and, at the earliest, 0.2 s and 0.6 s; the next would start
    // after 1.4 s, past the 1 s budget, so the fetcher gives up instead of waiting —
    // counted, not timed, so a slow machine cannot fail it.
    let tries = tries.lock().unwrap().len();
    assert!((1..=3).contains(&tries), "{tries} tries");
}

#[test]
fn reads_settings_from_the_config() {
    let mut ignition = Ignition::default();
    ignition.timeouts.http_response_headers = Some(3);
    ignition.proxy.http_proxy = Some("http://proxy.example:3128".to_owned());
    ignition.proxy.no_proxy = vec!["internal.example".to_owned(), "10.0.0.0/8".to_owned()];
    let f = Fetcher::new().with_settings(&ignition).unwrap();
    assert_eq!(f.response_headers, Duration::from_secs(3));
    assert_eq!(
        f.proxy_for("http://a.example/x").as_deref(),
        Some("http://proxy.example:3128")
    );
    assert_eq!(f.proxy_for("http://x.internal.example/"), None);
    assert_eq!(f.proxy_for("http://10.1.2.3:80/"), None);
    assert_eq!(f.proxy_for("http://127.0.0.1:8080/"), None);
    assert_eq!(f.proxy_for("https://a.example/"), None);
    let mut bad_ca = Ignition::default();
    bad_ca.security.tls.certificate_authorities = vec![resource("data:,not%20pem")];
    assert!(Fetcher::new().with_settings(&bad_ca).is_err());
    assert!(matches!(
        Fetcher::offline().with_settings(&{
            let mut i = Ignition::default();
            i.security.tls.certificate_authorities = vec![resource("http://h/ca")];
            i
        }),
        Err(FetchError::NeedNetwork { .. })
    ));
}

#[test]
fn parses_urls() {
    assert_eq!(
        resolve_location("http://h:1/a/b?q", "c"),
        "http://h:1/a/c".to_owned()
    );
    assert_eq!(resolve_location("http://h/a/b", "/c"), "http://h/c");
    assert_eq!(resolve_location("http://h/a", "//o/c"), "http://o/c");
    assert_eq!(resolve_location("http://h/a", "https://o/c"), "https://o/c");
    assert_eq!(
        host_port("http://u:p@[::1]:80/x"),
        ("::1".to_owned(), Some(80))
    );
    assert_eq!(
        host_port("https://H.example"),
        ("h.example".to_owned(), None)
    );
    assert!(no_proxy(".example.com", "a.example.com", None));
    assert!(!no_proxy(".example.com", "example.com", None));
    assert!(no_proxy("example.com:80", "example.com", Some(80)));
    assert!(!no_proxy("example.com:80", "example.com", Some(81)));
    assert!(no_proxy("*", "anything", None));
    assert!(no_proxy("fd00::/8", "fd12::1", None));
}
