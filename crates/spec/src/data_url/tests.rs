use proptest::prelude::*;

use super::*;

fn decoded(text: &str) -> Vec<u8> {
    DataUrl::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .into_data()
}

fn error(text: &str) -> String {
    let parsed = DataUrl::parse(text).expect_err(text);
    assert_eq!(DataUrl::check(text), Err(parsed.clone()), "{text}");
    parsed.to_string()
}

#[test]
fn decodes_percent_escaped_and_base64_data() {
    assert_eq!(decoded("data:,hello%20world%0A"), b"hello world\n");
    assert_eq!(decoded("data:,%e2%82%AC%41"), "€A".as_bytes());
    assert_eq!(decoded("data:,a+b?q"), b"a+b?q");
    assert_eq!(decoded("data:,a%00b"), b"a\0b");
    assert_eq!(decoded("data:,"), b"");
    assert_eq!(decoded("data:;base64,"), b"");
    assert_eq!(decoded("data:;base64,aGVsbG8="), b"hello");
    assert_eq!(decoded("data:text/plain;base64,aGk="), b"hi");
    // Go ignores the bits below the last whole byte: `l` is not `k` but still "hi".
    assert_eq!(decoded("data:;base64,aGl="), b"hi");
}

#[test]
fn reads_media_types_and_parameters() {
    let url = DataUrl::parse("data:text/plain;charset=utf-8;name=a%20b,x").unwrap();
    assert_eq!(url.media_type(), Some("text/plain"));
    let params: Vec<_> = url.params().collect();
    assert_eq!(params, vec![("charset", "utf-8"), ("name", "a b")]);
    assert_eq!(url.data(), b"x");
    // Types are matched by prefix, subtypes may be empty, `x-` types are free.
    for ok in [
        "data:textual/plain,x",
        "data:text/,x",
        "data:x-foo/bar,x",
        "data:X-/y,x",
        "data:;a=b,x",
        r#"data:text/plain;charset="utf 8",x"#,
    ] {
        assert!(DataUrl::parse(ok).is_ok(), "{ok}");
    }
    let quoted = DataUrl::parse(r#"data:;a="b\"c\x41\101\u00e9",x"#).unwrap();
    assert_eq!(quoted.params().collect::<Vec<_>>(), vec![("a", "b\"cAAé")]);
    // A quoted value may hold the comma that otherwise starts the data.
    let comma = DataUrl::parse(r#"data:;a="x,y",z"#).unwrap();
    assert_eq!(comma.params().collect::<Vec<_>>(), vec![("a", "x,y")]);
    assert_eq!(comma.data(), b"z");
    // A later parameter of the same attribute wins.
    let twice = DataUrl::parse("data:;a=1;b=2;a=3,x").unwrap();
    assert_eq!(
        twice.params().collect::<Vec<_>>(),
        vec![("a", "3"), ("b", "2")]
    );
}

/// The URLs where ferrocore's former codecs disagreed with each other or with
/// Ignition, and Ignition's verdict (messages as the reference Butane prints them).
#[test]
fn rejects_what_ignition_rejects_with_its_messages() {
    for (url, message) in [
        // The fetcher accepted these; Ignition's validation does not.
        ("DATA:,x", "missing data prefix"),
        ("Data:,x", "missing data prefix"),
        (
            "data:,%zz",
            "rfc2396: invalid char 0x25 in unescape sequence",
        ),
        (
            "data:,a%ZZ",
            "rfc2396: invalid char 0x25 in unescape sequence",
        ),
        ("data:,%4", "rfc2396: unexpected end of unescape sequence"),
        ("data:,%", "rfc2396: unexpected end of unescape sequence"),
        (
            "data:;base64,aGVsbG8",
            "illegal base64 data at input byte 4",
        ),
        ("data:;base64,aGk", "illegal base64 data at input byte 0"),
        ("data:;base64,aGVs bG8=", "invalid data character"),
        ("data:;base64,aGVs%0AbG8=", "invalid data character"),
        ("data:;BASE64,aGVsbG8=", "expected base64, got BASE64"),
        (
            "data:;base64;a=b,aGVsbG8=",
            "invalid character for parameter attribute",
        ),
        ("data:foo/bar,x", "invalid media type"),
        // The validator accepted these (non-ASCII, space, bad parameter escapes).
        ("data:,é", "invalid data character"),
        ("data:,hello world", "invalid data character"),
        ("data:,a\"b", "invalid data character"),
        ("data:,a{b", "invalid data character"),
        ("data:,a#b", "invalid data character"),
        (
            "data:text/plain;a=%zz,x",
            "rfc2396: invalid char 0x25 in unescape sequence",
        ),
        // Rejected by all, now with Ignition's words.
        ("data:text/plain", "incomplete media type"),
        ("data:nocomma", "missing media type slash"),
        ("data:", "missing comma before data"),
        ("https://x", "missing data prefix"),
        (
            "data:;base64,aGV=sbG8=",
            "illegal base64 data at input byte 4",
        ),
        ("data:;base64,a===", "illegal base64 data at input byte 1"),
        ("data:;base64,aG==x", "illegal base64 data at input byte 4"),
        ("data:;base64,aG=", "illegal base64 data at input byte 3"),
        ("data:;base64,aG=x", "illegal base64 data at input byte 2"),
        ("data:;base64,Zm9v%3D", "invalid data character"),
        ("data:;base64,!!", "invalid data character"),
        ("data:;a,x", "expected base64, got a"),
        ("data:x/y,x", "invalid character for media type"),
        ("data:xa/b,x", "invalid media type"),
        ("data:text;a=b,x", "invalid character for media type"),
        ("data:;=b,x", "unterminated parameter sequence"),
        ("data:;a=,x", "invalid character for parameter value"),
        ("data:;a=(,x", "invalid character for parameter value"),
        ("data:;a", "unterminated parameter sequence"),
        ("data:;a=b", "missing comma before data"),
        ("data:;a=\"b\"c,x", "expected semicolon or comma"),
        ("data:;a=\"b,x", "unclosed quoted string"),
        (r#"data:text/plain;a="\q",x"#, "invalid syntax"),
        (r#"data:;a="\'",x"#, "invalid syntax"),
        (r#"data:;a="\400",x"#, "invalid syntax"),
        (r#"data:;a="\é",x"#, "invalid escaped character"),
        ("data:/x,y", "invalid character after data prefix"),
        ("data:text/pl ain,x", "invalid character for media subtype"),
    ] {
        assert_eq!(error(url), message, "{url}");
    }
}

#[test]
fn an_empty_quoted_value_leaves_the_next_value_unescaped() {
    // `dataurl` quirk: after `a=""` its parser still expects a quoted value, so `b`'s
    // `%zz` is taken as written instead of failing as an escape.
    let url = DataUrl::parse(r#"data:;a="";b=%zz,x"#).unwrap();
    assert_eq!(url.params().collect::<Vec<_>>(), vec![("b", "%zz")]);
    assert!(DataUrl::parse("data:;b=%zz,x").is_err());
}

#[test]
fn the_first_fault_in_the_text_is_reported() {
    assert_eq!(
        error("data:;a=%zz;b,é"),
        "rfc2396: invalid char 0x25 in unescape sequence"
    );
    assert_eq!(error("data:,%zz é"), "invalid data character");
}

#[test]
fn encodes_as_butane_does() {
    assert_eq!(
        encode(b"Hello, world!", Encoding::Percent),
        "data:,Hello%2C%20world!"
    );
    assert_eq!(
        encode("é\n".as_bytes(), Encoding::Percent),
        "data:,%C3%A9%0A"
    );
    assert_eq!(encode(&[0x80, b'a'], Encoding::Percent), "data:,%80a");
    assert_eq!(encode(b"hello", Encoding::Base64), "data:;base64,aGVsbG8=");
    let url = embed(b"Hello, world!", true);
    assert_eq!(url.url, "data:,Hello%2C%20world!");
    assert!(!url.gzipped);
    assert_eq!(embed(b"", true).url, "data:,");
    let binary = embed(&[0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa], true);
    assert_eq!(binary.url, "data:;base64,//79/Pv6");
}

#[test]
fn gzip_is_chosen_only_when_allowed_and_clearly_shorter() {
    let text = "a".repeat(1000);
    let gz = embed(text.as_bytes(), true);
    assert!(gz.gzipped);
    assert!(gz.url.starts_with("data:;base64,H4sI"));
    let plain = embed(text.as_bytes(), false);
    assert!(!plain.gzipped);
    assert_eq!(plain.url, format!("data:,{text}"));
}

#[test]
fn percent_and_base64_tie_goes_to_percent() {
    // Three non-unreserved bytes: `,` + 9 escaped = 10; `;base64,` + 4 = 12. Six bytes
    // of `%`: 1 + 18 = 19 against 8 + 8 = 16.
    assert_eq!(shorter_encoding(b"   ").0, Encoding::Percent);
    assert_eq!(shorter_encoding(b"%%%%%%").0, Encoding::Base64);
    // Equal lengths: `,` + 11 = 12 = `;base64,` + 4.
    assert_eq!(shorter_encoding(b"a\x01\x02\x03").0, Encoding::Percent);
}

#[test]
fn builders_check_the_grammar() {
    assert!(DataUrl::new(*b"x").with_media_type("text/plain").is_ok());
    assert!(DataUrl::new(*b"x").with_media_type("foo/bar").is_err());
    assert!(
        DataUrl::new(*b"x")
            .with_media_type("text/plain;a=b")
            .is_err()
    );
    assert!(DataUrl::new(*b"x").with_media_type("").is_err());
    assert!(DataUrl::new(*b"x").with_param("charset", "utf 8").is_ok());
    assert!(DataUrl::new(*b"x").with_param("charset", "").is_err());
    assert!(DataUrl::new(*b"x").with_param("a=b", "c").is_err());
    assert!(DataUrl::new(*b"x").with_param("", "c").is_err());
    let url = DataUrl::new(*b"x")
        .with_media_type("text/plain")
        .and_then(|u| u.with_param("charset", "utf-8"))
        .unwrap();
    assert_eq!(
        url.encode(Encoding::Percent),
        "data:text/plain;charset=utf-8,x"
    );
    assert_eq!(url.encode_shortest(), "data:text/plain;charset=utf-8,x");
}

/// A MIME token: what media types, subtypes and attributes are made of.
fn token() -> impl Strategy<Value = String> {
    proptest::collection::vec((0x21u8..0x7f).prop_filter("token", |&b| is_token(b)), 1..8)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ASCII"))
}

fn media_type() -> impl Strategy<Value = String> {
    let top = prop_oneof![
        Just("text".to_owned()),
        Just("image".to_owned()),
        Just("application".to_owned()),
        Just("multipart".to_owned()),
        token().prop_map(|t| format!("x-{t}")),
        token().prop_map(|t| format!("video{t}")),
    ];
    (top, proptest::option::of(token()))
        .prop_map(|(top, sub)| format!("{top}/{}", sub.unwrap_or_default()))
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Percent), Just(Encoding::Base64)]
}

proptest! {
    #[test]
    fn encoded_urls_parse_back(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        media_type in proptest::option::of(media_type()),
        params in proptest::collection::btree_map(token(), ".+", 0..4),
        encoding in encoding(),
    ) {
        let mut url = DataUrl::new(data);
        if let Some(media_type) = &media_type {
            url = url.with_media_type(media_type).unwrap();
        }
        for (attribute, value) in &params {
            url = url.with_param(attribute, value).unwrap();
        }
        let text = url.encode(encoding);
        prop_assert_eq!(DataUrl::check(&text), Ok(()));
        prop_assert_eq!(DataUrl::parse(&text), Ok(url.clone()));
        prop_assert_eq!(DataUrl::parse(&url.encode_shortest()), Ok(url));
    }

    #[test]
    fn embedded_contents_decode_back(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        use std::io::Read;
        for allow_gzip in [false, true] {
            let embedded = embed(&data, allow_gzip);
            let mut payload = DataUrl::parse(&embedded.url).unwrap().into_data();
            if embedded.gzipped {
                prop_assert!(allow_gzip);
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(payload.as_slice()).read_to_end(&mut plain).unwrap();
                payload = plain;
            }
            prop_assert_eq!(&payload, &data);
            let shortest = encode(&data, Encoding::Percent).len().min(encode(&data, Encoding::Base64).len());
            prop_assert!(embedded.url.len() <= shortest);
        }
    }

    #[test]
    fn check_agrees_with_parse(text in "data:[a-z/;=,\"%0-9A-F\\\\ +]{0,24}") {
        prop_assert_eq!(DataUrl::check(&text), DataUrl::parse(&text).map(drop));
    }

    #[test]
    fn base64_errors_are_where_a_strict_decoder_stops(data in "[A-Za-z0-9+/=]{0,16}") {
        let ours = base64_error(data.as_bytes());
        let strict = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
        )
        .decode(&data);
        prop_assert_eq!(ours.is_none(), strict.is_ok(), "{:?} {:?}", ours, strict);
    }
}
