//! The update graph of a real OSTree archive repository: five commits on a stream, a
//! barrier, a dead-end and two rollouts; the expected graph is stated by hand from the
//! rules of Fedora CoreOS's graph builder and policy engine. See: issue 16.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{REF, TestServer, UPDATES, VERSIONS, make_repo, send};
use ferro_fleet::graph::{self, Graph, keys};

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn graph_of_five_commits_with_barrier_deadend_and_rollouts() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, checksums) = make_repo(dir.path());
    let releases = graph::releases(&repo, REF).unwrap();
    let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(
        versions, VERSIONS,
        "oldest first, the unversioned commit skipped"
    );
    let payloads: Vec<&str> = releases.iter().map(|r| r.checksum.as_str()).collect();
    assert_eq!(payloads, checksums);

    let updates: graph::Updates = serde_json::from_str(UPDATES).unwrap();
    let built = graph::build(&releases, &updates);
    let base = |i: usize| {
        vec![
            (keys::AGE_INDEX, ["0", "1", "2", "3", "4"][i]),
            (keys::SCHEME, "checksum"),
        ]
    };
    let with = |i: usize, extra: &[(&'static str, &'static str)]| {
        let mut pairs = base(i);
        pairs.extend_from_slice(extra);
        meta(&pairs)
    };
    let expected_metadata = [
        with(0, &[]),
        with(
            1,
            &[
                (keys::DEADEND, "true"),
                (keys::DEADEND_REASON, "https://tracker.example/215"),
            ],
        ),
        with(
            2,
            &[(keys::BARRIER, "true"), (keys::BARRIER_REASON, "generic")],
        ),
        with(
            3,
            &[
                (keys::ROLLOUT, "true"),
                (keys::START_EPOCH, "1000"),
                (keys::DURATION, "60"),
            ],
        ),
        with(
            4,
            &[
                (keys::ROLLOUT, "true"),
                (keys::START_EPOCH, "4102444800"),
                (keys::START_VALUE, "0.25"),
                (keys::DURATION, "1440"),
            ],
        ),
    ];
    for (node, expected) in built.nodes.iter().zip(&expected_metadata) {
        assert_eq!(&node.metadata, expected, "{}", node.version);
    }
    // By hand: rollouts 3 and 4 get edges from the last barrier before them (2) on;
    // barrier 2 gets edges from 0 and 1; dead-end 1 loses its edge (1,2).
    assert_eq!(built.edges, [(0, 2), (2, 3), (2, 4), (3, 4)]);

    // Per client, in 2026: 41.4 is fully rolled out, 41.5 has not started.
    let now = 1_796_601_600; // 2026-12-07
    let eager = graph::throttle(built.clone(), 0.0, now);
    assert_eq!(
        eager.edges,
        [(0, 2), (2, 3), (2, 4), (3, 4)],
        "wariness 0 sees all"
    );
    let wary = graph::throttle(built.clone(), 0.5, now);
    assert_eq!(wary.edges, [(0, 2), (2, 3)]);
    // In 2100, twelve hours in: 25 % + 75 % · 0.5 = 62.5 %.
    let later = 4_102_444_800 + 12 * 3600;
    assert_eq!(graph::throttle(built.clone(), 0.6, later).edges.len(), 4);
    assert_eq!(graph::throttle(built, 0.7, later).edges, [(0, 2), (2, 3)]);
}

#[test]
fn missing_ref_and_bad_release_metadata_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, _) = make_repo(dir.path());
    assert!(matches!(
        graph::releases(&repo, "ferrocore/aarch64/stable"),
        Err(graph::GraphError::MissingRef { .. })
    ));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"releases":[{"version":1}]}"#).unwrap();
    assert!(matches!(
        graph::read_updates(&bad),
        Err(graph::GraphError::Updates { .. })
    ));
}

/// `GET /v1/graph` as Zincati sends it: the booted node is in the graph with its
/// payload, and the edges are the client's (wariness from the request).
#[test]
fn graph_endpoint_as_zincati_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, checksums) = make_repo(dir.path());
    let updates = dir.path().join("stable.json");
    std::fs::write(&updates, UPDATES).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\nadmin_tokens = [\"{}\"]\n[graph]\nrepo = \"{}\"\n[[graph.streams]]\nname = \"stable\"\nref = \"ferrocore/${{basearch}}/stable\"\nupdates = \"{}\"\n",
        dir.path().join("data").display(),
        common::ADMIN_TOKEN,
        repo.display(),
        updates.display()
    );
    let config = ferro_fleet::Config::parse(&text, "t.toml", Path::new("/")).unwrap();
    let server = TestServer::start(config);
    let get = |query: &str| {
        send(
            server.addr,
            &format!("GET /v1/graph?{query} HTTP/1.1\r\naccept: application/json\r\n"),
            b"",
        )
    };
    let answer = get(&format!(
        "basearch=x86_64&stream=stable&os_version=41.1&os_checksum={}&group=default&node_uuid=c988d2509fdf4cdcbed39037c56406fb&platform=metal&rollout_wariness=0.500000",
        checksums[0]
    ));
    assert_eq!(answer.status, 200, "{answer:?}");
    let served: Graph = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(served.nodes.len(), 5);
    assert_eq!(
        served.nodes[0].payload, checksums[0],
        "the booted node is there"
    );
    assert_eq!(
        served.edges,
        [(0, 2), (2, 3)],
        "41.5 is not rolled out to 0.5 yet"
    );
    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert!(value["edges"][0].is_array(), "edges are [from, to] pairs");
    assert!(
        value["nodes"][0]["metadata"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v.is_string()),
        "string-only metadata"
    );

    let missing = get("stream=stable");
    assert_eq!(
        (missing.status, missing.kind().as_str()),
        (400, "invalid_graph_request")
    );
    let unknown = get("basearch=x86_64&stream=next");
    assert_eq!(
        (unknown.status, unknown.kind().as_str()),
        (400, "unknown_stream")
    );
    let no_ref = get("basearch=aarch64&stream=stable");
    assert_eq!(
        (no_ref.status, no_ref.kind().as_str()),
        (503, "graph_unavailable")
    );
    let post = send(server.addr, "POST /v1/graph HTTP/1.1\r\n", b"");
    assert_eq!(post.status, 405);
    let metrics = send(server.addr, "GET /metrics HTTP/1.1\r\n", b"");
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l == r#"ferro_fleet_graph_nodes{stream="stable"} 5"#),
        "graph nodes per stream in\n{}",
        metrics.body
    );

    // The inventory recorded the node; the admin API shows what each stream serves.
    let admin = ferro_fleet::client::AdminClient::new(&server.url(), common::ADMIN_TOKEN).unwrap();
    let nodes = admin.nodes().unwrap().nodes;
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].node_uuid, "c988d2509fdf4cdcbed39037c56406fb");
    assert_eq!(
        (
            nodes[0].os_version.as_str(),
            nodes[0].platform.as_str(),
            nodes[0].os_checksum.as_str()
        ),
        ("41.1", "metal", checksums[0].as_str())
    );
    let releases = admin.releases("x86_64").unwrap();
    let stable = &releases.streams[0];
    assert_eq!(
        (stable.name.as_str(), stable.ref_name.as_str()),
        ("stable", REF)
    );
    assert_eq!(stable.error, None);
    let summary: Vec<String> = stable
        .releases
        .iter()
        .map(|r| {
            format!(
                "{} b={:?} d={:?} r={:?} in={}",
                r.version, r.barrier, r.deadend, r.rollout, r.incoming
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "41.1 b=None d=None r=None in=0",
            "41.2 b=None d=Some(\"https://tracker.example/215\") r=None in=0",
            "41.3 b=Some(\"generic\") d=None r=None in=1",
            "41.4 b=None d=None r=Some(1.0) in=1",
            "41.5 b=None d=None r=Some(0.0) in=2",
        ]
    );
    let arm = admin.releases("aarch64").unwrap();
    assert!(
        arm.streams[0]
            .error
            .as_deref()
            .unwrap()
            .contains("has no ref 'ferrocore/aarch64/stable'")
    );
}
