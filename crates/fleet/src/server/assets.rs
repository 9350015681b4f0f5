//! The dashboard's files (`crates/fleet/assets/`), compiled into the binary with
//! `include_bytes!`. They are hand-written HTML, CSS and JavaScript without a build
//! step, so building ferrocore needs no Node toolchain, and the server carries no
//! template engine: the page holds no data, it reads the admin API with the token
//! the operator types in, and the same API is what the tests compare it with.

/// One file of the dashboard.
#[derive(Debug)]
pub(super) struct Asset {
    /// Its `Content-Type`.
    pub(super) content_type: &'static str,
    /// Its bytes.
    pub(super) bytes: &'static [u8],
}

/// The policy the dashboard's files are served with: only the server's own files
/// run, load or connect, so text from the API (ids, reasons, errors) can never
/// become code; the scripts build the page with DOM calls, never `innerHTML`.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static INDEX: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../../assets/index.html"),
};
static SCRIPT: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../../assets/dashboard.js"),
};
static STYLE: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../../assets/dashboard.css"),
};
static ICON: Asset = Asset {
    content_type: "image/svg+xml",
    bytes: include_bytes!("../../assets/favicon.svg"),
};

/// The file served at `path`, if it is one of the dashboard's.
pub(super) fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/" | "/index.html" => Some(&INDEX),
        "/dashboard.js" => Some(&SCRIPT),
        "/dashboard.css" => Some(&STYLE),
        "/favicon.svg" | "/favicon.ico" => Some(&ICON),
        _ => None,
    }
}
