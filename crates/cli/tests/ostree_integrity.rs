//! `ferro ostree fsck|diff|sign` as a user runs them: exit codes, messages naming the
//! object, and `diff` output byte-identical to `ostree diff` (skipped, with a message,
//! when `ostree` is not installed).

#[path = "support/tools.rs"]
mod tools;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;
use tools::have_ostree;

fn run(tool: &str, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .run_capture()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"))
}

fn ferro(args: &[&str]) -> Output {
    tools::ferro_ostree(args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn commit(repo_arg: &str, src: &Path, tool: &str) -> String {
    let tree = format!("--tree=dir={}", src.display());
    let args = [
        "commit",
        repo_arg,
        "-b",
        "main",
        &tree,
        "-s",
        "s",
        "--timestamp=@0",
    ];
    let out = if tool == "ferro" {
        ferro(&args)
    } else {
        run(tool, &args)
    };
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// A flipped byte in a dirtree: `fsck` exits 1 naming it; `fsck --delete` removes it.
#[test]
fn fsck_names_the_corrupt_object_and_delete_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/f"), b"data").unwrap();
    let repo = tmp.path().join("repo");
    let r = format!("--repo={}", repo.display());
    assert!(ferro(&[&r, "init", "--mode=bare-user"]).status.success());
    commit(&r, &src, "ferro");
    let clean = ferro(&[&r, "fsck"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));

    let dirtree = fs::read_dir(repo.join("objects"))
        .unwrap()
        .flat_map(|fan| fs::read_dir(fan.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "dirtree"))
        .unwrap();
    let mut bytes = fs::read(&dirtree).unwrap();
    bytes[0] ^= 1;
    fs::set_permissions(&dirtree, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&dirtree, bytes).unwrap();
    let fan = dirtree
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let named = format!("{fan}{}", dirtree.file_name().unwrap().to_str().unwrap());

    let bad = ferro(&[&r, "fsck", "-q"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains(&format!("corrupted object {named}")),
        "{}",
        stderr(&bad)
    );

    let deleted = ferro(&[&r, "fsck", "--delete"]);
    assert_eq!(deleted.status.code(), Some(1));
    assert!(
        stderr(&deleted).contains(&format!("deleted corrupted object {named}")),
        "{}",
        stderr(&deleted)
    );
    assert!(!dirtree.exists());
    let after = ferro(&[&r, "fsck"]);
    assert_eq!(after.status.code(), Some(1));
    assert!(stderr(&after).contains(&format!("Object missing: {named}")));
}

/// Two commits of trees differing in every way `ostree diff` distinguishes give the
/// same output from both tools, in both directions, for one and two revisions, with
/// and without `--stats`.
#[test]
fn diff_output_matches_ostree() {
    if !have_ostree("skipping") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("src");
    let write = |rel: &str, data: &str| {
        let path = s.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    };
    write("a", "a");
    write("f", "f");
    write("same/x", "x");
    write("sub/b", "b");
    write("sub/deep/d", "d");
    write("t/y", "y");
    fs::create_dir(s.join("d")).unwrap();
    std::os::unix::fs::symlink("a", s.join("l")).unwrap();
    let repo = tmp.path().join("repo");
    let r = format!("--repo={}", repo.display());
    assert!(
        run("ostree", &["init", &r, "--mode=archive"])
            .status
            .success()
    );
    let first = commit(&r, &s, "ostree");

    write("a", "changed"); // content
    fs::remove_dir_all(s.join("sub/deep")).unwrap(); // removed directory
    write("new/n", "n"); // added directory, listed recursively
    write("new/nn/m", "m");
    write("sub/c", "c"); // added file
    fs::set_permissions(s.join("sub/b"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::remove_file(s.join("l")).unwrap(); // symlink target
    std::os::unix::fs::symlink("b", s.join("l")).unwrap();
    fs::remove_file(s.join("f")).unwrap(); // file -> directory
    write("f/z", "z");
    fs::set_permissions(s.join("d"), fs::Permissions::from_mode(0o700)).unwrap(); // dirmeta
    fs::remove_dir_all(s.join("t")).unwrap(); // directory -> file
    write("t", "t");
    let second = commit(&r, &s, "ostree");

    for args in [
        vec![first.as_str(), second.as_str()],
        vec![second.as_str(), first.as_str()],
        vec!["main"],
        vec!["--stats", first.as_str(), second.as_str()],
        vec!["--stats", "--fs-diff", first.as_str(), second.as_str()],
        vec![first.as_str(), first.as_str()],
    ] {
        let mut full = vec![r.as_str(), "diff"];
        full.extend(&args);
        let theirs = run("ostree", &full);
        let ours = ferro(&full);
        assert!(theirs.status.success() && ours.status.success(), "{args:?}");
        assert_eq!(stdout(&ours), stdout(&theirs), "diff {args:?}");
    }
    assert!(stdout(&ferro(&[&r, "diff", &first, &second])).contains("A    /new/nn/m\n"));
}

/// `sign` then `sign --verify` with the matching public key succeeds and prints the
/// key; a wrong key exits 1; `ostree` reads the signature ferro stored.
#[test]
fn sign_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"data").unwrap();
    let repo = tmp.path().join("repo");
    let r = format!("--repo={}", repo.display());
    assert!(ferro(&[&r, "init", "--mode=archive"]).status.success());
    commit(&r, &src, "ferro");
    // Seed 0..32 with its public key, as `ostree sign` takes them (base64).
    let secret =
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==";
    let public = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
    let keys = tmp.path().join("keys");
    fs::write(&keys, format!("{secret}\n")).unwrap();
    let keys_arg = format!("--keys-file={}", keys.display());
    let signed = ferro(&[&r, "sign", &keys_arg, "main"]);
    assert!(signed.status.success(), "{}", stderr(&signed));

    let ok = ferro(&[&r, "sign", "--verify", "main", public]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(
        stdout(&ok),
        "ed25519: Signature verified successfully with key \
         '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8'\n"
    );
    let wrong = "/RckOFqgx1tk+3jNYC+h2ZH96/drE8WO1wLqyDXp9hg=";
    let bad = ferro(&[&r, "sign", "--verify", "main", wrong]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("ed25519: Signature couldn't be verified with: key 'fd17"),
        "{}",
        stderr(&bad)
    );
    // OSTree's test-only signer is refused unless OSTREE_DUMMY_SIGN_ENABLED=1.
    let dummy = ferro(&[&r, "sign", "-s", "dummy", "main", "x"]);
    assert_eq!(dummy.status.code(), Some(1));
    assert!(
        stderr(&dummy).contains("dummy signature type is only for ostree testing"),
        "{}",
        stderr(&dummy)
    );

    if have_ostree("skipping the `ostree` side") {
        let shown = run(
            "ostree",
            &[
                "show",
                &r,
                "--print-detached-metadata-key=ostree.sign.ed25519",
                "main",
            ],
        );
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert!(
            stdout(&shown).starts_with("[[byte 0x"),
            "{}",
            stdout(&shown)
        );
    }
}
