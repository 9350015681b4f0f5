//! FleetLock over real HTTP on loopback: requests shaped as Zincati and curl send them,
//! and one test per point of the compatibility checklist (updates.md §8, FleetLock
//! server). See: issue 16.

mod common;

use common::{ADMIN_TOKEN, TestServer, config, lock, node_id, send, unlock};
use ferro_fleet::api::AuditAction;
use ferro_fleet::client::{AdminClient, ClientError};

fn server(default_slots: u32, groups: &[(&str, u32)]) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(&dir.path().join("data"), default_slots, groups));
    (dir, server)
}

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.url(), ADMIN_TOKEN).unwrap()
}

fn holders(server: &TestServer, group: &str) -> Vec<String> {
    let locks = admin(server).locks().unwrap();
    let group = locks.groups.iter().find(|g| g.name == group).unwrap();
    group.holders.iter().map(|h| h.id.clone()).collect()
}

/// Appendix A: no Content-Type, the header, 32-hex ids, pretty-printed JSON; 200 with
/// an empty body; unlock the same way.
#[test]
fn zincati_requests_lock_and_unlock() {
    let (_dir, server) = server(1, &[("workers", 2)]);
    let id = "c988d2509fdf4cdcbed39037c56406fb";
    let answer = lock(server.addr, id, "workers");
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, ""),
        "{answer:?}"
    );
    assert_eq!(holders(&server, "workers"), [id]);
    let answer = unlock(server.addr, id, "workers");
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, ""),
        "{answer:?}"
    );
    assert!(holders(&server, "workers").is_empty());
}

/// The spec's curl example: `curl -H 'fleet-lock-protocol: true' -d '{…}' URL` sends a
/// form Content-Type with a one-line JSON body.
#[test]
fn curl_requests_lock_and_unlock() {
    let (_dir, server) = server(1, &[]);
    let body = br#"{"client_params":{"id":"node-1","group":"default"}}"#;
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nuser-agent: curl/7.88.1\r\naccept: */*\r\nfleet-lock-protocol: true\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        )
    };
    let answer = send(server.addr, &head("/v1/pre-reboot"), body);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(holders(&server, "default"), ["node-1"]);
    let answer = send(server.addr, &head("/v1/steady-state"), body);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(holders(&server, "default").is_empty());
}

/// §8: a JSON Content-Type, a trailing newline and unknown fields are all fine.
#[test]
fn json_content_type_trailing_newline_and_unknown_fields() {
    let (_dir, server) = server(1, &[]);
    let body = b"{\"client_params\":{\"id\":\"a\",\"group\":\"default\",\"x\":[1]},\"y\":null}\n";
    let answer = send(
        server.addr,
        "POST /v1/pre-reboot HTTP/1.1\r\nfleet-lock-protocol: true\r\ncontent-type: application/json\r\n",
        body,
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// §8: the lock is recursive and owned; a full group answers 423 with its own kind.
#[test]
fn recursive_owned_counting_semaphore() {
    let (_dir, server) = server(1, &[("workers", 2)]);
    let (a, b, c) = (node_id(1), node_id(2), node_id(3));
    assert_eq!(lock(server.addr, &a, "workers").status, 200);
    assert_eq!(
        lock(server.addr, &a, "workers").status,
        200,
        "re-lock by a holder"
    );
    assert_eq!(lock(server.addr, &b, "workers").status, 200);
    assert_eq!(
        lock(server.addr, &a, "workers").status,
        200,
        "still a holder when full"
    );
    let full = lock(server.addr, &c, "workers");
    assert_eq!(full.status, 423, "{full:?}");
    assert_eq!(full.kind(), "failed_lock_semaphore_full");
    assert!(full.body.contains("all 2 semaphore slots"), "{}", full.body);
    // Groups are independent.
    assert_eq!(lock(server.addr, &c, "default").status, 200);
    // Only the owner's unlock frees its slot.
    assert_eq!(unlock(server.addr, &c, "workers").status, 200);
    assert_eq!(lock(server.addr, &c, "workers").status, 423);
    assert_eq!(unlock(server.addr, &a, "workers").status, 200);
    assert_eq!(lock(server.addr, &c, "workers").status, 200);
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(holders(&server, "workers"), expected);
}

/// §8: unlock is idempotent: 200 when not held, and twice in a row.
#[test]
fn unlock_is_idempotent() {
    let (_dir, server) = server(1, &[]);
    let id = node_id(7);
    assert_eq!(
        unlock(server.addr, &id, "default").status,
        200,
        "never held"
    );
    assert_eq!(lock(server.addr, &id, "default").status, 200);
    assert_eq!(unlock(server.addr, &id, "default").status, 200);
    assert_eq!(unlock(server.addr, &id, "default").status, 200, "again");
    let audit = admin(&server).audit(0).unwrap();
    let unlocks = audit
        .records
        .iter()
        .filter(|r| r.action == AuditAction::Unlock)
        .count();
    assert_eq!(unlocks, 1, "only the real change is audited");
}

/// §8: the header must be present and equal `true`, else 400 + JSON.
#[test]
fn protocol_header_is_required() {
    let (_dir, server) = server(1, &[]);
    let body = br#"{"client_params":{"id":"a","group":"default"}}"#;
    let missing = send(server.addr, "POST /v1/pre-reboot HTTP/1.1\r\n", body);
    assert_eq!(
        (missing.status, missing.kind().as_str()),
        (400, "missing_header")
    );
    let wrong = send(
        server.addr,
        "POST /v1/pre-reboot HTTP/1.1\r\nfleet-lock-protocol: false\r\n",
        body,
    );
    assert_eq!(
        (wrong.status, wrong.kind().as_str()),
        (400, "missing_header")
    );
    let unlock = send(server.addr, "POST /v1/steady-state HTTP/1.1\r\n", body);
    assert_eq!(unlock.status, 400);
    assert!(holders(&server, "default").is_empty(), "nothing was locked");
}

/// §8: bad bodies and identities are 400 with bounded kinds; unknown groups too.
#[test]
fn bad_bodies_ids_and_groups() {
    let (_dir, server) = server(1, &[]);
    let post = |body: &str| {
        send(
            server.addr,
            "POST /v1/pre-reboot HTTP/1.1\r\nfleet-lock-protocol: true\r\n",
            body.as_bytes(),
        )
    };
    let cases = [
        ("", "failed_decoding_request"),
        ("{", "failed_decoding_request"),
        ("[]", "failed_decoding_request"),
        (r#"{"client_params":{"id":"a"}}"#, "failed_decoding_request"),
        (
            r#"{"client_params":{"id":"","group":"default"}}"#,
            "invalid_client_identity",
        ),
        (
            r#"{"client_params":{"id":"a","group":""}}"#,
            "invalid_client_identity",
        ),
        (
            r#"{"client_params":{"id":"a","group":"de fault"}}"#,
            "invalid_client_identity",
        ),
        (
            r#"{"client_params":{"id":"a\u0000b","group":"default"}}"#,
            "invalid_client_identity",
        ),
        (
            r#"{"client_params":{"id":"a","group":"workers"}}"#,
            "unknown_group",
        ),
    ];
    for (body, kind) in cases {
        let answer = post(body);
        assert_eq!(
            (answer.status, answer.kind().as_str()),
            (400, kind),
            "{body}"
        );
    }
    let huge = format!(
        r#"{{"client_params":{{"id":"{}","group":"default"}}}}"#,
        "f".repeat(10_000)
    );
    let answer = post(&huge);
    assert_eq!(
        (answer.status, answer.kind().as_str()),
        (400, "invalid_client_identity")
    );
    assert!(holders(&server, "default").is_empty());
}

/// Bodies over the cap are refused with 413 before they are read, whether their size
/// is declared or they come chunked.
#[test]
fn oversized_bodies_are_refused() {
    let (_dir, server) = server(1, &[]);
    let big = vec![b' '; 64 * 1024];
    let declared = send(
        server.addr,
        "POST /v1/pre-reboot HTTP/1.1\r\nfleet-lock-protocol: true\r\n",
        &big,
    );
    assert_eq!(
        (declared.status, declared.kind().as_str()),
        (413, "request_too_large")
    );
    let mut chunked = format!(
        "POST /v1/pre-reboot HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nfleet-lock-protocol: true\r\ntransfer-encoding: chunked\r\n\r\n",
        server.addr
    )
    .into_bytes();
    for _ in 0..64 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024).as_bytes());
        chunked.extend_from_slice(&[b' '; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = common::send_raw(server.addr, &chunked);
    assert_eq!(
        (answer.status, answer.kind().as_str()),
        (413, "request_too_large")
    );
}

/// §8: other methods get 405 with a JSON error and `Allow: POST`.
#[test]
fn other_methods_are_405() {
    let (_dir, server) = server(1, &[]);
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        for path in ["/v1/pre-reboot", "/v1/steady-state"] {
            let answer = send(
                server.addr,
                &format!("{method} {path} HTTP/1.1\r\nfleet-lock-protocol: true\r\n"),
                b"",
            );
            assert_eq!(answer.status, 405, "{method} {path}");
            assert_eq!(answer.kind(), "method_not_allowed");
            assert_eq!(answer.headers["allow"], "POST");
        }
    }
    let unknown = send(server.addr, "GET /v2/nothing HTTP/1.1\r\n", b"");
    assert_eq!(
        (unknown.status, unknown.kind().as_str()),
        (404, "not_found")
    );
}

/// §8: the base URL may carry a path prefix (Zincati joins `v1/…` onto it).
#[test]
fn base_url_with_a_path_prefix() {
    let (_dir, server) = server(1, &[]);
    let answer = common::zincati(server.addr, "/fleet/lock/v1/pre-reboot", "a", "default");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(holders(&server, "default"), ["a"]);
}

/// The admin API wants an admin token; release frees a dead node's slot and is
/// audit-logged as an admin action.
#[test]
fn admin_listing_release_and_audit() {
    let (_dir, server) = server(1, &[("workers", 1)]);
    let dead = node_id(42);
    assert_eq!(lock(server.addr, &dead, "workers").status, 200);
    let no_token = send(server.addr, "GET /v1/locks HTTP/1.1\r\n", b"");
    assert_eq!(
        (no_token.status, no_token.kind().as_str()),
        (401, "unauthorized")
    );
    let wrong = send(
        server.addr,
        "GET /v1/locks HTTP/1.1\r\nauthorization: Bearer test-admin-token-0123456780\r\n",
        b"",
    );
    assert_eq!(wrong.status, 401);
    match AdminClient::new(&server.url(), "nope-nope-nope-nope")
        .unwrap()
        .locks()
    {
        Err(ClientError::Refused {
            status: 401, kind, ..
        }) => assert_eq!(kind, "unauthorized"),
        other => panic!("{other:?}"),
    }
    let locks = admin(&server).locks().unwrap();
    assert_eq!(locks.api_version, "fleet.ferrocore/v1");
    let workers = locks.groups.iter().find(|g| g.name == "workers").unwrap();
    assert_eq!(workers.slots, 1);
    assert_eq!(workers.holders[0].id, dead);
    assert!(workers.holders[0].acquired_at > 0);
    assert_eq!(workers.holders[0].acquired_at, workers.holders[0].last_seen);

    let other = node_id(43);
    assert_eq!(lock(server.addr, &other, "workers").status, 423);
    let released = admin(&server).release("workers", &dead).unwrap();
    assert!(released.released);
    assert_eq!(released.holders, 0);
    assert_eq!(lock(server.addr, &other, "workers").status, 200);
    match admin(&server).release("workers", &dead) {
        Err(ClientError::Refused {
            status: 404, kind, ..
        }) => assert_eq!(kind, "not_found"),
        other => panic!("{other:?}"),
    }
    match admin(&server).release("nope", &dead) {
        Err(ClientError::Refused {
            status: 400, kind, ..
        }) => assert_eq!(kind, "unknown_group"),
        other => panic!("{other:?}"),
    }
    let audit = admin(&server).audit(0).unwrap();
    let release = audit
        .records
        .iter()
        .find(|r| r.action == AuditAction::Release)
        .expect("the release is audited");
    assert_eq!(
        (release.id.as_str(), release.actor.as_str()),
        (dead.as_str(), "admin")
    );
}

/// Without admin tokens in the config the admin API is off (403), FleetLock is not.
#[test]
fn admin_api_is_off_without_admin_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\n",
        dir.path().join("data").display()
    );
    let config = ferro_fleet::Config::parse(&text, "t.toml", std::path::Path::new("/")).unwrap();
    let server = TestServer::start(config);
    let answer = send(
        server.addr,
        &format!("GET /v1/locks HTTP/1.1\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n"),
        b"",
    );
    assert_eq!(
        (answer.status, answer.kind().as_str()),
        (403, "admin_disabled")
    );
    assert_eq!(lock(server.addr, "a", "default").status, 200);
}

/// Tokens are refused over plain HTTP except from loopback: the same valid admin
/// token is accepted from 127.0.0.1 and refused (403 `insecure_transport`) from the
/// machine's own non-loopback address; FleetLock, which carries no token, works from
/// both.
#[test]
fn tokens_are_refused_in_clear_except_on_loopback() {
    let Some(lan) = common::non_loopback_address() else {
        eprintln!("this machine has no non-loopback address: skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listen = \"0.0.0.0:0\"\ndata = \"{}\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n",
        dir.path().join("data").display()
    );
    let config = ferro_fleet::Config::parse(&text, "t.toml", std::path::Path::new("/")).unwrap();
    let server = TestServer::start(config);
    let at = |ip: std::net::IpAddr| std::net::SocketAddr::new(ip, server.addr.port());
    let locks = |ip| {
        send(
            at(ip),
            &format!("GET /v1/locks HTTP/1.1\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n"),
            b"",
        )
    };
    assert_eq!(locks(std::net::Ipv4Addr::LOCALHOST.into()).status, 200);
    let remote = locks(lan);
    assert_eq!(
        (remote.status, remote.kind().as_str()),
        (403, "insecure_transport"),
        "{remote:?}"
    );
    assert_eq!(lock(at(lan), &node_id(1), "default").status, 200);
}

/// Slot counts follow the config on every start (airlock#81); holders survive a
/// restart and a shrink.
#[test]
fn slot_counts_follow_the_config_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::start(config(&data, 1, &[]));
    assert_eq!(lock(server.addr, "a", "default").status, 200);
    assert_eq!(lock(server.addr, "b", "default").status, 423);
    server.stop();

    let server = TestServer::start(config(&data, 3, &[]));
    assert_eq!(holders(&server, "default"), ["a"], "the holder survived");
    assert_eq!(lock(server.addr, "b", "default").status, 200);
    assert_eq!(lock(server.addr, "c", "default").status, 200);
    assert_eq!(lock(server.addr, "d", "default").status, 423);
    let locks = admin(&server).locks().unwrap();
    assert_eq!(locks.groups[0].slots, 3);
    server.stop();

    let server = TestServer::start(config(&data, 1, &[]));
    assert_eq!(
        holders(&server, "default"),
        ["a", "b", "c"],
        "nobody is evicted"
    );
    assert_eq!(lock(server.addr, "d", "default").status, 423);
    for id in ["a", "b"] {
        assert_eq!(unlock(server.addr, id, "default").status, 200);
    }
    assert_eq!(
        lock(server.addr, "d", "default").status,
        423,
        "c holds the one slot"
    );
    let slots: Vec<u32> = admin(&server)
        .audit(0)
        .unwrap()
        .records
        .iter()
        .filter(|r| r.action == AuditAction::Slots)
        .map(|r| r.slots)
        .collect();
    assert_eq!(slots, [1, 3, 1]);
}

/// `/metrics` counts requests and errors per endpoint and shows holders and slots per
/// group; `/healthz` answers.
#[test]
fn metrics_and_health() {
    let (_dir, server) = server(2, &[]);
    assert_eq!(lock(server.addr, "a", "default").status, 200);
    assert_eq!(
        send(server.addr, "POST /v1/pre-reboot HTTP/1.1\r\n", b"").status,
        400
    );
    let health = send(server.addr, "GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let metrics = send(server.addr, "GET /metrics HTTP/1.1\r\n", b"");
    assert_eq!(metrics.status, 200);
    for line in [
        r#"ferro_fleet_lock_holders{group="default"} 1"#,
        r#"ferro_fleet_lock_slots{group="default"} 2"#,
        r#"ferro_fleet_requests_total{endpoint="pre-reboot",code="200"} 1"#,
        r#"ferro_fleet_errors_total{endpoint="pre-reboot",kind="missing_header"} 1"#,
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "{line} in\n{}",
            metrics.body
        );
    }
}
