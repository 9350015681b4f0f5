//! The agent's staged pool changes on a real (scratch) sysroot against a real
//! `ferro fleet serve`: a systemd unit and an `/etc` file the pool adds are staged as
//! a new deployment of the booted commit with finalization locked, the running
//! system's `/etc` left alone; the agent finalizes it, and after the reboot (here: the
//! shutdown's finalization and a new agent) the new deployment has the unit, its
//! enablement link and the file, the rollback deployment has none of them, and the
//! node reports the new config applied.

mod common;
#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferro_fleet::agent::host::SysrootHost;
use ferro_fleet::agent::remote::HttpRemote;
use ferro_fleet::agent::{Agent, State};
use ferro_fleet::time::set_simulated_now_ms;
use ferro_ostree::{Repo, RepoMode};
use ferro_sysroot::host::HostActions;
use ferro_sysroot::{DeployOptions, init_fs};

const T0: u64 = 1_800_000_000;
const BASE: &str = "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n        - ssh-ed25519 AAAA one\n";
const UNIT: &str = "systemd:\n  units:\n    - name: pool-hello.service\n      enabled: true\n      contents: |\n        [Service]\n        ExecStart=/bin/true\n        [Install]\n        WantedBy=multi-user.target\nstorage:\n  files:\n    - path: /etc/pool.conf\n      mode: 0640\n      contents:\n        inline: from the pool\n";

struct Rebooter(Arc<AtomicBool>);

impl HostActions for Rebooter {
    fn reboot(&self) -> Result<(), ferro_sysroot::Error> {
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn block_shutdown_inhibitors(&self) -> Result<Vec<String>, ferro_sysroot::Error> {
        Ok(vec![])
    }
}

fn boot(sysroot: &ferro_sysroot::Sysroot, cmdline: &Path) {
    let kargs = sysroot.load().unwrap().deployments[0].kargs.to_string();
    std::fs::write(cmdline, kargs).unwrap();
}

#[test]
fn a_unit_and_an_etc_file_from_the_pool_arrive_with_one_reboot() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    set_simulated_now_ms(Some(T0 * 1000));
    let pool_dir = dir.join("workers.d");
    std::fs::create_dir_all(&pool_dir).unwrap();
    std::fs::write(pool_dir.join("10-base.bu"), BASE).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"{}\"\n[graph]\nrepo = \"{}\"\n[[graph.streams]]\nname = \"stable\"\nref = \"testos/stable\"\n[[pools]]\nname = \"workers\"\nfragments = [\"workers.d\"]\n",
        dir.join("data").display(),
        dir.join("repo").display()
    );
    let source = Repo::init(&dir.join("repo"), RepoMode::Archive).unwrap();
    let tree = dir.join("tree");
    support::make_tree(&tree, "kernel 1", &[("motd", Some("1"))]);
    let v1 = support::commit_at(&source, &tree, "testos/stable", "1", 1_700_000_000);
    let server =
        common::TestServer::start(ferro_fleet::Config::parse(&text, "t.toml", dir).unwrap());
    let home = dir.join("node");
    let mut sysroot = init_fs(&home.join("sysroot")).unwrap();
    sysroot.set_mutable_deployments(true);
    sysroot.set_run_dir(&home.join("run"));
    sysroot.os_init("testos").unwrap();
    ferro_ostree::pull_local::copy_commit(&source, sysroot.repo(), &v1, Some(0)).unwrap();
    sysroot.repo().set_ref("testos/stable", Some(&v1)).unwrap();
    let options = DeployOptions {
        osname: Some("testos".into()),
        refspec: Some("testos/stable".into()),
        ..Default::default()
    };
    sysroot.deploy(&v1.to_string(), &options).unwrap();
    let cmdline = home.join("cmdline");
    boot(&sysroot, &cmdline);
    sysroot.set_cmdline_path(&cmdline);
    let booted_etc = sysroot
        .dir_of(&sysroot.load().unwrap().deployments[0])
        .join("etc");

    // The graph has only the booted release: only the pool changes the node.
    let mut config = common::pool_agent_config("workers", &server.url());
    config.cincinnati_base_url = format!("{}/", server.url());
    let identity = common::test_identity("");
    let rebooted = Arc::new(AtomicBool::new(false));
    let new_agent = |sysroot| {
        let host = SysrootHost {
            sysroot,
            state_path: home.join("state.json"),
            health_dir: home.join("health.d"),
            use_systemd: false,
            actions: Box::new(Rebooter(rebooted.clone())),
            root: home.join("root"),
        };
        let remote = HttpRemote::new(&config, &identity);
        Agent::new(config.clone(), identity.clone(), host, remote)
    };
    let mut agent = new_agent(sysroot);
    let mut now = T0;
    let mut run_until =
        |agent: &mut Agent<SysrootHost, HttpRemote>,
         done: &dyn Fn(&Agent<SysrootHost, HttpRemote>) -> bool| {
            for _ in 0..50 {
                if done(agent) {
                    return;
                }
                now += agent.tick(now).as_secs().max(1);
                set_simulated_now_ms(Some(now * 1000));
            }
            panic!(
                "no progress: state {:?}, last error {:?}",
                agent.state(),
                agent.last_error()
            );
        };
    // The first report makes the pool's config the applied one.
    run_until(&mut agent, &|a| {
        matches!(a.state(), State::NoNewUpdate) && a.status(0).config.applied.is_some()
    });
    let first = agent.status(0).config.applied.clone();

    std::fs::write(pool_dir.join("10-base.bu"), format!("{BASE}{UNIT}")).unwrap();
    run_until(&mut agent, &|a| {
        matches!(a.state(), State::UpdateFinalized { .. })
    });
    assert!(rebooted.load(Ordering::SeqCst), "the agent rebooted");
    assert!(
        !booted_etc
            .join("systemd/system/pool-hello.service")
            .exists(),
        "the running system's /etc is not changed before the reboot"
    );

    // Shutdown: the staged deployment is finalized; the machine boots it.
    let host = agent.host;
    let report = host.sysroot.finalize_staged().unwrap().expect("staged");
    boot(&host.sysroot, &cmdline);
    let state = host.sysroot.load().unwrap();
    assert_eq!(state.deployments.len(), 2);
    assert_eq!(state.deployments[0].checksum, v1, "the same commit");
    let etc = host.sysroot.dir_of(&report.deployment).join("etc");
    assert!(
        std::fs::read_to_string(etc.join("systemd/system/pool-hello.service"))
            .unwrap()
            .contains("ExecStart=/bin/true")
    );
    assert_eq!(
        std::fs::read_link(etc.join("systemd/system/multi-user.target.wants/pool-hello.service"))
            .unwrap(),
        Path::new("/etc/systemd/system/pool-hello.service")
    );
    assert_eq!(
        std::fs::read_to_string(etc.join("pool.conf")).unwrap(),
        "from the pool"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(etc.join("pool.conf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    let rollback_etc = host.sysroot.dir_of(&state.deployments[1]).join("etc");
    assert!(
        rollback_etc.join("motd").is_file(),
        "the booted deployment is kept whole"
    );
    assert!(!rollback_etc.join("pool.conf").exists());

    // After the reboot the agent checks health and takes the new config as applied.
    rebooted.store(false, Ordering::SeqCst);
    let mut agent = new_agent(host.sysroot);
    run_until(&mut agent, &|a| {
        matches!(a.state(), State::NoNewUpdate) && a.status(0).config.applied != first
    });
    assert!(agent.last_error().is_none(), "{:?}", agent.last_error());
    set_simulated_now_ms(None);
}
