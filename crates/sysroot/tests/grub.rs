//! The generated GRUB menu follows every change of the deployments once a sysroot is
//! set up for GRUB, and is absent otherwise.

mod support;

use std::fs;

use ferro_sysroot::{DeployOptions, KargEdit};
use support::{Scratch, commit, make_tree};

fn menu(scratch: &Scratch) -> String {
    fs::read_to_string(scratch.sysroot().join("boot/loader/grub.cfg")).unwrap()
}

/// The titles of the menu entries, in order.
fn titles(cfg: &str) -> Vec<&str> {
    cfg.lines()
        .filter_map(|l| l.strip_prefix("menuentry '")?.split('\'').next())
        .collect()
}

#[test]
fn menu_follows_deploy_rollback_and_kargs() {
    let scratch = Scratch::new();
    let (sysroot, tree) = scratch.testos("kernel 1", &[]);
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let options = DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(vec!["root=LABEL=root".into(), "rw".into()]),
        ..Default::default()
    };
    sysroot.deploy("testos/v", &options).unwrap();
    assert!(
        !scratch.sysroot().join("boot/loader/grub.cfg").exists(),
        "no menu without the GRUB stub"
    );

    sysroot.install_grub_config().unwrap();
    assert_eq!(titles(&menu(&scratch)), ["Test OS 1 (ostree:0)"]);

    make_tree(&tree, "kernel 2", &[]);
    commit(sysroot.repo(), &tree, "testos/v", "2");
    sysroot.deploy("testos/v", &options).unwrap();
    let cfg = menu(&scratch);
    assert_eq!(
        titles(&cfg),
        ["Test OS 2 (ostree:0)", "Test OS 1 (ostree:1)"]
    );
    // The menu names the boot version's own boot links and kernels.
    let state = sysroot.load().unwrap();
    let d = &state.deployments[0];
    assert!(cfg.contains(&format!(
        "\tlinux /ostree/testos-{}/vmlinuz-6.1.0 root=LABEL=root rw ostree=/ostree/boot.{}/testos/{}/0 $ignition_firstboot\n",
        d.bootcsum, state.bootversion, d.bootcsum
    )));
    assert!(cfg.contains(&format!(
        "\tinitrd /ostree/testos-{}/initramfs-6.1.0.img\n",
        d.bootcsum
    )));

    sysroot.set_default(1).unwrap();
    assert_eq!(
        titles(&menu(&scratch)),
        ["Test OS 1 (ostree:0)", "Test OS 2 (ostree:1)"]
    );

    sysroot
        .edit_kargs(0, &[KargEdit::Append("quiet".into())])
        .unwrap();
    assert!(menu(&scratch).contains(" quiet $ignition_firstboot\n"));
}
