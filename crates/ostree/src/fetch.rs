//! HTTP(S) GETs under a remote's base URL for pulls: one keep-alive `ureq` agent shared
//! by all fetch threads, retries with backoff on transient failures (connection
//! errors, timeouts, 5xx, 408, 429), and 404 reported as "absent" so optional files
//! (`summary`, `.commitmeta`) need no special casing by the caller.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Attempts per request before a transient failure becomes an error.
const ATTEMPTS: u32 = 5;
/// Delay before the first retry; doubled for each further one.
const BACKOFF: Duration = Duration::from_millis(200);

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
    #[error("GET {url}: larger than {limit} bytes")]
    TooLarge {
        /// The full URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The file a large body goes to could not be created.
    #[error("could not create '{path}' for a fetched file")]
    Spill {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The URL is not `http://` or `https://`.
    #[error("unsupported URL '{0}': only http:// and https:// remotes can be pulled")]
    Scheme(String),
}

/// A fetched body.
pub(crate) enum Body {
    /// A body of announced length within the memory limit.
    Memory(Vec<u8>),
    /// A larger one, in the spill file (rewound), and its length.
    File(File, u64),
}

/// A base URL and the agent that fetches below it.
#[derive(Clone)]
pub(crate) struct Fetcher {
    agent: ureq::Agent,
    base: String,
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
    pub(crate) fn new(base: &str) -> Result<Self, FetchError> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FetchError::Scheme(base.to_owned()));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("ferro-ostree/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(16)
            .build()
            .into();
        Ok(Fetcher {
            agent,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The full URL of a path below the base.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// GETs a small file into memory; `None` on 404.
    pub(crate) fn get_bytes(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let url = self.url(path);
        self.with_retries(&url, |response| {
            let mut body = response.into_body();
            match body.with_config().limit(limit + 1).read_to_vec() {
                Ok(bytes) if bytes.len() as u64 > limit => Try::Fail(FetchError::TooLarge {
                    url: url.clone(),
                    limit,
                }),
                Ok(bytes) => Try::Done(bytes),
                Err(ureq::Error::BodyExceedsLimit(_)) => Try::Fail(FetchError::TooLarge {
                    url: url.clone(),
                    limit,
                }),
                Err(e) => Try::Retry(e.to_string()),
            }
        })
    }

    /// GETs a file: into memory when the server announces at most `memory_limit` bytes
    /// (most objects of a tree, spared a temporary file and a second read), otherwise
    /// into a new file at `spill` (rewound and truncated before every try; the caller
    /// removes it). `None` on 404.
    pub(crate) fn get_body(
        &self,
        path: &str,
        memory_limit: u64,
        spill: &Path,
    ) -> Result<Option<Body>, FetchError> {
        let url = self.url(path);
        let mut file: Option<File> = None;
        let fetched = self.with_retries(&url, |response| {
            let mut body = response.into_body();
            if body.content_length().is_some_and(|n| n <= memory_limit) {
                return match body.with_config().limit(memory_limit).read_to_vec() {
                    Ok(bytes) => Try::Done(Got::Memory(bytes)),
                    Err(e) => Try::Retry(e.to_string()),
                };
            }
            let out = match &mut file {
                Some(out) => out,
                None => match OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(spill)
                {
                    Ok(created) => file.insert(created),
                    Err(source) => {
                        return Try::Fail(FetchError::Spill {
                            path: spill.to_owned(),
                            source,
                        });
                    }
                },
            };
            let mut reader = body.with_config().limit(u64::MAX).reader();
            let copied = out
                .rewind()
                .and_then(|()| out.set_len(0))
                .and_then(|()| io::copy(&mut reader, &mut *out))
                .and_then(|n| out.rewind().map(|()| n));
            match copied {
                Ok(n) => Try::Done(Got::Spilled(n)),
                Err(e) => Try::Retry(e.to_string()),
            }
        })?;
        Ok(fetched.map(|got| match got {
            Got::Memory(bytes) => Body::Memory(bytes),
            Got::Spilled(n) => Body::File(file.expect("a spilled body has its file"), n),
        }))
    }

    fn with_retries<T>(
        &self,
        url: &str,
        mut read: impl FnMut(ureq::http::Response<ureq::Body>) -> Try<T>,
    ) -> Result<Option<T>, FetchError> {
        let mut delay = BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let outcome = match self.agent.get(url).call() {
                Ok(response) => match response.status().as_u16() {
                    200 => read(response),
                    404 => Try::Absent,
                    status @ (408 | 429 | 500..=599) if attempt < ATTEMPTS => {
                        Try::Retry(format!("HTTP {status}"))
                    }
                    status => Try::Fail(FetchError::Status {
                        url: url.to_owned(),
                        status,
                    }),
                },
                Err(
                    e @ (ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::Protocol(_)
                    | ureq::Error::BodyStalled),
                ) => Try::Retry(e.to_string()),
                Err(e) => Try::Fail(FetchError::Transport {
                    url: url.to_owned(),
                    detail: e.to_string(),
                }),
            };
            match outcome {
                Try::Done(value) => return Ok(Some(value)),
                Try::Absent => return Ok(None),
                Try::Fail(error) => return Err(error),
                Try::Retry(detail) => last = detail,
            }
            if attempt < ATTEMPTS {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
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
