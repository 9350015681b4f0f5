//! The node agent in the booted image against a `ferro fleet serve` on the host (the
//! guest reaches it at `10.0.2.2`, QEMU's user network): the pool adds an SSH key,
//! which works without a reboot; the pool adds a kernel argument, which arrives with
//! one reboot through the FleetLock slot; the graph offers version 2, which the agent
//! stages, reboots into through the slot, health-checks and reports steady, giving
//! the slot back; last, a version 3 whose health check fails (made from version 2 with
//! `ostree commit --tree=ref=`) is rolled back by the agent, which keeps the slot and
//! reports the node `Degraded`.
//!
//! The graph's stream follows its own ref (`ferrocore/x86_64/agent`) of the served
//! repository, so the other tests' `ferro upgrade` of the image's ref never meets
//! version 3.

use super::*;

/// The ref the graph's `stable` stream is built from.
const STREAM_REF: &str = "ferrocore/x86_64/agent";
/// The fleet server's admin token (the admin API is reached on loopback only).
const TOKEN: &str = "ferro-e2e-agent-admin-token";
/// Each wait for the agent: its poll interval is 2 s, a boot about half a minute
/// under TCG, and a version change two boots with the health check between.
const DEADLINE: Duration = Duration::from_secs(420);

#[path = "../support/fleet_server.rs"]
mod fleet_server;

/// A `ferro fleet serve` child, stopped when dropped.
struct Server {
    served: fleet_server::Served,
    url: String,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.served.child.kill();
        let _ = self.served.child.wait();
    }
}

/// Starts the server on a free port of 127.0.0.1, with the graph built from
/// [`STREAM_REF`] of the served repository, one FleetLock slot, and the pool
/// `workers` made of the fragments in `dir/pool.d`; returns once it announced its
/// address. Its log is `dir/fleet.log`.
fn serve(work: &Path, dir: &Path) -> Server {
    // Releases 2 and 3 are rolled out to every node at once (without a rollout or a
    // barrier a release gets no incoming edge, as in Fedora CoreOS's graph).
    let updates = dir.join("updates.json");
    fs::write(
        &updates,
        r#"{"stream":"stable","metadata":{"last-modified":"2026-12-01T00:00:00Z"},
            "releases":[{"version":"2","metadata":{"rollout":{"start_percentage":1.0}}},
                        {"version":"3","metadata":{"rollout":{"start_percentage":1.0}}}]}"#,
    )
    .unwrap();
    let config = dir.join("fleet.toml");
    fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata = \"fleet-data\"\nadmin_tokens = [\"{TOKEN}\"]\n\
             [lock]\ndefault_slots = 1\n\
             [graph]\nrepo = \"{}\"\n[[graph.streams]]\nname = \"stable\"\nref = \"{STREAM_REF}\"\nupdates = \"updates.json\"\n\
             [[pools]]\nname = \"workers\"\nfragments = [\"pool.d\"]\n",
            work.join("repo").display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("fleet.log")).unwrap();
    let served = fleet_server::serve(&config, "info", log.into());
    Server {
        url: format!("http://{}", served.addr),
        port: served.addr.port(),
        served,
    }
}

/// `ferro fleet WHAT --json` against the server, parsed.
fn admin(work: &Path, server: &Server, what: &str) -> serde_json::Value {
    let out = ferro(
        work,
        &[
            "fleet",
            what,
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--json",
        ],
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The pool `workers`' node reports.
fn reports(work: &Path, server: &Server) -> Vec<serde_json::Value> {
    let pools = admin(work, server, "pools");
    pools["pools"][0]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The holders of the default FleetLock group.
fn holders(work: &Path, server: &Server) -> Vec<String> {
    let locks = admin(work, server, "locks");
    locks["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["name"] == "default")
        .flat_map(|g| g["holders"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect()
}

/// Polls `check` every 2 s until it returns `Some`, failing with `what` and the last
/// observation after [`DEADLINE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => {
                eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
                return value;
            }
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last seen: {last}"
            ),
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The pool fragment: `core` with these keys, and these kernel arguments.
fn write_pool(dir: &Path, keys: &[&str], kargs: &[&str]) {
    let mut bu = String::from(
        "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n",
    );
    for key in keys {
        bu.push_str(&format!("        - {}\n", key.trim()));
    }
    if !kargs.is_empty() {
        bu.push_str("kernel_arguments:\n  should_exist:\n");
        for karg in kargs {
            bu.push_str(&format!("    - {karg}\n"));
        }
    }
    let pool = dir.join("pool.d");
    fs::create_dir_all(&pool).unwrap();
    // Renamed into place, so the server never reads half a fragment.
    let tmp = dir.join("pool.tmp");
    fs::write(&tmp, bu).unwrap();
    fs::rename(&tmp, pool.join("10-core.bu")).unwrap();
}

/// Points [`STREAM_REF`] at `commit` and refreshes the summary.
fn set_stream(work: &Path, commit: &str) {
    let repo = work.join("repo");
    let repo = repo.to_str().unwrap();
    let _ = ferro_status(
        work,
        &["ostree", "refs", "--repo", repo, "--delete", STREAM_REF],
    );
    ferro(
        work,
        &[
            "ostree",
            "refs",
            "--repo",
            repo,
            &format!("--create={STREAM_REF}"),
            commit,
        ],
    );
    ferro(work, &["ostree", "summary", "--repo", repo, "-u"]);
}

/// Version 3: version 2's tree plus a health check that always fails, committed on
/// [`STREAM_REF`] after version 2.
fn broken_version3(work: &Path, dir: &Path) -> String {
    let overlay = dir.join("v3-overlay");
    let _ = fs::remove_dir_all(&overlay);
    let health = overlay.join("usr/etc/ferro/agent/health.d");
    fs::create_dir_all(&health).unwrap();
    let script = health.join("50-e2e-broken");
    fs::write(
        &script,
        "#!/bin/sh\necho 'version 3 is broken' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let repo = work.join("repo");
    let out = ferro(
        work,
        &[
            "ostree",
            "commit",
            "--repo",
            repo.to_str().unwrap(),
            "--branch",
            STREAM_REF,
            &format!("--tree=ref={}", version2()),
            &format!("--tree=dir={}", overlay.display()),
            "--owner-uid=0",
            "--owner-gid=0",
            "--add-metadata-string=version=3",
            "--add-metadata-string=ferrocore.stream=stable",
            "--subject=version 3: fails its health check",
        ],
    );
    ferro(
        work,
        &["ostree", "summary", "--repo", repo.to_str().unwrap(), "-u"],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The guest's view: boot id, kernel command line, booted version, agent state.
const LOOK: &str = "echo \"boot id: $(cat /proc/sys/kernel/random/boot_id)\"
     echo \"cmdline: $(cat /proc/cmdline)\"
     echo \"status: $(sudo ferro status --json | tr -d '\\n')\"
     echo \"agent: $(sudo ferro agent status --json 2>&1 | tr -d '\\n')\"";

/// What the guest shows, or why it could not be asked.
fn look(work: &Path, name: &str, key: &Path) -> Result<String, String> {
    let out = ferro_status(
        work,
        &["vm", "ssh", name, "-i", key.to_str().unwrap(), "--", LOOK],
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Whether the agent is idle on a healthy node: steady reported, polling the graph.
fn steady(output: &str) -> bool {
    matches!(
        agent_state(output).as_str(),
        "reported_steady" | "no_new_update"
    )
}

/// The agent's state name in a [`LOOK`] output.
fn agent_state(output: &str) -> String {
    let status: serde_json::Value =
        serde_json::from_str(field(output, "agent")).unwrap_or_default();
    status["state"]["state"].as_str().unwrap_or("").to_owned()
}

#[test]
fn pool_keys_kargs_update_through_the_lock_and_a_failed_release_rolled_back() {
    let Some(image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir();
    let dir = work.join("agent");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let v1 = rev_parse(&work, REF);
    set_stream(&work, &v1);

    let key = ssh_key(&dir, "id_core");
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    write_pool(&dir, &[&public], &[]);
    let server = serve(&work, &dir);
    let host = format!("http://10.0.2.2:{}", server.port);
    let agent_toml = format!(
        "[agent.timing]\nsteady_interval_secs = 2\n[cincinnati]\nbase_url = \"{host}\"\n\
         [identity]\nrollout_wariness = 0.0\n[updates]\nenabled = true\nstrategy = \"fleet_lock\"\n\
         [updates.fleet_lock]\nbase_url = \"{host}\"\n[pool]\nname = \"workers\"\nbase_url = \"{host}\"\n"
    );
    let mut extra = String::from(
        "    - path: /etc/ferro/agent.d/50-e2e.toml\n      mode: 0644\n      contents:\n        inline: |\n",
    );
    for line in agent_toml.lines() {
        extra.push_str(&format!("          {line}\n"));
    }
    let config = ignition_config(&dir, &key, &extra);
    let name = "e2e-agent";
    let console = dir.join("console.log");
    // A guest that stalls under TCG is reset (see `reset_if_stalled`); the resets are
    // not boots the agent asked for.
    let (stalls, resets) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let recover = || {
        let mut seen = stalls.get();
        if reset_if_stalled(&work, name, &console, &mut seen) {
            resets.set(resets.get() + 1);
        }
        stalls.set(seen);
    };
    let boots = || {
        fs::read_to_string(&console)
            .unwrap_or_default()
            .matches("Linux version")
            .count()
            - resets.get()
    };
    let ssh_port = free_port().to_string();
    let _running = boot_to_ssh(
        &work,
        image,
        &config,
        name,
        &console,
        "agent: boot to SSH",
        &["--ssh-port", &ssh_port],
    );

    // The agent reports the pool's config as applied (it was provisioned with it).
    let node = wait_for("agent: first report", || {
        recover();
        let reports = reports(&work, &server);
        match reports.first() {
            Some(r)
                if r["state"] == "Done" && !r["config_hash"].as_str().unwrap_or("").is_empty() =>
            {
                Ok(r["node_uuid"].as_str().unwrap().to_owned())
            }
            _ => Err(format!("{reports:?}")),
        }
    });
    let first = look(&work, name, &key).unwrap();
    assert!(steady(&first), "{first}");

    // 1. A key added to the pool works without a reboot.
    let key2 = ssh_key(&dir, "id_pool");
    let public2 = fs::read_to_string(key2.with_extension("pub")).unwrap();
    write_pool(&dir, &[&public, &public2], &[]);
    let with_key2 = wait_for("agent: pool key usable", || {
        recover();
        look(&work, name, &key2)
    });
    assert_eq!(
        field(&with_key2, "boot id"),
        field(&first, "boot id"),
        "no reboot for an SSH key"
    );
    assert_eq!(boots(), 1);

    // 2. A kernel argument added to the pool arrives with one reboot through the lock.
    write_pool(&dir, &[&public, &public2], &["ferro.e2e=agent"]);
    let with_karg = wait_for("agent: kernel argument booted", || {
        recover();
        let seen = look(&work, name, &key)?;
        if field(&seen, "cmdline")
            .split(' ')
            .any(|a| a == "ferro.e2e=agent")
            && steady(&seen)
        {
            Ok(seen)
        } else {
            Err(seen)
        }
    });
    assert_eq!(boots(), 2, "one reboot for the kernel argument");
    assert_eq!(booted_version(&with_karg), "1");
    assert!(
        holders(&work, &server).is_empty(),
        "the slot was given back"
    );

    // 3. Version 2 in the graph: staged, rebooted into through the lock, healthy,
    // steady, the slot given back.
    set_stream(&work, version2());
    let updated = wait_for("agent: version 2 booted and steady", || {
        recover();
        let seen = look(&work, name, &key)?;
        if booted_version(&seen) == "2" && steady(&seen) {
            Ok(seen)
        } else {
            Err(seen)
        }
    });
    assert_eq!(boots(), 3, "one reboot for the update");
    assert!(
        field(&updated, "cmdline")
            .split(' ')
            .any(|a| a == "ferro.e2e=agent"),
        "the pool's kernel argument is kept across the update"
    );
    wait_for("agent: slot given back after version 2", || {
        recover();
        let h = holders(&work, &server);
        if h.is_empty() {
            Ok(())
        } else {
            Err(format!("{h:?}"))
        }
    });
    let nodes = admin(&work, &server, "nodes");
    assert!(
        nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["node_uuid"] == node.as_str() && n["os_version"] == "2"),
        "{nodes}"
    );

    // 4. Version 3 fails its health check: rolled back to version 2, the slot kept,
    // the node Degraded on the server, version 3 never retried.
    let v3 = broken_version3(&work, &dir);
    let degraded = wait_for("agent: version 3 rolled back, node Degraded", || {
        recover();
        let reports = reports(&work, &server);
        match reports.first() {
            Some(r) if r["state"] == "Degraded" => Ok(r.clone()),
            _ => Err(format!("{reports:?}")),
        }
    });
    assert!(
        degraded["reason"].as_str().unwrap().contains("3"),
        "{degraded}"
    );
    let rolled_back = wait_for("agent: version 2 booted again", || {
        recover();
        let seen = look(&work, name, &key)?;
        if booted_version(&seen) == "2" && agent_state(&seen) == "halted" {
            Ok(seen)
        } else {
            Err(seen)
        }
    });
    assert_eq!(boots(), 5, "into version 3 and back");
    assert_eq!(
        holders(&work, &server),
        vec![node.clone()],
        "the slot stays held"
    );
    let agent: serde_json::Value = serde_json::from_str(field(&rolled_back, "agent")).unwrap();
    assert!(
        agent["bad_releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["checksum"] == v3.as_str()),
        "{agent}"
    );
}
