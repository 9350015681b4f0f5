//! `ferro ostree commit` killed (SIGKILL) at random points, many times, into
//! `bare-user` and `archive` repositories: after every kill the repository passes
//! `ferro ostree fsck` and `ostree fsck` (when installed), the ref is absent or names
//! the complete commit, every file under `objects/` is byte-identical to the same
//! object of an uninterrupted commit (nothing half-written is visible), and running
//! the commit again gives the uninterrupted commit's id.
//!
//! Two kinds of kill: at a random delay (anywhere, including after the commit ended),
//! and mid-commit by construction — the commit reads its tree as a tar stream from a
//! FIFO, the test writes a random prefix of the stream and kills the commit while it
//! waits for the rest. The second kind needs no timing to land inside the commit.

#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;
use tools::{FERRO, Rng, ferro_ostree, fsck_passes, have_ostree};

/// Kills per repository mode: 30 in all, fewer in archive mode, whose commits take
/// longer (debug builds compress slowly).
const RUNS: [(&str, usize); 2] = [("bare-user", 16), ("archive", 14)];

/// A tree of 2,000 small files in 20 directories, plus symlinks.
fn make_tree(root: &Path) {
    for d in 0..20 {
        let dir = root.join(format!("d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            fs::write(dir.join(format!("f{f:03}")), format!("{d} {f}\n")).unwrap();
        }
        std::os::unix::fs::symlink(format!("f{d:03}"), dir.join("link")).unwrap();
    }
}

struct Case {
    repo: PathBuf,
    tree: PathBuf,
}

impl Case {
    fn init(&self, mode: &str) {
        let _ = fs::remove_dir_all(&self.repo);
        let out = ferro_ostree(&[self.repo_arg(), "init".into(), format!("--mode={mode}")]);
        assert!(out.status.success(), "{out:?}");
    }

    fn repo_arg(&self) -> String {
        format!("--repo={}", self.repo.display())
    }

    fn commit_args(&self) -> Vec<String> {
        [
            self.repo_arg(),
            "commit".into(),
            "-b".into(),
            "main".into(),
            "--orphan".into(),
            "--timestamp=@1700000000".into(),
            "-s".into(),
            "interrupted".into(),
            format!("--tree=dir={}", self.tree.display()),
        ]
        .into()
    }

    fn commit(&self) -> String {
        self.commit_from(&format!("--tree=dir={}", self.tree.display()))
    }

    /// Commits the tree `tree_arg` names (`--tree=dir=…`, `--tree=tar=…`).
    fn commit_from(&self, tree_arg: &str) -> String {
        let mut args = self.commit_args();
        *args.last_mut().unwrap() = tree_arg.to_owned();
        let out = ferro_ostree(&args);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn main_ref(&self) -> Option<String> {
        fs::read_to_string(self.repo.join("refs/heads/main"))
            .ok()
            .map(|s| s.trim().to_owned())
    }
}

/// Every file under `objects/`, by relative path, with its bytes.
fn objects(repo: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let root = repo.join("objects");
    for fan in fs::read_dir(&root).unwrap() {
        let fan = fan.unwrap().path();
        for entry in fs::read_dir(&fan).unwrap() {
            let path = entry.unwrap().path();
            let bytes = match fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
            {
                true => fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes(),
                false => fs::read(&path).unwrap(),
            };
            out.insert(path.strip_prefix(&root).unwrap().to_owned(), bytes);
        }
    }
    out
}

#[test]
fn killed_commits_leave_sound_repositories_and_rerun_identically() {
    let started = Instant::now();
    let ostree = have_ostree("checking with `ferro ostree fsck` only");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let mut rng = Rng::from_clock("kill-delay");
    for (mode, runs) in RUNS {
        let baseline = Case {
            repo: dir.path().join(format!("{mode}-baseline")),
            tree: tree.clone(),
        };
        baseline.init(mode);
        let clock = Instant::now();
        let expected = baseline.commit();
        let full = clock.elapsed();
        let complete = objects(&baseline.repo);
        let case = Case {
            repo: dir.path().join(mode),
            tree: tree.clone(),
        };
        let (mut interrupted, mut finished) = (0, 0);
        // Anywhere from before the first object to just after the ref moved. Later
        // commits run on a warm cache and finish sooner than the baseline did, so the
        // window shrinks whenever a commit finishes before its kill.
        let mut window = full.as_micros() as u64 * 11 / 10;
        for run in 0..runs {
            case.init(mode);
            let mut child = Command::new(FERRO)
                .arg("ostree")
                .args(case.commit_args())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .start()
                .unwrap();
            let delay = rng.below(window);
            std::thread::sleep(Duration::from_micros(delay));
            match child.try_wait().unwrap() {
                Some(_) => {
                    finished += 1;
                    window = (window * 3 / 4).max(1);
                }
                None => {
                    child.kill().unwrap();
                    interrupted += 1;
                }
            }
            child.wait().unwrap();
            let when = format!("after {mode} run {run} killed at {delay} µs");
            fsck_passes(&case.repo_arg(), ostree, &when);
            if let Some(id) = case.main_ref() {
                assert_eq!(id, expected, "the ref names the complete commit {when}");
            }
            for (path, bytes) in objects(&case.repo) {
                let whole = complete.get(&path);
                assert!(
                    whole == Some(&bytes),
                    "{} is not whole {when}",
                    path.display()
                );
            }
            assert_eq!(case.commit(), expected, "re-run {when}");
            fsck_passes(&case.repo_arg(), false, &format!("re-run {when}"));
            assert_eq!(objects(&case.repo), complete, "re-run {when}");
        }
        // How many random kills landed inside a commit depends on the machine's speed,
        // so it is reported, not asserted; the mid-stream kills below always do.
        eprintln!("{mode}: {interrupted} commits killed, {finished} finished first");
    }
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn commits_killed_mid_stream_leave_no_ref_and_only_whole_objects() {
    let ostree = have_ostree("checking with `ferro ostree fsck` only");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let tar = dir.path().join("tree.tar");
    Command::new("tar")
        .arg("-C")
        .arg(&tree)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .run()
        .unwrap();
    let stream = fs::read(&tar).unwrap();
    let tar_arg = format!("--tree=tar={}", tar.display());
    let mut rng = Rng::from_clock("prefix");
    for mode in ["bare-user", "archive"] {
        let baseline = Case {
            repo: dir.path().join(format!("{mode}-baseline")),
            tree: tree.clone(),
        };
        baseline.init(mode);
        let expected = baseline.commit_from(&tar_arg);
        let complete = objects(&baseline.repo);
        let case = Case {
            repo: dir.path().join(mode),
            tree: tree.clone(),
        };
        for run in 0..6 {
            case.init(mode);
            let fifo = dir.path().join(format!("{mode}-{run}.fifo"));
            Command::new("mkfifo").arg(&fifo).run().unwrap();
            let mut args = case.commit_args();
            *args.last_mut().unwrap() = format!("--tree=tar={}", fifo.display());
            let mut child = Command::new(FERRO)
                .arg("ostree")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .start()
                .unwrap();
            // Returns once the commit opened the FIFO; every write returns once the
            // commit took the bytes (up to a pipe's worth ahead of it).
            let mut fifo_in = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let cut = rng.below(stream.len() as u64) as usize;
            fifo_in.write_all(&stream[..cut]).unwrap();
            // The stream is not finished, so the commit cannot be.
            assert!(child.try_wait().unwrap().is_none(), "commit ended early");
            child.kill().unwrap();
            child.wait().unwrap();
            drop(fifo_in);
            let when = format!(
                "after {mode} run {run} killed at byte {cut} of {}",
                stream.len()
            );
            fsck_passes(&case.repo_arg(), ostree, &when);
            assert_eq!(case.main_ref(), None, "no ref moved {when}");
            for (path, bytes) in objects(&case.repo) {
                assert!(
                    complete.get(&path) == Some(&bytes),
                    "{} is not whole {when}",
                    path.display()
                );
            }
            assert_eq!(case.commit_from(&tar_arg), expected, "re-run {when}");
            assert_eq!(objects(&case.repo), complete, "re-run {when}");
        }
    }
}
