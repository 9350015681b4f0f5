//! systemd units, drop-ins, masks and presets.
//!
//! Ignition does not start or enable anything itself: it writes unit files and drop-ins
//! to `/etc/systemd/system`, masks with a symlink to `/dev/null`, and records `enabled`
//! as lines of `/etc/systemd/system-preset/20-ignition.preset`, which systemd applies
//! on first boot (`systemctl preset-all`).
//!
//! `enabled: false` (Ignition ≥ 2.18) only acts on a unit that is enabled in the root:
//! Ignition asks `systemctl --root R is-enabled` and then runs `systemctl --root R
//! disable`. Without systemd we approximate both: a unit counts as enabled when a
//! symlink with its name sits in a `*.wants` or `*.requires` directory directly under
//! `/etc/systemd/system`, and disabling removes those symlinks. Units enabled only by
//! `/usr/lib` symlinks, aliases or `static` units are therefore not seen as enabled.

use std::collections::BTreeMap;

use ferro_spec::Unit;

use crate::apply::Context;
use crate::error::Error;
use crate::root::{Kind, Perms};

/// Where Ignition writes units.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The preset file Ignition appends its `enable`/`disable` lines to.
pub const PRESET_FILE: &str = "/etc/systemd/system-preset/20-ignition.preset";

/// Unit files and drop-ins are written 0644, as Ignition does.
const UNIT_PERMS: Perms = Perms {
    uid: None,
    gid: None,
    mode: 0o644,
};

/// One preset line: the state, the (template) unit, and instances for `a@x.service`.
struct Preset {
    enable: bool,
    unit: String,
    instances: Vec<String>,
}

/// `a@x.service` → (`a@.service`, `x`); `None` for plain units and templates.
fn instance(name: &str) -> Option<(String, String)> {
    let (prefix, rest) = name.split_once('@')?;
    let (inst, suffix) = rest.rsplit_once('.')?;
    if inst.is_empty() {
        return None;
    }
    Some((format!("{prefix}@.{suffix}"), inst.to_string()))
}

/// Units in config order, then the preset lines sorted as Ignition ≥ 2.15 sorts them
/// (by `"<unit>-enabled"` / `"<unit>-disabled"`), instances collapsed per template.
pub(crate) fn apply(stage: &mut Context<'_>, units: &[Unit]) -> Result<(), Error> {
    let mut presets: BTreeMap<String, Preset> = BTreeMap::new();
    for (i, u) in units.iter().enumerate() {
        let entry = format!("$.systemd.units.{i}");
        unit(stage, &entry, u)?;
        let enable = match u.enabled {
            Some(true) => true,
            Some(false) if disable(stage, &entry, &u.name)? => false,
            _ => continue,
        };
        let (unit, inst) = match instance(&u.name) {
            Some((template, inst)) => (template, Some(inst)),
            None => (u.name.clone(), None),
        };
        let key = format!("{unit}-{}", if enable { "enabled" } else { "disabled" });
        let preset = presets.entry(key).or_insert_with(|| Preset {
            enable,
            unit,
            instances: Vec::new(),
        });
        if let Some(inst) = inst
            && !preset.instances.contains(&inst)
        {
            preset.instances.push(inst);
        }
    }
    if presets.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for p in presets.values() {
        text.push_str(if p.enable { "enable " } else { "disable " });
        text.push_str(&p.unit);
        for inst in &p.instances {
            text.push(' ');
            text.push_str(inst);
        }
        text.push('\n');
    }
    const ENTRY: &str = "$.systemd.units";
    if !stage.dry_run {
        let e = |err| Error::new(ENTRY, PRESET_FILE, err);
        stage
            .root
            .create_dir_all("/etc/systemd/system-preset", 0o755, None)
            .map_err(e)?;
        stage
            .root
            .append(PRESET_FILE, text.as_bytes(), 0o644)
            .map_err(e)?;
    }
    for line in text.lines() {
        stage.record(ENTRY, format!("preset {line} ({PRESET_FILE})"));
    }
    Ok(())
}

/// Writes a file under [`UNIT_DIR`], creating missing directories 0755.
fn write(stage: &mut Context<'_>, entry: &str, path: &str, contents: &str) -> Result<(), Error> {
    if !stage.dry_run {
        let e = |err| Error::new(entry, path, err);
        stage
            .root
            .create_dir_all(&crate::root::parent(path), 0o755, None)
            .map_err(e)?;
        stage
            .root
            .write_file(path, contents.as_bytes(), UNIT_PERMS)
            .map_err(e)?;
    }
    Ok(())
}

fn unit(stage: &mut Context<'_>, entry: &str, u: &Unit) -> Result<(), Error> {
    let name = u.name.as_str();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::invalid(
            entry,
            name,
            format!("invalid unit name {name:?}"),
        ));
    }
    for (j, d) in u.dropins.iter().enumerate() {
        let Some(contents) = &d.contents else {
            continue;
        };
        let entry = format!("{entry}.dropins.{j}");
        if d.name.is_empty() || d.name.contains('/') || d.name == "." || d.name == ".." {
            return Err(Error::invalid(
                &entry,
                &d.name,
                format!("invalid drop-in name {:?}", d.name),
            ));
        }
        let path = format!("{UNIT_DIR}/{name}.d/{}", d.name);
        write(stage, &entry, &path, contents)?;
        stage.record(&entry, format!("wrote drop-in {path} (0644)"));
    }
    let path = format!("{UNIT_DIR}/{name}");
    if let Some(contents) = u.contents.as_deref().filter(|c| !c.is_empty()) {
        write(stage, entry, &path, contents)?;
        stage.record(entry, format!("wrote unit {path} (0644)"));
    }
    let e = |err| Error::new(entry, &path, err);
    match u.mask {
        Some(true) => {
            if !stage.dry_run {
                stage.root.remove_all(&path).map_err(e)?;
                stage
                    .root
                    .create_dir_all(UNIT_DIR, 0o755, None)
                    .map_err(e)?;
                stage.root.symlink(&path, "/dev/null").map_err(e)?;
            }
            stage.record(entry, format!("masked {name} ({path} -> /dev/null)"));
        }
        Some(false) => {
            let is_mask = match stage.root.lstat(&path).map_err(e)? {
                Some(m) if m.kind == Kind::Symlink => {
                    stage.root.read_link(&path).map_err(e)? == "/dev/null"
                }
                _ => false,
            };
            if is_mask {
                if !stage.dry_run {
                    stage.root.remove_all(&path).map_err(e)?;
                }
                stage.record(entry, format!("unmasked {name} (removed {path})"));
            }
        }
        None => {}
    }
    Ok(())
}

/// `systemctl disable` approximated (see the module docs): removes the unit's symlinks
/// in `*.wants`/`*.requires` under [`UNIT_DIR`]; returns whether there were any, i.e.
/// whether the unit was enabled and a `disable` preset line is due.
fn disable(stage: &mut Context<'_>, entry: &str, name: &str) -> Result<bool, Error> {
    let root = stage.root;
    let e = |err| Error::new(entry, UNIT_DIR, err);
    let mut links = Vec::new();
    for (dir, kind) in root.read_dir(UNIT_DIR).map_err(e)? {
        if kind != Kind::Dir || !(dir.ends_with(".wants") || dir.ends_with(".requires")) {
            continue;
        }
        let link = format!("{UNIT_DIR}/{dir}/{name}");
        if root
            .lstat(&link)
            .map_err(e)?
            .is_some_and(|m| m.kind == Kind::Symlink)
        {
            links.push(link);
        }
    }
    for link in &links {
        if !stage.dry_run {
            root.remove_all(link)
                .map_err(|err| Error::new(entry, link, err))?;
        }
        stage.record(entry, format!("disabled {name} (removed {link})"));
    }
    Ok(!links.is_empty())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    use serde_json::json;

    use super::{PRESET_FILE, instance};
    use crate::apply::Changes;
    use crate::error::Error;
    use crate::test_support::TestRoot;

    /// The units part of the files stage alone.
    trait ApplyUnits {
        fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error>;
    }

    impl ApplyUnits for TestRoot {
        fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error> {
            self.run(json, dry_run, |context, config| {
                super::apply(context, &config.systemd.units)
            })
        }
    }

    #[test]
    fn writes_units_dropins_masks_and_sorted_presets() {
        let t = TestRoot::new();
        t.write("etc/systemd/system/old.service", "[Unit]\n");
        symlink("/dev/null", t.host("etc/systemd/system/unmask.service")).expect("symlink");
        symlink("/elsewhere", t.host("etc/systemd/system/notmask.service")).expect("symlink");
        fs::create_dir_all(t.host("etc/systemd/system/multi-user.target.wants")).expect("mkdir");
        symlink(
            "/etc/systemd/system/off.service",
            t.host("etc/systemd/system/multi-user.target.wants/off.service"),
        )
        .expect("symlink");
        let config = json!({"systemd": {"units": [
            {"name": "hello.service", "enabled": true, "contents": "[Service]\nExecStart=/bin/true\n"},
            {"name": "sshd.service", "dropins": [{"name": "10-custom.conf", "contents": "[Service]\n"}, {"name": "skip.conf"}]},
            {"name": "old.service", "mask": true},
            {"name": "unmask.service", "mask": false},
            {"name": "notmask.service", "mask": false},
            {"name": "echo@foo.service", "enabled": true},
            {"name": "echo@bar.service", "enabled": true},
            {"name": "off.service", "enabled": false},
            {"name": "never.service", "enabled": false}
        ]}});
        let changes = t.apply(config, false).expect("apply");
        let dir = "etc/systemd/system";
        assert_eq!(
            t.read(&format!("{dir}/hello.service")),
            "[Service]\nExecStart=/bin/true\n"
        );
        assert_eq!(
            fs::metadata(t.host(&format!("{dir}/hello.service")))
                .expect("stat")
                .mode()
                & 0o777,
            0o644
        );
        assert_eq!(
            t.read(&format!("{dir}/sshd.service.d/10-custom.conf")),
            "[Service]\n"
        );
        assert!(!t.host(&format!("{dir}/sshd.service.d/skip.conf")).exists());
        assert_eq!(
            fs::read_link(t.host(&format!("{dir}/old.service")))
                .expect("mask")
                .to_str(),
            Some("/dev/null")
        );
        assert!(fs::symlink_metadata(t.host(&format!("{dir}/unmask.service"))).is_err());
        assert!(fs::symlink_metadata(t.host(&format!("{dir}/notmask.service"))).is_ok());
        assert!(
            fs::symlink_metadata(t.host(&format!("{dir}/multi-user.target.wants/off.service")))
                .is_err()
        );
        assert_eq!(
            t.read(PRESET_FILE),
            // Sorted by "<unit>-enabled|disabled" keys.
            "enable echo@.service foo bar\nenable hello.service\ndisable off.service\n"
        );
        assert!(changes.to_string().contains("masked old.service"));
        // A second run appends, as Ignition's O_APPEND open does.
        t.apply(
            json!({"systemd": {"units": [{"name": "x.service", "enabled": true}]}}),
            false,
        )
        .expect("again");
        assert!(
            t.read(PRESET_FILE)
                .ends_with("disable off.service\nenable x.service\n")
        );
    }

    #[test]
    fn instances_are_split_from_templates() {
        assert_eq!(
            instance("a@x.service"),
            Some(("a@.service".to_string(), "x".to_string()))
        );
        assert_eq!(instance("a@.service"), None);
        assert_eq!(instance("a.service"), None);
    }

    #[test]
    fn unit_names_cannot_leave_the_unit_directory() {
        let t = TestRoot::new();
        let err = t
            .apply(
                json!({"systemd": {"units": [{"name": "../../x", "contents": "y"}]}}),
                false,
            )
            .expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("$.systemd.units.0: invalid unit name"),
            "{err}"
        );
        assert_eq!(fs::read_dir(&t.dir).expect("ls").count(), 0);
    }
}
