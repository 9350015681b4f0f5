//! What OSTree's own test suite checks of a deploy, in ferro's library: device tree
//! directories and the `no-dtb` switch, the `test-fifreeze` hook, legacy kernel names,
//! U-Boot's `uEnv.txt`, whiteout markers and systemd's `.updated` stamps.

mod support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use ferro_sysroot::{DeployOptions, Error, SysrootDebug};
use support::{Scratch, commit};

fn options() -> DeployOptions {
    DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(vec!["root=LABEL=root".into()]),
        ..Default::default()
    }
}

fn add_dtb(tree: &std::path::Path) {
    let dtb = tree.join("usr/lib/modules/6.1.0/dtb");
    fs::create_dir_all(dtb.join("overlays")).unwrap();
    fs::write(dtb.join("board.dtb"), "a device tree").unwrap();
    fs::write(dtb.join("overlays/o.dtbo"), "an overlay").unwrap();
}

#[test]
fn device_tree_directories_are_installed_unless_no_dtb() {
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[]);
    add_dtb(&tree);
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments,no-dtb"));
    let without = sysroot.deploy("testos/v", &options()).unwrap().deployment;
    let boot = sysroot.path().join("boot/ostree");
    let dir = boot.join(format!("testos-{}", without.bootcsum));
    assert!(dir.join("vmlinuz-6.1.0").is_file());
    assert!(!dir.join("dtb").exists());

    sysroot.set_debug(SysrootDebug::parse("mutable-deployments"));
    commit(sysroot.repo(), &tree, "testos/v", "1.1");
    let with = sysroot.deploy("testos/v", &options()).unwrap().deployment;
    assert_ne!(
        with.bootcsum, without.bootcsum,
        "the dtb/ files are in the checksum"
    );
    let new_dir = boot.join(format!("testos-{}", with.bootcsum));
    assert_eq!(
        fs::read_to_string(new_dir.join("dtb/overlays/o.dtbo")).unwrap(),
        "an overlay"
    );
    let entry = fs::read_to_string(
        sysroot
            .path()
            .join("boot/loader/entries/ostree-2-testos.conf"),
    )
    .unwrap();
    assert!(
        entry.contains(&format!("fdtdir /ostree/testos-{}/dtb\n", with.bootcsum)),
        "{entry}"
    );
    // As OSTree: the older deployment's directory gets the device trees it now has.
    assert!(dir.join("dtb/board.dtb").is_file());
}

#[test]
fn test_fifreeze_stops_before_the_switch_to_new_entries() {
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[]);
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments"));
    sysroot.deploy("testos/v", &options()).unwrap();
    let before = fs::read_link(sysroot.path().join("boot/loader")).unwrap();
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments,test-fifreeze"));
    commit(sysroot.repo(), &tree, "testos/v", "1.1");
    let err = sysroot.deploy("testos/v", &options()).unwrap_err();
    assert!(matches!(err, Error::TestFifreeze), "{err}");
    let text = err.to_string();
    assert!(text.contains("During fsfreeze-thaw: aborting due to test-fifreeze"));
    assert!(text.contains("fifreeze watchdog was run"));
    assert_eq!(
        fs::read_link(sysroot.path().join("boot/loader")).unwrap(),
        before
    );
    assert_eq!(sysroot.load().unwrap().deployments.len(), 1);
}

#[test]
fn legacy_kernels_keep_their_names_without_the_checksum() {
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[]);
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments"));
    // A kernel without initramfs in usr/lib/modules: the legacy one wins.
    fs::remove_file(tree.join("usr/lib/modules/6.1.0/initramfs.img")).unwrap();
    let legacy = tree.join("usr/lib/ostree-boot");
    fs::create_dir_all(&legacy).unwrap();
    let csum = "ab".repeat(32);
    fs::write(legacy.join(format!("vmlinuz-3.6.0-{csum}")), "a kernel").unwrap();
    fs::write(
        legacy.join(format!("initramfs-3.6.0.img-{csum}")),
        "an initramfs",
    )
    .unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    let report = sysroot.deploy("testos/v", &options()).unwrap();
    assert_eq!(report.deployment.bootcsum, csum);
    let dir = sysroot.path().join(format!("boot/ostree/testos-{csum}"));
    assert_eq!(
        fs::read_to_string(dir.join("vmlinuz-3.6.0")).unwrap(),
        "a kernel"
    );
    assert_eq!(
        fs::read_to_string(dir.join("initramfs-3.6.0.img")).unwrap(),
        "an initramfs"
    );
    let update = report.bootloader.unwrap();
    assert!(update.bootconfig_swap);
    assert_eq!((update.bootversion, update.count_change), (1, 1));
}

#[test]
fn uboot_env_follows_the_entries_and_the_os_adds_its_own() {
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[]);
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments"));
    let boot = sysroot.path().join("boot");
    std::os::unix::fs::symlink("loader/uEnv.txt", boot.join("uEnv.txt")).unwrap();
    fs::create_dir_all(tree.join("usr/lib/ostree-boot")).unwrap();
    fs::write(tree.join("usr/lib/ostree-boot/uEnv.txt"), "loadfdt=x\n").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    let d = sysroot.deploy("testos/v", &options()).unwrap().deployment;
    let env = fs::read_to_string(boot.join("uEnv.txt")).unwrap();
    assert!(
        env.starts_with(&format!(
            "kernel_image=/ostree/testos-{}/vmlinuz-6.1.0\n",
            d.bootcsum
        )),
        "{env}"
    );
    assert!(env.contains("bootargs=root=LABEL=root ostree="), "{env}");
    assert!(env.ends_with("loadfdt=x\n"), "{env}");
}

#[test]
fn deployments_get_whiteouts_and_lose_update_stamps() {
    if std::os::unix::fs::MetadataExt::uid(&fs::metadata("/proc/self").unwrap()) != 0 {
        eprintln!("skipping: whiteout devices (mknod) need root");
        return;
    }
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[("a.conf", Some("a"))]);
    sysroot.set_debug(SysrootDebug::parse("mutable-deployments"));
    let layer = tree.join("usr/container/layers/abcd");
    fs::create_dir_all(&layer).unwrap();
    fs::write(layer.join(".ostree-wh.gone"), "").unwrap();
    fs::set_permissions(
        layer.join(".ostree-wh.gone"),
        fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    let first = sysroot.deploy("testos/v", &options()).unwrap().deployment;
    let dir = sysroot.dir_of(&first);
    let meta = fs::symlink_metadata(dir.join("usr/container/layers/abcd/gone")).unwrap();
    assert!(meta.file_type().is_char_device());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o400);
    fs::write(dir.join("etc/.updated"), "").unwrap();
    let var = sysroot.path().join("ostree/deploy/testos/var/.updated");
    fs::write(&var, "").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "1.1");
    let second = sysroot.deploy("testos/v", &options()).unwrap().deployment;
    assert!(!sysroot.dir_of(&second).join("etc/.updated").exists());
    assert!(!var.exists());
    assert!(
        dir.join("etc/.updated").exists(),
        "the old deployment keeps its own"
    );
}
