use super::*;
use crate::{
    Directory, Disk, File, Filesystem, HttpHeader, Ignition, KernelArguments, Partition, Passwd,
    PasswdUser, Resource, Storage, Systemd, Unit,
};

fn file(path: &str) -> File {
    File {
        path: path.into(),
        ..File::default()
    }
}

fn with_files(files: Vec<File>) -> Config {
    Config {
        storage: Storage {
            files,
            ..Storage::default()
        },
        ..Config::default()
    }
}

fn source(url: &str) -> Resource {
    Resource {
        source: Some(url.into()),
        ..Resource::default()
    }
}

/// Checks, for each `(side, "path")` or `(side, "path <- source path")`, that the merge
/// transcript says the value at the result's path came from that side, at the same path or
/// at the source path given.
fn assert_origins(merged: &Merged, expected: &[(Side, &str)]) {
    for &(side, row) in expected {
        let (path, from) = row.split_once(" <- ").unwrap_or((row, row));
        let got = merged
            .transcript
            .origin(&Path::parse(path))
            .map(|(side, from)| (side, from.to_string()));
        assert_eq!(got, Some((side, format!("$.{from}"))), "origin of {path}");
    }
}

#[test]
fn scalars_and_options_come_from_the_child_when_set() {
    let mut parent = file("/a");
    parent.mode = Some(0o644);
    parent.overwrite = Some(true);
    let mut child = file("/a");
    child.mode = Some(0o600);
    let mut parent = with_files(vec![parent]);
    parent.ignition.version = "3.4.0".into();
    let mut child = with_files(vec![child]);
    child.ignition.version = "3.5.0".into();
    let merged = merge(&parent, &child);
    let result = &merged.config.storage.files[0];
    assert_eq!(result.mode, Some(0o600));
    assert_eq!(result.overwrite, Some(true));
    assert_eq!(merged.config.ignition.version, "3.5.0");
    assert_origins(
        &merged,
        &[
            (Side::Child, "storage.files.0.mode"),
            (Side::Parent, "storage.files.0.overwrite"),
        ],
    );
}

#[test]
fn structs_merge_field_by_field() {
    let mut parent = file("/a");
    parent.contents = source("http://parent");
    parent.contents.compression = Some("gzip".into());
    let mut child = file("/a");
    child.contents = source("http://child");
    let merged = merge(&with_files(vec![parent.clone()]), &with_files(vec![child]));
    let contents = &merged.config.storage.files[0].contents;
    assert_eq!(contents.source.as_deref(), Some("http://child"));
    assert_eq!(contents.compression.as_deref(), Some("gzip"));
    // A zero child struct keeps the parent's; a zero parent struct takes the child's.
    let merged = merge(
        &with_files(vec![parent.clone()]),
        &with_files(vec![file("/a")]),
    );
    assert_eq!(merged.config.storage.files[0].contents, parent.contents);
    let merged = merge(
        &with_files(vec![file("/a")]),
        &with_files(vec![parent.clone()]),
    );
    assert_eq!(merged.config.storage.files[0].contents, parent.contents);
    assert_origins(&merged, &[(Side::Child, "storage.files.0.contents.source")]);
    // Identical merge of a config with itself changes nothing.
    let config = with_files(vec![parent]);
    assert_eq!(merge(&config, &config).config, config);
}

#[test]
fn ignore_duplicates_lists_are_concatenated() {
    let mut parent = file("/a");
    parent.append = vec![source("http://x")];
    let mut child = file("/a");
    child.append = vec![source("http://x"), source("http://y")];
    let merged = merge(&with_files(vec![parent]), &with_files(vec![child]));
    let sources: Vec<_> = merged.config.storage.files[0]
        .append
        .iter()
        .map(|r| r.source.clone().unwrap_or_default())
        .collect();
    assert_eq!(sources, ["http://x", "http://x", "http://y"]);
    assert_origins(
        &merged,
        &[(
            Side::Child,
            "storage.files.0.append.2.source <- storage.files.0.append.1.source",
        )],
    );

    let fs = |options: &[&str]| Config {
        storage: Storage {
            filesystems: vec![Filesystem {
                device: "/dev/vda".into(),
                options: options.iter().map(|o| o.to_string()).collect(),
                mount_options: options.iter().map(|o| o.to_string()).collect(),
                ..Filesystem::default()
            }],
            ..Storage::default()
        },
        ..Config::default()
    };
    let merged = merge(&fs(&["-a"]), &fs(&["-a", "-b"]));
    let result = &merged.config.storage.filesystems[0];
    assert_eq!(result.options, ["-a", "-a", "-b"]);
    assert_eq!(result.mount_options, ["-a", "-a", "-b"]);
}

#[test]
fn keyed_lists_merge_in_place_and_append_new_items_with_shifted_origins() {
    let parent = with_files(vec![file("/a"), file("/b")]);
    let mut new = file("/c");
    new.contents = source("data:,c");
    let child = with_files(vec![new]);
    let merged = merge(&parent, &child);
    let paths: Vec<_> = merged
        .config
        .storage
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    assert_origins(
        &merged,
        &[
            (Side::Child, "storage.files.2 <- storage.files.0"),
            (
                Side::Child,
                "storage.files.2.contents.source <- storage.files.0.contents.source",
            ),
            (Side::Parent, "storage.files.1.path"),
            (Side::Child, "storage.files"),
        ],
    );
    // A matching child item stays at the parent's position.
    let mut b = file("/b");
    b.mode = Some(0o600);
    let merged = merge(&parent, &with_files(vec![file("/z"), b]));
    let paths: Vec<_> = merged
        .config
        .storage
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["/a", "/b", "/z"]);
    assert_eq!(merged.config.storage.files[1].mode, Some(0o600));
    assert_origins(
        &merged,
        &[
            (Side::Child, "storage.files.1"),
            (Side::Child, "storage.files.1.mode"),
            (Side::Child, "storage.files.2 <- storage.files.0"),
        ],
    );
}

#[test]
fn node_lists_share_one_namespace() {
    let parent = Config {
        storage: Storage {
            files: vec![file("/a"), file("/b")],
            links: vec![crate::Link {
                path: "/c".into(),
                ..Default::default()
            }],
            ..Storage::default()
        },
        ..Config::default()
    };
    let child = Config {
        storage: Storage {
            directories: vec![Directory {
                path: "/a".into(),
                ..Directory::default()
            }],
            ..Storage::default()
        },
        ..Config::default()
    };
    let merged = merge(&parent, &child);
    let storage = &merged.config.storage;
    assert_eq!(storage.files, [file("/b")]);
    assert_eq!(storage.directories.len(), 1);
    assert_eq!(storage.links.len(), 1);
    assert_origins(
        &merged,
        &[
            (Side::Parent, "storage.files.0 <- storage.files.1"),
            (Side::Child, "storage.directories.0.path"),
        ],
    );
}

#[test]
fn kernel_arguments_share_one_namespace() {
    let args = |exist: &[&str], not: &[&str]| Config {
        kernel_arguments: KernelArguments {
            should_exist: exist.iter().map(|a| a.to_string()).collect(),
            should_not_exist: not.iter().map(|a| a.to_string()).collect(),
        },
        ..Config::default()
    };
    let merged = merge(&args(&["x", "y"], &[]), &args(&["z", "y"], &["x"]));
    assert_eq!(merged.config.kernel_arguments.should_exist, ["y", "z"]);
    assert_eq!(merged.config.kernel_arguments.should_not_exist, ["x"]);
}

#[test]
fn http_headers_merge_by_name_and_a_valueless_child_header_deletes() {
    let header = |name: &str, value: Option<&str>| HttpHeader {
        name: name.into(),
        value: value.map(str::to_owned),
    };
    let with_headers = |headers| {
        let mut resource = source("http://x");
        resource.http_headers = headers;
        let mut config = Config::default();
        config.ignition.config.merge = vec![resource];
        config
    };
    let parent = with_headers(vec![header("A", Some("1")), header("B", Some("2"))]);
    let child = with_headers(vec![
        header("A", None),
        header("B", Some("3")),
        header("C", None),
    ]);
    let merged = merge(&parent, &child);
    let resources = &merged.config.ignition.config.merge;
    assert_eq!(resources.len(), 1);
    assert_eq!(
        resources[0].http_headers,
        [header("B", Some("3")), header("C", None)]
    );
    assert_origins(
        &merged,
        &[(
            Side::Child,
            "ignition.config.merge.0.httpHeaders.0.value <- ignition.config.merge.0.httpHeaders.1.value",
        )],
    );
}

#[test]
fn partitions_match_on_number_else_label() {
    let part = |number: i64, label: Option<&str>, size: i64| Partition {
        number,
        label: label.map(str::to_owned),
        size_mib: Some(size),
        ..Partition::default()
    };
    let disk = |partitions| Config {
        storage: Storage {
            disks: vec![Disk {
                device: "/dev/vda".into(),
                partitions,
                ..Disk::default()
            }],
            ..Storage::default()
        },
        ..Config::default()
    };
    let parent = disk(vec![part(1, Some("boot"), 1), part(0, Some("root"), 2)]);
    let child = disk(vec![
        part(0, Some("root"), 20),
        part(0, Some("boot"), 10),
        part(1, None, 5),
    ]);
    let merged = merge(&parent, &child);
    let parts = &merged.config.storage.disks[0].partitions;
    assert_eq!(parts.len(), 3);
    // Number 1 matched number 1 (label kept from the parent), "root" matched "root".
    assert_eq!(parts[0], part(1, Some("boot"), 5));
    assert_eq!(parts[1], part(0, Some("root"), 20));
    assert_eq!(parts[2], part(0, Some("boot"), 10));
}

#[test]
fn named_and_valued_lists_merge_by_key() {
    let user = |name: &str, keys: &[&str]| PasswdUser {
        name: name.into(),
        ssh_authorized_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..PasswdUser::default()
    };
    let passwd = |users| Config {
        passwd: Passwd {
            users,
            ..Passwd::default()
        },
        ..Config::default()
    };
    let merged = merge(
        &passwd(vec![user("core", &["k1", "k2"])]),
        &passwd(vec![user("core", &["k2", "k3"]), user("other", &[])]),
    );
    let users = &merged.config.passwd.users;
    assert_eq!(users[0].ssh_authorized_keys, ["k1", "k2", "k3"]);
    assert_eq!(users[1].name, "other");

    let unit = |name: &str, enabled: Option<bool>, contents: Option<&str>| Unit {
        name: name.into(),
        enabled,
        contents: contents.map(str::to_owned),
        ..Unit::default()
    };
    let systemd = |units| Config {
        systemd: Systemd { units },
        ..Config::default()
    };
    let merged = merge(
        &systemd(vec![unit("a.service", None, Some("[Unit]"))]),
        &systemd(vec![unit("a.service", Some(true), None)]),
    );
    assert_eq!(
        merged.config.systemd.units,
        [unit("a.service", Some(true), Some("[Unit]"))]
    );
    assert_origins(
        &merged,
        &[
            (Side::Parent, "systemd.units.0.contents"),
            (Side::Child, "systemd.units.0"),
        ],
    );
}

#[test]
fn every_result_value_has_an_origin() {
    let mut a = file("/a");
    a.contents = source("data:,a");
    let parent = Config {
        ignition: Ignition {
            version: "3.4.0".into(),
            ..Ignition::default()
        },
        storage: Storage {
            files: vec![a, file("/b")],
            ..Storage::default()
        },
        ..Config::default()
    };
    let mut b = file("/b");
    b.mode = Some(420);
    let mut child = with_files(vec![b, file("/c")]);
    child.ignition.version = "3.4.0".into();
    let merged = merge(&parent, &child);
    let json = serde_json::to_value(&merged.config).unwrap_or_default();
    let mut todo = vec![(Path::root(), &json)];
    while let Some((path, value)) = todo.pop() {
        assert!(
            merged.transcript.origin(&path).is_some(),
            "{path} has no origin"
        );
        match value {
            Value::Object(fields) => {
                todo.extend(fields.iter().map(|(k, v)| (path.key(k.as_str()), v)));
            }
            Value::Array(items) => {
                todo.extend(items.iter().enumerate().map(|(i, v)| (path.index(i), v)));
            }
            _ => {}
        }
    }
    assert!(merged.transcript.iter().count() > 10);
}
