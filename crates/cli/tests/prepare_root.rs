//! `ferro prepare-root` in a private mount namespace (`unshare --mount`): the
//! deployment named by `ostree=` becomes the root with a read-only `/usr`, the
//! stateroot's `/var`, a writable `/etc`, the physical root at `/sysroot` and `/boot`.
//! Skipped with a message when mount namespaces are not permitted.

#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::fs;
use std::process::Command;

use ferro_sys::CommandRunExt;
use ferro_sysroot::{DeployOptions, init_fs};
use support::{Scratch, commit, make_tree};

fn namespaces_permitted() -> bool {
    let ok = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .run_status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping prepare-root test: mount namespaces are not permitted here");
    }
    ok
}

#[test]
fn deployment_becomes_the_root_with_read_only_usr() {
    if !namespaces_permitted() {
        return;
    }
    let scratch = Scratch::new();
    let sysroot = init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("testos").unwrap();
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a.conf", Some("a"))]);
    for dir in ["var", "sysroot", "boot"] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let options = DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(vec!["rw".into()]),
        ..Default::default()
    };
    let deployed = sysroot.deploy("testos/v", &options).unwrap().deployment;
    let cmdline = scratch.path().join("cmdline");
    fs::write(&cmdline, format!("{}\n", deployed.kargs)).unwrap();

    // Everything runs inside one namespace; the shell reports what it saw.
    let root = sysroot.path().display().to_string();
    let script = format!(
        r#"set -e
"$0" prepare-root --cmdline '{cmdline}' '{root}'
if echo x > '{root}/usr/new' 2>/dev/null; then echo usr:writable; else echo usr:readonly; fi
touch '{root}/usr/lib/os-release' 2>&1 | grep -q 'Read-only file system' && echo usr:erofs
echo var > '{root}/var/written'
echo etc > '{root}/etc/written'
test -d '{root}/sysroot/ostree/repo' && echo sysroot:ok
test -L '{root}/boot/loader' && echo boot:ok
grep -q ' {root}/usr .*ro[,\ ]' /proc/self/mountinfo && echo usr:ro-mount
"#,
        cmdline = cmdline.display(),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_ferro"))
        .run_capture()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = sysroot.dir_of(&deployed);
    assert!(
        stdout.starts_with(&format!("Mounted deployment {} at {root}\n", dir.display())),
        "{stdout}"
    );
    for line in [
        "usr:readonly",
        "usr:erofs",
        "sysroot:ok",
        "boot:ok",
        "usr:ro-mount",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} missing: {stdout}"
        );
    }
    // Seen from outside the namespace: /var writes landed in the stateroot's var,
    // /etc writes in the deployment's own /etc, and nothing in its /usr.
    let var = sysroot.path().join("ostree/deploy/testos/var/written");
    assert_eq!(fs::read_to_string(var).unwrap(), "var\n");
    assert_eq!(
        fs::read_to_string(dir.join("etc/written")).unwrap(),
        "etc\n"
    );
    assert!(!dir.join("usr/new").exists());
    assert!(!dir.join("var/written").exists());
}

#[test]
fn missing_ostree_argument_is_a_clear_error() {
    let scratch = Scratch::new();
    init_fs(&scratch.sysroot()).unwrap();
    let cmdline = scratch.path().join("cmdline");
    fs::write(&cmdline, "quiet rw\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(["prepare-root", "--cmdline"])
        .arg(&cmdline)
        .arg(scratch.sysroot())
        .run_capture()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error: no ostree= argument in '{}'\n", cmdline.display())
    );
}
