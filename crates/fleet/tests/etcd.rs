//! The etcd backend against real etcd (Debian's `etcd-server`), started by the tests
//! on loopback ports: FleetLock semantics on one member; 200 clients racing for 3
//! slots through three servers sharing a 3-member cluster, checked from the audit
//! records etcd holds, also with a member and a server killed mid-run; an unreachable
//! etcd answered with 503; an etcd that requires client certificates. Skipped (with a
//! message) where `etcd` is not installed.
//! See: issue 16.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use common::{ADMIN_TOKEN, TestServer, free_port, lock, node_id, unlock};
use ferro_fleet::api::{AuditAction, AuditRecord};
use ferro_fleet::client::AdminClient;
use ferro_sys::CommandRunExt;

fn have_etcd() -> bool {
    common::have("etcd", "etcd-server")
}

/// One etcd member; killed when dropped.
struct Member {
    child: Child,
    client_url: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a cluster of `n` members under `dir` and waits until every member logs
/// that it serves clients (which needs a quorum).
fn cluster(dir: &Path, n: usize) -> Vec<Member> {
    let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
    cluster_on(dir, &ports, None)
}

/// [`cluster`] with given (client, peer) ports; with `tls`, a directory holding
/// `ca.pem`, `server.pem` and `server.key`, the members serve clients over HTTPS and
/// require a client certificate from that CA.
fn cluster_on(dir: &Path, ports: &[(u16, u16)], tls: Option<&Path>) -> Vec<Member> {
    let n = ports.len();
    let initial: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
        .collect();
    let (ready_tx, ready) = mpsc::channel();
    let members: Vec<Member> = ports
        .iter()
        .enumerate()
        .map(|(i, (client, peer))| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let client_url = format!("{scheme}://127.0.0.1:{client}");
            let mut command = Command::new("etcd");
            if let Some(tls) = tls {
                command
                    .arg("--cert-file")
                    .arg(tls.join("server.pem"))
                    .arg("--key-file")
                    .arg(tls.join("server.key"))
                    .arg("--trusted-ca-file")
                    .arg(tls.join("ca.pem"))
                    .arg("--client-cert-auth");
            }
            let mut child = command
                .args(["--name", &format!("m{i}")])
                .arg("--data-dir")
                .arg(dir.join(format!("m{i}")))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args([
                    "--initial-advertise-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                ])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .start()
                .expect("start etcd");
            let stderr = child.stderr.take().unwrap();
            let ready_tx = ready_tx.clone();
            std::thread::spawn(move || {
                let mut told = false;
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if !told && line.contains("ready to serve client requests") {
                        let _ = ready_tx.send(i);
                        told = true;
                    }
                }
            });
            Member { child, client_url }
        })
        .collect();
    for _ in 0..n {
        ready
            .recv_timeout(Duration::from_secs(120))
            .expect("every etcd member becomes ready");
    }
    members
}

fn etcd_config(dir: &Path, endpoints: &[String], groups: &[(&str, u32)]) -> ferro_fleet::Config {
    etcd_config_with(dir, endpoints, groups, "")
}

/// [`etcd_config`] with `extra` top-level keys.
fn etcd_config_with(
    dir: &Path,
    endpoints: &[String],
    groups: &[(&str, u32)],
    extra: &str,
) -> ferro_fleet::Config {
    let quoted: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\netcd = [{}]\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n{extra}",
        dir.display(),
        quoted.join(", ")
    );
    for (name, slots) in groups {
        text.push_str(&format!(
            "[[lock.groups]]\nname = \"{name}\"\nslots = {slots}\n"
        ));
    }
    ferro_fleet::Config::parse(&text, "t.toml", Path::new("/")).unwrap()
}

fn all_audit(server: &TestServer) -> Vec<AuditRecord> {
    AdminClient::new(&server.url(), ADMIN_TOKEN)
        .unwrap()
        .audit(0)
        .unwrap()
        .records
}

#[test]
fn fleetlock_semantics_on_etcd() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let members = cluster(dir.path(), 1);
    let endpoints = vec![members[0].client_url.clone()];
    let server = TestServer::start(etcd_config(
        &dir.path().join("s1"),
        &endpoints,
        &[("workers", 2)],
    ));
    let (a, b, c) = (node_id(1), node_id(2), node_id(3));
    assert_eq!(lock(server.addr, &a, "workers").status, 200);
    assert_eq!(lock(server.addr, &a, "workers").status, 200, "recursive");
    assert_eq!(lock(server.addr, &b, "workers").status, 200);
    let full = lock(server.addr, &c, "workers");
    assert_eq!(
        (full.status, full.kind().as_str()),
        (423, "failed_lock_semaphore_full")
    );
    assert_eq!(unlock(server.addr, &c, "workers").status, 200, "idempotent");
    assert_eq!(unlock(server.addr, &a, "workers").status, 200);
    assert_eq!(lock(server.addr, &c, "workers").status, 200);
    let unknown = lock(server.addr, &c, "nope");
    assert_eq!(unknown.kind(), "unknown_group");
    server.stop();

    // A second server with another slot count: the last one started wins.
    let server = TestServer::start(etcd_config(
        &dir.path().join("s2"),
        &endpoints,
        &[("workers", 3)],
    ));
    let locks = AdminClient::new(&server.url(), ADMIN_TOKEN)
        .unwrap()
        .locks()
        .unwrap();
    let workers = locks.groups.iter().find(|g| g.name == "workers").unwrap();
    assert_eq!(workers.slots, 3);
    let mut holders: Vec<&str> = workers.holders.iter().map(|h| h.id.as_str()).collect();
    holders.sort();
    let mut expected = vec![b.as_str(), c.as_str()];
    expected.sort();
    assert_eq!(holders, expected, "the holders live in etcd");
    let actions: Vec<AuditAction> = all_audit(&server).iter().map(|r| r.action).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == AuditAction::Slots).count(),
        3,
        "default and workers at the first start, workers again at the second: {actions:?}"
    );
}

/// Replays the audit records of `group` in revision order: never more than `slots`
/// holders; returns the ids that locked and unlocked.
fn replay(
    records: &[AuditRecord],
    group: &str,
    slots: usize,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut holders = BTreeSet::new();
    let (mut locked, mut unlocked) = (BTreeSet::new(), BTreeSet::new());
    for window in records.windows(2) {
        assert!(window[0].seq < window[1].seq, "ordered by revision");
    }
    for record in records.iter().filter(|r| r.group == group) {
        match record.action {
            AuditAction::Lock => {
                assert!(holders.insert(record.id.clone()), "{record:?}");
                assert!(locked.insert(record.id.clone()), "locked twice: {record:?}");
            }
            AuditAction::Unlock => {
                assert!(holders.remove(&record.id), "{record:?}");
                assert!(unlocked.insert(record.id.clone()));
            }
            AuditAction::Slots => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(record.holders as usize, holders.len(), "{record:?}");
        assert!(
            holders.len() <= slots,
            "more than {slots} holders at {record:?}"
        );
    }
    assert!(holders.is_empty());
    (locked, unlocked)
}

const CLIENTS: u64 = 200;

/// 200 clients race for 3 slots through three servers sharing a 3-member cluster.
/// With `kill`, one etcd member is killed after 100 acknowledged locks and one server
/// after 150; its clients move to the next server.
fn race(kill: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut members = cluster(dir.path(), 3);
    let urls: Vec<String> = members.iter().map(|m| m.client_url.clone()).collect();
    let mut servers: Vec<Option<TestServer>> = (0..3)
        .map(|i| {
            let mut endpoints = urls.clone();
            endpoints.rotate_left(i);
            Some(TestServer::start(etcd_config(
                &dir.path().join(format!("s{i}")),
                &endpoints,
                &[("workers", 3)],
            )))
        })
        .collect();
    let addrs: Vec<_> = servers.iter().map(|s| s.as_ref().unwrap().addr).collect();
    let dead_server = Arc::new(AtomicUsize::new(usize::MAX));
    let acked = Arc::new(AtomicUsize::new(0));
    let (milestones, reached) = mpsc::channel();
    let start = Arc::new(Barrier::new(CLIENTS as usize));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (start, addrs) = (Arc::clone(&start), addrs.clone());
            let (dead_server, acked) = (Arc::clone(&dead_server), Arc::clone(&acked));
            let milestones = milestones.clone();
            std::thread::spawn(move || {
                let id = node_id(n);
                let mut server = n as usize % 3;
                let mut send = |op: fn(std::net::SocketAddr, &str, &str) -> common::Answer| loop {
                    if dead_server.load(Ordering::SeqCst) == server {
                        server = (server + 1) % 3;
                    }
                    match std::panic::catch_unwind(|| op(addrs[server], &id, "workers")) {
                        Ok(answer) => return answer,
                        // The server was killed under this request: as Zincati would
                        // on its next tick, ask another.
                        Err(_) => server = (server + 1) % 3,
                    }
                };
                start.wait();
                let mut pace = 1;
                loop {
                    let answer = send(lock);
                    match answer.status {
                        200 => break,
                        423 => {
                            std::thread::sleep(Duration::from_millis(pace));
                            pace = (pace * 2).min(50);
                        }
                        other => panic!("{id}: {other} {answer:?}"),
                    }
                }
                let count = acked.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = milestones.send(count);
                assert_eq!(send(lock).status, 200, "recursive");
                let answer = send(unlock);
                assert_eq!(answer.status, 200, "{answer:?}");
            })
        })
        .collect();
    drop(milestones);
    if kill {
        let mut killed_member = false;
        for count in reached.iter() {
            if count >= 100 && !killed_member {
                members.remove(2); // dropped: killed
                killed_member = true;
            }
            if count >= 150 {
                dead_server.store(0, Ordering::SeqCst);
                servers[0].take().unwrap().stop();
                break;
            }
        }
    }
    for client in clients {
        client.join().expect("every client got and released a slot");
    }
    let survivor = servers[1].as_ref().unwrap();
    let records = all_audit(survivor);
    let (locked, unlocked) = replay(&records, "workers", 3);
    assert_eq!(locked.len() as u64, CLIENTS);
    assert_eq!(unlocked, locked);
}

#[test]
fn two_hundred_clients_three_servers_three_members() {
    if have_etcd() {
        race(false);
    }
}

#[test]
fn a_member_and_a_server_killed_mid_run() {
    if have_etcd() {
        race(true);
    }
}

/// An etcd that cannot be reached: 503 with a JSON error, the server keeps running,
/// and recovers when etcd is back.
#[test]
fn unreachable_etcd_is_503() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = TestServer::start(etcd_config(
        &dir.path().join("s"),
        &[format!("http://127.0.0.1:{port}")],
        &[("workers", 1)],
    ));
    let answer = lock(server.addr, &node_id(1), "workers");
    assert_eq!(
        (answer.status, answer.kind().as_str()),
        (503, "store_unavailable"),
        "{answer:?}"
    );
    assert_eq!(
        common::send(server.addr, "GET /healthz HTTP/1.1\r\n", b"").status,
        200
    );
    let _etcd = cluster_on(dir.path(), &[(port, free_port())], None);
    let answer = lock(server.addr, &node_id(1), "workers");
    assert_eq!(answer.status, 200, "recovered: {answer:?}");
    let locks = AdminClient::new(&server.url(), ADMIN_TOKEN)
        .unwrap()
        .locks()
        .unwrap();
    assert_eq!(
        locks
            .groups
            .iter()
            .find(|g| g.name == "workers")
            .unwrap()
            .holders
            .len(),
        1
    );
}

/// Writes a private CA, a certificate for etcd on 127.0.0.1 (for serving, and as a
/// client for etcd's own gateway) and a client certificate for the fleet server,
/// into `dir`.
fn write_certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    write("ca.pem", ca_params.self_signed(&ca_key).unwrap().pem());
    let ca = Issuer::new(ca_params, ca_key);
    for (name, purposes) in [
        (
            "server",
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        ),
        ("client", vec![ExtendedKeyUsagePurpose::ClientAuth]),
    ] {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.extended_key_usages = purposes;
        let key = KeyPair::generate().unwrap();
        write(
            &format!("{name}.pem"),
            params.signed_by(&key, &ca).unwrap().pem(),
        );
        write(&format!("{name}.key"), key.serialize_pem());
    }
}

/// An etcd that requires client certificates (Airlock's `client_cert_pub_path`):
/// the server presents the one its config names; without it etcd refuses the
/// handshake and lock requests answer 503.
#[test]
fn etcd_with_client_certificates() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    write_certificates(&certs);
    let members = cluster_on(dir.path(), &[(free_port(), free_port())], Some(&certs));
    let endpoints = vec![members[0].client_url.clone()];
    assert!(endpoints[0].starts_with("https://"));
    let keys = format!(
        "etcd_ca = \"{0}/ca.pem\"\netcd_cert = \"{0}/client.pem\"\netcd_key = \"{0}/client.key\"\n",
        certs.display()
    );
    let server = TestServer::start(etcd_config_with(
        &dir.path().join("s1"),
        &endpoints,
        &[("workers", 1)],
        &keys,
    ));
    assert_eq!(lock(server.addr, &node_id(1), "workers").status, 200);
    let locks = AdminClient::new(&server.url(), ADMIN_TOKEN)
        .unwrap()
        .locks()
        .unwrap();
    let workers = locks.groups.iter().find(|g| g.name == "workers").unwrap();
    assert_eq!(workers.holders.len(), 1, "the slot is held in etcd");
    server.stop();

    // The CA only, no client certificate: etcd refuses the connection.
    let server = TestServer::start(etcd_config_with(
        &dir.path().join("s2"),
        &endpoints,
        &[("workers", 1)],
        &format!("etcd_ca = \"{}/ca.pem\"\n", certs.display()),
    ));
    let refused = lock(server.addr, &node_id(2), "workers");
    assert_eq!(
        (refused.status, refused.kind().as_str()),
        (503, "store_unavailable"),
        "{refused:?}"
    );
}
