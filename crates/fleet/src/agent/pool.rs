//! Keeping the node on its pool's config, with a declarative disruption policy (the
//! Machine Config Daemon's, §5.4 of the reference): the config the pool wants is
//! compared with the one the node last applied, and
//!
//! - SSH keys, and files listed in `pool.no_reboot`, are written **in place**, atomically,
//!   through the Ignition engine's root-confined writers — no reboot;
//! - kernel arguments, systemd units (contents, drop-ins, enablement, masks) and other
//!   files under `/etc` are **staged** as a new deployment of the booted commit — the
//!   units and files as [`EtcEdit`]s of its `/etc`, so the running system and the
//!   rollback deployment keep the old ones — then rebooted into through the same lock
//!   as an update;
//! - disks, RAID, filesystems, LUKS volumes and users' uids are **unreconcilable**: the
//!   node says why and nothing is changed;
//! - what the agent does not apply after first boot (new users, groups, directories,
//!   links, files outside `/etc` or with remote or compressed contents) is reported
//!   with the reason, and nothing is changed either.
//!
//! Configs are Ignition JSON as `/config/<pool>` serves them.

use ferro_sysroot::etc_edits::EtcEdit;
use serde_json::Value;

/// What applying a new pool config takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing differs.
    Nothing,
    /// Written in place: SSH keys per user, and no-reboot files.
    InPlace {
        /// (user, keys).
        ssh_keys: Vec<(String, Vec<String>)>,
        /// (path, contents, mode).
        files: Vec<(String, Vec<u8>, u32)>,
    },
    /// A staged deployment and a reboot, plus what can be written in place first.
    Reboot {
        /// `kernelArguments.shouldExist` added.
        append: Vec<String>,
        /// `kernelArguments.shouldNotExist` added.
        delete: Vec<String>,
        /// Units and files, as changes to the new deployment's `/etc`.
        etc: Vec<EtcEdit>,
        /// In-place writes done before.
        in_place: Box<Plan>,
    },
    /// Cannot be applied to this node: why.
    Unreconcilable(String),
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    list(v)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn by_key(items: &Value, key: &str) -> std::collections::BTreeMap<String, Value> {
    list(items)
        .into_iter()
        .filter_map(|i| Some((i[key].as_str()?.to_owned(), i)))
        .collect()
}

/// The `[Install]` targets of a unit file: `WantedBy=` → `.wants`, `RequiredBy=` →
/// `.requires`, as `systemctl enable` links them.
fn install_links(unit_file: &str) -> Vec<String> {
    let mut section = "";
    let mut links = vec![];
    for line in unit_file.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[Install]" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let suffix = match key.trim() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            _ => continue,
        };
        links.extend(
            value
                .split_whitespace()
                .map(|target| format!("{target}.{suffix}")),
        );
    }
    links
}

/// The unit file a unit name is read from: `a@x.service` → `a@.service`.
fn template_of(name: &str) -> String {
    match (name.split_once('@'), name.rsplit_once('.')) {
        (Some((prefix, _)), Some((_, kind))) => format!("{prefix}@.{kind}"),
        _ => name.to_owned(),
    }
}

/// The `/etc` edits that take the units of `old` to those of `new`; `unit_file`
/// reads a unit shipped by the OS (for the `[Install]` section of a unit the config
/// enables without giving its contents). Errors name what cannot be done.
fn unit_edits(
    old: &Value,
    new: &Value,
    unit_file: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<EtcEdit>, String> {
    let (old_units, new_units) = (
        by_key(at(old, &["systemd", "units"]), "name"),
        by_key(at(new, &["systemd", "units"]), "name"),
    );
    let null = Value::Null;
    let mut edits = vec![];
    let names: std::collections::BTreeSet<&String> =
        old_units.keys().chain(new_units.keys()).collect();
    for name in names {
        let (before, after) = (
            old_units.get(name).unwrap_or(&null),
            new_units.get(name).unwrap_or(&null),
        );
        if before == after {
            continue;
        }
        let file = format!("systemd/system/{name}");
        let contents = after["contents"].as_str();
        if let Some(contents) = contents {
            if before["contents"].as_str() != Some(contents) {
                edits.push(EtcEdit::Write {
                    path: file.clone(),
                    data: contents.as_bytes().to_vec(),
                    mode: 0o644,
                });
            }
        } else if before["contents"].is_string() || before["mask"] == true {
            edits.push(EtcEdit::Remove { path: file.clone() });
        }
        if after["mask"] == true && before["mask"] != true {
            edits.push(EtcEdit::Symlink {
                path: file.clone(),
                target: "/dev/null".into(),
            });
        }
        let (old_dropins, new_dropins) = (
            by_key(&before["dropins"], "name"),
            by_key(&after["dropins"], "name"),
        );
        for (dropin, d) in &new_dropins {
            let path = format!("systemd/system/{name}.d/{dropin}");
            if old_dropins.get(dropin) == Some(d) {
                continue;
            }
            match d["contents"].as_str() {
                Some(text) => edits.push(EtcEdit::Write {
                    path,
                    data: text.as_bytes().to_vec(),
                    mode: 0o644,
                }),
                None => edits.push(EtcEdit::Remove { path }),
            }
        }
        for dropin in old_dropins.keys().filter(|d| !new_dropins.contains_key(*d)) {
            edits.push(EtcEdit::Remove {
                path: format!("systemd/system/{name}.d/{dropin}"),
            });
        }
        let (was, is) = (before["enabled"] == true, after["enabled"] == true);
        let disable = (was && !is) || (before["enabled"] != false && after["enabled"] == false);
        if is == was && !disable {
            continue;
        }
        // The unit's [Install] section: the config's contents, else the OS's file.
        let template = template_of(name);
        let text = contents
            .map(str::to_owned)
            .or_else(|| before["contents"].as_str().map(str::to_owned))
            .or_else(|| unit_file(&template));
        let Some(text) = text.or_else(|| (!is).then(String::new)) else {
            return Err(format!(
                "unit {name}: no unit file to read its [Install] section from"
            ));
        };
        let links = install_links(&text);
        if links.is_empty() && !is {
            // Nothing `systemctl disable` would remove.
            continue;
        }
        if links.is_empty() {
            return Err(format!(
                "unit {name}: its [Install] section names no WantedBy= or RequiredBy= to enable it with"
            ));
        }
        let dir = if contents.is_some() || before["contents"].is_string() {
            "/etc/systemd/system"
        } else {
            "/usr/lib/systemd/system"
        };
        for link in links {
            let path = format!("systemd/system/{link}/{name}");
            edits.push(if is {
                EtcEdit::Symlink {
                    path,
                    target: format!("{dir}/{template}"),
                }
            } else {
                EtcEdit::Remove { path }
            });
        }
    }
    Ok(edits)
}

/// The plan from the applied config `old` to `new` (`no_reboot`: absolute file paths
/// that may be rewritten in place; `unit_file`: reads a unit file the OS ships, by
/// name).
pub fn plan(
    old: &Value,
    new: &Value,
    no_reboot: &[String],
    unit_file: &dyn Fn(&str) -> Option<String>,
) -> Plan {
    for section in ["disks", "raid", "filesystems", "luks"] {
        if at(old, &["storage", section]) != at(new, &["storage", section]) {
            return Plan::Unreconcilable(format!(
                "storage.{section} changed: disks and filesystems are set up only at first boot; reprovision the node"
            ));
        }
    }
    let (old_users, new_users) = (
        by_key(at(old, &["passwd", "users"]), "name"),
        by_key(at(new, &["passwd", "users"]), "name"),
    );
    let mut ssh_keys = vec![];
    let mut unsupported = vec![];
    for (name, user) in &new_users {
        let Some(before) = old_users.get(name) else {
            unsupported.push(format!("new user {name}"));
            continue;
        };
        if before["uid"] != user["uid"] {
            return Plan::Unreconcilable(format!(
                "the uid of user {name} changed: files owned by the old uid would change owner"
            ));
        }
        let mut rest_old = before.clone();
        let mut rest_new = user.clone();
        for v in [&mut rest_old, &mut rest_new] {
            if let Some(o) = v.as_object_mut() {
                o.remove("sshAuthorizedKeys");
            }
        }
        if rest_old != rest_new {
            unsupported.push(format!("user {name}"));
        }
        if before["sshAuthorizedKeys"] != user["sshAuthorizedKeys"] {
            ssh_keys.push((name.clone(), strings(&user["sshAuthorizedKeys"])));
        }
    }
    if at(old, &["passwd", "groups"]) != at(new, &["passwd", "groups"]) {
        unsupported.push("groups".into());
    }
    let mut etc = match unit_edits(old, new, unit_file) {
        Ok(edits) => edits,
        Err(why) => {
            unsupported.push(why);
            vec![]
        }
    };
    for section in ["directories", "links"] {
        if at(old, &["storage", section]) != at(new, &["storage", section]) {
            unsupported.push(format!("storage.{section}"));
        }
    }
    let (old_files, new_files) = (
        by_key(at(old, &["storage", "files"]), "path"),
        by_key(at(new, &["storage", "files"]), "path"),
    );
    let under_etc = |path: &str| path.strip_prefix("/etc/").map(str::to_owned);
    let mut files = vec![];
    for path in old_files.keys().filter(|p| !new_files.contains_key(*p)) {
        match under_etc(path) {
            Some(rel) if !no_reboot.contains(path) => etc.push(EtcEdit::Remove { path: rel }),
            _ => unsupported.push(format!("removed file {path}")),
        }
    }
    for (path, file) in &new_files {
        if old_files.get(path) == Some(file) {
            continue;
        }
        let source = file["contents"]["source"].as_str().unwrap_or("data:,");
        let compressed = !file["contents"]["compression"]
            .as_str()
            .unwrap_or("")
            .is_empty();
        let data = match ferro_spec::data_url::DataUrl::parse(source) {
            Ok(data) if !compressed => data.into_data(),
            _ => {
                unsupported.push(format!(
                    "file {path} (only uncompressed data: URLs are applied after first boot)"
                ));
                continue;
            }
        };
        let mode = file["mode"].as_u64().unwrap_or(0o644) as u32;
        if no_reboot.contains(path) {
            files.push((path.clone(), data, mode));
        } else if let Some(rel) = under_etc(path) {
            etc.push(EtcEdit::Write {
                path: rel,
                data,
                mode,
            });
        } else {
            unsupported.push(format!(
                "file {path} (outside /etc and not listed in pool.no_reboot)"
            ));
        }
    }
    if !unsupported.is_empty() {
        return Plan::Unreconcilable(format!(
            "changes the agent does not apply after first boot: {}; nothing was changed",
            unsupported.join(", ")
        ));
    }
    let in_place = if ssh_keys.is_empty() && files.is_empty() {
        Plan::Nothing
    } else {
        Plan::InPlace { ssh_keys, files }
    };
    let karg = |v: &Value, k: &str| strings(at(v, &["kernelArguments", k]));
    let added = |k: &str| -> Vec<String> {
        let before = karg(old, k);
        karg(new, k)
            .into_iter()
            .filter(|a| !before.contains(a))
            .collect()
    };
    let (append, mut delete) = (added("shouldExist"), added("shouldNotExist"));
    // An argument the pool no longer asks for is taken off again.
    let still = karg(new, "shouldExist");
    for arg in karg(old, "shouldExist") {
        if !still.contains(&arg) && !delete.contains(&arg) {
            delete.push(arg);
        }
    }
    if append.is_empty() && delete.is_empty() && etc.is_empty() {
        in_place
    } else {
        Plan::Reboot {
            append,
            delete,
            etc,
            in_place: Box::new(in_place),
        }
    }
}

/// Writes the in-place part of a plan under `root` (`/` on a host) through the
/// Ignition engine's root-confined writers: keys to
/// `~USER/.ssh/authorized_keys.d/ignition` (0600, the user's), files atomically.
pub fn apply_in_place(root: &std::path::Path, plan: &Plan) -> Result<(), String> {
    use ferro_ignition::passwd::Db;
    use ferro_ignition::root::{Perms, Root};
    let Plan::InPlace { ssh_keys, files } = plan else {
        return Ok(());
    };
    let root = Root::open(root).map_err(|e| e.to_string())?;
    let db = Db::load(&root).map_err(|e| e.to_string())?;
    for (name, keys) in ssh_keys {
        let user = db
            .user(name)
            .ok_or_else(|| format!("user {name} does not exist on this node"))?;
        let dir = format!("{}/.ssh/authorized_keys.d", user.home.trim_end_matches('/'));
        root.create_dir_all(&dir, 0o700, Some((user.uid, user.gid)))
            .map_err(|e| e.to_string())?;
        let mut data = keys.join("\n");
        data.push('\n');
        let perms = Perms {
            uid: Some(user.uid),
            gid: Some(user.gid),
            mode: 0o600,
        };
        root.write_file(&format!("{dir}/ignition"), data.as_bytes(), perms)
            .map_err(|e| e.to_string())?;
    }
    for (path, data, mode) in files {
        let parent = ferro_ignition::root::parent(path);
        root.create_dir_all(&parent, 0o755, None)
            .map_err(|e| e.to_string())?;
        let perms = Perms {
            uid: None,
            gid: None,
            mode: *mode,
        };
        root.write_file(path, data, perms)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"ignition": {"version": "3.4.0"},
               "passwd": {"users": [{"name": "core", "uid": 1000, "sshAuthorizedKeys": ["ssh-ed25519 A"]}]},
               "storage": {"files": [{"path": "/etc/motd", "contents": {"source": "data:,hi"}, "mode": 420}]}})
    }

    #[test]
    fn disruption_policy() {
        let none = |_: &str| None;
        let old = base();
        assert_eq!(plan(&old, &old, &[], &none), Plan::Nothing);

        let mut keys = base();
        keys["passwd"]["users"][0]["sshAuthorizedKeys"] = json!(["ssh-ed25519 A", "ssh-ed25519 B"]);
        assert_eq!(
            plan(&old, &keys, &[], &none),
            Plan::InPlace {
                ssh_keys: vec![(
                    "core".into(),
                    vec!["ssh-ed25519 A".into(), "ssh-ed25519 B".into()]
                )],
                files: vec![]
            }
        );

        let mut motd = base();
        motd["storage"]["files"][0]["contents"]["source"] = json!("data:,hello");
        // Not listed as no-reboot: staged into the new deployment's /etc.
        assert_eq!(
            plan(&old, &motd, &[], &none),
            Plan::Reboot {
                append: vec![],
                delete: vec![],
                etc: vec![EtcEdit::Write {
                    path: "motd".into(),
                    data: b"hello".to_vec(),
                    mode: 0o644
                }],
                in_place: Box::new(Plan::Nothing),
            }
        );
        let mut outside = base();
        outside["storage"]["files"][0]["path"] = json!("/var/lib/x");
        assert!(
            matches!(plan(&old, &outside, &[], &none), Plan::Unreconcilable(why) if why.contains("outside /etc"))
        );
        assert_eq!(
            plan(&old, &motd, &["/etc/motd".into()], &none),
            Plan::InPlace {
                ssh_keys: vec![],
                files: vec![("/etc/motd".into(), b"hello".to_vec(), 0o644)]
            }
        );

        let mut kargs = keys.clone();
        kargs["kernelArguments"] = json!({"shouldExist": ["mitigations=off"]});
        let Plan::Reboot {
            append,
            delete,
            etc,
            in_place,
        } = plan(&old, &kargs, &[], &none)
        else {
            panic!()
        };
        assert_eq!(
            (append, delete),
            (vec!["mitigations=off".to_owned()], vec![])
        );
        assert!(etc.is_empty());
        assert!(matches!(*in_place, Plan::InPlace { .. }));

        let mut disks = base();
        disks["storage"]["filesystems"] = json!([{"device": "/dev/vdb", "format": "xfs"}]);
        assert!(
            matches!(plan(&old, &disks, &[], &none), Plan::Unreconcilable(why) if why.contains("storage.filesystems"))
        );
        let mut uid = base();
        uid["passwd"]["users"][0]["uid"] = json!(1001);
        assert!(
            matches!(plan(&old, &uid, &[], &none), Plan::Unreconcilable(why) if why.contains("uid of user core"))
        );
        let mut unit = base();
        unit["systemd"] = json!({"units": [{"name": "a.service", "enabled": true}]});
        assert!(
            matches!(plan(&old, &unit, &[], &none), Plan::Unreconcilable(why) if why.contains("unit a.service: no unit file"))
        );

        // Taking a kernel argument off the pool deletes it.
        let mut fewer = kargs.clone();
        fewer["kernelArguments"] = json!({"shouldExist": []});
        assert!(
            matches!(plan(&kargs, &fewer, &[], &none), Plan::Reboot { append, delete, .. } if append.is_empty() && delete == vec!["mitigations=off".to_owned()])
        );
    }

    fn etc_of(plan: Plan) -> Vec<EtcEdit> {
        match plan {
            Plan::Reboot { etc, .. } => etc,
            other => panic!("not a reboot: {other:?}"),
        }
    }

    #[test]
    fn units_are_staged_as_etc_edits() {
        let shipped = |name: &str| {
            (name == "chronyd.service" || name == "getty@.service").then(|| {
                "[Service]\nExecStart=/x\n[Install]\nWantedBy=multi-user.target\n".to_owned()
            })
        };
        let old = base();
        let mut new = base();
        new["systemd"] = json!({"units": [
            {"name": "hello.service", "enabled": true,
             "contents": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nRequiredBy=b.target\n",
             "dropins": [{"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}]},
            {"name": "chronyd.service", "enabled": true},
            {"name": "getty@tty2.service", "enabled": true},
            {"name": "bad.service", "mask": true}
        ]});
        let link = |target: &str, name: &str, to: &str| EtcEdit::Symlink {
            path: format!("systemd/system/{target}/{name}"),
            target: to.into(),
        };
        let etc = etc_of(plan(&old, &new, &[], &shipped));
        assert_eq!(
            etc,
            vec![
                EtcEdit::Symlink {
                    path: "systemd/system/bad.service".into(),
                    target: "/dev/null".into()
                },
                link(
                    "multi-user.target.wants",
                    "chronyd.service",
                    "/usr/lib/systemd/system/chronyd.service"
                ),
                link(
                    "multi-user.target.wants",
                    "getty@tty2.service",
                    "/usr/lib/systemd/system/getty@.service"
                ),
                EtcEdit::Write {
                    path: "systemd/system/hello.service".into(),
                    data: new["systemd"]["units"][0]["contents"]
                        .as_str()
                        .unwrap()
                        .as_bytes()
                        .to_vec(),
                    mode: 0o644
                },
                EtcEdit::Write {
                    path: "systemd/system/hello.service.d/10-env.conf".into(),
                    data: b"[Service]\nEnvironment=A=1\n".to_vec(),
                    mode: 0o644
                },
                link(
                    "multi-user.target.wants",
                    "hello.service",
                    "/etc/systemd/system/hello.service"
                ),
                link(
                    "b.target.requires",
                    "hello.service",
                    "/etc/systemd/system/hello.service"
                ),
            ]
        );

        // Back to the old config: every one of those undone.
        let undo = etc_of(plan(&new, &old, &[], &shipped));
        let removed: Vec<&str> = undo
            .iter()
            .map(|e| match e {
                EtcEdit::Remove { path } => path.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            removed,
            [
                "systemd/system/bad.service",
                "systemd/system/multi-user.target.wants/chronyd.service",
                "systemd/system/multi-user.target.wants/getty@tty2.service",
                "systemd/system/hello.service",
                "systemd/system/hello.service.d/10-env.conf",
                "systemd/system/multi-user.target.wants/hello.service",
                "systemd/system/b.target.requires/hello.service",
            ]
        );

        // Enabling a unit without an [Install] section cannot be done; disabling it
        // has nothing to remove.
        let mut bare = base();
        bare["systemd"] =
            json!({"units": [{"name": "x.service", "enabled": true, "contents": "[Service]\n"}]});
        assert!(
            matches!(plan(&old, &bare, &[], &shipped), Plan::Unreconcilable(why) if why.contains("names no WantedBy"))
        );
        bare["systemd"]["units"][0]["enabled"] = json!(false);
        assert_eq!(etc_of(plan(&old, &bare, &[], &shipped)).len(), 1);
    }

    #[test]
    fn keys_and_files_are_written_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "core:x:1000:1000::/var/home/core:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "core:x:1000:\n").unwrap();
        let plan = Plan::InPlace {
            ssh_keys: vec![("core".into(), vec!["ssh-ed25519 B".into()])],
            files: vec![("/etc/motd".into(), b"hello".to_vec(), 0o644)],
        };
        apply_in_place(root.path(), &plan).unwrap();
        let keys = root
            .path()
            .join("var/home/core/.ssh/authorized_keys.d/ignition");
        assert_eq!(std::fs::read_to_string(keys).unwrap(), "ssh-ed25519 B\n");
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/motd")).unwrap(),
            "hello"
        );
        let bad = Plan::InPlace {
            ssh_keys: vec![("nobody".into(), vec![])],
            files: vec![],
        };
        assert!(
            apply_in_place(root.path(), &bad)
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
