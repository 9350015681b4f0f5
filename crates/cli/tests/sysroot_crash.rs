//! Crash safety of the deployment commands as processes: `ferro ostree admin
//! deploy|undeploy|set-default|cleanup|finalize-staged` and `ferro kargs` are stopped
//! at random points — half of the runs by `FERRO_FAILPOINT=N` (the operation stops
//! before its N-th step, as a crash there would), half by SIGKILL after a random
//! delay. After each: the boot entries verify (every entry leads to a complete
//! deployment with its kernel), `ferro ostree fsck` passes (and `ostree fsck` every
//! tenth run when installed), and running the command again (or, once the switch was
//! committed, `cleanup`) completes it.

#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferro_sys::CommandRunExt;
use ferro_sysroot::{DeployOptions, Sysroot, init_fs};
use support::{Scratch, commit, make_tree};

/// Enough runs that at least 200 really interrupt a command.
const RUNS: usize = 300;

/// A small xorshift generator seeded from the clock: different kill points per run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Fixture {
    scratch: Scratch,
    sysroot: String,
}

impl Fixture {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferro"));
        cmd.args(args)
            .arg("--run-dir")
            .arg(self.scratch.path().join("run"))
            .env_remove("FERRO_FAILPOINT");
        cmd
    }

    fn admin(&self, verb: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = ["ostree", "admin", "--sysroot", &self.sysroot]
            .map(String::from)
            .to_vec();
        all.extend(verb.iter().map(|s| s.to_string()));
        all
    }

    fn run_ok(&self, args: &[String]) -> Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.command(&args).run_capture().unwrap();
        assert!(
            out.status.success(),
            "ferro {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn open(&self) -> Sysroot {
        let mut sysroot = Sysroot::open(Path::new(&self.sysroot)).unwrap();
        sysroot.set_run_dir(&self.scratch.path().join("run"));
        sysroot
    }

    /// The invariants that hold after any interruption.
    fn check(&self, what: &str, fsck_with_ostree: bool) {
        let problems = self.open().verify().unwrap();
        assert!(problems.is_empty(), "{what}: {problems:?}");
        let repo = format!("--repo={}/ostree/repo", self.sysroot);
        // A failed fsck's error carries its command line and what it printed.
        Command::new(env!("CARGO_BIN_EXE_ferro"))
            .args(["ostree", &repo, "fsck", "-q"])
            .run_get_output()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if fsck_with_ostree {
            Command::new("ostree")
                .args(["fsck", "-q", &repo])
                .run_get_output()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
}

#[test]
fn interrupted_commands_leave_a_bootable_sysroot() {
    let started = Instant::now();
    let scratch = Scratch::new();
    let sysroot = init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("testos").unwrap();
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel a", &[("a.conf", Some("a"))]);
    commit(sysroot.repo(), &tree, "testos/a", "1");
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel b").unwrap();
    fs::write(tree.join("usr/etc/b.conf"), "b").unwrap();
    commit(sysroot.repo(), &tree, "testos/b", "2");
    let options = DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(vec!["rw".into()]),
        ..Default::default()
    };
    sysroot.deploy("testos/a", &options).unwrap();
    let f = Fixture {
        sysroot: sysroot.path().display().to_string(),
        scratch,
    };
    let have_ostree = Command::new("ostree")
        .arg("--version")
        .run_get_output()
        .is_ok();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed | 1);
    // Runs that really stopped the command (not ones that finished first).
    let (mut stopped, mut killed) = (0, 0);
    // Steps each operation has (deploy, undeploy, set-default, kargs, cleanup,
    // finalize), so that failpoints land inside it; and how long it last took, so
    // that kills do.
    let steps = [14, 9, 9, 9, 4, 11];
    let mut micros = [15_000u64; 6];

    for run in 0..RUNS {
        let sysroot = f.open();
        if sysroot.load().unwrap().deployments.len() < 2 {
            f.run_ok(&f.admin(&["deploy", "testos/b"]));
        }
        let op = rng.below(6) as usize;
        let args = match op {
            0 => f.admin(&["deploy", if run % 2 == 0 { "testos/a" } else { "testos/b" }]),
            1 => f.admin(&["undeploy", "1"]),
            2 => f.admin(&["set-default", "1"]),
            3 => vec![
                "kargs".into(),
                "--sysroot".into(),
                f.sysroot.clone(),
                format!("--append=run={run}"),
            ],
            4 => f.admin(&["cleanup"]),
            _ => {
                f.run_ok(&f.admin(&["deploy", "--stage", "testos/a"]));
                f.admin(&["finalize-staged"])
            }
        };
        let before = sysroot.load().unwrap();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = f.command(&argv);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        if run % 2 == 0 {
            cmd.env("FERRO_FAILPOINT", rng.below(steps[op]).to_string());
            if !cmd.run_status().unwrap().success() {
                stopped += 1;
            }
        } else {
            let mut child = cmd.start().unwrap();
            sleep(Duration::from_micros(rng.below(micros[op])));
            let _ = child.kill();
            if child.wait().unwrap().signal() == Some(9) {
                killed += 1;
            }
        }
        let what = format!("run {run}: {args:?}");
        f.check(&what, have_ostree && run % 10 == 0);

        // Finish the interrupted work: the same command if the switch was not
        // committed, else the cleanup that follows every committed switch.
        let committed = f.open().load().unwrap().bootversion != before.bootversion;
        let staged_left = f.open().staged().unwrap().is_some();
        if committed || (op == 5 && !staged_left) {
            f.run_ok(&f.admin(&["cleanup"]));
        } else {
            let start = Instant::now();
            f.run_ok(&args);
            micros[op] = start.elapsed().as_micros() as u64 + 1;
        }
        f.check(&what, false);
        let state = f.open().load().unwrap();
        let other = format!("{}/boot/loader.{}", f.sysroot, 1 - state.bootversion);
        assert!(!Path::new(&other).exists(), "{what}: {other} left over");
        let staging = format!("{}/ostree/deploy/testos/.ferro-staging", f.sysroot);
        assert!(!Path::new(&staging).exists(), "{what}: staging left over");
    }
    eprintln!(
        "{RUNS} runs: {stopped} stopped by a failpoint, {killed} killed by SIGKILL before \
         finishing, in {:?}",
        started.elapsed()
    );
    // Failpoints stop an operation at a chosen step whatever the machine's speed, so
    // they are what is counted; how many SIGKILLs landed before the end is reported only.
    assert!(
        stopped >= RUNS / 4,
        "too few failpoint runs really stopped an operation"
    );
}
