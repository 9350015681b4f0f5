//! A server started in-process on a loopback port chosen by the kernel, and a raw
//! HTTP/1.1 client that sends requests byte for byte as the test writes them (so a
//! request can lack a `Content-Type`, as Zincati's do).
//!
//! Readiness is the bound socket: [`TestServer::start`] returns once `Server::bind`
//! has the listener, so a connection made after it is accepted; nothing sleeps.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use ferro_fleet::Config;
use ferro_fleet::server::Server;
use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::object::Variant;
use ferro_ostree::{Repo, RepoMode};
use ferro_sys::CommandRunExt;

/// The admin token of test configs.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A config with `groups` (name, slots) and the admin token, storing in `data`.
pub fn config(data: &Path, default_slots: u32, groups: &[(&str, u32)]) -> Config {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n[lock]\ndefault_slots = {default_slots}\n",
        data.display()
    );
    for (name, slots) in groups {
        text.push_str(&format!(
            "[[lock.groups]]\nname = \"{name}\"\nslots = {slots}\n"
        ));
    }
    Config::parse(&text, "test.toml", Path::new("/")).expect("a valid test config")
}

/// A running server; stopped (gracefully) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server for `config` on its own runtime thread.
    pub fn start(config: Config) -> TestServer {
        let data = config.data.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config).await.expect("the server starts");
                ready_tx.send(server.local_addr()).unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("the server runs");
            });
        });
        let addr = ready_rx.recv().expect("the server reports its address");
        TestServer {
            addr,
            data,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Stops the server and waits until its store is closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread ends cleanly");
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Answer {
    /// The `kind` of a JSON error body; panics unless the body is `{"kind","value"}`
    /// with a JSON content type.
    pub fn kind(&self) -> String {
        assert_eq!(
            self.headers.get("content-type").map(String::as_str),
            Some("application/json"),
            "{self:?}"
        );
        let value: serde_json::Value = serde_json::from_str(&self.body).expect("a JSON error");
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), 2, "exactly kind and value: {}", self.body);
        assert!(object["value"].is_string(), "{}", self.body);
        object["kind"].as_str().expect("a string kind").to_owned()
    }
}

/// Sends `head` (request line and headers, each ending in CRLF, without the blank
/// line) and `body` as they are, with `Connection: close` and a matching
/// `Content-Length` added, and reads the answer.
pub fn send(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(
        format!(
            "host: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    send_raw(addr, &request)
}

/// Sends `request` byte for byte and reads the answer until the server closes.
pub fn send_raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the answer");
    parse_answer(&bytes)
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

/// A FleetLock request exactly as Zincati sends it (Appendix A of the reference): no
/// Content-Type, the protocol header, a pretty-printed body.
pub fn zincati(addr: SocketAddr, path: &str, id: &str, group: &str) -> Answer {
    let body = format!(
        "{{\n  \"client_params\": {{\n    \"id\": \"{id}\",\n    \"group\": \"{group}\"\n  }}\n}}"
    );
    send(
        addr,
        &format!("POST {path} HTTP/1.1\r\nfleet-lock-protocol: true\r\naccept: */*\r\n"),
        body.as_bytes(),
    )
}

/// `pre-reboot` as Zincati sends it.
pub fn lock(addr: SocketAddr, id: &str, group: &str) -> Answer {
    zincati(addr, "/v1/pre-reboot", id, group)
}

/// `steady-state` as Zincati sends it.
pub fn unlock(addr: SocketAddr, id: &str, group: &str) -> Answer {
    zincati(addr, "/v1/steady-state", id, group)
}

/// A 32-hex id like Zincati's (an app-specific machine id), from `n`.
pub fn node_id(n: u64) -> String {
    format!("{:016x}{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15), n)
}

/// A loopback port free now (for a child process that must be told its port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// This machine's address on its default route, if it has one that is not loopback
/// (a UDP "connection" sends nothing; it only picks the source address).
pub fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Whether `tool` runs (`tool --version`); says which Debian `package` to install
/// when it does not, for the tests that then skip.
pub fn have(tool: &str, package: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .run_status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("{tool} is not installed (Debian: {package}): skipping");
    }
    found
}

// The update graph's fixture: an OSTree archive repository and its release metadata.

pub const REF: &str = "ferrocore/x86_64/stable";
pub const VERSIONS: [&str; 5] = ["41.1", "41.2", "41.3", "41.4", "41.5"];

/// `updates/stable.json`: 41.2 is a dead-end, 41.3 a barrier, 41.4 rolled out fully
/// (started long ago, one hour), 41.5 rolling out from 25 % in the year 2100.
pub const UPDATES: &str = r#"{
  "stream": "stable",
  "metadata": {"last-modified": "2026-12-07T00:00:00Z"},
  "releases": [
    {"version": "41.2", "metadata": {"deadend": {"reason": "https://tracker.example/215"}}},
    {"version": "41.3", "metadata": {"barrier": {"reason": ""}}},
    {"version": "41.4", "metadata": {"rollout": {"start_epoch": 1000, "duration_minutes": 60}}},
    {"version": "41.5", "metadata": {"rollout": {"start_epoch": 4102444800, "start_percentage": 0.25, "duration_minutes": 1440}}},
    {"version": "40.9", "metadata": {"barrier": {"reason": "not in the repository"}}}
  ]
}"#;

/// Five commits on [`REF`], plus an unversioned commit in the middle (not a release).
pub fn make_repo(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let repo_path = dir.join("repo");
    let repo = Repo::init(&repo_path, RepoMode::Archive).unwrap();
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("usr/lib")).unwrap();
    let mut checksums = Vec::new();
    for (i, version) in VERSIONS.iter().enumerate() {
        std::fs::write(
            tree.join("usr/lib/os-release"),
            format!("VERSION={version}\n"),
        )
        .unwrap();
        let commit = |metadata, timestamp| {
            commit_dir(
                &repo,
                &tree,
                &CommitOptions {
                    branch: Some(REF.to_owned()),
                    subject: format!("ferrocore {version}"),
                    timestamp: Some(timestamp),
                    metadata,
                    ..Default::default()
                },
            )
            .unwrap()
            .commit
            .to_string()
        };
        if i == 2 {
            commit(vec![], 1_700_000_000 + i as u64 * 100 - 50);
        }
        checksums.push(commit(
            vec![("version".to_owned(), Variant::string(version))],
            1_700_000_000 + i as u64 * 100,
        ));
    }
    (repo_path, checksums)
}

/// An agent config with Zincati's defaults and the pool `pool` at `base_url`.
pub fn pool_agent_config(pool: &str, base_url: &str) -> ferro_fleet::agent::Config {
    let mut config = ferro_fleet::agent::Config::from_fragments(&[], &mut vec![]).unwrap();
    config.pool = Some(ferro_fleet::agent::config::PoolSettings {
        name: pool.into(),
        base_url: base_url.into(),
        token: None,
        no_reboot: vec![],
    });
    config
}

/// The identity of a test node on `stable`, at `os_version`.
pub fn test_identity(os_version: &str) -> ferro_fleet::agent::identity::Identity {
    ferro_fleet::agent::identity::Identity {
        node_uuid: "0123456789abcdef0123456789abcdef".into(),
        group: "default".into(),
        basearch: std::env::consts::ARCH.into(),
        stream: "stable".into(),
        platform: "metal".into(),
        os_version: os_version.into(),
        os_checksum: String::new(),
    }
}
