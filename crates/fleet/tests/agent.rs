//! The node agent's state machine: a table of states × events (what the host and the
//! servers answer), each row checking the next state, the slot, and what was done.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use ferro_fleet::agent::config::{Strategy, Weekday, Window};
use ferro_fleet::agent::identity::{Identity, ZINCATI_APP_ID, app_specific_id};
use ferro_fleet::agent::machine::{MAX_DEPLOY_ATTEMPTS, MAX_POSTPONEMENTS, pick_target};
use ferro_fleet::agent::pool::Plan;
use ferro_fleet::agent::{Agent, Booted, Config, Health, Host, Persisted, Release, Remote, State};
use ferro_fleet::api::{NodeReport, NodeState};
use ferro_fleet::graph::{Graph, Node, keys};
use ferro_fleet::protocol::Operation;
use ferro_sys::CommandRunExt;

fn csum(v: u64) -> String {
    format!("{v:064x}")
}

fn release(v: u64) -> Release {
    Release {
        version: format!("{v}.0"),
        checksum: csum(v),
        age_index: v,
    }
}

/// Versions 1..=n, every older one with an edge to every newer one.
fn graph(n: u64) -> Graph {
    let nodes = (1..=n)
        .map(|v| Node {
            version: format!("{v}.0"),
            payload: csum(v),
            metadata: BTreeMap::from([
                (keys::AGE_INDEX.to_owned(), v.to_string()),
                (keys::SCHEME.to_owned(), "checksum".to_owned()),
            ]),
        })
        .collect();
    let mut edges = vec![];
    for a in 0..n {
        for b in a + 1..n {
            edges.push((a, b));
        }
    }
    Graph { nodes, edges }
}

/// What the fake host and servers do, and what they saw.
#[derive(Default)]
struct World {
    booted: u64,
    staged: Option<u64>,
    deployed: Vec<u64>,
    stage_fails: bool,
    finalize_fails: bool,
    health: Option<String>,
    sessions: Vec<String>,
    inhibitors: Vec<String>,
    graph: Option<Graph>,
    lock_refuses: bool,
    persisted: Persisted,
    pool: Option<(String, serde_json::Value)>,
    log: Vec<String>,
    reports: Vec<NodeReport>,
}

#[derive(Clone, Default)]
struct Fake(Rc<RefCell<World>>);

impl Host for Fake {
    fn booted(&self) -> Result<Booted, String> {
        let w = self.0.borrow();
        Ok(Booted {
            checksum: csum(w.booted),
            version: format!("{}.0", w.booted),
            staged: w.staged.map(csum),
            deployed: w.deployed.iter().copied().map(csum).collect(),
        })
    }
    fn register_driver(&self) -> Result<(), String> {
        self.0.borrow_mut().log.push("register".into());
        Ok(())
    }
    fn stage(&self, r: &Release, _: bool) -> Result<(), String> {
        let mut w = self.0.borrow_mut();
        w.log.push(format!("stage {}", r.version));
        if w.stage_fails {
            return Err("no space left".into());
        }
        w.staged = Some(r.age_index);
        Ok(())
    }
    fn finalize_and_reboot(&self, c: &str) -> Result<(), String> {
        let mut w = self.0.borrow_mut();
        w.log.push("finalize".into());
        if w.finalize_fails {
            return Err("inhibited".into());
        }
        assert_eq!(w.staged.map(csum).as_deref(), Some(c));
        Ok(())
    }
    fn rollback_and_reboot(&self) -> Result<(), String> {
        self.0.borrow_mut().log.push("rollback".into());
        Ok(())
    }
    fn health(&self, _: Duration) -> Health {
        let mut w = self.0.borrow_mut();
        w.log.push("health".into());
        match &w.health {
            None => Health::Passed,
            Some(why) => Health::Failed(why.clone()),
        }
    }
    fn interactive_sessions(&self) -> Result<Vec<String>, String> {
        Ok(self.0.borrow().sessions.clone())
    }
    fn warn_sessions(&self, _: &str) {
        self.0.borrow_mut().log.push("warn".into());
    }
    fn block_inhibitors(&self) -> Result<Vec<String>, String> {
        Ok(self.0.borrow().inhibitors.clone())
    }
    fn apply_in_place(&self, plan: &Plan) -> Result<(), String> {
        self.0
            .borrow_mut()
            .log
            .push(format!("in place {}", matches!(plan, Plan::InPlace { .. })));
        Ok(())
    }
    fn stage_config(
        &self,
        append: &[String],
        _: &[String],
        _: &[ferro_sysroot::etc_edits::EtcEdit],
    ) -> Result<String, String> {
        let mut w = self.0.borrow_mut();
        w.log.push(format!("stage kargs {}", append.join(" ")));
        w.staged = Some(w.booted);
        Ok(csum(w.booted))
    }
    fn load_state(&self) -> Result<Persisted, String> {
        Ok(self.0.borrow().persisted.clone())
    }
    fn save_state(&self, s: &Persisted) -> Result<(), String> {
        self.0.borrow_mut().persisted = s.clone();
        Ok(())
    }
}

impl Remote for Fake {
    fn graph(&self, _: &Identity, _: Option<f64>) -> Result<Graph, String> {
        self.0
            .borrow()
            .graph
            .clone()
            .ok_or_else(|| "connection refused".into())
    }
    fn lock(&self, _: &Identity, op: Operation) -> Result<(), String> {
        let mut w = self.0.borrow_mut();
        w.log.push(op.path().into());
        if w.lock_refuses && op == Operation::PreReboot {
            return Err("failed_lock_semaphore_full: all slots taken".into());
        }
        Ok(())
    }
    fn report(&self, r: &NodeReport) -> Result<Option<String>, String> {
        let mut w = self.0.borrow_mut();
        w.reports.push(r.clone());
        Ok(w.pool.as_ref().map(|(hash, _)| hash.clone()))
    }
    fn pool_config(&self, hash: &str) -> Result<serde_json::Value, String> {
        let w = self.0.borrow();
        match &w.pool {
            Some((h, config)) if h == hash => Ok(config.clone()),
            _ => Err("no such config".into()),
        }
    }
}

fn config(strategy: Strategy) -> Config {
    let mut c = Config::from_fragments(&[], &mut vec![]).unwrap();
    c.strategy = strategy;
    c.pool = Some(ferro_fleet::agent::config::PoolSettings {
        name: "workers".into(),
        base_url: "http://fleet".into(),
        token: None,
        no_reboot: vec![],
    });
    c
}

fn identity() -> Identity {
    Identity {
        node_uuid: "0123456789abcdef0123456789abcdef".into(),
        group: "default".into(),
        basearch: "x86_64".into(),
        stream: "stable".into(),
        platform: "metal".into(),
        os_version: String::new(),
        os_checksum: String::new(),
    }
}

fn fleet_lock() -> Strategy {
    Strategy::FleetLock {
        base_url: "http://lock/".into(),
    }
}

fn staged(v: u64, postponements_left: u32) -> State {
    State::UpdateStaged {
        release: release(v),
        postponements_left,
    }
}

fn available(v: u64, failed_attempts: u32) -> State {
    State::UpdateAvailable {
        release: release(v),
        failed_attempts,
    }
}

struct Row {
    name: &'static str,
    strategy: Strategy,
    from: State,
    event: fn(&mut World),
    to: State,
    lock_held: bool,
    did: &'static [&'static str],
    error: Option<&'static str>,
}

fn nothing(_: &mut World) {}

/// The node applied config `h1`; the pool now wants `h2`, `h1` changed by `edit`.
fn pool_change(w: &mut World, edit: fn(&mut serde_json::Value)) {
    let h1 = serde_json::json!({"ignition": {"version": "3.4.0"},
        "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k1"]}]}});
    let mut h2 = h1.clone();
    edit(&mut h2);
    w.persisted.config = Some(("h1".into(), h1));
    w.pool = Some(("h2".into(), h2));
}

#[test]
fn states_by_events() {
    let saturday = 2 * 86400; // 1970-01-03, a Saturday
    let rows = vec![
        Row {
            name: "start: no pending update",
            strategy: fleet_lock(),
            from: State::Start,
            event: nothing,
            to: State::Initialized,
            lock_held: false,
            did: &["register"],
            error: None,
        },
        Row {
            name: "start: booted the finalized release, healthy",
            strategy: fleet_lock(),
            from: State::Start,
            event: |w| {
                w.booted = 2;
                w.persisted.expecting = Some(release(2));
            },
            to: State::Initialized,
            lock_held: false,
            did: &["register", "health"],
            error: None,
        },
        Row {
            name: "start: health fails → rollback, slot kept, halted",
            strategy: fleet_lock(),
            from: State::Start,
            event: |w| {
                w.booted = 2;
                w.persisted.expecting = Some(release(2));
                w.health = Some("sshd down".into());
            },
            to: State::Halted {
                reason: "release 2.0 failed its health checks: sshd down".into(),
            },
            lock_held: true,
            did: &["register", "health", "rollback"],
            error: Some("sshd down"),
        },
        Row {
            name: "start: booted something else than finalized",
            strategy: fleet_lock(),
            from: State::Start,
            event: |w| {
                w.booted = 1;
                w.persisted.expecting = Some(release(2));
            },
            to: State::Halted {
                reason: format!(
                    "release 2.0 failed its health checks: booted {} instead of the finalized {} (2.0)",
                    csum(1),
                    csum(2)
                ),
            },
            lock_held: true,
            did: &["register"],
            error: Some("instead of"),
        },
        Row {
            name: "start: halted earlier stays halted",
            strategy: fleet_lock(),
            from: State::Start,
            event: |w| w.persisted.halted = Some("bad".into()),
            to: State::Halted {
                reason: "bad".into(),
            },
            lock_held: true,
            did: &["register"],
            error: None,
        },
        Row {
            name: "initialized: steady-state given back",
            strategy: fleet_lock(),
            from: State::Initialized,
            event: nothing,
            to: State::ReportedSteady,
            lock_held: false,
            did: &["/v1/steady-state"],
            error: None,
        },
        Row {
            name: "initialized: immediate reports nothing",
            strategy: Strategy::Immediate,
            from: State::Initialized,
            event: nothing,
            to: State::ReportedSteady,
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "steady: update found",
            strategy: fleet_lock(),
            from: State::ReportedSteady,
            event: |w| w.graph = Some(graph(3)),
            to: available(3, 0),
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "steady: nothing newer",
            strategy: fleet_lock(),
            from: State::ReportedSteady,
            event: |w| {
                w.booted = 3;
                w.graph = Some(graph(3));
            },
            to: State::NoNewUpdate,
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "steady: server unreachable",
            strategy: fleet_lock(),
            from: State::ReportedSteady,
            event: nothing,
            to: State::NoNewUpdate,
            lock_held: false,
            did: &[],
            error: Some("connection refused"),
        },
        Row {
            name: "steady: booted release absent from the graph",
            strategy: fleet_lock(),
            from: State::NoNewUpdate,
            event: |w| {
                w.booted = 9;
                w.graph = Some(graph(3));
            },
            to: State::NoNewUpdate,
            lock_held: false,
            did: &[],
            error: Some("not in the update graph"),
        },
        Row {
            name: "steady: bad release skipped",
            strategy: fleet_lock(),
            from: State::NoNewUpdate,
            event: |w| {
                w.graph = Some(graph(3));
                w.persisted.bad = vec![release(3)];
            },
            to: available(2, 0),
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "available: staged",
            strategy: fleet_lock(),
            from: available(2, 0),
            event: nothing,
            to: staged(2, MAX_POSTPONEMENTS),
            lock_held: false,
            did: &["stage 2.0"],
            error: None,
        },
        Row {
            name: "available: staging fails, retried",
            strategy: fleet_lock(),
            from: available(2, 0),
            event: |w| w.stage_fails = true,
            to: available(2, 1),
            lock_held: false,
            did: &["stage 2.0"],
            error: Some("no space left"),
        },
        Row {
            name: "available: staging fails too often, abandoned",
            strategy: fleet_lock(),
            from: available(2, MAX_DEPLOY_ATTEMPTS - 1),
            event: |w| w.stage_fails = true,
            to: State::NoNewUpdate,
            lock_held: false,
            did: &["stage 2.0"],
            error: Some("no space left"),
        },
        Row {
            name: "staged: lock granted → finalized",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| w.staged = Some(2),
            to: State::UpdateFinalized {
                release: release(2),
            },
            lock_held: true,
            did: &["/v1/pre-reboot", "finalize"],
            error: None,
        },
        Row {
            name: "staged: lock refused → waits, holds nothing",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| {
                w.staged = Some(2);
                w.lock_refuses = true;
            },
            to: staged(2, MAX_POSTPONEMENTS),
            lock_held: false,
            did: &["/v1/pre-reboot"],
            error: Some("semaphore_full"),
        },
        Row {
            name: "staged: users logged in → postponed before the lock",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| {
                w.staged = Some(2);
                w.sessions = vec!["pts/0".into()];
            },
            to: staged(2, MAX_POSTPONEMENTS - 1),
            lock_held: false,
            did: &["warn"],
            error: None,
        },
        Row {
            name: "staged: postponements used up → goes ahead",
            strategy: fleet_lock(),
            from: staged(2, 0),
            event: |w| {
                w.staged = Some(2);
                w.sessions = vec!["pts/0".into()];
            },
            to: State::UpdateFinalized {
                release: release(2),
            },
            lock_held: true,
            did: &["/v1/pre-reboot", "finalize"],
            error: None,
        },
        Row {
            name: "staged: block inhibitor → no lock taken",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| {
                w.staged = Some(2);
                w.inhibitors = vec!["backup: running".into()];
            },
            to: staged(2, MAX_POSTPONEMENTS),
            lock_held: false,
            did: &[],
            error: Some("backup: running"),
        },
        Row {
            name: "staged: finalize fails → stays staged, slot held",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| {
                w.staged = Some(2);
                w.finalize_fails = true;
            },
            to: staged(2, MAX_POSTPONEMENTS),
            lock_held: true,
            did: &["/v1/pre-reboot", "finalize"],
            error: Some("inhibited"),
        },
        Row {
            name: "staged: newer release replaces it",
            strategy: fleet_lock(),
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| {
                w.staged = Some(2);
                w.graph = Some(graph(3));
            },
            to: available(3, 0),
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "staged: periodic outside the window waits",
            strategy: Strategy::Periodic {
                windows: vec![Window {
                    days: vec![Weekday(0)],
                    start_minute: 0,
                    length_minutes: 60,
                }],
                time_zone: Default::default(),
            },
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| w.staged = Some(2),
            to: staged(2, MAX_POSTPONEMENTS),
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "staged: periodic inside the window finalizes",
            strategy: Strategy::Periodic {
                windows: vec![Window {
                    days: vec![Weekday(5)],
                    start_minute: 0,
                    length_minutes: 60,
                }],
                time_zone: Default::default(),
            },
            from: staged(2, MAX_POSTPONEMENTS),
            event: |w| w.staged = Some(2),
            to: State::UpdateFinalized {
                release: release(2),
            },
            lock_held: false,
            did: &["finalize"],
            error: None,
        },
        Row {
            name: "finalized: waits for the reboot",
            strategy: fleet_lock(),
            from: State::UpdateFinalized {
                release: release(2),
            },
            event: nothing,
            to: State::UpdateFinalized {
                release: release(2),
            },
            lock_held: false,
            did: &[],
            error: None,
        },
        Row {
            name: "halted: stays",
            strategy: fleet_lock(),
            from: State::Halted { reason: "x".into() },
            event: |w| w.graph = Some(graph(3)),
            to: State::Halted { reason: "x".into() },
            lock_held: false,
            did: &[],
            error: None,
        },
    ];
    let mut failures = vec![];
    for row in rows {
        let fake = Fake::default();
        {
            let mut w = fake.0.borrow_mut();
            w.booted = 1;
            w.deployed = vec![1];
            (row.event)(&mut w);
        }
        let mut agent = Agent::new(
            config(row.strategy.clone()),
            identity(),
            fake.clone(),
            fake.clone(),
        );
        agent.set_state(row.from.clone());
        agent.tick(saturday + 30 * 60);
        let w = fake.0.borrow();
        let did: Vec<&str> = w.log.iter().map(String::as_str).collect();
        let error_ok = match (row.error, agent.last_error()) {
            (None, None) => true,
            (Some(needle), Some(e)) => e.contains(needle),
            _ => false,
        };
        if *agent.state() != row.to
            || agent.lock_held() != row.lock_held
            || did != row.did
            || !error_ok
        {
            failures.push(format!(
                "{}: got {:?}, lock {}, did {did:?}, error {:?}",
                row.name,
                agent.state(),
                agent.lock_held(),
                agent.last_error()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_failed_release_is_reported_degraded_and_never_retried() {
    let fake = Fake::default();
    {
        let mut w = fake.0.borrow_mut();
        w.booted = 2;
        w.deployed = vec![2, 1];
        w.persisted.expecting = Some(release(2));
        w.health = Some("unit foo failed".into());
        w.graph = Some(graph(2));
    }
    let mut agent = Agent::new(config(fleet_lock()), identity(), fake.clone(), fake.clone());
    agent.tick(0);
    assert!(matches!(agent.state(), State::Halted { .. }));
    let w = fake.0.borrow();
    assert_eq!(w.persisted.bad, [release(2)]);
    assert_eq!(w.reports.last().unwrap().state, NodeState::Degraded);
    assert!(w.reports.last().unwrap().reason.contains("unit foo failed"));
    assert!(!w.log.contains(&"/v1/steady-state".to_owned()));
    drop(w);
    // After the rollback reboot: still halted, no steady-state.
    fake.0.borrow_mut().booted = 1;
    let mut agent = Agent::new(config(fleet_lock()), identity(), fake.clone(), fake.clone());
    agent.tick(10);
    assert!(matches!(agent.state(), State::Halted { .. }));
    // The operator released the slot and clears the halt: 2 is never picked again.
    agent.check_now().unwrap();
    for t in 0..4 {
        agent.tick(20 + t);
    }
    assert_eq!(*agent.state(), State::NoNewUpdate);
    assert!(fake.0.borrow().log.contains(&"/v1/steady-state".to_owned()));
}

#[test]
fn target_selection_follows_zincati() {
    let g = graph(4);
    assert_eq!(
        pick_target(&g, &csum(1), &[], false).unwrap(),
        Some(release(4))
    );
    assert_eq!(
        pick_target(&g, &csum(1), &[csum(4)], false).unwrap(),
        Some(release(3))
    );
    assert_eq!(pick_target(&g, &csum(4), &[], false).unwrap(), None);
    // A downgrade edge is taken only when allowed.
    let mut g = graph(2);
    g.edges = vec![(1, 0)];
    assert_eq!(pick_target(&g, &csum(2), &[], false).unwrap(), None);
    assert_eq!(
        pick_target(&g, &csum(2), &[], true).unwrap(),
        Some(release(1))
    );
    assert!(pick_target(&g, &csum(7), &[], false).is_err());
}

#[test]
fn node_uuid_is_systemds_app_specific_id() {
    let machine_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let Ok(out) = std::process::Command::new("systemd-id128")
        .args(["machine-id", "-a", "de35106b6ec24688b63afddaa156679b"])
        .run_capture()
    else {
        eprintln!("skipped: systemd-id128 is not installed");
        return;
    };
    if !out.status.success() || machine_id.trim().is_empty() {
        eprintln!("skipped: no machine id");
        return;
    }
    let expected = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        app_specific_id(&machine_id, &ZINCATI_APP_ID).unwrap(),
        expected
    );
}

#[test]
fn config_files_are_found_under_the_root() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc/zincati/config.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("55-updates-strategy.toml"), "[updates]\nstrategy = \"fleet_lock\"\n[updates.fleet_lock]\nbase_url = \"http://10.0.2.2:8410/\"\n").unwrap();
    let c = Config::load(root.path()).unwrap();
    assert_eq!(c.files, [dir.join("55-updates-strategy.toml")]);
    assert_eq!(c.strategy, fleet_lock_at("http://10.0.2.2:8410/"));
}

fn fleet_lock_at(url: &str) -> Strategy {
    Strategy::FleetLock {
        base_url: url.into(),
    }
}

#[test]
fn a_config_that_needs_a_reboot_is_applied_after_the_healthy_boot() {
    let fake = Fake::default();
    {
        let mut w = fake.0.borrow_mut();
        w.booted = 1;
        w.deployed = vec![1];
        w.graph = Some(graph(1));
        pool_change(&mut w, |c| {
            c["kernelArguments"] = serde_json::json!({"shouldExist": ["quiet"]})
        });
    }
    let mut agent = Agent::new(config(fleet_lock()), identity(), fake.clone(), fake.clone());
    agent.set_state(State::ReportedSteady);
    for t in 0..3 {
        agent.tick(t);
    }
    assert!(matches!(agent.state(), State::UpdateFinalized { .. }));
    assert!(agent.lock_held());
    let reports: Vec<NodeState> = fake.0.borrow().reports.iter().map(|r| r.state).collect();
    assert!(reports.contains(&NodeState::Working), "{reports:?}");
    // The reboot: the same commit boots with the new arguments; health passes.
    let mut agent = Agent::new(config(fleet_lock()), identity(), fake.clone(), fake.clone());
    agent.tick(100);
    agent.tick(101);
    assert_eq!(*agent.state(), State::ReportedSteady);
    assert!(!agent.lock_held());
    let w = fake.0.borrow();
    assert_eq!(w.persisted.config.as_ref().unwrap().0, "h2");
    assert!(w.persisted.pending_config.is_none());
    assert_eq!(w.reports.last().unwrap().config_hash, "h2");
}
