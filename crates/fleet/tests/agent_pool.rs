//! The agent's pool path against a real `ferro fleet serve`: the report answers the
//! desired hash, the config is fetched by hash, an added SSH key is planned as an
//! in-place change and written under a scratch root, and the report of the applied
//! hash makes the server serve it.

mod common;

use ferro_fleet::agent::machine::Remote;
use ferro_fleet::agent::pool::{Plan, apply_in_place, plan};
use ferro_fleet::agent::remote::HttpRemote;
use ferro_fleet::api::{NodeReport, NodeState};

const BU: &str = "variant: fcos\nversion: 1.3.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n        - ssh-ed25519 AAAA one\n";

fn report(hash: &str, state: NodeState) -> NodeReport {
    NodeReport {
        node_uuid: "0123456789abcdef0123456789abcdef".into(),
        pool: "worker".into(),
        config_hash: hash.into(),
        booted_version: "1".into(),
        state,
        reason: String::new(),
        at: 0,
    }
}

#[test]
fn an_added_ssh_key_is_written_in_place_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let frag = dir.path().join("worker.d");
    std::fs::create_dir_all(&frag).unwrap();
    std::fs::write(frag.join("10-keys.bu"), BU).unwrap();
    let text = "listen = \"127.0.0.1:0\"\ndata = \"data\"\n[[pools]]\nname = \"worker\"\nfragments = [\"worker.d\"]\n";
    let server =
        common::TestServer::start(ferro_fleet::Config::parse(text, "t.toml", dir.path()).unwrap());

    let config = common::pool_agent_config("worker", &server.url());
    let identity = common::test_identity("1");
    let remote = HttpRemote::new(&config, &identity);
    let h1 = remote
        .report(&report("", NodeState::Done))
        .unwrap()
        .unwrap();
    let old = remote.pool_config(&h1).unwrap();
    assert_eq!(old["passwd"]["users"][0]["name"], "core");

    std::fs::write(
        frag.join("10-keys.bu"),
        format!("{BU}        - ssh-ed25519 BBBB two\n"),
    )
    .unwrap();
    let h2 = remote
        .report(&report(&h1, NodeState::Done))
        .unwrap()
        .unwrap();
    assert_ne!(h1, h2);
    let new = remote.pool_config(&h2).unwrap();
    let p = plan(&old, &new, &[], &|_| None);
    assert_eq!(
        p,
        Plan::InPlace {
            ssh_keys: vec![(
                "core".into(),
                vec!["ssh-ed25519 AAAA one".into(), "ssh-ed25519 BBBB two".into()]
            )],
            files: vec![],
        }
    );
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "core:x:1000:1000::/var/home/core:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "core:x:1000:\n").unwrap();
    apply_in_place(&root, &p).unwrap();
    let keys = std::fs::read_to_string(root.join("var/home/core/.ssh/authorized_keys.d/ignition"))
        .unwrap();
    assert_eq!(keys, "ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n");
    // Reporting the applied hash makes it the pool's current config.
    assert_eq!(
        remote
            .report(&report(&h2, NodeState::Done))
            .unwrap()
            .unwrap(),
        h2
    );
    // An unknown hash is an error, not a config.
    assert!(remote.pool_config("0000").is_err());
}
