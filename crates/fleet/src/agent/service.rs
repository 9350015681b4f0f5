//! `ferro agent` as a service: the state machine ticking on the wall clock, a control
//! socket for `status`, `check-now` and `defer`, and a metrics socket that gives every
//! connection one Prometheus text dump, as Zincati's `metrics.promsock` does.
//!
//! Control protocol (one request line, one JSON answer, then the connection closes):
//! `status`, `check-now`, `defer SECONDS`, `metrics`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::machine::{Agent, Host, Remote};
use super::metrics;

/// Where the sockets are.
#[derive(Debug, Clone)]
pub struct Sockets {
    /// The control socket (`/run/ferro/agent/control.sock`).
    pub control: PathBuf,
    /// The metrics socket (`/run/ferro/agent/metrics.promsock`).
    pub metrics: PathBuf,
}

impl Default for Sockets {
    fn default() -> Self {
        Sockets {
            control: PathBuf::from("/run/ferro/agent/control.sock"),
            metrics: PathBuf::from("/run/ferro/agent/metrics.promsock"),
        }
    }
}

/// A failure of the service or of a control request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A socket could not be set up or used.
    #[error("socket '{path}': {source}")]
    Socket {
        /// Its path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The agent answered with an error.
    #[error("{0}")]
    Agent(String),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Shared<H: Host, R: Remote> {
    agent: Mutex<Agent<H, R>>,
    wake: Condvar,
    woken: Mutex<bool>,
    started: u64,
}

fn bind(path: &Path) -> Result<UnixListener, ServiceError> {
    let err = |source| ServiceError::Socket {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    UnixListener::bind(path).map_err(err)
}

fn answer<H: Host, R: Remote>(shared: &Shared<H, R>, line: &str) -> String {
    let mut words = line.split_whitespace();
    let reply = |r: Result<serde_json::Value, String>| match r {
        Ok(v) => serde_json::json!({"ok": v}).to_string(),
        Err(e) => serde_json::json!({"error": e}).to_string(),
    };
    let mut agent = shared.agent.lock().unwrap_or_else(|p| p.into_inner());
    match (words.next(), words.next()) {
        (Some("status"), None) => {
            reply(serde_json::to_value(agent.status(now())).map_err(|e| e.to_string()))
        }
        (Some("metrics"), None) => metrics::render(&agent.status(now()), shared.started),
        (Some("check-now"), None) => {
            let r = agent.check_now();
            drop(agent);
            *shared.woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
            shared.wake.notify_all();
            reply(r.map(|()| serde_json::json!("checking")))
        }
        (Some("defer"), Some(secs)) => match secs.parse::<u64>() {
            Ok(secs) => {
                agent.defer(now() + secs);
                reply(Ok(serde_json::json!({"deferred_until": now() + secs})))
            }
            Err(_) => reply(Err(format!("'{secs}' is not a number of seconds"))),
        },
        _ => reply(Err(format!("unknown request '{line}'"))),
    }
}

/// Runs the agent until the process is stopped: ticks, and serves both sockets.
pub fn run<H, R>(agent: Agent<H, R>, sockets: &Sockets) -> Result<(), ServiceError>
where
    H: Host + Send + 'static,
    R: Remote + Send + 'static,
{
    let shared = Arc::new(Shared {
        agent: Mutex::new(agent),
        wake: Condvar::new(),
        woken: Mutex::new(false),
        started: now(),
    });
    let control = bind(&sockets.control)?;
    let promsock = bind(&sockets.metrics)?;
    let s = Arc::clone(&shared);
    std::thread::spawn(move || {
        for stream in control.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let text = answer(&s, line.trim());
                let _ = (&stream).write_all(text.as_bytes());
            }
        }
    });
    let s = Arc::clone(&shared);
    std::thread::spawn(move || {
        for mut stream in promsock.incoming().flatten() {
            let text = answer(&s, "metrics");
            let _ = stream.write_all(text.as_bytes());
        }
    });
    for warning in &shared
        .agent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .config
        .warnings
    {
        eprintln!("warning: {warning}");
    }
    loop {
        let delay = {
            let mut agent = shared.agent.lock().unwrap_or_else(|p| p.into_inner());
            let before = agent.state().name();
            let delay = agent.tick(now());
            if agent.state().name() != before {
                eprintln!("state: {before} -> {}", agent.state().name());
            }
            if let Some(e) = agent.last_error() {
                eprintln!("error: {e}");
            }
            delay
        };
        let woken = shared.woken.lock().unwrap_or_else(|p| p.into_inner());
        let (mut woken, _) = shared
            .wake
            .wait_timeout_while(woken, delay, |w| !*w)
            .unwrap_or_else(|p| p.into_inner());
        *woken = false;
    }
}

/// Sends one control request to a running agent and returns its answer (the `ok`
/// value, or the metrics text as a JSON string).
pub fn request(socket: &Path, line: &str) -> Result<serde_json::Value, ServiceError> {
    let err = |source| ServiceError::Socket {
        path: socket.to_owned(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(err)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(err)?;
    // The metrics socket speaks first (one dump per connection, as Zincati's).
    if line != "metrics" {
        stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(err)?;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stream, &mut text).map_err(err)?;
    if line == "metrics" {
        return Ok(serde_json::Value::String(text));
    }
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ServiceError::Agent(format!("bad answer: {e}")))?;
    match (doc.get("ok"), doc.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (_, Some(e)) => Err(ServiceError::Agent(
            e.as_str().unwrap_or_default().to_owned(),
        )),
        _ => Err(ServiceError::Agent(format!("bad answer: {text}"))),
    }
}
