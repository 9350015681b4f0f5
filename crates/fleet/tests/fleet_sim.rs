//! A fleet of 200 agents updating through one real server, on a simulated clock.
//!
//! Each agent is the real state machine with the real [`SysrootHost`] on its own
//! scratch sysroot (a real OSTree sysroot: staging with finalization locked,
//! `finalize-deployment`'s checks, finalization at "shutdown", booting the new default
//! via its `ostree=` argument) and the real HTTP client; only rebooting is simulated
//! (the host's reboot records the request; the simulation finalizes and "boots" the
//! sysroot three simulated minutes later) and health checks have nothing to run.
//! One `ferro fleet serve` runs in-process on loopback with the default group's 10
//! slots and version 2 rolled out over two hours (`updates.json` rollout), its clock
//! set to the simulated one. No wall-clock waits: events run in simulated-time order.
//!
//! Asserts: every node ends on version 2 and reports steady; never more than 10 nodes
//! hold a slot or are rebooting at once. Writes `docs/fleet-rollout.png` (nodes per
//! version over simulated time).

mod common;
#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferro_fleet::agent::config::Strategy;
use ferro_fleet::agent::host::SysrootHost;
use ferro_fleet::agent::identity::Identity;
use ferro_fleet::agent::remote::HttpRemote;
use ferro_fleet::agent::{Agent, Config, State};
use ferro_fleet::time::set_simulated_now_ms;
use ferro_ostree::{Repo, RepoMode};
use ferro_sysroot::host::HostActions;
use ferro_sysroot::{DeployOptions, Sysroot, init_fs};

const NODES: usize = 200;
const SLOTS: usize = 10;
const T0: u64 = 1_800_000_000;
const DAYS: u64 = 1;
const REBOOT_SECS: u64 = 180;
const ARCH: &str = std::env::consts::ARCH;

/// Reboots are recorded, never done; no inhibitors.
struct SimActions(Arc<AtomicBool>);

impl HostActions for SimActions {
    fn reboot(&self) -> Result<(), ferro_sysroot::Error> {
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn block_shutdown_inhibitors(&self) -> Result<Vec<String>, ferro_sysroot::Error> {
        Ok(vec![])
    }
}

struct Node {
    agent: Option<Agent<SysrootHost, HttpRemote>>,
    config: Config,
    identity: Identity,
    rebooted: Arc<AtomicBool>,
    cmdline: PathBuf,
    rebooting: bool,
    version: u32,
}

fn boot(sysroot: &Sysroot, cmdline: &Path) {
    let kargs = sysroot.load().unwrap().deployments[0].kargs.to_string();
    std::fs::write(cmdline, kargs).unwrap();
}

fn new_agent(node: &Node, host: SysrootHost) -> Agent<SysrootHost, HttpRemote> {
    let remote = HttpRemote::new(&node.config, &node.identity);
    Agent::new(node.config.clone(), node.identity.clone(), host, remote)
}

#[test]
fn two_hundred_nodes_update_ten_at_a_time() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    set_simulated_now_ms(Some(T0 * 1000));

    // The releases: two commits of a small bootable tree.
    let refname = format!("ferrocore/{ARCH}/stable");
    let source = Repo::init(&dir.join("repo"), RepoMode::Archive).unwrap();
    let tree = dir.join("tree");
    support::make_tree(&tree, "kernel 1", &[("motd", Some("1"))]);
    let v1 = support::commit_at(&source, &tree, &refname, "1", 1_700_000_000);
    support::make_tree(&tree, "kernel 2", &[("motd", Some("2"))]);
    let v2 = support::commit_at(&source, &tree, &refname, "2", 1_700_000_100);
    let updates = dir.join("updates.json");
    std::fs::write(
        &updates,
        format!(
            r#"{{"stream":"stable","metadata":{{"last-modified":"2027-01-15T00:00:00Z"}},
               "releases":[{{"version":"2","metadata":{{"rollout":{{"start_epoch":{},"start_percentage":0.0,"duration_minutes":120}}}}}}]}}"#,
            T0 + 600
        ),
    )
    .unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\n[lock]\ndefault_slots = {SLOTS}\n[graph]\nrepo = \"{}\"\n[[graph.streams]]\nname = \"stable\"\nref = \"ferrocore/${{basearch}}/stable\"\nupdates = \"{}\"\n",
        dir.join("data").display(),
        dir.join("repo").display(),
        updates.display()
    );
    let server =
        common::TestServer::start(ferro_fleet::Config::parse(&text, "sim.toml", dir).unwrap());
    let url = format!("{}/", server.url());

    // 200 nodes, each on its own sysroot booted into version 1.
    let mut nodes = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let home = dir.join(format!("node{i:03}"));
        let mut sysroot = init_fs(&home.join("sysroot")).unwrap();
        sysroot.set_mutable_deployments(true);
        sysroot.set_run_dir(&home.join("run"));
        sysroot.os_init("testos").unwrap();
        for c in [&v1, &v2] {
            ferro_ostree::pull_local::copy_commit(&source, sysroot.repo(), c, Some(0)).unwrap();
        }
        // The origin's ref as a pull would leave it once version 2 is published (the
        // objects are copied in advance: the simulation measures coordination, not
        // downloads); the ref also keeps the deploy's cleanup from pruning it.
        sysroot.repo().set_ref(&refname, Some(&v2)).unwrap();
        let options = DeployOptions {
            osname: Some("testos".into()),
            refspec: Some(refname.clone()),
            ..Default::default()
        };
        sysroot.deploy(&v1.to_string(), &options).unwrap();
        let cmdline = home.join("cmdline");
        boot(&sysroot, &cmdline);
        sysroot.set_cmdline_path(&cmdline);
        let mut config = Config::from_fragments(&[], &mut vec![]).unwrap();
        config.cincinnati_base_url = url.clone();
        config.strategy = Strategy::FleetLock {
            base_url: url.clone(),
        };
        let identity = Identity {
            node_uuid: format!("{:032x}", 0x5eed_0000_u64 + i as u64 * 7919),
            group: "default".into(),
            basearch: ARCH.into(),
            stream: "stable".into(),
            platform: "metal".into(),
            os_version: String::new(),
            os_checksum: String::new(),
        };
        let rebooted = Arc::new(AtomicBool::new(false));
        let host = SysrootHost {
            sysroot,
            state_path: home.join("state.json"),
            health_dir: home.join("health.d"),
            use_systemd: false,
            actions: Box::new(SimActions(rebooted.clone())),
            root: home.join("root"),
        };
        let mut node = Node {
            agent: None,
            config,
            identity,
            rebooted,
            cmdline,
            rebooting: false,
            version: 1,
        };
        node.agent = Some(new_agent(&node, host));
        nodes.push(node);
    }

    // Events in simulated-time order: (time, node).
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> =
        (0..NODES).map(|i| Reverse((T0 + i as u64, i))).collect();
    let mut series: Vec<(u64, usize, usize)> = vec![];
    let mut next_sample = T0;
    let (mut max_holding, mut max_rebooting) = (0, 0);
    let deadline = T0 + DAYS * 86400;
    let mut done_at = None;
    while let Some(Reverse((now, i))) = queue.pop() {
        if now >= deadline {
            let mut states = std::collections::BTreeMap::<String, usize>::new();
            for n in &nodes {
                let a = n.agent.as_ref().unwrap();
                *states
                    .entry(format!(
                        "v{} {} {:?}",
                        n.version,
                        a.state().name(),
                        a.last_error()
                    ))
                    .or_default() += 1;
            }
            panic!("the rollout did not finish in {DAYS} simulated day(s): {states:#?}");
        }
        while next_sample <= now {
            let on2 = nodes.iter().filter(|n| n.version == 2).count();
            series.push((next_sample - T0, NODES - on2, on2));
            next_sample += 300;
        }
        set_simulated_now_ms(Some(now * 1000));
        let node = &mut nodes[i];
        if node.rebooting {
            // Shutdown finalizes the staged deployment; the machine boots its new default.
            let agent = node.agent.take().unwrap();
            let host = agent.host;
            host.sysroot
                .finalize_staged()
                .unwrap()
                .expect("a staged deployment");
            boot(&host.sysroot, &node.cmdline);
            let booted = host.sysroot.load().unwrap().deployments[0].checksum;
            node.version = if booted == v2 { 2 } else { 1 };
            node.rebooting = false;
            node.rebooted.store(false, Ordering::SeqCst);
            node.agent = Some(new_agent(node, host));
            queue.push(Reverse((now, i)));
            continue;
        }
        let agent = node.agent.as_mut().unwrap();
        let delay = agent.tick(now);
        if matches!(agent.state(), State::UpdateFinalized { .. })
            && node.rebooted.load(Ordering::SeqCst)
        {
            node.rebooting = true;
            queue.push(Reverse((now + REBOOT_SECS, i)));
        } else {
            queue.push(Reverse((now + delay.as_secs(), i)));
        }
        let holding = nodes
            .iter()
            .filter(|n| n.agent.as_ref().is_some_and(|a| a.lock_held()))
            .count();
        let rebooting = nodes.iter().filter(|n| n.rebooting).count();
        max_holding = max_holding.max(holding);
        max_rebooting = max_rebooting.max(rebooting);
        assert!(
            holding <= SLOTS,
            "{holding} nodes hold a slot at {}",
            now - T0
        );
        let all_done = nodes.iter().all(|n| {
            n.version == 2
                && matches!(
                    n.agent.as_ref().map(|a| a.state()),
                    Some(State::NoNewUpdate | State::ReportedSteady)
                )
        });
        if all_done {
            done_at = Some(now - T0);
            let on2 = nodes.iter().filter(|n| n.version == 2).count();
            series.push((now - T0, NODES - on2, on2));
            break;
        }
    }
    set_simulated_now_ms(None);
    let done_at = done_at.expect("every node on version 2");
    eprintln!(
        "{NODES} nodes on version 2 after {:.1} simulated hours; at most {max_holding} slots held and {max_rebooting} rebooting at once",
        done_at as f64 / 3600.0
    );
    assert!(max_rebooting <= SLOTS);
    assert!(max_holding > 1, "the group's slots were used in parallel");
    for node in &nodes {
        assert!(node.agent.as_ref().unwrap().last_error().is_none());
    }
    plot(&series, done_at);
    drop(server);
}

/// Nodes per version over simulated hours, without text (no font dependency): version 1
/// in red, version 2 in blue; the axes run from 0 to the end and from 0 to 200 nodes.
fn plot(series: &[(u64, usize, usize)], end: u64) {
    use plotters::prelude::*;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fleet-rollout.png");
    let root = BitMapBackend::new(&out, (800, 400)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let area = root.margin(20, 20, 20, 20);
    let mut chart = ChartBuilder::on(&area)
        .build_cartesian_2d(0f64..end as f64 / 3600.0, 0f64..NODES as f64)
        .unwrap();
    let hours = |t: u64| t as f64 / 3600.0;
    for h in 0..=(end / 3600) {
        chart
            .draw_series(LineSeries::new(
                [(h as f64, 0.0), (h as f64, NODES as f64)],
                RGBColor(225, 225, 225),
            ))
            .unwrap();
    }
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (hours(end), 0.0)], BLACK))
        .unwrap();
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (0.0, NODES as f64)], BLACK))
        .unwrap();
    chart
        .draw_series(LineSeries::new(
            series.iter().map(|(t, v1, _)| (hours(*t), *v1 as f64)),
            RED.stroke_width(3),
        ))
        .unwrap();
    chart
        .draw_series(LineSeries::new(
            series.iter().map(|(t, _, v2)| (hours(*t), *v2 as f64)),
            BLUE.stroke_width(3),
        ))
        .unwrap();
    root.present().unwrap();
}
