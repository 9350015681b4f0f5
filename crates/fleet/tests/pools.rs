//! The pool config server over loopback HTTP: Accept negotiation as the Machine
//! Config Server does it, enrollment tokens, and a pool whose fragments change (the
//! new config reaches booting nodes only once a node reports it applied). See:
//! issue 16.

mod common;

use std::path::Path;

use common::{ADMIN_TOKEN, TestServer, send};
use ferro_fleet::client::AdminClient;

const ENROLL: &str = "enrollment-token-0123456789";
const BASE: &str = r#"{"ignition":{"version":"3.2.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,one"},"mode":420}]}}"#;
const EXTRA_BU: &str = "variant: fcos\nversion: 1.3.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: worker\n";

fn start(dir: &Path) -> TestServer {
    let frag = dir.join("worker.d");
    std::fs::create_dir_all(&frag).unwrap();
    std::fs::write(frag.join("10-base.ign"), BASE).unwrap();
    std::fs::write(frag.join("20-host.bu"), EXTRA_BU).unwrap();
    let secret = dir.join("secret.d");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("10-base.ign"), BASE).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"data\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\ntokens = [\"{ENROLL}\"]\n\
         [[pools]]\nname = \"worker\"\nfragments = [\"worker.d\"]\n\
         [[pools]]\nname = \"secret\"\nfragments = [\"secret.d\"]\nrequire_token = true\n"
    );
    TestServer::start(ferro_fleet::Config::parse(&text, "t.toml", dir).unwrap())
}

fn get(server: &TestServer, path: &str, extra: &str) -> common::Answer {
    send(server.addr, &format!("GET {path} HTTP/1.1\r\n{extra}"), b"")
}

fn version_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["ignition"]["version"].as_str().unwrap().to_owned()
}

const IGNITION_34: &str = "accept: application/vnd.coreos.ignition+json;version=3.4.0, */*;q=0.1\r\nuser-agent: Ignition/2.17.0\r\n";

#[test]
fn accept_negotiation_as_the_mcs_does_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // What Ignition sends: its newest spec, anything else at a low q.
    let answer = get(&server, "/config/worker", IGNITION_34);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(version_of(&answer.body), "3.4.0", "translated up");
    assert!(answer.body.contains("/etc/hostname") && answer.body.contains("/etc/motd"));
    // A newer minor of the same major: the newest this server knows.
    let newer = get(
        &server,
        "/config/worker",
        "accept: application/vnd.coreos.ignition+json;version=3.99.0\r\n",
    );
    assert_eq!(version_of(&newer.body), "3.6.0");
    // q-values: 3.1 preferred over 3.4; nothing in the config is newer than 3.1.
    let older = get(
        &server,
        "/config/worker",
        "accept: application/vnd.coreos.ignition+json;version=3.4.0;q=0.2, application/vnd.coreos.ignition+json;version=3.1.0;q=0.9\r\n",
    );
    assert_eq!(
        (older.status, version_of(&older.body).as_str()),
        (200, "3.1.0")
    );
    // No Ignition Accept: the config's own version (the newest a fragment declares:
    // Butane fcos 1.3.0 is Ignition 3.2.0).
    let plain = get(&server, "/config/worker", "");
    assert_eq!(version_of(&plain.body), "3.2.0");
    // Only spec 2.x accepted: 400, empty, as the MCS answers a bad Accept.
    let legacy = get(
        &server,
        "/config/worker",
        "accept: application/vnd.coreos.ignition+json;version=2.2.0\r\n",
    );
    assert_eq!((legacy.status, legacy.body.as_str()), (400, ""));
    // Unknown pool: 404 empty; other methods: 405 empty; HEAD: the headers only.
    let unknown = get(&server, "/config/nope", IGNITION_34);
    assert_eq!((unknown.status, unknown.body.as_str()), (404, ""));
    let post = send(server.addr, "POST /config/worker HTTP/1.1\r\n", b"{}");
    assert_eq!((post.status, post.body.as_str()), (405, ""));
    let head = send(server.addr, "HEAD /config/worker HTTP/1.1\r\n", b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.headers.get("etag"), answer.headers.get("etag"));
    let health = get(&server, "/healthz", "");
    assert_eq!(health.status, 200);
}

#[test]
fn a_config_the_older_spec_cannot_say_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    std::fs::write(
        dir.path().join("worker.d/30-kargs.bu"),
        "variant: fcos\nversion: 1.4.0\nkernel_arguments:\n  should_exist:\n    - quiet\n",
    )
    .unwrap();
    let answer = get(
        &server,
        "/config/worker",
        "accept: application/vnd.coreos.ignition+json;version=3.2.0\r\n",
    );
    assert_eq!(answer.status, 406, "{answer:?}");
    assert_eq!(answer.kind(), "unsupported_ignition_version");
    assert!(answer.body.contains("$.kernelArguments"), "{}", answer.body);
}

#[test]
fn enrollment_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let none = get(&server, "/config/secret", IGNITION_34);
    assert_eq!(
        (none.status, none.body.as_str()),
        (401, ""),
        "401 and nothing else"
    );
    let wrong = get(
        &server,
        "/config/secret",
        &format!("{IGNITION_34}authorization: Bearer enrollment-token-0123456780\r\n"),
    );
    assert_eq!((wrong.status, wrong.body.as_str()), (401, ""));
    let admin = get(
        &server,
        "/config/secret",
        &format!("{IGNITION_34}authorization: Bearer {ADMIN_TOKEN}\r\n"),
    );
    assert_eq!(admin.status, 401, "admin tokens are not enrollment tokens");
    let right = get(
        &server,
        "/config/secret",
        &format!("{IGNITION_34}authorization: Bearer {ENROLL}\r\n"),
    );
    assert_eq!(right.status, 200);
    assert_eq!(
        get(&server, "/config/worker", IGNITION_34).status,
        200,
        "open pool"
    );
}

fn report(server: &TestServer, node: &str, hash: &str, state: &str) -> common::Answer {
    let body = format!(
        r#"{{"pool":"worker","config_hash":"{hash}","booted_version":"41.1","state":"{state}","reason":""}}"#
    );
    send(
        server.addr,
        &format!("POST /v1/nodes/{node}/report HTTP/1.1\r\n"),
        body.as_bytes(),
    )
}

fn etag(answer: &common::Answer) -> String {
    answer.headers["etag"].trim_matches('"').to_owned()
}

#[test]
fn changed_fragments_reach_new_nodes_once_a_node_applied_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let first = get(&server, "/config/worker", IGNITION_34);
    let h1 = etag(&first);

    std::fs::write(
        dir.path().join("worker.d/20-host.bu"),
        EXTRA_BU.replace("inline: worker", "inline: worker-two"),
    )
    .unwrap();
    let still = get(&server, "/config/worker", IGNITION_34);
    assert_eq!(
        etag(&still),
        h1,
        "the new config is desired, not yet served"
    );
    assert!(!still.body.contains("worker-two"));

    let admin = AdminClient::new(&server.url(), ADMIN_TOKEN).unwrap();
    let pools = admin.pools().unwrap();
    let worker = pools.pools.iter().find(|p| p.name == "worker").unwrap();
    let h2 = worker.desired.clone().unwrap();
    assert_ne!(h2, h1);
    assert_eq!(worker.current.as_deref(), Some(h1.as_str()));
    // An agent can fetch the desired config by its hash.
    let desired = get(&server, &format!("/config/worker?hash={h2}"), IGNITION_34);
    assert!(desired.body.contains("worker-two"));

    // A node working on it changes nothing; one that applied it does.
    let answer = report(&server, "c988d2509fdf4cdcbed39037c56406fb", &h2, "Working");
    assert_eq!(answer.status, 200, "{answer:?}");
    let desired_answer: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(desired_answer["desired"], h2);
    assert_eq!(etag(&get(&server, "/config/worker", IGNITION_34)), h1);
    assert_eq!(
        report(&server, "c988d2509fdf4cdcbed39037c56406fb", &h2, "Done").status,
        200
    );
    let now = get(&server, "/config/worker", IGNITION_34);
    assert_eq!(etag(&now), h2);
    assert!(now.body.contains("worker-two"));

    // A fragment that does not validate: the last good config stays served and the
    // error is shown.
    std::fs::write(
        dir.path().join("worker.d/30-bad.ign"),
        r#"{"ignition":{"version":"3.2.0"},"storage":{"files":[{"path":"relative"}]}}"#,
    )
    .unwrap();
    assert_eq!(etag(&get(&server, "/config/worker", IGNITION_34)), h2);
    let pools = admin.pools().unwrap();
    let worker = pools.pools.iter().find(|p| p.name == "worker").unwrap();
    let error = worker.error.as_deref().unwrap();
    assert!(
        error.contains("30-bad.ign") && error.contains("$.storage.files.0.path"),
        "{error}"
    );
    assert_eq!(worker.nodes.len(), 1);
    assert_eq!(worker.nodes[0].config_hash, h2);

    // Bad reports.
    let bad = report(&server, "c988d2509fdf4cdcbed39037c56406fb", &h2, "Sleeping");
    assert_eq!(
        (bad.status, bad.kind().as_str()),
        (400, "failed_decoding_request")
    );
}
