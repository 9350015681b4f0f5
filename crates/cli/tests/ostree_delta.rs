//! `ferro ostree static-delta generate|list|show` as a process, the delta registered
//! by `ferro ostree summary -u`, read by `ostree static-delta show` when installed, and
//! used by `ferro ostree pull` from a real nginx (skipped without nginx).

#[path = "../../ostree/tests/support/nginx.rs"]
mod nginx;
#[path = "support/tools.rs"]
mod tools;

use std::fs;
use std::process::Command;

use ferro_sys::CommandRunExt;

use nginx::Nginx;

fn ferro(args: &[&str]) -> String {
    tools::success_stdout(tools::ferro_ostree(args), args)
}

#[test]
fn generate_list_show_and_pull() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let r = format!("--repo={}", srv.display());
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/hello"), "hello\n").unwrap();
    fs::write(tree.join("data"), vec![7u8; 100_000]).unwrap();
    ferro(&[&r, "init", "--mode=archive"]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let one = ferro(&[&r, "commit", "-b", "main", &tree_arg, "-s", "one"]);
    let one = one.trim();
    fs::write(tree.join("etc/hello"), "hello again\n").unwrap();
    let two = ferro(&[&r, "commit", "-b", "main", &tree_arg, "-s", "two"]);
    let two = two.trim();
    ferro(&[
        &r,
        "static-delta",
        "generate",
        "--empty",
        &format!("--to={one}"),
    ]);
    // Without --from or --empty: from the parent.
    let out = ferro(&[&r, "static-delta", "generate", "--to=main"]);
    assert!(out.contains(&format!("From: {one}")), "{out}");
    let listed = ferro(&[&r, "static-delta", "list"]);
    assert_eq!(listed, format!("{one}\n{one}-{two}\n"));
    let show = ferro(&[&r, "static-delta", "show", &format!("{one}-{two}")]);
    assert!(show.contains("Number of parts: 1"), "{show}");
    assert!(show.contains("PartMeta0: nobjects="), "{show}");
    if let Ok(out) = Command::new("ostree")
        .args(["static-delta", "show", &r, one])
        .run_capture()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Number of parts: 1"));
    } else {
        eprintln!("ostree not installed: not checked with `ostree static-delta show`");
    }
    ferro(&[&r, "summary", "-u"]);
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let client = tmp.path().join("client");
    let c = format!("--repo={}", client.display());
    ferro(&[&c, "init", "--mode=bare-user"]);
    ferro(&[
        &c,
        "remote",
        "add",
        "--no-gpg-verify",
        "origin",
        &server.url(),
    ]);
    let out = ferro(&[&c, "pull", "origin", one]);
    assert!(out.contains(&format!("Static delta {one}")), "{out}");
    ferro(&[&c, "refs", "--create=origin:main", one]);
    let out = ferro(&[&c, "pull", "origin", "main"]);
    assert!(out.contains(&format!("Static delta {one}-{two}")), "{out}");
    assert!(out.contains(" 0 content objects fetched"), "{out}");
    ferro(&[&c, "fsck", "-q"]);
}
