//! Object files and checkouts get their modes from the committed tree, whatever the
//! umask of the `ferro` process: a umask that strips bits must end in the same
//! repository and the same checkout as the usual 022.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

/// Runs `ferro ostree ARGS` under `umask`.
fn ferro_under_umask(umask: &str, args: &[&str]) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" ostree \"$@\""))
        .arg(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .run_capture()
        .unwrap();
    assert!(out.status.success(), "umask {umask} {args:?}: {out:?}");
}

/// The permission bits of every content object, sorted.
fn content_modes(repo: &Path) -> Vec<u32> {
    let mut modes = vec![];
    for fan in fs::read_dir(repo.join("objects")).unwrap() {
        for object in fs::read_dir(fan.unwrap().path()).unwrap() {
            let path = object.unwrap().path();
            if path.extension().is_some_and(|e| e == "file") {
                modes.push(fs::metadata(&path).unwrap().permissions().mode() & 0o7777);
            }
        }
    }
    modes.sort_unstable();
    modes
}

#[test]
fn object_and_checkout_modes_do_not_depend_on_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    for (name, mode) in [("rw", 0o644), ("group-rwx", 0o775), ("private", 0o600)] {
        let path = src.join(name);
        fs::write(&path, name).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let tree = format!("--tree=dir={}", src.display());
    let mut seen = vec![];
    for umask in ["022", "077"] {
        let repo = dir.path().join(format!("repo-{umask}"));
        let repo_arg = format!("--repo={}", repo.display());
        ferro_under_umask(umask, &[&repo_arg, "init", "--mode=bare-user"]);
        ferro_under_umask(umask, &[&repo_arg, "commit", "-b", "main", &tree]);
        // bare-user: the mode's 0775 bits, always readable by the owner.
        assert_eq!(
            content_modes(&repo),
            vec![0o600, 0o644, 0o775],
            "umask {umask}"
        );
        let checkout = dir.path().join(format!("checkout-{umask}"));
        ferro_under_umask(
            umask,
            &[
                &repo_arg,
                "checkout",
                "-U",
                "main",
                checkout.to_str().unwrap(),
            ],
        );
        let mut modes: Vec<(String, u32)> = fs::read_dir(&checkout)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
                (entry.file_name().into_string().unwrap(), mode)
            })
            .collect();
        modes.sort();
        seen.push(modes);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(
        seen[0],
        vec![
            ("group-rwx".to_owned(), 0o775),
            ("private".to_owned(), 0o600),
            ("rw".to_owned(), 0o644)
        ]
    );
}
