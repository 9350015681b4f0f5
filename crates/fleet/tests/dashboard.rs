//! The dashboard at `/` in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver by `chromedriver` (Debian's `chromium-driver`), loads the
//! page of a server with holders, nodes on two versions, a stream with rollouts and a
//! pool; the page must load without console errors and show the figures the admin
//! API returns, and its release button must free a slot. Skipped (with a message)
//! where chromium or chromedriver is not installed. See: issue 16.
//!
//! Nothing waits on a timer: chromedriver's readiness line, then the page's own
//! `data-loads` counter, are polled with generous deadlines.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, REF, TestServer, UPDATES, free_port, lock, make_repo, node_id, send};
use ferro_fleet::client::AdminClient;
use ferro_fleet::time::rfc3339;
use ferro_sys::CommandRunExt;
use serde_json::{Value, json};

/// How long the browser may take to start or to show what is asked; a slow CI
/// machine starts Chromium in seconds, so this only bounds a hang.
const DEADLINE: Duration = Duration::from_secs(120);

/// A WebDriver session of a chromedriver child; both end when dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    fn start(dir: &Path) -> Browser {
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .start()
            .expect("start chromedriver");
        // chromedriver says so on standard output once it accepts connections.
        let stdout = driver.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("started successfully"));
        assert!(ready, "chromedriver did not start (see chromedriver.log)");
        std::thread::spawn(move || lines.for_each(drop));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(DEADLINE))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
        };
        // Running as root (CI) needs --no-sandbox; the profile lives in the test's
        // directory.
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,2000",
                        format!("--user-data-dir={}", dir.join("profile").display()),
                    ],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// A WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(body.unwrap_or(json!({})).to_string().as_str()),
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(status, 200, "WebDriver {method} {path}: {text}");
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    /// Runs `script` (a function body) in the page; what it returns.
    fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `script` until it returns something other than `null` or `false`.
    fn wait_for(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let value = self.run(script);
            if !(value.is_null() || value == Value::Bool(false)) {
                return value;
            }
            assert!(start.elapsed() < DEADLINE, "the page never showed {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `selector` finds, as a user would.
    fn click(&self, selector: &str) {
        let found = self.call(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": selector })),
        );
        let id = found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {found}"))
            .to_owned();
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            None,
        );
    }

    /// The browser's console messages since the last call.
    fn console(&self) -> Vec<Value> {
        let logs = self.call(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({ "type": "browser" })),
        );
        logs.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// What the page shows, read from its DOM (the rows carry the API's keys as
/// `data-` attributes; the figures are the cells' text).
const READ_PAGE: &str = r#"
const rows = (selector, f) => Array.from(document.querySelectorAll(selector)).map(f);
const text = (row, selector) => { const cell = row.querySelector(selector); return cell ? cell.textContent : null; };
return {
  state: document.body.dataset.state,
  groups: rows('#groups tbody tr', r => [r.dataset.group, r.dataset.holder || null, text(r, '.held'), r.dataset.holder ? text(r, '.acquired') : null]),
  versions: rows('#versions tbody tr', r => [r.dataset.version, text(r, '.count')]),
  lines: document.querySelectorAll('#versions-chart polyline').length,
  releases: rows('#rollouts tr[data-release]', r => [r.dataset.release, text(r, '.progress')]),
  pools: rows('#pools tbody tr', r => [r.dataset.pool, text(r, '.current'), text(r, '.desired')]),
  nodes: rows('#nodes tbody tr', r => [r.dataset.node, text(r, '.version')]),
};
"#;

/// A server with a stream (the graph fixture), a pool with one Ignition fragment, a
/// group of three slots with two holders, and three nodes: two moved from 41.1 to
/// 41.4, one stayed on 41.1.
fn fleet(dir: &Path) -> TestServer {
    let (repo, checksums) = make_repo(dir);
    std::fs::write(dir.join("stable.json"), UPDATES).unwrap();
    std::fs::create_dir(dir.join("worker.d")).unwrap();
    std::fs::write(
        dir.join("worker.d/10-base.ign"),
        r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,hello"}}]}}"#,
    )
    .unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"data\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n\
         [[lock.groups]]\nname = \"workers\"\nslots = 3\n\
         [graph]\nrepo = \"{}\"\n[[graph.streams]]\nname = \"stable\"\nref = \"ferrocore/${{basearch}}/stable\"\nupdates = \"stable.json\"\n\
         [[pools]]\nname = \"worker\"\nfragments = [\"worker.d\"]\n",
        repo.display()
    );
    let server = TestServer::start(ferro_fleet::Config::parse(&text, "t.toml", dir).unwrap());
    for (node, version, checksum) in [
        (1, "41.1", &checksums[0]),
        (2, "41.1", &checksums[0]),
        (3, "41.1", &checksums[0]),
        (1, "41.4", &checksums[3]),
        (2, "41.4", &checksums[3]),
    ] {
        let answer = send(
            server.addr,
            &format!(
                "GET /v1/graph?basearch=x86_64&stream=stable&os_version={version}&os_checksum={checksum}&group=workers&node_uuid={}&platform=metal HTTP/1.1\r\naccept: application/json\r\n",
                node_id(node)
            ),
            b"",
        );
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    for node in [1, 2] {
        assert_eq!(lock(server.addr, &node_id(node), "workers").status, 200);
    }
    server
}

/// The dashboard's files are served without a token, with a policy that lets only
/// them run; the page holds no data.
/// Fails the test with the page's console errors, if it logged any.
fn assert_no_console_errors(browser: &Browser) {
    let severe: Vec<Value> = browser
        .console()
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "console errors: {severe:?}");
}

#[test]
fn dashboard_files_are_served_with_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(common::config(&dir.path().join("data"), 1, &[]));
    let page = send(server.addr, "GET / HTTP/1.1\r\n", b"");
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.body.contains("<script src=\"/dashboard.js\""));
    let policy = &page.headers["content-security-policy"];
    assert!(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"));
    for (path, content_type) in [
        ("/dashboard.js", "text/javascript; charset=utf-8"),
        ("/dashboard.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let asset = send(server.addr, &format!("GET {path} HTTP/1.1\r\n"), b"");
        assert_eq!(
            (asset.status, asset.headers["content-type"].as_str()),
            (200, content_type)
        );
    }
    let post = send(server.addr, "POST / HTTP/1.1\r\n", b"");
    assert_eq!(post.status, 405);
}

#[test]
fn dashboard_in_headless_chromium_shows_what_the_api_returns() {
    if !(common::have("chromium", "chromium") && common::have("chromedriver", "chromium-driver")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = fleet(dir.path());
    let admin = AdminClient::new(&server.url(), ADMIN_TOKEN).unwrap();
    let browser = Browser::start(dir.path());

    browser.open(&format!("{}/#token={ADMIN_TOKEN}", server.url()));
    browser.wait_for(
        "its first load",
        "return document.body.dataset.loads >= 1 && document.body.dataset.state === 'ready';",
    );
    let page = browser.run(READ_PAGE);

    // Groups: every group with held/slots, every holder with its acquired-at.
    let mut groups = Vec::new();
    for group in admin.locks().unwrap().groups {
        let held = format!("{}/{}", group.holders.len(), group.slots);
        if group.holders.is_empty() {
            groups.push(json!([group.name, null, held, null]));
        }
        for holder in &group.holders {
            groups.push(json!([
                group.name,
                holder.id,
                held,
                rfc3339(holder.acquired_at)
            ]));
        }
    }
    assert_eq!(page["groups"], json!(groups), "{page}");
    assert_eq!(
        page["groups"].as_array().unwrap().len(),
        3,
        "default (empty) and the two holders of workers"
    );

    // Nodes per version now, and one chart line per version.
    let history = admin.versions(48).unwrap();
    let now = &history.points.last().unwrap().nodes;
    let versions: Vec<Value> = history
        .versions
        .iter()
        .map(|v| json!([v, now.get(v).copied().unwrap_or(0).to_string()]))
        .collect();
    assert_eq!(page["versions"], json!(versions), "{page}");
    assert_eq!(page["versions"], json!([["41.1", "1"], ["41.4", "2"]]));
    assert_eq!(page["lines"], json!(history.versions.len()));

    // Each stream's releases with their rollout progress.
    let mut releases = Vec::new();
    for stream in admin.releases("x86_64").unwrap().streams {
        assert_eq!(stream.ref_name, REF);
        for release in stream.releases {
            let progress = release
                .rollout
                .map_or("-".to_owned(), |r| format!("{:.1}%", r * 100.0));
            releases.push(json!([
                format!("{}/{}", stream.name, release.version),
                progress
            ]));
        }
    }
    assert_eq!(page["releases"], json!(releases), "{page}");
    assert!(releases.contains(&json!(["stable/41.4", "100.0%"])));

    // Pools with their rendered hash.
    let pools: Vec<Value> = admin
        .pools()
        .unwrap()
        .pools
        .into_iter()
        .map(|p| {
            json!([
                p.name,
                p.current.unwrap_or("-".into()),
                p.desired.unwrap_or("-".into())
            ])
        })
        .collect();
    assert_eq!(page["pools"], json!(pools), "{page}");
    assert_eq!(page["pools"][0][1].as_str().unwrap().len(), 64, "a SHA-256");

    let nodes: Vec<Value> = admin
        .nodes()
        .unwrap()
        .nodes
        .into_iter()
        .map(|n| json!([n.node_uuid, n.os_version]))
        .collect();
    assert_eq!(page["nodes"], json!(nodes));

    // Nothing went wrong in the page.
    assert_no_console_errors(&browser);

    // The release button frees the slot (through the admin API, with the token).
    let holder = node_id(1);
    browser.click(&format!("button.release[data-id='{holder}']"));
    browser.wait_for(
        "the released holder gone",
        &format!("return document.body.dataset.loads >= 2 && !document.querySelector(\"tr[data-holder='{holder}']\");"),
    );
    let workers = admin.locks().unwrap().groups;
    let workers = workers.iter().find(|g| g.name == "workers").unwrap();
    let ids: Vec<&str> = workers.holders.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, [node_id(2).as_str()]);
    let audit = admin.audit(0).unwrap().records;
    assert!(audit.iter().any(|r| r.id == holder && r.actor == "admin"));
    assert_no_console_errors(&browser);

    // A wrong token: the page says so instead of showing figures.
    // Another path than the current one, so that the page loads anew.
    browser.open(&format!(
        "{}/index.html#token=not-the-admin-token",
        server.url()
    ));
    let status = browser.wait_for(
        "the refusal",
        "return document.body.dataset.state === 'error' && document.getElementById('status').textContent;",
    );
    assert!(
        status.as_str().unwrap().contains("refused the token"),
        "{status}"
    );
}
