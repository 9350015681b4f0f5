//! Concurrent writers on one repository: `ferro ostree commit` processes running beside
//! `ferro ostree prune` leave a sound repository with every ref in place, and `ferro`
//! and `ostree` honour each other's repository lock (`.lock`, OFD record locks).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;

use ferro_ostree::Repo;
use ferro_ostree::lock::LockKind;

const FERRO: &str = env!("CARGO_BIN_EXE_ferro");

fn ferro(repo: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(FERRO);
    command
        .arg("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn ostree(repo: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("ostree");
    command
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn succeeds(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn have_ostree() -> bool {
    let found = Command::new("ostree")
        .arg("--version")
        .stdout(Stdio::null())
        .run_status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping the `ostree` side: it is not installed");
    }
    found
}

/// Files whose contents change with `round`, so every round stores new objects and
/// `prune --depth=0` has the previous round's to delete.
fn fill(tree: &Path, round: usize) {
    for d in 0..10 {
        let dir = tree.join(format!("d{d}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..40 {
            fs::write(dir.join(format!("f{f}")), format!("{round} {d} {f}\n")).unwrap();
        }
    }
}

fn commit(repo: &Path, branch: &str, tree: &Path) -> Child {
    let tree = format!("--tree=dir={}", tree.display());
    ferro(repo, &["commit", "-b", branch, "-s", "s", &tree])
        .start()
        .unwrap()
}

#[test]
fn commits_beside_prunes_keep_the_repository_sound() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    succeeds(
        ferro(&repo, &["init", "--mode=bare-user"])
            .run_capture()
            .unwrap(),
        "init",
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for round in 0..8 {
        fill(&a, round);
        fill(&b, round + 1000);
        let writers = [commit(&repo, "a", &a), commit(&repo, "b", &b)];
        let prune = ferro(&repo, &["prune", "--refs-only", "--depth=0"])
            .start()
            .unwrap();
        for child in writers.into_iter().chain([prune]) {
            succeeds(child.wait_with_output().unwrap(), &format!("round {round}"));
        }
    }
    let refs = succeeds(ferro(&repo, &["refs"]).run_capture().unwrap(), "refs");
    assert_eq!(refs, "a\nb\n");
    succeeds(ferro(&repo, &["fsck"]).run_capture().unwrap(), "ferro fsck");
    if have_ostree() {
        succeeds(
            ostree(&repo, &["fsck"]).run_capture().unwrap(),
            "ostree fsck",
        );
    }
}

#[test]
fn ferro_and_ostree_honour_each_other_s_lock() {
    if !have_ostree() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let src = dir.path().join("src");
    fill(&src, 0);
    succeeds(
        ostree(&repo, &["init", "--mode=bare-user"])
            .run_capture()
            .unwrap(),
        "init",
    );
    let config = repo.join("config");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace("[core]\n", "[core]\nlock-timeout-secs=1\n"),
    )
    .unwrap();
    let tree = format!("--tree=dir={}", src.display());

    // ferro's exclusive lock (what prune holds) keeps `ostree commit` out.
    let held = Repo::open(&repo)
        .unwrap()
        .lock(LockKind::Exclusive)
        .unwrap();
    let refused = ostree(&repo, &["commit", "-b", "main", &tree])
        .run_capture()
        .unwrap();
    assert!(
        !refused.status.success(),
        "ostree commit ran under ferro's lock"
    );
    drop(held);
    succeeds(
        ostree(&repo, &["commit", "-b", "main", &tree])
            .run_capture()
            .unwrap(),
        "ostree commit after the lock is released",
    );

    // `ostree commit` reading a tar from a FIFO holds the lock shared meanwhile;
    // `ferro ostree prune` waits for it. The wait has no deadline here (-1), so prune
    // blocks in the kernel, where the lock table shows it: the event this test waits
    // for, however slow the machine.
    fs::write(
        &config,
        text.replace("[core]\n", "[core]\nlock-timeout-secs=-1\n"),
    )
    .unwrap();
    let fifo = dir.path().join("tree.tar");
    succeeds(
        Command::new("mkfifo").arg(&fifo).run_capture().unwrap(),
        "mkfifo",
    );
    let tar_tree = format!("--tree=tar={}", fifo.display());
    let writer = ostree(&repo, &["commit", "-b", "tar", &tar_tree])
        .start()
        .unwrap();
    // Opening the FIFO returns once `ostree commit` opened it, inside its transaction.
    let mut fifo_in = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let mut prune = ferro(&repo, &["prune", "--refs-only"]).start().unwrap();
    let lock = repo.join(".lock");
    let deadline = Instant::now() + Duration::from_secs(300);
    while ferro_sys::locks::waiters(&lock).unwrap() == 0 {
        assert!(
            prune.try_wait().unwrap().is_none(),
            "prune ran while ostree commit held the lock"
        );
        assert!(Instant::now() < deadline, "prune never waited for the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        prune.try_wait().unwrap().is_none(),
        "prune ran while ostree commit held the lock"
    );
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args(["-cf", "-", "."])
        .run_capture()
        .unwrap();
    fifo_in.write_all(&tar.stdout).unwrap();
    drop(fifo_in);
    succeeds(
        writer.wait_with_output().unwrap(),
        "ostree commit from the FIFO",
    );
    succeeds(prune.wait_with_output().unwrap(), "ferro prune");
    succeeds(
        ostree(&repo, &["fsck"]).run_capture().unwrap(),
        "ostree fsck",
    );
}
