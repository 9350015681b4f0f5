//! Running `ferro ostree` and the real `ostree` the same way, for tests that compare
//! the two on one repository or check one with the other. Each test includes this
//! module and uses what it needs.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use ferro_sys::CommandRunExt;

/// The `ferro` binary under test.
pub const FERRO: &str = env!("CARGO_BIN_EXE_ferro");

/// Runs `ferro ostree` (`tool` "ferro") or `tool` itself with `--repo=REPO ARGS…`, in
/// the UTC time zone, in which both show times alike.
pub fn run(tool: &str, repo: &Path, args: &[&str]) -> Output {
    command(tool, repo, args).run_capture().unwrap()
}

/// The command [`run`] runs, with its output piped, for a test that starts it and
/// waits for it later.
pub fn command(tool: &str, repo: &Path, args: &[&str]) -> Command {
    let mut command = match tool {
        "ferro" => {
            let mut c = Command::new(FERRO);
            c.arg("ostree");
            c
        }
        _ => Command::new(tool),
    };
    command
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `ferro ostree ARGS…`, however it ends, with what it printed.
pub fn ferro_ostree<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(FERRO)
        .arg("ostree")
        .args(args)
        .run_capture()
        .expect("run ferro")
}

/// The standard output of a `ferro` run that must have succeeded (`args` name it in
/// the failure message, with its standard error).
pub fn success_stdout(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "ferro {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A one-file tree (`hello`) under `dir`, to commit.
pub fn hello_tree(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("hello"), "hello\n").unwrap();
    tree
}

/// Whether the real `ostree` is installed; when it is not, says so and what the test
/// does without it (`without`: "skipping", "checking with `ferro ostree fsck` only").
pub fn have_ostree(without: &str) -> bool {
    let found = Command::new("ostree")
        .arg("--version")
        .run_get_output()
        .is_ok();
    if !found {
        eprintln!("`ostree` is not installed (apt-get install ostree): {without}");
    }
    found
}

/// Asserts that the repository `repo_arg` (`--repo=PATH`) passes `ferro ostree fsck`
/// and, with `with_ostree`, `ostree fsck` too; a failure names `when` and carries the
/// command line and what it printed.
pub fn fsck_passes(repo_arg: &str, with_ostree: bool, when: &str) {
    Command::new(FERRO)
        .args(["ostree", repo_arg, "fsck", "-q"])
        .run_get_output()
        .unwrap_or_else(|e| panic!("ferro fsck {when}: {e}"));
    if with_ostree {
        Command::new("ostree")
            .args(["fsck", "-q", repo_arg])
            .run_get_output()
            .unwrap_or_else(|e| panic!("ostree fsck {when}: {e}"));
    }
}

/// xorshift64*: enough randomness for kill points, different on every run and
/// reproducible from the seed it prints.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock; prints the seed, named by `what` it decides.
    pub fn from_clock(what: &str) -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("{what} seed {seed}");
        Rng(seed)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}
