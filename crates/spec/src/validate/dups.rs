//! Duplicate entries: every keyed list (and list of strings) may name a key once, with
//! files, directories and links sharing one namespace of paths, and kernel arguments
//! sharing one between `shouldExist` and `shouldNotExist`.

use std::collections::HashSet;

use ferro_document::{Path, Report};

use crate::{Config, Partition, Resource};

/// One namespace of keys; a repeated key is reported at the later entry.
#[derive(Default)]
struct Keys(HashSet<String>);

impl Keys {
    fn list<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a str>,
        at: &Path,
        report: &mut Report,
    ) {
        for (index, key) in keys.into_iter().enumerate() {
            if !self.0.insert(key.to_owned()) {
                report.error(at.index(index), "duplicate entry defined");
            }
        }
    }
}

fn list<'a>(keys: impl IntoIterator<Item = &'a str>, at: &Path, report: &mut Report) {
    Keys::default().list(keys, at, report);
}

fn source(resource: &Resource) -> &str {
    resource.source.as_deref().unwrap_or_default()
}

fn partition_key(partition: &Partition) -> String {
    match (partition.number, &partition.label) {
        (0, Some(label)) => format!("label:{label}"),
        (0, None) => String::new(),
        (number, _) => format!("number:{number}"),
    }
}

fn resource(resource: &Resource, at: &Path, report: &mut Report) {
    list(
        resource.http_headers.iter().map(|h| h.name.as_str()),
        &at.key("httpHeaders"),
        report,
    );
}

/// Reports every duplicate entry, walking the config in field order.
pub fn check(config: &Config, report: &mut Report) {
    let root = Path::root();
    let ignition = root.key("ignition");
    let reference = &config.ignition.config;
    let at = ignition.key("config");
    list(reference.merge.iter().map(source), &at.key("merge"), report);
    for (index, merge) in reference.merge.iter().enumerate() {
        resource(merge, &at.key("merge").index(index), report);
    }
    resource(&reference.replace, &at.key("replace"), report);
    let proxy = &config.ignition.proxy;
    list(
        proxy.no_proxy.iter().map(String::as_str),
        &ignition.key("proxy").key("noProxy"),
        report,
    );
    let at = ignition
        .key("security")
        .key("tls")
        .key("certificateAuthorities");
    let cas = &config.ignition.security.tls.certificate_authorities;
    list(cas.iter().map(source), &at, report);
    for (index, ca) in cas.iter().enumerate() {
        resource(ca, &at.index(index), report);
    }

    let kargs = &config.kernel_arguments;
    let at = root.key("kernelArguments");
    let mut shared = Keys::default();
    shared.list(
        kargs.should_exist.iter().map(String::as_str),
        &at.key("shouldExist"),
        report,
    );
    shared.list(
        kargs.should_not_exist.iter().map(String::as_str),
        &at.key("shouldNotExist"),
        report,
    );

    let passwd = &config.passwd;
    let at = root.key("passwd");
    list(
        passwd.groups.iter().map(|g| g.name.as_str()),
        &at.key("groups"),
        report,
    );
    list(
        passwd.users.iter().map(|u| u.name.as_str()),
        &at.key("users"),
        report,
    );
    for (index, user) in passwd.users.iter().enumerate() {
        let at = at.key("users").index(index);
        list(
            user.groups.iter().map(String::as_str),
            &at.key("groups"),
            report,
        );
        list(
            user.ssh_authorized_keys.iter().map(String::as_str),
            &at.key("sshAuthorizedKeys"),
            report,
        );
    }

    let storage = &config.storage;
    let at = root.key("storage");
    let mut nodes = Keys::default();
    nodes.list(
        storage.directories.iter().map(|d| d.path.as_str()),
        &at.key("directories"),
        report,
    );
    list(
        storage.disks.iter().map(|d| d.device.as_str()),
        &at.key("disks"),
        report,
    );
    nodes.list(
        storage.files.iter().map(|f| f.path.as_str()),
        &at.key("files"),
        report,
    );
    list(
        storage.filesystems.iter().map(|f| f.device.as_str()),
        &at.key("filesystems"),
        report,
    );
    nodes.list(
        storage.links.iter().map(|l| l.path.as_str()),
        &at.key("links"),
        report,
    );
    list(
        storage.luks.iter().map(|l| l.name.as_str()),
        &at.key("luks"),
        report,
    );
    list(
        storage.raid.iter().map(|r| r.name.as_str()),
        &at.key("raid"),
        report,
    );
    for (index, disk) in storage.disks.iter().enumerate() {
        let keys: Vec<String> = disk.partitions.iter().map(partition_key).collect();
        list(
            keys.iter().map(String::as_str),
            &at.key("disks").index(index).key("partitions"),
            report,
        );
    }
    for (index, file) in storage.files.iter().enumerate() {
        let at = at.key("files").index(index);
        for (fragment_index, fragment) in file.append.iter().enumerate() {
            resource(fragment, &at.key("append").index(fragment_index), report);
        }
        resource(&file.contents, &at.key("contents"), report);
    }
    for (index, luks) in storage.luks.iter().enumerate() {
        let at = at.key("luks").index(index);
        list(
            luks.open_options.iter().map(String::as_str),
            &at.key("openOptions"),
            report,
        );
        let tang = luks.clevis.tang.iter().map(|t| t.url.as_str());
        list(tang, &at.key("clevis").key("tang"), report);
        resource(&luks.key_file, &at.key("keyFile"), report);
    }
    for (index, raid) in storage.raid.iter().enumerate() {
        let at = at.key("raid").index(index).key("devices");
        list(raid.devices.iter().map(String::as_str), &at, report);
    }

    let at = root.key("systemd").key("units");
    let units = &config.systemd.units;
    list(units.iter().map(|u| u.name.as_str()), &at, report);
    for (index, unit) in units.iter().enumerate() {
        let dropins = unit.dropins.iter().map(|d| d.name.as_str());
        list(dropins, &at.index(index).key("dropins"), report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Directory, Dropin, File, Link, PasswdUser, Unit};

    fn lines(config: &Config) -> Vec<String> {
        let mut report = Report::new();
        check(config, &mut report);
        report.entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn shares_one_namespace_for_nodes() {
        let mut config = Config::default();
        config.storage.directories.push(Directory {
            path: "/a".into(),
            ..Directory::default()
        });
        config.storage.files.push(File {
            path: "/b".into(),
            ..File::default()
        });
        config.storage.files.push(File {
            path: "/a".into(),
            ..File::default()
        });
        config.storage.links.push(Link {
            path: "/b".into(),
            ..Link::default()
        });
        assert_eq!(
            lines(&config),
            vec![
                "error at $.storage.files.1: duplicate entry defined",
                "error at $.storage.links.0: duplicate entry defined"
            ]
        );
    }

    #[test]
    fn finds_duplicates_in_keyed_and_string_lists() {
        let mut config = Config::default();
        config.kernel_arguments.should_exist.push("quiet".into());
        config
            .kernel_arguments
            .should_not_exist
            .push("quiet".into());
        config.passwd.users.push(PasswdUser {
            name: "core".into(),
            ssh_authorized_keys: vec!["k".into(), "k".into()],
            ..PasswdUser::default()
        });
        config.systemd.units.push(Unit {
            name: "a.service".into(),
            dropins: vec![
                Dropin {
                    name: "x.conf".into(),
                    ..Dropin::default()
                };
                2
            ],
            ..Unit::default()
        });
        config.systemd.units.push(Unit {
            name: "a.service".into(),
            ..Unit::default()
        });
        assert_eq!(
            lines(&config),
            vec![
                "error at $.kernelArguments.shouldNotExist.0: duplicate entry defined",
                "error at $.passwd.users.0.sshAuthorizedKeys.1: duplicate entry defined",
                "error at $.systemd.units.1: duplicate entry defined",
                "error at $.systemd.units.0.dropins.1: duplicate entry defined"
            ]
        );
    }

    #[test]
    fn lets_file_fragments_repeat() {
        let mut config = Config::default();
        let fragment = Resource {
            source: Some("data:,x".into()),
            ..Resource::default()
        };
        config.storage.files.push(File {
            path: "/f".into(),
            append: vec![fragment.clone(), fragment],
            ..File::default()
        });
        assert!(lines(&config).is_empty());
    }
}
