//! Keeping the node on its pool's config, with a declarative disruption policy (the
//! Machine Config Daemon's, §5.4 of the reference): the config the pool wants is
//! compared with the one the node last applied, and
//!
//! - SSH keys, and files listed in `pool.no_reboot`, are written **in place**, atomically,
//!   through the Ignition engine's root-confined writers — no reboot;
//! - kernel arguments are **staged** as a new deployment of the booted commit, then
//!   rebooted into through the same lock as an update;
//! - disks, RAID, filesystems, LUKS volumes and users' uids are **unreconcilable**: the
//!   node says why and nothing is changed;
//! - other changes (systemd units, other files, new users) are not applied yet by the
//!   agent: also reported with the reason and nothing changed.
//!
//! Configs are Ignition JSON as `/config/<pool>` serves them.

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
    /// Kernel arguments to append and delete (a staged deployment and a reboot),
    /// plus what can be written in place first.
    Reboot {
        /// `kernelArguments.shouldExist` added.
        append: Vec<String>,
        /// `kernelArguments.shouldNotExist` added.
        delete: Vec<String>,
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

/// The plan from the applied config `old` to `new` (`no_reboot`: absolute file paths
/// that may be rewritten in place).
pub fn plan(old: &Value, new: &Value, no_reboot: &[String]) -> Plan {
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
    if at(old, &["systemd"]) != at(new, &["systemd"]) {
        unsupported.push("systemd units".into());
    }
    for section in ["directories", "links"] {
        if at(old, &["storage", section]) != at(new, &["storage", section]) {
            unsupported.push(format!("storage.{section}"));
        }
    }
    let (old_files, new_files) = (
        by_key(at(old, &["storage", "files"]), "path"),
        by_key(at(new, &["storage", "files"]), "path"),
    );
    let mut files = vec![];
    for path in old_files.keys().filter(|p| !new_files.contains_key(*p)) {
        unsupported.push(format!("removed file {path}"));
    }
    for (path, file) in &new_files {
        if old_files.get(path) == Some(file) {
            continue;
        }
        let source = file["contents"]["source"].as_str().unwrap_or("data:,");
        match (
            no_reboot.contains(path),
            ferro_spec::data_url::DataUrl::parse(source),
        ) {
            (true, Ok(data))
                if file["contents"]["compression"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty() =>
            {
                let mode = file["mode"].as_u64().unwrap_or(0o644) as u32;
                files.push((path.clone(), data.into_data(), mode));
            }
            (true, _) => unsupported.push(format!(
                "file {path} (only uncompressed data: URLs are written in place)"
            )),
            (false, _) => unsupported.push(format!("file {path} (not listed in pool.no_reboot)")),
        }
    }
    if !unsupported.is_empty() {
        return Plan::Unreconcilable(format!(
            "changes the agent does not apply yet: {}; nothing was changed",
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
    let (append, delete) = (added("shouldExist"), added("shouldNotExist"));
    if append.is_empty() && delete.is_empty() {
        in_place
    } else {
        Plan::Reboot {
            append,
            delete,
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
        let old = base();
        assert_eq!(plan(&old, &old, &[]), Plan::Nothing);

        let mut keys = base();
        keys["passwd"]["users"][0]["sshAuthorizedKeys"] = json!(["ssh-ed25519 A", "ssh-ed25519 B"]);
        assert_eq!(
            plan(&old, &keys, &[]),
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
        assert!(
            matches!(plan(&old, &motd, &[]), Plan::Unreconcilable(why) if why.contains("not listed in pool.no_reboot"))
        );
        assert_eq!(
            plan(&old, &motd, &["/etc/motd".into()]),
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
            in_place,
        } = plan(&old, &kargs, &[])
        else {
            panic!()
        };
        assert_eq!(
            (append, delete),
            (vec!["mitigations=off".to_owned()], vec![])
        );
        assert!(matches!(*in_place, Plan::InPlace { .. }));

        let mut disks = base();
        disks["storage"]["filesystems"] = json!([{"device": "/dev/vdb", "format": "xfs"}]);
        assert!(
            matches!(plan(&old, &disks, &[]), Plan::Unreconcilable(why) if why.contains("storage.filesystems"))
        );
        let mut uid = base();
        uid["passwd"]["users"][0]["uid"] = json!(1001);
        assert!(
            matches!(plan(&old, &uid, &[]), Plan::Unreconcilable(why) if why.contains("uid of user core"))
        );
        let mut unit = base();
        unit["systemd"] = json!({"units": [{"name": "a.service", "enabled": true}]});
        assert!(
            matches!(plan(&old, &unit, &[]), Plan::Unreconcilable(why) if why.contains("systemd units"))
        );
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
