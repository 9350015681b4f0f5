//! Package layering against a real signed archive served on loopback: `dpkg --root`
//! and apt do the work, the results are checked in the deployments, their commits and
//! origins. Needs root and dpkg-deb, apt-ftparchive, gpg, unshare; skips otherwise.

#[path = "support/archive.rs"]
mod archive;
mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use archive::{Archive, Key, Pkg, can_layer, debianize};
use ferro_ostree::Checksum;
use ferro_sys::CommandRunExt;
use ferro_sysroot::layer::{LayerOptions, PackageChange};
use ferro_sysroot::{Apply, Sysroot};
use support::{Scratch, commit, make_tree};

const BRANCH: &str = "testos/stable";

/// A sysroot with a Debian-like base deployed, an archive and its key.
struct Fixture {
    scratch: Scratch,
    sysroot: Sysroot,
    archive: Archive,
    key: Key,
}

/// The archive every test starts with: `hello` depends on `libhello`, whose postinst
/// creates the system user `hellod` and writes state to `/var/lib/hello`; `basepkg`
/// 2.0 is newer than the base's 1.0.
fn packages() -> Vec<Pkg> {
    vec![
        Pkg {
            depends: "libhello (>= 1.0)",
            ..Pkg::new("hello", "1.0")
        },
        Pkg {
            // Shell builtins only: the test base has nothing but a shell (a real
            // package runs adduser).
            postinst: "has() { while IFS=: read -r name rest; do \
                       [ \"$name\" = hellod ] && return 0; done < \"$1\"; return 1; }\n\
                       has /etc/passwd || \
                       echo 'hellod:x:990:990:hello daemon:/nonexistent:/usr/sbin/nologin' >> /etc/passwd\n\
                       has /etc/group || echo 'hellod:x:990:' >> /etc/group\n\
                       echo configured > /var/lib/hello/state",
            files: vec![("var/lib/hello/README", "hello state\n")],
            ..Pkg::new("libhello", "1.0")
        },
        Pkg::new("tool", "1.0"),
        Pkg {
            files: vec![("usr/lib/modules/6.1.0/extra/thing.ko", "module\n")],
            ..Pkg::new("thing-modules", "1.0")
        },
        Pkg::new("basepkg", "2.0"),
        Pkg {
            depends: "basepkg (>= 2.0)",
            ..Pkg::new("needsnewer", "1.0")
        },
        Pkg {
            depends: "nosuchthing",
            ..Pkg::new("broken", "1.0")
        },
        Pkg {
            postinst: "echo 'postinst of failing exits 3' >&2; exit 3",
            ..Pkg::new("failing", "1.0")
        },
    ]
}

/// Commits a base tree with `base` packages as `version` on [`BRANCH`].
fn commit_base(f: &Fixture, version: &str, base: &[(&str, &str)]) -> Checksum {
    let tree = f.scratch.path().join(format!("tree-{version}"));
    let _ = fs::remove_dir_all(&tree);
    make_tree(&tree, "kernel 1", &[("os-version", Some(version))]);
    debianize(&tree, base, &f.archive.url, &f.key.public);
    commit(f.sysroot.repo(), &tree, BRANCH, version)
}

const BASE: &[(&str, &str)] = &[("basepkg", "1.0"), ("coreutils-ish", "1.0")];

fn fixture(test: &str) -> Option<Fixture> {
    if !can_layer(test) {
        return None;
    }
    let scratch = Scratch::new();
    let mut sysroot = ferro_sysroot::init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("testos").unwrap();
    let run = scratch.path().join("run");
    fs::create_dir_all(&run).unwrap();
    sysroot.set_run_dir(&run);
    let cmdline = scratch.path().join("cmdline");
    fs::write(&cmdline, "rw\n").unwrap();
    sysroot.set_cmdline_path(&cmdline);
    let key = Key::new(&scratch.path().join("gnupg"));
    let archive = Archive::new(&scratch.path().join("archive"));
    archive.add(&packages());
    archive.publish(&key);
    let f = Fixture {
        scratch,
        sysroot,
        archive,
        key,
    };
    commit_base(&f, "1", BASE);
    let options = ferro_sysroot::DeployOptions {
        osname: Some("testos".into()),
        refspec: Some(BRANCH.into()),
        ..Default::default()
    };
    f.sysroot.deploy(BRANCH, &options).unwrap();
    Some(f)
}

fn install(names: &[&str]) -> PackageChange {
    PackageChange {
        install: names.iter().map(|s| s.to_string()).collect(),
        ..PackageChange::default()
    }
}

fn now() -> LayerOptions {
    LayerOptions {
        apply: Apply::Now,
        ..LayerOptions::default()
    }
}

/// The default deployment's directory.
fn default_dir(f: &Fixture) -> PathBuf {
    let state = f.sysroot.load().unwrap();
    f.sysroot.dir_of(&state.deployments[0])
}

/// `dpkg-query -W` of a deployment: `NAME VERSION` lines.
fn dpkg_list(dir: &Path) -> Vec<String> {
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}/usr/lib/sysimage/dpkg",
            dir.display()
        ))
        .args(["-W", "-f", "${Package} ${Version}\\n"])
        .run_get_string()
        .unwrap();
    out.lines().map(str::to_owned).collect()
}

/// What `status` would show: every deployment's commit, serial and origin, plus
/// whether anything is left in the repository's tmp dir.
fn state_of(f: &Fixture) -> (Vec<String>, usize) {
    let rows: Vec<String> = f
        .sysroot
        .status()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?}",
                r.deployment.name(),
                r.staged,
                r.deployment.origin.to_text()
            )
        })
        .collect();
    let deploy_dirs = fs::read_dir(f.sysroot.path().join("ostree/deploy/testos/deploy"))
        .unwrap()
        .count();
    let tmp: Vec<_> = fs::read_dir(f.sysroot.repo().path().join("tmp"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ferro-layer"))
                .collect()
        })
        .unwrap_or_default();
    assert!(tmp.is_empty(), "work trees left: {tmp:?}");
    (rows, deploy_dirs)
}

#[test]
fn install_with_dependencies_and_a_system_user_survives_upgrades() {
    let Some(f) = fixture("install_with_dependencies_and_a_system_user_survives_upgrades") else {
        return;
    };
    let base_dir = default_dir(&f);
    let base = f.sysroot.load().unwrap().deployments[0].checksum;

    let outcome = f
        .sysroot
        .change_packages(&install(&["hello"]), &now())
        .unwrap();
    let build = outcome.build.expect("a layer was built");
    let names: Vec<&str> = build
        .transaction
        .install
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["libhello", "hello"], "the dependency comes along");
    assert!(
        build.kernels.is_empty(),
        "no modules, the initramfs is left alone"
    );
    eprintln!(
        "layering hello+libhello onto the test base: {:?} building (excluding {:?} fetching)",
        build.build_time, build.fetch_time
    );

    let dir = default_dir(&f);
    let commit = f.sysroot.repo().load_commit(&build.commit).unwrap();
    assert_eq!(commit.parent, Some(base), "the layer's parent is the base");
    assert_eq!(f.sysroot.layer_base(&build.commit), base);
    let list = dpkg_list(&dir);
    for want in ["hello 1.0", "libhello 1.0", "basepkg 1.0"] {
        assert!(
            list.contains(&want.to_owned()),
            "dpkg -l lists {want}: {list:?}"
        );
    }
    assert_eq!(
        dpkg_list(&base_dir).len(),
        2,
        "the base deployment is unchanged"
    );
    assert_eq!(
        fs::read_to_string(dir.join("usr/share/hello/data")).unwrap(),
        "hello 1.0\n"
    );
    // The user exists in the new /etc and, for machines whose /etc/passwd wins the
    // merge, as a sysusers.d entry with the same ids.
    let passwd = fs::read_to_string(dir.join("etc/passwd")).unwrap();
    assert!(passwd.contains("hellod:x:990:990"), "{passwd}");
    let sysusers = fs::read_to_string(dir.join(ferro_sysroot::layer::SYSUSERS)).unwrap();
    assert!(sysusers.contains("g hellod 990"), "{sysusers}");
    assert!(
        sysusers.contains("u hellod 990:990 \"hello daemon\" /nonexistent /usr/sbin/nologin"),
        "{sysusers}"
    );
    // /var content becomes tmpfiles.d lines over the factory copy.
    let tmpfiles = fs::read_to_string(dir.join(ferro_sysroot::layer::TMPFILES)).unwrap();
    assert!(
        tmpfiles.contains("d /var/lib/hello 0755 0 0 -"),
        "{tmpfiles}"
    );
    assert!(
        tmpfiles.contains("C /var/lib/hello/state - - - - -"),
        "{tmpfiles}"
    );
    assert!(
        tmpfiles.contains("C /var/lib/hello/README - - - - -"),
        "{tmpfiles}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("usr/share/factory/var/lib/hello/state")).unwrap(),
        "configured\n"
    );
    assert!(
        !dir.join("usr/sbin/policy-rc.d").exists(),
        "policy-rc.d is removed"
    );
    assert_eq!(
        fs::read_dir(dir.join("var")).unwrap().count(),
        0,
        "/var stays empty"
    );
    // Unchanged files are the base's objects: the same inode, nothing re-copied.
    let inode = |d: &Path| fs::metadata(d.join("usr/lib/os-release")).unwrap().ino();
    assert_eq!(inode(&dir), inode(&base_dir));
    // The repository still holds intact objects (nothing was written through a link).
    assert_eq!(
        fs::read_to_string(base_dir.join("usr/etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );

    let state = f.sysroot.load().unwrap();
    let d = &state.deployments[0];
    let origin = d.origin.to_text();
    assert!(origin.contains("[packages]\nrequested=hello;"), "{origin}");
    assert!(origin.contains(&format!("refspec={BRANCH}")), "{origin}");
    let status = f.sysroot.layer_status(d);
    assert_eq!(status.requested_packages, ["hello"]);
    assert_eq!(status.packages, ["hello"]);
    assert_eq!(status.base_checksum, Some(base));
    assert!(status.inactive_requests().is_empty());

    // A new base: the upgrade rebuilds the layer on it.
    let v2 = commit_base(&f, "2", BASE);
    let (check, report) = f.sysroot.upgrade(Apply::Now).unwrap();
    assert_eq!(check.latest, v2);
    let report = report.expect("upgraded");
    assert_eq!(f.sysroot.layer_base(&report.deployment.checksum), v2);
    let dir = default_dir(&f);
    assert_eq!(
        fs::read_to_string(dir.join("usr/etc/os-version")).unwrap(),
        "2"
    );
    assert!(
        dpkg_list(&dir).contains(&"hello 1.0".to_owned()),
        "still layered"
    );
    let status = f.sysroot.layer_status(&report.deployment);
    assert_eq!(status.packages, ["hello"]);
    // The first layer's base stays in the repository (a ref keeps it from pruning).
    assert!(f.sysroot.commit_packages(&base).is_ok(), "base {base} kept");
    // Nothing new: no upgrade although the deployed commit is a local one.
    assert!(f.sysroot.upgrade(Apply::Now).unwrap().1.is_none());

    // A rebase rebuilds the layer on the other branch's commit, and back.
    let tree = f.scratch.path().join("tree-other");
    make_tree(&tree, "kernel 1", &[("os-version", Some("other"))]);
    debianize(&tree, BASE, &f.archive.url, &f.key.public);
    let other = support::commit(f.sysroot.repo(), &tree, "testos/other", "other");
    let report = f.sysroot.rebase("testos/other", Apply::Now).unwrap();
    assert_eq!(f.sysroot.layer_base(&report.deployment.checksum), other);
    assert_eq!(report.deployment.refspec().as_deref(), Some("testos/other"));
    let dir = f.sysroot.dir_of(&report.deployment);
    assert!(dpkg_list(&dir).contains(&"hello 1.0".to_owned()));
    assert!(
        report
            .deployment
            .origin
            .to_text()
            .contains("requested=hello;")
    );
    let report = f.sysroot.rebase(BRANCH, Apply::Now).unwrap();
    assert_eq!(f.sysroot.layer_base(&report.deployment.checksum), v2);

    // A base that gains the package: the request becomes inactive.
    let mut with_hello = BASE.to_vec();
    with_hello.extend([("hello", "0.5"), ("libhello", "0.5")]);
    let v3 = commit_base(&f, "3", &with_hello);
    let report = f.sysroot.upgrade(Apply::Now).unwrap().1.expect("upgraded");
    assert_eq!(report.deployment.checksum, v3, "nothing left to layer");
    let status = f.sysroot.layer_status(&report.deployment);
    assert_eq!(status.requested_packages, ["hello"]);
    assert!(status.packages.is_empty());
    assert_eq!(status.inactive_requests(), ["hello"]);
}

#[test]
fn kernel_modules_get_depmod_and_a_new_initramfs() {
    let Some(f) = fixture("kernel_modules_get_depmod_and_a_new_initramfs") else {
        return;
    };
    let base = f.sysroot.load().unwrap().deployments[0].clone();
    let outcome = f
        .sysroot
        .change_packages(&install(&["thing-modules"]), &now())
        .unwrap();
    assert_eq!(outcome.build.unwrap().kernels, ["6.1.0"]);
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    let modules = f.sysroot.dir_of(&d).join("usr/lib/modules/6.1.0");
    assert!(modules.join("extra/thing.ko").is_file());
    assert_eq!(
        fs::read_to_string(modules.join("modules.dep")).unwrap(),
        "depmod -a 6.1.0\n"
    );
    assert_eq!(
        fs::read_to_string(modules.join("initramfs.img")).unwrap(),
        "initramfs -c -k 6.1.0\n",
        "the new initramfs is where deployments find it"
    );
    assert_ne!(d.bootcsum, base.bootcsum, "it boots with the new initramfs");
    assert!(
        !f.sysroot.dir_of(&d).join("boot").exists()
            || fs::read_dir(f.sysroot.dir_of(&d).join("boot"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn uninstall_override_remove_reset_and_rollback() {
    let Some(f) = fixture("uninstall_override_remove_reset_and_rollback") else {
        return;
    };
    let base = f.sysroot.load().unwrap().deployments[0].checksum;
    f.sysroot
        .change_packages(&install(&["tool"]), &now())
        .unwrap();
    assert!(dpkg_list(&default_dir(&f)).contains(&"tool 1.0".to_owned()));

    // Override-remove a base package: the layer drops it and records it.
    let remove = PackageChange {
        override_remove: vec!["coreutils-ish".into()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&remove, &now()).unwrap();
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    let list = dpkg_list(&f.sysroot.dir_of(&d));
    assert!(
        !list.iter().any(|l| l.starts_with("coreutils-ish")),
        "{list:?}"
    );
    assert!(list.contains(&"tool 1.0".to_owned()), "{list:?}");
    let status = f.sysroot.layer_status(&d);
    assert_eq!(status.requested_base_removals, ["coreutils-ish"]);
    assert_eq!(status.base_removals, ["coreutils-ish"]);
    assert!(
        d.origin
            .to_text()
            .contains("[overrides]\nremove=coreutils-ish;")
    );

    // Reset it: back in.
    let reset = PackageChange {
        override_reset: vec!["coreutils-ish".into()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&reset, &now()).unwrap();
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    assert!(dpkg_list(&f.sysroot.dir_of(&d)).contains(&"coreutils-ish 1.0".to_owned()));
    assert!(f.sysroot.layer_status(&d).base_removals.is_empty());

    // Uninstall: the base commit itself, no requests left.
    let uninstall = PackageChange {
        uninstall: vec!["tool".into()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&uninstall, &now()).unwrap();
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    assert_eq!(d.checksum, base);
    assert!(
        !d.origin.to_text().contains("[packages]"),
        "{}",
        d.origin.to_text()
    );

    // Rollback: the previous deployment, with its package, is the default again.
    f.sysroot.rollback().unwrap();
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    let status = f.sysroot.layer_status(&d);
    assert_eq!(
        status.requested_packages,
        ["tool"],
        "{:?}",
        d.origin.to_text()
    );
    assert!(dpkg_list(&f.sysroot.dir_of(&d)).contains(&"tool 1.0".to_owned()));
    assert!(status.base_removals.is_empty(), "the layer after the reset");
    assert_eq!(f.sysroot.layer_base(&d.checksum), base);
}

#[test]
fn local_packages_dry_run_and_repeated_requests() {
    let Some(f) = fixture("local_packages_dry_run_and_repeated_requests") else {
        return;
    };
    let before = state_of(&f);
    let dry = LayerOptions {
        dry_run: true,
        ..now()
    };
    let outcome = f
        .sysroot
        .change_packages(&install(&["hello"]), &dry)
        .unwrap();
    let text = outcome.transaction.expect("resolved").to_text();
    assert!(text.contains("install libhello 1.0 (all)"), "{text}");
    assert!(text.contains("install hello 1.0 (all)"), "{text}");
    assert_eq!(state_of(&f), before, "a dry run changes nothing");

    let deb = Pkg::new("localthing", "3.1").build(
        &f.scratch.path().join("local-src"),
        &f.scratch.path().join("local"),
    );
    let local = PackageChange {
        install_local: vec![deb.clone()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&local, &now()).unwrap();
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    let status = f.sysroot.layer_status(&d);
    assert_eq!(status.requested_local_packages.len(), 1);
    assert!(status.requested_local_packages[0].ends_with(":localthing_3.1_all"));
    assert_eq!(status.local_packages, ["localthing"]);
    assert!(dpkg_list(&f.sysroot.dir_of(&d)).contains(&"localthing 3.1".to_owned()));

    // The kept copy is checked against its sha256 on every rebuild.
    let sha = status.requested_local_packages[0]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let kept = f.sysroot.path().join(format!(
        "ostree/deploy/testos/var/lib/ferro/layer/local-packages/{sha}.deb"
    ));
    let original = fs::read(&kept).unwrap();
    fs::write(&kept, b"tampered").unwrap();
    fails(&f, &install(&["tool"]), &["no longer matches its sha256"]);
    fs::write(&kept, original).unwrap();

    // Repeats: an error, or a no-op with --idempotent.
    let error = f
        .sysroot
        .change_packages(&local, &now())
        .unwrap_err()
        .to_string();
    assert!(error.contains("already requested"), "{error}");
    let before = state_of(&f);
    let idempotent = LayerOptions {
        idempotent: true,
        ..now()
    };
    let outcome = f.sysroot.change_packages(&local, &idempotent).unwrap();
    assert!(!outcome.changed);
    assert_eq!(state_of(&f), before);

    // Uninstalled, the kept copy goes with the next cleanup (every deploy's).
    let uninstall = PackageChange {
        uninstall: vec!["localthing".into()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&uninstall, &now()).unwrap();
    assert!(kept.exists(), "the previous deployment still requests it");
    f.sysroot
        .change_packages(&install(&["tool"]), &now())
        .unwrap();
    assert!(!kept.exists(), "no deployment requests it");

    // A package the base has: an error unless --allow-inactive.
    let error = f
        .sysroot
        .change_packages(&install(&["basepkg"]), &now())
        .unwrap_err()
        .to_string();
    assert!(error.contains("already provided by the base"), "{error}");
    assert!(error.contains("--allow-inactive"), "{error}");
    let inactive = LayerOptions {
        allow_inactive: true,
        ..now()
    };
    let outcome = f
        .sysroot
        .change_packages(&install(&["basepkg"]), &inactive)
        .unwrap();
    assert_eq!(outcome.inactive, ["basepkg"]);
    let d = f.sysroot.load().unwrap().deployments[0].clone();
    assert_eq!(f.sysroot.layer_status(&d).inactive_requests(), ["basepkg"]);
}

/// Runs a change that must fail; asserts the message has every `needle` and that
/// nothing changed.
fn fails(f: &Fixture, change: &PackageChange, needles: &[&str]) {
    let before = state_of(f);
    let error = f
        .sysroot
        .change_packages(change, &now())
        .unwrap_err()
        .to_string();
    for needle in needles {
        assert!(error.contains(needle), "'{needle}' in: {error}");
    }
    assert_eq!(state_of(f), before, "no change after: {error}");
}

#[test]
fn failures_leave_the_deployments_unchanged() {
    let Some(f) = fixture("failures_leave_the_deployments_unchanged") else {
        return;
    };
    fails(
        &f,
        &install(&["nosuchpackage"]),
        &["resolving", "nosuchpackage"],
    );
    fails(&f, &install(&["broken"]), &["resolving", "nosuchthing"]);
    fails(
        &f,
        &install(&["needsnewer"]),
        &["forbidden base package replacements", "basepkg 1.0 -> 2.0"],
    );
    fails(
        &f,
        &install(&["failing"]),
        &[
            "installing the packages",
            "dpkg exited",
            "failing",
            "exit status 3",
        ],
    );
    fails(
        &f,
        &PackageChange {
            uninstall: vec!["tool".into()],
            ..PackageChange::default()
        },
        &["'tool' is not currently requested"],
    );
    fails(
        &f,
        &PackageChange {
            override_remove: vec!["nosuch".into()],
            ..PackageChange::default()
        },
        &["'nosuch' is not in the base"],
    );

    // The finalization lock of a staged update.
    let lock = f.sysroot.finalization_lock();
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    fs::write(&lock, "").unwrap();
    fails(&f, &install(&["tool"]), &["staged update is locked"]);
    fs::remove_file(&lock).unwrap();

    // A signature by a key the tree does not trust.
    let other = Key::new(&f.scratch.path().join("gnupg-other"));
    f.archive.publish(&other);
    fails(&f, &install(&["tool"]), &["fetching the archive indexes"]);
    // A package whose bytes no longer match the signed index.
    f.archive.publish(&f.key);
    let deb = f.archive.dir.join("pool/tool_1.0_all.deb");
    let mut bytes = fs::read(&deb).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    fs::write(&deb, bytes).unwrap();
    fails(&f, &install(&["tool"]), &["downloading", "tool"]);
    f.archive.add(&[Pkg::new("tool", "1.0")]);
    f.archive.publish(&f.key);

    // No network: the archive does not answer.
    f.archive
        .offline
        .store(true, std::sync::atomic::Ordering::SeqCst);
    fails(&f, &install(&["tool"]), &["fetching the archive indexes"]);
    f.archive
        .offline
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // And after all that, layering works.
    f.sysroot
        .change_packages(&install(&["tool"]), &now())
        .unwrap();
}

/// Layering onto a composed ferrocore base, for the time it takes: opt-in with
/// `FERRO_LAYER_BASE_REPO=REPO` (a compose repository, e.g. the end-to-end test's
/// `target/tmp/e2e/repo`; ref `FERRO_LAYER_BASE_REF`, default
/// `ferrocore/x86_64/stable`) and `FERRO_LAYER_PACKAGE` (default `tmux`), resolved and
/// downloaded from the archive the image's own apt sources name (network needed).
/// A base composed before the dpkg database moved to /usr is moved here first.
/// Prints the time spent building (checkout, dpkg, commit) apart from fetching.
#[test]
fn composed_base_layering_time() {
    let Some(repo) = std::env::var_os("FERRO_LAYER_BASE_REPO") else {
        eprintln!("skipping composed_base_layering_time: FERRO_LAYER_BASE_REPO is not set");
        return;
    };
    if !can_layer("composed_base_layering_time") {
        return;
    }
    let name = std::env::var("FERRO_LAYER_BASE_REF")
        .unwrap_or_else(|_| "ferrocore/x86_64/stable".to_owned());
    let package = std::env::var("FERRO_LAYER_PACKAGE").unwrap_or_else(|_| "tmux".to_owned());
    let scratch = Scratch::new();
    let mut sysroot = ferro_sysroot::init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("ferrocore").unwrap();
    sysroot.set_run_dir(&scratch.path().join("run"));
    let cmdline = scratch.path().join("cmdline");
    fs::write(&cmdline, "rw\n").unwrap();
    sysroot.set_cmdline_path(&cmdline);
    let src = ferro_ostree::Repo::open(Path::new(&repo)).unwrap();
    let commit = src.resolve_rev(&name).unwrap();
    let started = std::time::Instant::now();
    ferro_ostree::pull_local::copy_commit(&src, sysroot.repo(), &commit, Some(0)).unwrap();
    let tree = scratch.path().join("tree");
    ferro_ostree::checkout::checkout(
        sysroot.repo(),
        &commit,
        &tree,
        &ferro_ostree::checkout::CheckoutOptions::default(),
    )
    .unwrap();
    let db = tree.join(ferro_sysroot::layer::DPKG_DB);
    if !db.exists() {
        fs::create_dir_all(db.parent().unwrap()).unwrap();
        fs::rename(tree.join("usr/share/factory/var/lib/dpkg"), &db).unwrap();
    }
    let base = support::commit(sysroot.repo(), &tree, &name, "base");
    let options = ferro_sysroot::DeployOptions {
        osname: Some("ferrocore".into()),
        refspec: Some(name.clone()),
        ..Default::default()
    };
    sysroot.deploy(&base.to_string(), &options).unwrap();
    eprintln!("base imported and deployed in {:?}", started.elapsed());
    let outcome = sysroot
        .change_packages(&install(&[package.as_str()]), &now())
        .unwrap();
    let build = outcome.build.unwrap();
    eprintln!(
        "layered {} ({} packages) onto the composed base: {:?} building, {:?} fetching",
        package,
        build.transaction.install.len(),
        build.build_time,
        build.fetch_time
    );
    let d = sysroot.load().unwrap().deployments[0].clone();
    let list = dpkg_list(&sysroot.dir_of(&d));
    assert!(
        list.iter().any(|l| l.starts_with(&format!("{package} "))),
        "{list:?}"
    );
}

/// Unmounts the live overlay however the test ends.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).run_status();
    }
}

#[test]
fn apply_live_adds_the_pending_packages_to_the_running_root() {
    let Some(mut f) = fixture("apply_live_adds_the_pending_packages_to_the_running_root") else {
        return;
    };
    // Boot the base deployment, then layer onto it.
    let boot = |f: &mut Fixture, index: usize| {
        let d = f.sysroot.load().unwrap().deployments[index].clone();
        let cmdline = f.scratch.path().join("cmdline");
        fs::write(
            &cmdline,
            format!("rw ostree={}\n", d.kargs.get("ostree").unwrap()),
        )
        .unwrap();
        f.sysroot.set_cmdline_path(&cmdline);
        d
    };
    boot(&mut f, 0);
    let error = f
        .sysroot
        .apply_live(Path::new("/nonexistent"), false)
        .unwrap_err();
    assert!(
        error.to_string().contains("no pending deployment"),
        "{error}"
    );
    f.sysroot
        .change_packages(&install(&["hello"]), &now())
        .unwrap();
    // A new boot version renamed the booted entry's `ostree=` path.
    let booted = boot(&mut f, 1);
    let root = f.sysroot.dir_of(&booted);
    assert!(!root.join("usr/share/hello").exists());

    let _unmount = Unmount(root.join("usr"));
    let report = f.sysroot.apply_live(&root, false).unwrap();
    assert!(report.added >= 3, "{report:?}");
    let pending = f.sysroot.load().unwrap().deployments[0].checksum;
    assert_eq!(f.sysroot.live_commit(), Some(pending.to_string()));
    assert_eq!(report.removed, 0);
    assert_eq!(
        fs::read_to_string(root.join("usr/share/hello/data")).unwrap(),
        "hello 1.0\n",
        "the new package's files are there now"
    );
    assert!(
        dpkg_list(&root).contains(&"hello 1.0".to_owned()),
        "dpkg -l sees it"
    );
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains("hellod:x:990:990"),
        "sysusers ran: {passwd}"
    );
    assert_eq!(
        fs::read_to_string(root.join("var/lib/hello/state")).unwrap(),
        "configured\n",
        "tmpfiles ran"
    );
    // The booted deployment itself is untouched under the overlay.
    drop(_unmount);
    assert!(
        !root.join("usr/share/hello").exists(),
        "the overlay was transient"
    );

    // A pending deployment that removes a base package is not a pure addition.
    let remove = PackageChange {
        override_remove: vec!["coreutils-ish".into()],
        ..PackageChange::default()
    };
    f.sysroot.change_packages(&remove, &now()).unwrap();
    boot(&mut f, 1);
    let error = f.sysroot.apply_live(&root, false).unwrap_err().to_string();
    assert!(
        error.contains("packages would be removed: 1 (coreutils-ish)")
            && error.contains("--allow-replacement"),
        "{error}"
    );
}
