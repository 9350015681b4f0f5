//! Differential testing of `ferro butane` against the reference Butane v0.29.0 binary
//! (`../shared/oracles/butane-v0.29.0`) on generated configs.
//!
//! The generator (`crates/butane/tests/gen`) derives every case from a seed and an
//! index; each case runs through both tools with the same flags in its own directory,
//! under `timeout`, and as an unprivileged user when it has unreadable entries (root
//! reads everything). Both must agree on the exit code, on stdout byte for byte (gzip
//! data URLs included: a difference only in them is reported as such), and on stderr
//! line by line: with `--raw-errors` that is every report entry's kind, path,
//! line, column and message.
//!
//! `FERRO_DIFF_CASES` (default 2,000) and `FERRO_DIFF_SEED` choose the run,
//! `FERRO_DIFF_FIRST` its first index, `FERRO_DIFF_ONLY=3,17` single cases, and
//! `FERRO_DIFF_OUT=dir` keeps every divergent case there for minimising.
//!
//! Until every case agrees, the cases of the default seed that still diverge are listed
//! in `tests/butane_differential.known` (rewritten by `FERRO_DIFF_RECORD=1`): any other
//! divergence fails the test, so a change can only lower the count.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferro_spec::DataUrl;
use ferro_sys::CommandRunExt;

#[path = "../../butane/tests/gen/mod.rs"]
mod generator;

use generator::{Case, Entry, FILES_DIR};

const DEFAULT_SEED: u64 = 0x00fe_4400_b07a_0019;
const DEFAULT_CASES: usize = 2_000;
const KNOWN_HEADER: &str = "# Cases of the default seed that still diverge from Butane, with their cause.\n\
# Written by FERRO_DIFF_RECORD=1; the test fails on any divergence not listed here.\n";
/// Seconds before a run is killed; a hang is a divergence, not a stuck test.
const TIMEOUT: &str = "60";

fn oracle() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracles/butane-v0.29.0");
    path.is_file().then_some(path)
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Writes the case's config and files directory under `dir`.
fn lay_out(case: &Case, dir: &Path) {
    fs::create_dir_all(dir.join(FILES_DIR)).expect("case directory");
    fs::write(dir.join("config.bu"), &case.yaml).expect("write config");
    let mut modes = Vec::new();
    for entry in &case.entries {
        match entry {
            Entry::File { path, data, mode } => {
                let p = dir.join(FILES_DIR).join(path);
                fs::write(&p, data).expect("write file");
                modes.push((p, *mode));
            }
            Entry::Dir { path, mode } => {
                let p = dir.join(FILES_DIR).join(path);
                fs::create_dir_all(&p).expect("create dir");
                modes.push((p, *mode));
            }
            Entry::Symlink { path, target } => {
                std::os::unix::fs::symlink(target, dir.join(FILES_DIR).join(path))
                    .expect("symlink");
            }
            Entry::Fifo { path } => {
                Command::new("mkfifo")
                    .arg(dir.join(FILES_DIR).join(path))
                    .run()
                    .expect("mkfifo");
            }
        }
    }
    // Children first, so a closed directory's contents were written before it closed.
    for (path, mode) in modes.into_iter().rev() {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for d in [dir, &dir.join(FILES_DIR)] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[derive(Debug, PartialEq)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, program: &[&str], case: &Case) -> Run {
    let mut command = Command::new("timeout");
    command.args(["-k", "5", TIMEOUT]);
    if case.unprivileged {
        command.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    command
        .args(program)
        .args(&case.args)
        .arg("config.bu")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE");
    let output = command.run_capture().expect("run");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `text` with every gzip data URL replaced by its gunzipped payload.
fn decode_gzip(text: &str) -> String {
    const MARK: &str = "data:;base64,";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + MARK.len()..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
            .unwrap_or(tail.len());
        let url = &rest[at..at + MARK.len() + len];
        match DataUrl::parse(url) {
            Ok(data) if data.data().starts_with(&[0x1f, 0x8b]) => {
                let mut plain = Vec::new();
                let _ = flate2::read::GzDecoder::new(data.data()).read_to_end(&mut plain);
                out.push_str("gunzipped:");
                out.push_str(&String::from_utf8_lossy(&plain).escape_debug().to_string());
            }
            _ => out.push_str(url),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// The first difference between the two runs, or `None` when they agree; the first
/// element is a cause signature (digits folded) used to group divergences.
fn compare(ferro: &Run, oracle: &Run) -> Option<(String, String)> {
    let fold = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        s.chars().take(110).collect()
    };
    if ferro.code != oracle.code {
        let fl = ferro.stderr.lines().last().unwrap_or("");
        let ol = oracle.stderr.lines().last().unwrap_or("");
        return Some((
            format!(
                "exit {} vs {}: {} || {}",
                ferro.code,
                oracle.code,
                fold(fl),
                fold(ol)
            ),
            format!(
                "exit code {} vs oracle {}\n--- ferro stderr\n{}--- oracle stderr\n{}",
                ferro.code, oracle.code, ferro.stderr, oracle.stderr
            ),
        ));
    }
    let (ferro_err, oracle_err) = (
        unused_keys_sorted(&ferro.stderr),
        unused_keys_sorted(&oracle.stderr),
    );
    let fe: Vec<&str> = ferro_err.lines().collect();
    let oe: Vec<&str> = oracle_err.lines().collect();
    if fe != oe {
        let mut fs = fe.clone();
        let mut os = oe.clone();
        fs.sort_unstable();
        os.sort_unstable();
        let cause = if fs == os {
            "stderr: report order".to_owned()
        } else {
            // The first line only one side has: the entry one side misses or words apart.
            let a = fe
                .iter()
                .find(|l| !oe.contains(l))
                .copied()
                .unwrap_or("<none>");
            let b = oe
                .iter()
                .find(|l| !fe.contains(l))
                .copied()
                .unwrap_or("<none>");
            format!("stderr: {} || {}", fold(a), fold(b))
        };
        return Some((
            cause,
            format!(
                "--- ferro stderr\n{}--- oracle stderr\n{}",
                ferro.stderr, oracle.stderr
            ),
        ));
    }
    if ferro.stdout != oracle.stdout {
        let (a, b) = (decode_gzip(&ferro.stdout), decode_gzip(&oracle.stdout));
        if a == b {
            return Some((
                "stdout: gzip bytes".to_owned(),
                "same payloads, different deflate streams".to_owned(),
            ));
        }
        {
            let i = a
                .bytes()
                .zip(b.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            let mut start = i.saturating_sub(60);
            while !a.is_char_boundary(start) || !b.is_char_boundary(start) {
                start -= 1;
            }
            let sa: String = a[start..].chars().take(140).collect();
            let sb: String = b[start..].chars().take(140).collect();
            let cause = if a.contains("\"gzip\"") != b.contains("\"gzip\"")
                || a.matches("gunzipped:").count() != b.matches("gunzipped:").count()
            {
                "stdout: gzip choice".to_owned()
            } else {
                format!("stdout: {}", fold(&sa.chars().take(80).collect::<String>()))
            };
            return Some((
                cause,
                format!("--- ferro stdout at {i}\n{sa}\n--- oracle stdout\n{sb}\n"),
            ));
        }
    }
    None
}

/// `stderr` with its `unused key` entries moved to the end, sorted. Butane finds unused
/// keys by iterating a Go map, so their order changes from run to run of the same
/// binary on the same input; only the set, and the order of the other entries, can be
/// compared.
fn unused_keys_sorted(stderr: &str) -> String {
    let mut entries: Vec<String> = Vec::new();
    for line in stderr.split_inclusive('\n') {
        let starts_entry = ["error", "warning", "info", "Config produced"]
            .iter()
            .any(|kind| line.starts_with(kind));
        match entries.last_mut() {
            Some(last) if !starts_entry => last.push_str(line),
            _ => entries.push(line.to_owned()),
        }
    }
    let (mut unused, mut rest): (Vec<String>, Vec<String>) = entries
        .into_iter()
        .partition(|e| e.contains(" unused key "));
    for e in &mut unused {
        // The blank line after a pretty entry depends on what follows it.
        *e = format!("{}\n", e.trim_end());
    }
    unused.sort();
    rest.extend(unused);
    rest.concat()
}

struct Divergence {
    index: u64,
    cause: String,
    detail: String,
}

#[test]
fn ferro_agrees_with_butane_on_generated_configs() {
    let Some(oracle) = oracle() else {
        eprintln!("skipped: the reference Butane is absent (../shared/oracles/butane-v0.29.0)");
        return;
    };
    let seed = env_number("FERRO_DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let first = env_number("FERRO_DIFF_FIRST").unwrap_or(0);
    let count = env_number("FERRO_DIFF_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let indices: Vec<u64> = match std::env::var("FERRO_DIFF_ONLY") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => (first..first + count as u64).collect(),
    };
    let keep = std::env::var_os("FERRO_DIFF_OUT").map(PathBuf::from);
    if let Some(keep) = &keep {
        fs::create_dir_all(keep).expect("FERRO_DIFF_OUT directory");
    }
    let work = tempfile::tempdir().expect("work directory");
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let ferro_bin = env!("CARGO_BIN_EXE_ferro");
    let oracle = oracle.to_str().expect("oracle path").to_owned();
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = indices.get(i) else { break };
                    let case = generator::generate(seed, index);
                    let dir = work.path().join(format!("c{index}"));
                    lay_out(&case, &dir);
                    let ours = run(&dir, &[ferro_bin, "butane"], &case);
                    let theirs = run(&dir, &[&oracle], &case);
                    if let Some((cause, detail)) = compare(&ours, &theirs) {
                        if let Some(keep) = &keep {
                            let to = keep.join(format!("c{index}"));
                            let _ = fs::remove_dir_all(&to);
                            let _ = Command::new("cp").arg("-a").arg(&dir).arg(&to).run();
                            let _ = fs::write(
                                to.join("divergence.txt"),
                                format!(
                                    "args: {:?} unprivileged: {}\n{cause}\n{detail}",
                                    case.args, case.unprivileged
                                ),
                            );
                        }
                        found.lock().unwrap().push(Divergence {
                            index,
                            cause,
                            detail,
                        });
                    }
                    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
                    let _ = Command::new("rm").arg("-rf").arg(&dir).run();
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap();
    found.sort_by_key(|d| d.index);
    let known_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/butane_differential.known");
    if seed == DEFAULT_SEED && std::env::var_os("FERRO_DIFF_RECORD").is_some() {
        let list: String = found
            .iter()
            .map(|d| format!("{} {}\n", d.index, d.cause))
            .collect();
        fs::write(&known_file, format!("{KNOWN_HEADER}{list}")).expect("record known divergences");
        return;
    }
    // Divergences not yet fixed are listed (default seed only): the test fails on any
    // other, so fixes can only move the count down. Goal: an empty list.
    let known: Vec<u64> = if seed == DEFAULT_SEED {
        fs::read_to_string(&known_file)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    } else {
        Vec::new()
    };
    let now_agreeing = known
        .iter()
        .filter(|i| indices.contains(i) && !found.iter().any(|d| d.index == **i))
        .count();
    if now_agreeing > 0 {
        eprintln!(
            "{now_agreeing} listed divergences now agree: rerun with FERRO_DIFF_RECORD=1 to shorten {}",
            known_file.display()
        );
    }
    let listed = found.len();
    found.retain(|d| !known.contains(&d.index));
    eprintln!(
        "{} of {} cases agree with Butane; {} known divergences remain",
        indices.len() - listed,
        indices.len(),
        listed - found.len()
    );
    if found.is_empty() {
        return;
    }
    let mut groups: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for d in &found {
        groups.entry(&d.cause).or_default().push(d.index);
    }
    let mut by_size: Vec<_> = groups.into_iter().collect();
    by_size.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut message = format!(
        "{} of {} generated cases diverge from Butane (seed {seed:#x}); by cause:\n",
        found.len(),
        indices.len()
    );
    for (cause, cases) in &by_size {
        let shown: Vec<String> = cases.iter().take(8).map(u64::to_string).collect();
        message.push_str(&format!(
            "{:6}  {cause}   [cases {}]\n",
            cases.len(),
            shown.join(",")
        ));
    }
    for d in found.iter().take(3) {
        let case = generator::generate(seed, d.index);
        message.push_str(&format!(
            "\n=== case {} args {:?}\n{}\n{}",
            d.index, case.args, case.yaml, d.detail
        ));
    }
    panic!("{message}");
}

/// A tree walk reports an entry it cannot read (a file, or a directory it cannot list,
/// which is then not added) and goes on with the next, as Go's `filepath.Walk` does
/// for Butane (case 2320, minimised; the reference's report).
#[test]
fn unreadable_tree_entries_are_reported_and_skipped() {
    let file = |path: &str, mode| Entry::File {
        path: path.into(),
        data: b"x\n".to_vec(),
        mode,
    };
    let dir = |path: &str, mode| Entry::Dir {
        path: path.into(),
        mode,
    };
    let case = Case {
        index: 0,
        yaml: "variant: fcos\nversion: 1.5.0\nstorage:\n  trees:\n    - local: xtree\n    - local: utree\n      path: /u\n".into(),
        entries: vec![
            dir("xtree", 0o000),
            dir("utree", 0o755),
            dir("utree/closed", 0o000),
            file("utree/closed/inside", 0o644),
            file("utree/ok", 0o644),
            file("utree/secret", 0o000),
        ],
        args: vec!["-d".into(), "files".into(), "--raw-errors".into()],
        unprivileged: true,
    };
    let work = tempfile::tempdir().expect("work directory");
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir_path = work.path().join("case");
    lay_out(&case, &dir_path);
    let ours = run(&dir_path, &[env!("CARGO_BIN_EXE_ferro"), "butane"], &case);
    let _ = fs::set_permissions(
        dir_path.join("files/utree/closed"),
        fs::Permissions::from_mode(0o755),
    );
    let _ = fs::set_permissions(
        dir_path.join("files/xtree"),
        fs::Permissions::from_mode(0o755),
    );
    assert_eq!(
        ours.stderr,
        "error at $.storage.trees.0, line 5 col 7: open files/xtree: permission denied\n\
         error at $.storage.trees.1, line 6 col 7: open files/utree/closed: permission denied\n\
         error at $.storage.trees.1, line 6 col 7: open files/utree/secret: permission denied\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(ours.code, 1);
}
