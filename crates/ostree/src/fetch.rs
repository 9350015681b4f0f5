//! HTTP(S) GETs under a remote's base URL for pulls: one keep-alive `ureq` agent shared
//! by all fetch threads, retries with backoff on transient failures (connection
//! errors, timeouts, 5xx, 408, 429), and 404 reported as "absent" so optional files
//! (`summary`, `.commitmeta`) need no special casing by the caller.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Seek};
use std::sync::Arc;
use std::time::Duration;

use ferro_sys::IoError;
use ferro_sys::http::{Backoff, agent_config, is_transient, is_transient_status};

/// Attempts per request before a transient failure becomes an error.
const ATTEMPTS: u32 = 5;
/// Delay before the first retry; doubled for each further one.
const BACKOFF: Duration = Duration::from_millis(200);
/// The longest delay between two tries (never reached with [`ATTEMPTS`] tries).
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status (after retries, when transient).
    #[error("GET {url}: server returned HTTP {status}")]
    Status {
        /// The full URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request could not be made or its body not read (after retries).
    #[error("GET {url}: {detail}")]
    Transport {
        /// The full URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A body was larger than allowed for its kind of file.
    #[error("GET {url}: exceeded maximum size of {limit} bytes")]
    TooLarge {
        /// The full URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The file a large body goes to could not be created.
    #[error("could not create a file for a fetched body")]
    Spill(#[source] IoError),
    /// The URL is not `http://` or `https://`.
    #[error("Invalid URI scheme in {0}: only http://, https:// and file:// remotes can be pulled")]
    Scheme(String),
}

/// What every request of a pull carries besides its URL: extra headers
/// (`--http-header`), text appended to the `User-Agent` (`--append-user-agent`) and the
/// remote's cookies (`remote add-cookie`), as `ostree pull` sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// `NAME=VALUE` headers, in order.
    pub headers: Vec<(String, String)>,
    /// Appended to `libostree/VERSION` in the `User-Agent` header.
    pub append_user_agent: Option<String>,
    /// Cookies sent to every host (`NAME`, `VALUE`, the domain they are for).
    pub cookies: Vec<crate::cookies::Cookie>,
}

/// The `User-Agent` of every request: OSTree's (`libostree/VERSION`), which servers
/// that check clients (and OSTree's tests) expect.
fn user_agent(append: Option<&str>) -> String {
    let base = format!("libostree/{}", crate::OSTREE_COMPAT_VERSION);
    match append {
        Some(extra) => format!("{base} {extra}"),
        None => base,
    }
}

/// A fetched body.
pub(crate) enum Body {
    /// A body of announced length within the memory limit.
    Memory(Vec<u8>),
    /// A larger one, in the spill file (rewound), and its length.
    File(File, u64),
}

/// One base URL: `http(s)://…`, or the directory of a `file://` one (read directly, so
/// a local archive repository is pulled from exactly as over HTTP, deltas included, as
/// OSTree does).
#[derive(Clone, Debug)]
struct Source {
    base: String,
    dir: Option<std::path::PathBuf>,
}

impl Source {
    fn parse(url: &str) -> Result<Self, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            let path = path.trim_end_matches('/');
            return Ok(Source {
                base: format!("file://{path}"),
                dir: Some(std::path::PathBuf::from(path)),
            });
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(FetchError::Scheme(url.to_owned()));
        }
        Ok(Source {
            base: url.trim_end_matches('/').to_owned(),
            dir: None,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

/// Base URLs (mirrors, tried in order for every file until one has it) and the agent
/// that fetches below them.
#[derive(Clone)]
pub(crate) struct Fetcher {
    agent: ureq::Agent,
    mirrors: Arc<[Source]>,
    request: Arc<RequestOptions>,
}

/// Makes the spill file unless it is made already (`spill` is called at most once).
fn ensure_file<F: FnOnce() -> Result<File, IoError>>(
    spill: &mut Option<F>,
    file: &mut Option<File>,
) -> Result<(), FetchError> {
    if file.is_none() {
        let create = spill.take().expect("the spill file is made once and kept");
        *file = Some(create().map_err(FetchError::Spill)?);
    }
    Ok(())
}

/// Where one try of [`Fetcher::get_body`] put the body.
enum Got {
    Memory(Vec<u8>),
    Spilled(u64),
}

/// The outcome of one try.
enum Try<T> {
    Done(T),
    Absent,
    Retry(String),
    Fail(FetchError),
}

impl Fetcher {
    /// A fetcher for `base` (`http://host/repo`, with or without a trailing `/`).
    #[cfg(test)]
    pub(crate) fn new(base: &str) -> Result<Self, FetchError> {
        if base.starts_with("file://") {
            return Err(FetchError::Scheme(base.to_owned()));
        }
        Self::mirrored(&[base.to_owned()], &RequestOptions::default())
    }

    /// A fetcher reading below the directory of a `file://` URL.
    pub(crate) fn for_dir(url: &str) -> Self {
        Self::mirrored(&[url.to_owned()], &RequestOptions::default())
            .expect("a file:// URL is always accepted")
    }

    /// A fetcher trying `mirrors` (`http(s)://` or `file://` base URLs, at least one)
    /// in order for every file, sending what `request` asks for.
    pub(crate) fn mirrored(
        mirrors: &[String],
        request: &RequestOptions,
    ) -> Result<Self, FetchError> {
        let mirrors = mirrors
            .iter()
            .map(|url| Source::parse(url))
            .collect::<Result<Vec<_>, _>>()?;
        assert!(!mirrors.is_empty(), "a fetcher needs a base URL");
        let agent = agent_config(&user_agent(request.append_user_agent.as_deref()))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(16)
            .build()
            .into();
        Ok(Fetcher {
            agent,
            mirrors: mirrors.into(),
            request: Arc::new(request.clone()),
        })
    }

    /// Opens `path` below a `file://` base: the file and its size, `None` if absent.
    fn open_local(
        source: &Source,
        dir: &std::path::Path,
        path: &str,
    ) -> Result<Option<(File, u64)>, FetchError> {
        let file_path = dir.join(path);
        let transport = |e: io::Error| FetchError::Transport {
            url: source.url(path),
            detail: e.to_string(),
        };
        match File::open(&file_path) {
            Ok(file) => {
                let size = file.metadata().map_err(transport)?.len();
                Ok(Some((file, size)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(transport(e)),
        }
    }

    /// The full URL of a path below the (first) base.
    pub(crate) fn url(&self, path: &str) -> String {
        self.mirrors[0].url(path)
    }

    /// Runs `one` against each mirror in turn until one has the file; what the last
    /// mirror answered otherwise (absent, or its error).
    fn each_mirror<T>(
        &self,
        mut one: impl FnMut(&Source) -> Result<Option<T>, FetchError>,
    ) -> Result<Option<T>, FetchError> {
        let mut last = Ok(None);
        for source in self.mirrors.iter() {
            last = one(source);
            if let Ok(Some(_)) = last {
                break;
            }
        }
        last
    }

    /// GETs a small file into memory; `None` on 404.
    pub(crate) fn get_bytes(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        self.each_mirror(|source| self.get_bytes_from(&source.url(path), source, path, limit))
    }

    /// GETs the file at an absolute `url` (a metalink or mirror list) into memory,
    /// with this fetcher's retries and headers; `None` on 404.
    pub(crate) fn get_url(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let source = Source::parse(url)?;
        match &source.dir {
            Some(_) => {
                let (dir, name) = url
                    .trim_start_matches("file://")
                    .rsplit_once('/')
                    .unwrap_or(("", url));
                let parent = Source::parse(&format!("file://{dir}"))?;
                self.get_bytes_from(url, &parent, name, limit)
            }
            None => self.get_bytes_from(url, &source, "", limit),
        }
    }

    fn get_bytes_from(
        &self,
        url: &str,
        source: &Source,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let url = url.to_owned();
        if let Some(dir) = &source.dir {
            let Some((mut file, size)) = Self::open_local(source, dir, path)? else {
                return Ok(None);
            };
            if size > limit {
                return Err(FetchError::TooLarge { url, limit });
            }
            let mut bytes = Vec::with_capacity(size as usize);
            io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| FetchError::Transport {
                url,
                detail: e.to_string(),
            })?;
            return Ok(Some(bytes));
        }
        let have = Cell::new(0);
        let mut bytes = Vec::new();
        self.with_retries(&url, &have, |response| {
            if response.status().as_u16() != 206 {
                bytes.clear();
            }
            let room = (limit + 1).saturating_sub(bytes.len() as u64);
            let mut body = response.into_body();
            let read = io::Read::read_to_end(
                &mut io::Read::take(body.with_config().limit(u64::MAX).reader(), room),
                &mut bytes,
            );
            have.set(bytes.len() as u64);
            match read {
                _ if bytes.len() as u64 > limit => Try::Fail(FetchError::TooLarge {
                    url: url.clone(),
                    limit,
                }),
                Ok(_) => Try::Done(std::mem::take(&mut bytes)),
                Err(e) => Try::Retry(e.to_string()),
            }
        })
    }

    /// GETs a file: into memory when the server announces at most `memory_limit` bytes
    /// (most objects of a tree, spared a temporary file and a second read), otherwise
    /// into the file `spill` makes, called at most once (the file is rewound and
    /// truncated before every try; the caller owns and removes it). `None` on 404.
    pub(crate) fn get_body(
        &self,
        path: &str,
        memory_limit: u64,
        spill: impl FnOnce() -> Result<File, IoError>,
    ) -> Result<Option<Body>, FetchError> {
        let mut spill = Some(spill);
        let mut file: Option<File> = None;
        let fetched = self.each_mirror(|source| {
            self.get_body_from(source, path, memory_limit, &mut spill, &mut file)
        })?;
        Ok(fetched.map(|got| match got {
            Got::Memory(bytes) => Body::Memory(bytes),
            Got::Spilled(n) => Body::File(file.take().expect("a spilled body has its file"), n),
        }))
    }

    /// [`Self::get_body`] from one mirror; `file` is the spill file once made.
    fn get_body_from<F: FnOnce() -> Result<File, IoError>>(
        &self,
        source: &Source,
        path: &str,
        memory_limit: u64,
        spill: &mut Option<F>,
        file: &mut Option<File>,
    ) -> Result<Option<Got>, FetchError> {
        let url = source.url(path);
        let transport = |e: io::Error| FetchError::Transport {
            url: url.clone(),
            detail: e.to_string(),
        };
        if let Some(dir) = &source.dir {
            let Some((mut input, size)) = Self::open_local(source, dir, path)? else {
                return Ok(None);
            };
            if size <= memory_limit {
                let mut bytes = Vec::with_capacity(size as usize);
                io::Read::read_to_end(&mut input, &mut bytes).map_err(transport)?;
                return Ok(Some(Got::Memory(bytes)));
            }
            ensure_file(spill, file)?;
            let out = file.as_mut().expect("made above");
            let n = out
                .rewind()
                .and_then(|()| out.set_len(0))
                .and_then(|()| io::copy(&mut input, &mut *out))
                .and_then(|n| out.rewind().map(|()| n))
                .map_err(transport)?;
            return Ok(Some(Got::Spilled(n)));
        }
        // What earlier tries kept: bytes in memory, or (`in_file`) in the spill file.
        let have = Cell::new(0);
        let mut bytes = Vec::new();
        let mut in_file = false;
        self.with_retries(&url, &have, |response| {
            let resumed = response.status().as_u16() == 206;
            let mut body = response.into_body();
            if !resumed {
                bytes.clear();
                in_file = body.content_length().is_none_or(|n| n > memory_limit);
            }
            let mut reader = body.with_config().limit(u64::MAX).reader();
            if !in_file {
                let room = (memory_limit + 1).saturating_sub(bytes.len() as u64);
                let read = io::Read::read_to_end(&mut io::Read::take(reader, room), &mut bytes);
                have.set(bytes.len() as u64);
                return match read {
                    _ if bytes.len() as u64 > memory_limit => Try::Fail(FetchError::TooLarge {
                        url: url.clone(),
                        limit: memory_limit,
                    }),
                    Ok(_) => Try::Done(Got::Memory(std::mem::take(&mut bytes))),
                    Err(e) => Try::Retry(e.to_string()),
                };
            }
            if let Err(error) = ensure_file(spill, file) {
                return Try::Fail(error);
            }
            let out = file.as_mut().expect("made above");
            let start = if resumed { have.get() } else { 0 };
            let copied = out
                .seek(io::SeekFrom::Start(start))
                .and_then(|_| out.set_len(start))
                .and_then(|()| io::copy(&mut reader, &mut *out));
            let total = out.stream_position().unwrap_or(start);
            have.set(total);
            match copied.and_then(|_| out.rewind()) {
                Ok(()) => Try::Done(Got::Spilled(total)),
                Err(e) => Try::Retry(e.to_string()),
            }
        })
    }

    /// The request for `url` with the configured headers and cookies.
    fn request(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut request = self.agent.get(url);
        for (name, value) in &self.request.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(cookie) = crate::cookies::header_for(&self.request.cookies, url) {
            request = request.header("Cookie", cookie);
        }
        request
    }

    /// GETs `url` until `read` is done with a response, retrying transient failures.
    /// `have` is how many bytes of the body `read` kept from earlier tries: a body cut
    /// short is resumed with a `Range` request from there (`read` is then handed the
    /// `206` response and appends; a server that ignores the range answers `200` and
    /// `read` starts over). A try that received bytes does not count as a failed one.
    fn with_retries<T>(
        &self,
        url: &str,
        have: &Cell<u64>,
        mut read: impl FnMut(ureq::http::Response<ureq::Body>) -> Try<T>,
    ) -> Result<Option<T>, FetchError> {
        let mut delays = Backoff::new(BACKOFF, MAX_BACKOFF).attempts(ATTEMPTS);
        let last = loop {
            // A transient status that outlasts the tries is reported as that status.
            let mut last_status = None;
            let before = have.get();
            let mut request = self.request(url);
            if before > 0 {
                request = request.header("Range", format!("bytes={before}-"));
            }
            let outcome = match request.call() {
                Ok(response) => match response.status().as_u16() {
                    200 => read(response),
                    206 if before > 0 => read(response),
                    404 => Try::Absent,
                    status if is_transient_status(status) => {
                        last_status = Some(status);
                        Try::Retry(format!("HTTP {status}"))
                    }
                    status => Try::Fail(FetchError::Status {
                        url: url.to_owned(),
                        status,
                    }),
                },
                Err(e) if is_transient(&e) => Try::Retry(e.to_string()),
                Err(e) => Try::Fail(FetchError::Transport {
                    url: url.to_owned(),
                    detail: e.to_string(),
                }),
            };
            let detail = match outcome {
                Try::Done(value) => return Ok(Some(value)),
                Try::Absent => return Ok(None),
                Try::Fail(error) => return Err(error),
                Try::Retry(detail) => detail,
            };
            if have.get() > before {
                continue;
            }
            match (delays.next(), last_status) {
                (Some(delay), _) => std::thread::sleep(delay),
                (None, Some(status)) => {
                    return Err(FetchError::Status {
                        url: url.to_owned(),
                        status,
                    });
                }
                (None, None) => break detail,
            }
        };
        Err(FetchError::Transport {
            url: url.to_owned(),
            detail: format!("{last} (after {ATTEMPTS} attempts)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// A server answering each connection's requests with the next canned status/body.
    fn serve(answers: Vec<(u16, &'static str)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    let Some((status, body)) = answers.next() else {
                        return;
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream
                        .write_all(format!("{head}{body}").as_bytes())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        url
    }

    #[test]
    fn retries_transient_failures_and_reports_404_as_absent() {
        let url = serve(vec![(503, ""), (200, "config"), (404, ""), (403, "")]);
        let fetcher = Fetcher::new(&url).unwrap();
        assert_eq!(
            fetcher.get_bytes("config", 100).unwrap().as_deref(),
            Some(&b"config"[..])
        );
        assert_eq!(fetcher.get_bytes("summary", 100).unwrap(), None);
        assert!(matches!(
            fetcher.get_bytes("x", 100),
            Err(FetchError::Status { status: 403, .. })
        ));
        assert!(matches!(
            Fetcher::new("file:///srv/repo"),
            Err(FetchError::Scheme(_))
        ));
    }

    #[test]
    fn bodies_over_the_limit_are_errors() {
        let url = serve(vec![(200, "0123456789")]);
        let fetcher = Fetcher::new(&url).unwrap();
        assert!(matches!(
            fetcher.get_bytes("big", 4),
            Err(FetchError::TooLarge { limit: 4, .. })
        ));
    }
}
