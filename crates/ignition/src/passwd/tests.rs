use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use serde_json::json;

use super::allocate;
use crate::apply::Changes;
use crate::error::Error;
use crate::test_support::{TestRoot, as_root};

/// The accounts part of the files stage alone.
trait ApplyAccounts {
    fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error>;
}

impl ApplyAccounts for TestRoot {
    fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error> {
        self.run(json, dry_run, |context, config| {
            let mut db = super::Db::load(context.root).map_err(|e| Error::io("$.passwd", e))?;
            super::apply(context, &mut db, &config.passwd)
        })
    }
}

fn seeded() -> TestRoot {
    let t = TestRoot::new();
    t.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\n# comment kept\n",
    );
    t.write("etc/group", "root:x:0:\nusers:x:100:\n");
    t.write("etc/shadow", "root:*:19000:0:99999:7:::\n");
    t.write("etc/gshadow", "root:*::\nusers:*::\n");
    for f in ["etc/shadow", "etc/gshadow"] {
        fs::set_permissions(t.host(f), fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    t
}

fn stat(t: &TestRoot, rel: &str) -> (u32, u32, u32) {
    let m = fs::symlink_metadata(t.host(rel)).expect("lstat");
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn adds_groups_users_homes_and_keys() {
    let t = seeded();
    let config = json!({"passwd": {
        "groups": [{"name": "wheel", "gid": 10}],
        "users": [{"name": "core", "passwordHash": "$6$abc$xyz", "groups": ["wheel"],
                   "sshAuthorizedKeys": ["ssh-ed25519 AAAA a", "ssh-rsa BBBB b"]}]
    }});
    t.apply(config, false).expect("apply");
    assert_eq!(
        t.read("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n# comment kept\ncore:x:1000:1000::/home/core:/bin/bash\n"
    );
    assert_eq!(
        t.read("etc/group"),
        "root:x:0:\nusers:x:100:\nwheel:x:10:core\ncore:x:1000:\n"
    );
    assert_eq!(
        t.read("etc/gshadow"),
        "root:*::\nusers:*::\nwheel:!::core\ncore:!::\n"
    );
    let shadow = t.read("etc/shadow");
    let line = shadow.lines().nth(1).expect("core line");
    assert!(
        line.starts_with("core:$6$abc$xyz:") && line.ends_with("::::::"),
        "{line}"
    );
    assert_eq!(
        t.read("etc/passwd-"),
        "root:x:0:0:root:/root:/bin/bash\n# comment kept\n"
    );
    assert_eq!(stat(&t, "etc/shadow").0, 0o640);
    assert_eq!(stat(&t, "etc/.pwd.lock").0, 0o600);
    let keys = "home/core/.ssh/authorized_keys.d/ignition";
    assert_eq!(t.read(keys), "ssh-ed25519 AAAA a\nssh-rsa BBBB b\n");
    let expect_owner = |rel: &str, mode: u32| {
        let (m, u, g) = stat(&t, rel);
        assert_eq!(m, mode, "{rel}");
        if as_root() {
            assert_eq!((u, g), (1000, 1000), "{rel}");
        }
    };
    expect_owner("home/core", 0o755);
    expect_owner("home/core/.ssh", 0o700);
    expect_owner("home/core/.ssh/authorized_keys.d", 0o700);
    expect_owner(keys, 0o600);
}

#[test]
fn allocation_follows_login_defs() {
    let t = seeded();
    t.write(
        "etc/login.defs",
        "UID_MIN 2000\nGID_MIN 3000\nSYS_UID_MAX 499\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\n",
    );
    t.write("etc/default/useradd", "SHELL=/bin/zsh\n");
    let config = json!({"passwd": {
        "groups": [{"name": "svc", "system": true}],
        "users": [
            {"name": "a", "noUserGroup": true, "noCreateHome": true},
            {"name": "b", "noCreateHome": true},
            {"name": "sys", "system": true, "noCreateHome": true, "primaryGroup": "svc"},
            {"name": "c", "uid": 2500, "primaryGroup": "users", "homeDir": "/var/c", "shell": "/bin/sh", "noCreateHome": true}
        ]
    }});
    t.apply(config, false).expect("apply");
    let passwd = t.read("etc/passwd");
    for line in [
        "a:x:2000:100::/home/a:/bin/zsh",
        "b:x:2001:3000::/home/b:/bin/zsh",
        "sys:x:499:2999::/home/sys:/bin/zsh",
        "c:x:2500:100::/var/c:/bin/sh",
    ] {
        assert!(passwd.contains(line), "{line} in {passwd}");
    }
    assert!(t.read("etc/group").contains("svc:x:2999:\nb:x:3000:\n"));
    assert!(t.read("etc/shadow").contains(":0:99999::::\n"));
    assert!(!t.host("home").exists());
    assert_eq!(
        allocate(&[1000, 1001, 60000].into(), (1000, 60000), false, None),
        Some(1002)
    );
    assert_eq!(allocate(&[5, 10].into(), (1, 10), false, None), Some(1));
    assert_eq!(allocate(&[999].into(), (101, 999), true, None), Some(998));
}

#[test]
fn modifies_and_deletes_existing_accounts() {
    let t = seeded();
    t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nold:x:1000:1000::/home/old:/bin/sh\nkeep:x:1001:1001::/home/keep:/bin/sh\n");
    t.write(
        "etc/group",
        "root:x:0:\nold:x:1000:\nkeep:x:1001:\nadm:x:4:old,keep\ndev:x:50:\n",
    );
    fs::create_dir_all(t.host("home/old")).expect("mkdir");
    fs::write(t.host("home/old/f"), "x").expect("write");
    if !as_root() {
        // userdel --remove needs the home owned by the user, which needs chown.
        return;
    }
    std::os::unix::fs::chown(t.host("home/old"), Some(1000), Some(1000)).expect("chown");
    let config = json!({"passwd": {
        "groups": [{"name": "keep", "gid": 1500}, {"name": "dev", "shouldExist": false}],
        "users": [
            {"name": "keep", "shell": "/bin/bash", "groups": ["root"], "passwordHash": ""},
            {"name": "old", "shouldExist": false}
        ]
    }});
    let changes = t.apply(config, false).expect("apply");
    assert_eq!(
        t.read("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nkeep:x:1001:1500::/home/keep:/bin/bash\n"
    );
    assert_eq!(
        t.read("etc/group"),
        "root:x:0:keep\nkeep:x:1500:\nadm:x:4:\n"
    );
    assert!(t.read("etc/shadow").contains("\nkeep:*:"));
    assert!(!t.host("home/old").exists(), "home removed");
    let text = changes.to_string();
    assert!(
        text.contains("modified group keep (gid 1001 -> 1500)")
            && text.contains("removed user old (1000) and its group old"),
        "{text}"
    );
    // A group that is some user's primary group goes too, as in Ignition, and the
    // change list says who is left with it.
    let changes = t
        .apply(
            json!({"passwd": {"groups": [{"name": "keep", "shouldExist": false}]}}),
            false,
        )
        .expect("deleted");
    assert!(
        changes
            .to_string()
            .contains("removed group keep (1500); still the primary group of keep"),
        "{changes}"
    );
    assert_eq!(t.read("etc/group"), "root:x:0:keep\nadm:x:4:\n");
}

#[test]
fn creates_missing_files_and_copies_skel() {
    let t = TestRoot::new();
    t.write("etc/skel/.bashrc", "# rc\n");
    fs::create_dir_all(t.host("var/roothome")).expect("mkdir");
    symlink("/var/roothome", t.host("root")).expect("symlink");
    let config = json!({"passwd": {"users": [
        {"name": "core"},
        {"name": "root", "uid": 0, "homeDir": "/root", "noCreateHome": true, "noUserGroup": true, "sshAuthorizedKeys": ["k"]}
    ]}});
    t.apply(config, false).expect("apply");
    for f in ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"] {
        assert!(t.host(f).is_file(), "{f}");
        assert!(!t.host(&format!("{f}-")).exists(), "no backup of a new {f}");
    }
    assert_eq!(stat(&t, "etc/gshadow").0, 0o640);
    assert_eq!(t.read("home/core/.bashrc"), "# rc\n");
    if as_root() {
        assert_eq!(stat(&t, "home/core/.bashrc").1, 1000);
    }
    // The home is resolved in the root: /root -> /var/roothome.
    assert_eq!(
        t.read("var/roothome/.ssh/authorized_keys.d/ignition"),
        "k\n"
    );
}

#[test]
fn config_errors_name_the_entry_and_change_nothing() {
    let t = seeded();
    let before = t.read("etc/passwd");
    let cases = [
        (
            json!({"users": [{"name": "x", "uid": 0}]}),
            "$.passwd.users.0: user x: UID 0 is not unique",
        ),
        (
            json!({"users": [{"name": "x", "groups": ["nope"]}]}),
            "$.passwd.users.0: user x: group \"nope\" does not exist",
        ),
        (
            json!({"users": [{"name": "ok"}, {"name": "users"}]}),
            "$.passwd.users.1: group users exists",
        ),
        (
            json!({"groups": [{"name": "g", "gid": 100}]}),
            "$.passwd.groups.0: group g: GID 100 is not unique",
        ),
        (
            json!({"users": [{"name": "a:b"}]}),
            "$.passwd.users.0: invalid name",
        ),
    ];
    for (passwd, expected) in cases {
        let err = t
            .apply(json!({"passwd": passwd}), false)
            .expect_err(expected);
        assert!(err.to_string().starts_with(expected), "{err} vs {expected}");
    }
    assert_eq!(t.read("etc/passwd"), before);
    assert!(!t.host("etc/passwd-").exists());
}

/// `seeded()` with `/etc/subuid` and `/etc/subgid` holding the given text.
fn with_subids(subuid: &str, subgid: &str) -> TestRoot {
    let t = seeded();
    t.write("etc/subuid", subuid);
    t.write("etc/subgid", subgid);
    t
}

#[test]
fn subids_are_allocated_into_empty_files() {
    let t = with_subids("", "");
    let config = json!({"passwd": {"users": [
        {"name": "core", "noCreateHome": true},
        {"name": "dev", "noCreateHome": true}
    ]}});
    let changes = t.apply(config, false).expect("apply");
    for f in ["etc/subuid", "etc/subgid"] {
        assert_eq!(t.read(f), "core:100000:65536\ndev:165536:65536\n", "{f}");
        assert_eq!(t.read(&format!("{f}-")), "", "{f}- backup");
    }
    let text = changes.to_string();
    for line in [
        "added core:100000:65536 to /etc/subuid",
        "added core:100000:65536 to /etc/subgid",
        "added dev:165536:65536 to /etc/subuid",
        "updated /etc/subuid (previous in /etc/subuid-)",
        "updated /etc/subgid (previous in /etc/subgid-)",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[test]
fn subids_skip_existing_ranges() {
    // b overlaps a; the first hole of 65536 ids is after b. As useradd does, the ranges
    // are sorted by start (lines without a range after them) and the new one appended.
    let t = with_subids(
        "c:300000:10\n# note\nb:165536:65536\na:100000:70000\n",
        "x:100000:65536\n",
    );
    let config = json!({"passwd": {"users": [{"name": "core", "noCreateHome": true}]}});
    t.apply(config, false).expect("apply");
    assert_eq!(
        t.read("etc/subuid"),
        "a:100000:70000\nb:165536:65536\nc:300000:10\n# note\ncore:231072:65536\n"
    );
    assert_eq!(
        t.read("etc/subuid-"),
        "c:300000:10\n# note\nb:165536:65536\na:100000:70000\n"
    );
    assert_eq!(t.read("etc/subgid"), "x:100000:65536\ncore:165536:65536\n");
}

#[test]
fn existing_subid_entry_is_left_alone() {
    let t = with_subids("z:100000:65536\ncore:500000:10\n", "other:100000:65536\n");
    let config = json!({"passwd": {"users": [{"name": "core", "noCreateHome": true}]}});
    let changes = t.apply(config, false).expect("apply");
    assert_eq!(t.read("etc/subuid"), "z:100000:65536\ncore:500000:10\n");
    assert!(!t.host("etc/subuid-").exists(), "subuid not rewritten");
    assert_eq!(
        t.read("etc/subgid"),
        "other:100000:65536\ncore:165536:65536\n"
    );
    assert!(!changes.to_string().contains("/etc/subuid"), "{changes}");
}

#[test]
fn system_users_get_no_subids() {
    let t = with_subids("", "");
    t.write("etc/login.defs", "UID_MIN 2000\n");
    let config = json!({"passwd": {"users": [
        {"name": "sys", "system": true, "noCreateHome": true},
        {"name": "low", "uid": 1500, "noCreateHome": true},
        {"name": "big", "uid": 70000, "noCreateHome": true},
        {"name": "reg", "uid": 2500, "noCreateHome": true}
    ]}});
    let changes = t.apply(config, false).expect("apply");
    for f in ["etc/subuid", "etc/subgid"] {
        assert_eq!(t.read(f), "reg:100000:65536\n", "{f}");
    }
    let text = changes.to_string();
    for name in ["sys", "low", "big"] {
        assert!(
            !text.contains(&format!("added {name}:")),
            "{name} in {text}"
        );
    }
}

#[test]
fn missing_subid_files_stay_missing() {
    let t = seeded();
    t.write("etc/subgid", "");
    let config = json!({"passwd": {"users": [{"name": "core", "noCreateHome": true}]}});
    let changes = t.apply(config, false).expect("apply");
    assert!(!t.host("etc/subuid").exists());
    assert!(!t.host("etc/subuid-").exists());
    assert_eq!(t.read("etc/subgid"), "core:100000:65536\n");
    assert!(!changes.to_string().contains("/etc/subuid"), "{changes}");
}

#[test]
fn subid_settings_come_from_login_defs() {
    let t = with_subids("a:200000:500\n", "");
    t.write(
        "etc/login.defs",
        "SUB_UID_MIN 200000\nSUB_UID_MAX 0x40000\nSUB_UID_COUNT 1000\nSUB_GID_COUNT 0\n",
    );
    let config = json!({"passwd": {"users": [{"name": "core", "noCreateHome": true}]}});
    t.apply(config, false).expect("apply");
    assert_eq!(t.read("etc/subuid"), "a:200000:500\ncore:200500:1000\n");
    assert_eq!(t.read("etc/subgid"), "", "SUB_GID_COUNT 0: no range");

    // No room left below SUB_UID_MAX (0x40000 = 262144): useradd fails, nothing written.
    t.write(
        "etc/login.defs",
        "SUB_UID_MIN 200000\nSUB_UID_MAX 0x40000\nSUB_UID_COUNT 62000\n",
    );
    let before = t.read("etc/passwd");
    let config = json!({"passwd": {"users": [{"name": "dev", "noCreateHome": true}]}});
    let err = t.apply(config, false).expect_err("no free range");
    assert!(
        err.to_string()
            .starts_with("$.passwd.users.0: user dev: no free subordinate UID range"),
        "{err}"
    );
    assert_eq!(t.read("etc/passwd"), before);
    assert_eq!(t.read("etc/subuid"), "a:200000:500\ncore:200500:1000\n");

    // A range that cannot fit between SUB_GID_MIN and SUB_GID_MAX is a config error.
    t.write("etc/login.defs", "SUB_GID_MIN 5000\nSUB_GID_MAX 1000\n");
    let config = json!({"passwd": {"users": [{"name": "dev", "noCreateHome": true}]}});
    let err = t.apply(config, false).expect_err("invalid");
    assert!(
        err.to_string()
            .contains("user dev: invalid configuration: SUB_GID_MIN (5000), SUB_GID_MAX (1000)"),
        "{err}"
    );
}
