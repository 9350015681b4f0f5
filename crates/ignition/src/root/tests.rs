use super::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

/// A temp dir holding `root/` (the root) and, next to it, a sentinel file and an
/// `outside/` directory that no operation may touch.
struct Fixture {
    tmp: tempfile::TempDir,
    root: Root,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir(tmp.path().join("root")).expect("mkdir root");
        fs::create_dir(tmp.path().join("outside")).expect("mkdir outside");
        fs::write(tmp.path().join("sentinel"), "keep").expect("sentinel");
        fs::write(tmp.path().join("outside/file"), "keep").expect("outside file");
        fs::set_permissions(
            tmp.path().join("sentinel"),
            fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        let root = Root::open(&tmp.path().join("root")).expect("open root");
        Fixture { tmp, root }
    }

    fn host(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("root").join(rel)
    }

    fn link(&self, rel: &str, target: &str) {
        symlink(target, self.host(rel)).expect("symlink");
    }

    fn outside(&self) -> String {
        self.tmp.path().join("outside").display().to_string()
    }

    /// Nothing next to the root changed.
    fn assert_outside_untouched(&self) {
        let t = self.tmp.path();
        let mut names: Vec<String> = fs::read_dir(t)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["outside", "root", "sentinel"]);
        assert_eq!(
            fs::read_to_string(t.join("sentinel")).expect("sentinel"),
            "keep"
        );
        let meta = fs::metadata(t.join("sentinel")).expect("stat sentinel");
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(
            (meta.uid(), meta.gid()),
            (
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw()
            )
        );
        let outside: Vec<_> = fs::read_dir(t.join("outside"))
            .expect("ls outside")
            .collect();
        assert_eq!(outside.len(), 1);
        assert_eq!(
            fs::read_to_string(t.join("outside/file")).expect("outside file"),
            "keep"
        );
    }
}

const PERMS: Perms = Perms {
    uid: None,
    gid: None,
    mode: 0o644,
};

#[test]
fn cleaning_keeps_dotdot_inside() {
    assert_eq!(clean("/../../etc/./x/../y"), "/etc/y");
    assert_eq!(parent("/etc/hello"), "/etc");
    assert_eq!(parent("/hello"), "/");
    assert_eq!(parent("/"), "/");
}

#[test]
fn dotdot_paths_stay_in_root() {
    let f = Fixture::new();
    f.root
        .write_file("/../sentinel", b"x", PERMS)
        .expect("write");
    f.root
        .create_dir_all("/../../outside/new", 0o755, None)
        .expect("mkdir");
    assert_eq!(fs::read(f.host("sentinel")).expect("read"), b"x");
    assert!(f.host("outside/new").is_dir());
    f.assert_outside_untouched();
}

#[test]
fn absolute_symlink_in_parent_is_rerooted() {
    let f = Fixture::new();
    fs::create_dir(f.host("real")).expect("mkdir");
    f.link("lnk", "/real");
    f.root
        .write_file("/lnk/hello", b"hi", PERMS)
        .expect("write");
    assert_eq!(fs::read(f.host("real/hello")).expect("read"), b"hi");
    // An absolute host path to the outside directory means the same path in the root.
    f.link("abs", &f.outside());
    let err = f
        .root
        .write_file("/abs/file", b"x", PERMS)
        .expect_err("must not escape");
    assert_eq!(err.source.raw_os_error(), Some(Errno::NOENT.raw_os_error()));
    // Creating directories through the dangling link creates its target, re-rooted.
    f.root
        .create_dir_all("/abs/sub", 0o755, None)
        .expect("created inside the root");
    assert!(
        f.host(&format!("{}/sub", f.outside().trim_start_matches('/')))
            .is_dir()
    );
    f.assert_outside_untouched();
}

#[test]
fn relative_and_chained_symlinks_are_clamped() {
    let f = Fixture::new();
    f.link("rel", "../../../outside");
    f.link("a", "b");
    f.link("b", "../..");
    assert!(f.root.write_file("/rel/file", b"x", PERMS).is_err());
    assert!(f.root.append("/rel/file", b"x", 0o644).is_err());
    // `/a` → `/b` → `/../..` = the root itself.
    f.root
        .write_file("/a/sentinel", b"inside", PERMS)
        .expect("write via chain");
    assert_eq!(fs::read(f.host("sentinel")).expect("read"), b"inside");
    assert_eq!(
        f.root.read("/a/a/b/sentinel").expect("read").as_deref(),
        Some(&b"inside"[..])
    );
    f.assert_outside_untouched();
}

#[test]
fn symlink_loops_fail_clearly() {
    let f = Fixture::new();
    f.link("l1", "l2");
    f.link("l2", "l1");
    let err = f.root.write_file("/l1/x", b"x", PERMS).expect_err("loop");
    assert!(
        err.one_line()
            .starts_with("could not write file '/l1/x': symlink loop"),
        "{err}"
    );
    let err = f
        .root
        .create_dir_all("/l1/x", 0o755, None)
        .expect_err("loop");
    assert!(err.one_line().contains("symlink loop"), "{err}");
    f.assert_outside_untouched();
}

#[test]
fn final_symlink_is_never_followed() {
    let f = Fixture::new();
    let sentinel = f.tmp.path().join("sentinel").display().to_string();
    for (name, target) in [("rel", "../../sentinel"), ("abs", sentinel.as_str())] {
        f.link(name, target);
        assert!(f.root.append(&format!("/{name}"), b"x", 0o644).is_err());
        assert!(f.root.chmod(&format!("/{name}"), 0o777).is_err());
        if as_root() {
            let p = format!("/{name}");
            f.root.chown(&p, Some(1234), Some(1234)).expect("lchown");
            let link = fs::symlink_metadata(f.host(name)).expect("lstat");
            assert_eq!(link.uid(), 1234);
        }
        f.root
            .write_file(&format!("/{name}"), b"replaced", PERMS)
            .expect("write replaces link");
        assert_eq!(fs::read(f.host(name)).expect("read"), b"replaced");
        assert!(fs::symlink_metadata(f.host(name)).expect("lstat").is_file());
    }
    f.assert_outside_untouched();
}

#[test]
fn remove_all_and_hard_links_stay_inside() {
    let f = Fixture::new();
    fs::create_dir_all(f.host("d/sub")).expect("mkdir");
    fs::write(f.host("d/sub/f"), "x").expect("write");
    symlink(f.outside(), f.host("d/out")).expect("symlink");
    f.link("out", "../../outside");
    assert!(f.root.remove_all("/d").expect("remove"));
    assert!(f.root.remove_all("/out").expect("remove link"));
    assert!(
        !f.root
            .remove_all("/missing/deeper")
            .expect("missing is fine")
    );
    assert!(!f.host("d").exists() && fs::symlink_metadata(f.host("out")).is_err());
    assert!(f.root.hard_link("/h", "/../sentinel").is_err());
    f.link("o2", &f.outside());
    assert!(f.root.hard_link("/h", "/o2/file").is_err());
    f.assert_outside_untouched();
}

#[test]
fn write_is_atomic_with_owner_then_mode() {
    let f = Fixture::new();
    fs::create_dir(f.host("etc")).expect("mkdir");
    let root = as_root();
    let id = root.then_some(1000);
    let perms = Perms {
        uid: id,
        gid: id,
        mode: 0o4755,
    };
    f.root
        .write_file("/etc/tool", b"#!/bin/sh\n", perms)
        .expect("write");
    let meta = fs::metadata(f.host("etc/tool")).expect("stat");
    assert_eq!(meta.mode() & 0o7777, 0o4755, "setuid survives the chown");
    if root {
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    }
    let names = || -> Vec<_> {
        fs::read_dir(f.host("etc"))
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect()
    };
    assert_eq!(names(), ["tool"], "no temp file left");
    f.root
        .write_file("/etc/tool", b"#!/bin/sh\nexit 0\n", perms)
        .expect("overwrite");
    assert_eq!(
        fs::read(f.host("etc/tool")).expect("read"),
        b"#!/bin/sh\nexit 0\n"
    );
    assert_eq!(names(), ["tool"], "no temp file left after an overwrite");
    let m = f.root.lstat("/etc/tool").expect("lstat").expect("exists");
    assert_eq!((m.kind, m.mode), (Kind::File, 0o4755));
    assert_eq!(f.root.lstat("/etc/none").expect("lstat"), None);
    assert_eq!(f.root.lstat("/none/deeper").expect("lstat"), None);
}

#[test]
fn create_dir_all_reports_created_with_exact_mode() {
    let f = Fixture::new();
    let created = f
        .root
        .create_dir_all("/a/b/c", 0o700, as_root().then_some((5, 6)))
        .expect("mkdir");
    assert_eq!(created, ["/a", "/a/b", "/a/b/c"]);
    let meta = fs::metadata(f.host("a/b")).expect("stat");
    assert_eq!(meta.mode() & 0o7777, 0o700);
    if as_root() {
        assert_eq!((meta.uid(), meta.gid()), (5, 6));
    }
    assert!(
        f.root
            .create_dir_all("/a/b", 0o755, None)
            .expect("again")
            .is_empty()
    );
    fs::write(f.host("file"), "x").expect("write");
    assert!(f.root.create_dir_all("/file/sub", 0o755, None).is_err());
}
