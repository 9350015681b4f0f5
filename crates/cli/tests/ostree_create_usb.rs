//! `ferro ostree create-usb MOUNT COLLECTION REF…`: the medium's repository holds the
//! refs as `ostree refs --collections` lists them, with a summary, and an incomplete
//! pair is a usage error that writes nothing.

use std::fs;

#[path = "support/tools.rs"]
mod tools;
use tools::{hello_tree, run};

#[test]
fn create_usb_copies_collection_refs_and_refuses_incomplete_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = hello_tree(tmp.path());
    let repo = tmp.path().join("repo");
    let ok = |repo: &std::path::Path, args: &[&str]| {
        let out = run("ferro", repo, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&repo, &["init", "--collection-id=org.example.C"]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let id = ok(&repo, &["commit", "-b", "app", "-s", "s", &tree_arg]);
    let mount = tmp.path().join("mount");
    fs::create_dir(&mount).unwrap();
    let mount_arg = mount.display().to_string();

    let out = run("ferro", &repo, &["create-usb", &mount_arg, "org.example.C"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(fs::read_dir(&mount).unwrap().count(), 0);

    let said = ok(&repo, &["create-usb", &mount_arg, "org.example.C", "app"]);
    assert!(
        said.starts_with("Copied 1/1 refs successfully from"),
        "{said}"
    );
    let usb = mount.join(".ostree/repo");
    assert_eq!(
        ok(&usb, &["refs", "--collections"]),
        "(org.example.C, app)\n"
    );
    assert!(usb.join("summary").is_file());
    assert_eq!(
        fs::read_to_string(usb.join("refs/mirrors/org.example.C/app")).unwrap(),
        id
    );
}
