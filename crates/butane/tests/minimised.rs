//! Cases minimised from divergences the differential test found against the reference
//! Butane (`crates/cli/tests/butane_differential.rs`, docs/butane-differential.md): each
//! asserts the reference's `--raw-errors` report and outcome.

use std::process::Command;

use ferro_butane::{Options, translate};
use ferro_sys::CommandRunExt;

fn raw_report(yaml: &str, options: &Options) -> String {
    match translate(yaml, options) {
        Ok(t) => t.report.to_string(),
        Err(f) => format!("{}Error translating config: {}\n", f.report, f.error),
    }
}

fn raw_mode() -> Options {
    Options {
        raw: true,
        ..Options::default()
    }
}

const OPENSHIFT_4_18: &str = "variant: openshift\nversion: 4.18.0\nmetadata:\n  name: a\n  labels:\n    machineconfiguration.openshift.io/role: worker\n";

// The reference keys its openshift field filters by MachineConfig paths: with `--raw`
// they never match, and its MachineConfig checks keep a path it cannot place.
#[test]
fn openshift_field_filters_do_not_apply_in_raw_mode() {
    let yaml = format!(
        "{OPENSHIFT_4_18}kernel_arguments:\n  should_exist: [quiet]\nstorage:\n  links:\n    - path: /a\n      target: /b\n  directories:\n    - path: /d\npasswd:\n  groups:\n    - name: g\n"
    );
    assert_eq!(
        raw_report(&yaml, &Options::default()),
        "error at $.kernel_arguments, line 8 col 3: this section cannot be used for kernel arguments in this spec version; use openshift.kernel_arguments instead\n\
         error at $.passwd.groups, line 17 col 5: groups are not supported in this spec version\n\
         error at $.storage.directories, line 14 col 5: directories are not supported in this spec version\n\
         error at $.storage.links, line 11 col 5: links are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(raw_report(&yaml, &raw_mode()), "");
}

#[test]
fn openshift_machine_config_checks_are_unplaced_in_raw_mode() {
    let yaml =
        format!("{OPENSHIFT_4_18}passwd:\n  users:\n    - name: x\nopenshift:\n  fips: true\n");
    assert_eq!(
        raw_report(&yaml, &raw_mode()),
        "error at $.spec.config.passwd.users.0.name, line 1 col 1: users other than \"core\" are not supported in this spec version\n\
         warning at $.openshift.fips, line 11 col 9: field ignored in raw mode\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(
        raw_report(&yaml, &Options::default()),
        "error at $.passwd.users.0.name, line 9 col 13: users other than \"core\" are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// Before the field filters: a MachineConfig check that fails hides them.
#[test]
fn openshift_machine_config_checks_come_before_field_filters() {
    let yaml = "variant: openshift\nversion: 4.8.0\nmetadata:\n  name: a\n  labels:\n    machineconfiguration.openshift.io/role: worker\nstorage:\n  files:\n    - path: /a\n      contents:\n        compression: gzip\n        inline: x\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.storage.files.0.contents.compression, line 11 col 22: file compression is not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    let with_btrfs = format!("{yaml}  filesystems:\n    - device: /dev/vdb\n      format: btrfs\n");
    assert_eq!(
        raw_report(&with_btrfs, &Options::default()),
        "error at $.storage.filesystems.0.format, line 15 col 15: btrfs is not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// A list that a tree starts maps back to the first tree that added to it.
#[test]
fn a_list_started_by_a_tree_is_placed_at_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    for (tree, link) in [("t1", "l1"), ("t2", "l2")] {
        std::fs::create_dir(dir.path().join(tree)).unwrap();
        std::os::unix::fs::symlink("x", dir.path().join(tree).join(link)).unwrap();
    }
    let options = Options {
        files_dir: Some(dir.path().to_owned()),
        ..Options::default()
    };
    let trees = "  trees:\n    - local: t1\n    - local: t2\n      path: /z\n";
    assert_eq!(
        raw_report(&format!("{OPENSHIFT_4_18}storage:\n{trees}"), &options),
        "error at $.storage.trees.0, line 9 col 7: links are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    let user_link = "  links:\n    - path: /q\n      target: /b\n";
    assert_eq!(
        raw_report(
            &format!("{OPENSHIFT_4_18}storage:\n{user_link}{trees}"),
            &options
        ),
        "error at $.storage.links, line 9 col 5: links are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// Outputs as the reference writes them: yaml.v3 stores a float in an integer field
// truncated toward zero; a quadlet drop-in without contents is an empty file (case 862).
#[test]
fn outputs_as_the_reference_writes_them() {
    let cases = [
        (
            "variant: fcos\nversion: 1.5.0\nignition:\n  timeouts:\n    http_total: -2.7\n    http_response_headers: 1e3\n",
            "{\"ignition\":{\"timeouts\":{\"httpResponseHeaders\":1000,\"httpTotal\":-2},\"version\":\"3.4.0\"}}\n",
        ),
        (
            "variant: fcos\nversion: 1.8.0-experimental\nsystemd:\n  quadlets:\n    - name: t@.container\n      contents: \"[Unit]\\n\"\n      dropins:\n        - name: 10-d.conf\n",
            "{\"ignition\":{\"version\":\"3.7.0-experimental\"},\"storage\":{\"files\":[{\"path\":\"/etc/containers/systemd/users/t@.container\",\"contents\":{\"compression\":\"\",\"source\":\"data:,%5BUnit%5D%0A\"},\"mode\":420},{\"path\":\"/etc/containers/systemd/users/t@.container.d/10-d.conf\",\"contents\":{\"compression\":\"\",\"source\":\"data:,\"},\"mode\":420}]}}\n",
        ),
    ];
    for (yaml, expected) in cases {
        let translation = translate(yaml, &Options::default()).unwrap();
        assert_eq!(translation.output(), expected, "{yaml}");
    }
}

// The reference's MachineConfig fields are pointers: `fips: no` and an empty
// `kernel_type` are written (case 4783); from 4.23 the GRUB sugar's `user.cfg` is
// written as contents, and a user's single append to that file is moved there too
// (case 9363).
#[test]
fn openshift_machine_config_as_the_reference_writes_it() {
    let header = "variant: openshift\nversion: 4.23.0-experimental\nmetadata:\n  name: a\n  labels:\n    machineconfiguration.openshift.io/role: worker\n";
    let head = "# Generated by Butane; do not edit\napiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata:\n  labels:\n    machineconfiguration.openshift.io/role: worker\n  name: a\nspec:\n  config:\n    ignition:\n      version: 3.7.0-experimental\n";
    let fields = format!("{header}openshift:\n  fips: no\n  kernel_type: \"\"\n");
    let translation = translate(&fields, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        format!("{head}  fips: false\n  kernelType: \"\"\n")
    );
    let grub = format!("{header}grub:\n  users:\n    - name: root\n      password_hash: h\n");
    let translation = translate(&grub, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        format!(
            "{head}    storage:\n      files:\n        - contents:\n            compression: \"\"\n            source: data:,%23%20Generated%20by%20Butane%0A%0Aset%20superusers%3D%22root%22%0Apassword_pbkdf2%20root%20h%0A\n          path: /boot/grub2/user.cfg\n      filesystems:\n        - device: /dev/disk/by-label/boot\n          format: ext4\n          path: /boot\n"
        )
    );
    let one = format!(
        "{header}storage:\n  files:\n    - path: /boot/grub2/user.cfg\n      append:\n        - source: http://x/y\n"
    );
    assert_eq!(
        raw_report(&one, &Options::default()),
        "error at $.storage.files.0.append.0.source, line 11 col 19: file contents source must be data URL in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    let two = format!("{one}        - inline: z\n");
    assert_eq!(
        raw_report(&two, &Options::default()),
        "error at $.storage.files.0.append, line 11 col 9: appending to files is not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// openshift 4.19+ asks for the CEX kernel argument for a `storage.luks` volume named
// `root` that uses CEX too, not only for the boot device (case 2984).
#[test]
fn openshift_cex_root_volume_needs_the_kernel_argument() {
    let yaml = "variant: openshift\nversion: 4.19.0\nmetadata:\n  name: a\n  labels:\n    machineconfiguration.openshift.io/role: worker\nstorage:\n  luks:\n    - name: root\n      device: /dev/vda\n      cex:\n        enabled: on\n    - name: other\n      device: /dev/vdb\n      cex:\n        enabled: true\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.openshift.kernel_arguments, line 1 col 1: 'rd.luks.key=/etc/luks/cex.key' must be set as kernel argument when CEX is enabled for the boot device\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(
        raw_report(&yaml.replace("name: root", "name: x"), &Options::default()),
        ""
    );
}

// yaml.v3 names Go types with their package, and looks for duplicate keys of a
// mapping before the type it decodes into; a LINE SEPARATOR in a quoted scalar is a
// line break to libyaml, in the lines of duplicates too (case 5515).
#[test]
fn unmarshal_errors_as_yaml_v3_words_them() {
    let yaml = "variant: fcos\nversion: 1.2.0\nstorage:\n  files:\n    inline: \"\u{2028}x\"\n  links:\n    overwrite: true\n    overwrite: true\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "Error translating config: yaml: unmarshal errors:\n  line 5: cannot unmarshal !!map into []v0_3.File\n  line 9: mapping key \"overwrite\" already defined at line 8\n"
    );
    let types = [
        ("fcos", "1.5.0", "boot_device: 1", "v1_5.BootDevice"),
        (
            "fcos",
            "1.8.0-experimental",
            "grub:\n  users: {}",
            "[]v1_8_exp.GrubUser",
        ),
        ("openshift", "4.14.0", "openshift: 1", "v4_14.OpenShift"),
        (
            "openshift",
            "4.23.0-experimental",
            "metadata: 1",
            "v4_23_exp.Metadata",
        ),
        ("flatcar", "1.1.0", "storage:\n  trees: {}", "[]v0_5.Tree"),
        (
            "r4e",
            "1.2.0-experimental",
            "kernel_arguments: 1",
            "v0_8_exp.KernelArguments",
        ),
        (
            "fcos",
            "1.4.0",
            "kernel_arguments:\n  should_exist: {a: b}",
            "[]v0_4.KernelArgument",
        ),
        (
            "fcos",
            "1.1.0",
            "storage:\n  filesystems:\n    - device: /dev/a\n      options: [{a: 1}]",
            "string",
        ),
    ];
    for (variant, version, body, go_type) in types {
        let yaml = format!("variant: {variant}\nversion: {version}\n{body}\n");
        let report = raw_report(&yaml, &Options::default());
        assert!(
            report.contains(&format!(" into {go_type}\n")),
            "{yaml}\n{report}"
        );
    }
}

// Spec 3.2.0's `clevis` and `custom` are pointers: written empty, Go writes them, and
// `custom` with all its non-optional fields (case 5021).
#[test]
fn spec_3_2_writes_the_clevis_the_user_wrote() {
    let yaml = "variant: fcos\nversion: 1.2.0\nstorage:\n  luks:\n    - name: a\n      device: /dev/vda\n      clevis: {}\n    - name: b\n      device: /dev/vdb\n      clevis:\n        custom: {}\n    - name: c\n      device: /dev/vdc\n";
    let translation = translate(yaml, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        "{\"ignition\":{\"version\":\"3.2.0\"},\"storage\":{\"luks\":[{\"clevis\":{},\"device\":\"/dev/vda\",\"name\":\"a\"},{\"clevis\":{\"custom\":{\"config\":\"\",\"pin\":\"\"}},\"device\":\"/dev/vdb\",\"name\":\"b\"},{\"device\":\"/dev/vdc\",\"name\":\"c\"}]}}\n"
    );
    let later = translate(&yaml.replace("1.2.0", "1.4.0"), &Options::default()).unwrap();
    assert!(!later.output().contains("clevis"), "{}", later.output());
}

// A boot device LUKS method is a TPM2, CEX or a Tang server with a field written (Go's
// zero Tang does not count), asked for only with a non-empty device; an empty Tang
// thumbprint (a pointer in Go) is recorded where it was written (seed 0x5eed2, case
// 7551).
#[test]
fn boot_device_luks_methods_as_the_reference_counts_them() {
    let yaml = |luks: &str| {
        format!("variant: fcos\nversion: 1.7.0\nboot_device:\n  layout: aarch64\n  luks:\n{luks}\n")
    };
    assert_eq!(
        raw_report(
            &yaml("    tang:\n      - url: \"\"\n    device: /dev/dasda"),
            &Options::default()
        ),
        "error at $.boot_device.luks.luks, line 6 col 5: no method specified for luks\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(
        raw_report(&yaml("    device: \"\""), &Options::default()),
        ""
    );
    assert_eq!(
        raw_report(
            &yaml("    tang:\n      - thumbprint: \"\"\n    device: /dev/dasda"),
            &Options::default()
        ),
        "error at $.storage.luks.0.clevis.tang.0.url, line 1 col 1: invalid url scheme\n\
         error at $.boot_device.luks.tang.0.thumbprint, line 7 col 21: thumbprint is required\n\
         Error translating config: config generated was invalid\n"
    );
}

// Before spec 3.3.0 a RAID level is a plain string in Go: empty, the reference's merge
// does not record it, so the finding keeps its merged path (seed 0x5eed4, case 2701).
#[test]
fn plain_strings_of_older_specs_are_unrecorded_when_empty() {
    let yaml = "variant: fcos\nversion: 1.3.0\nstorage:\n  raid:\n    - name: md-data\n      level: \"\"\n      devices:\n        - /dev/sdb\nboot_device:\n  mirror:\n    devices:\n      - /dev/vda\n      - /dev/vdb\n";
    let warning = "warning at $.boot_device.mirror, line 11 col 5: boot_device.layout should be specified when boot_device.mirror is specified\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        format!(
            "{warning}error at $.storage.raid.2.level, line 5 col 5: unrecognized raid level\nError translating config: config generated was invalid\n"
        )
    );
    assert_eq!(
        raw_report(&yaml.replace("1.3.0", "1.4.0"), &Options::default()),
        format!(
            "{warning}error at $.storage.raid.0.level, line 6 col 14: raid level is required\nError translating config: config generated was invalid\n"
        )
    );
}

// The reference checks RHCOS support (btrfs) before MCO support (format `none`)
// (seed 0x5eed5, case 10462).
#[test]
fn openshift_rhcos_checks_come_before_mco_checks() {
    let yaml = format!(
        "{OPENSHIFT_4_18}storage:\n  filesystems:\n    - device: /dev/vda\n      format: none\n    - device: /dev/vdb\n      format: btrfs\n"
    );
    assert_eq!(
        raw_report(&yaml, &Options::default()),
        "error at $.storage.filesystems.1.format, line 12 col 15: btrfs is not supported in this spec version\n\
         error at $.storage.filesystems.0.format, line 10 col 15: format \"none\" is not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// The reference attributes the boot device's root filesystem to `boot_device` itself,
// whether LUKS or a mirror asked for it (seed 0x5eed5, case 6527).
#[test]
fn boot_device_root_filesystem_is_placed_at_boot_device() {
    for (sugar, device) in [
        ("luks:\n    tpm2: true", "/dev/mapper/root"),
        (
            "mirror:\n    devices: [/dev/vda, /dev/vdb]",
            "/dev/md/md-root",
        ),
    ] {
        let yaml = format!(
            "variant: fcos\nversion: 1.3.0\nstorage:\n  disks:\n    - device: {device}\n      partitions:\n        - label: x\nboot_device:\n  layout: x86_64\n  {sugar}\n"
        );
        assert_eq!(
            raw_report(&yaml, &Options::default()),
            "warning at $.boot_device, line 9 col 3: filesystem overwrites partitioned device\n",
            "{yaml}"
        );
    }
}

// In a MachineConfig the reference cannot place a finding about a partition with no
// recorded field (`{}`, or only a zero `number`, a plain int in Go); its fcos layer's
// partition warnings keep the generated config's path after a merge, placed along it
// (seed 0x5eed5, cases 11711 and 15056).
#[test]
fn openshift_places_only_what_the_reference_records() {
    let header = "variant: openshift\nversion: 4.12.0\nmetadata:\n  name: a\n  labels:\n    machineconfiguration.openshift.io/role: worker\n";
    for partition in ["{}", "{number: 0}"] {
        let yaml = format!(
            "{header}storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {partition}\n"
        );
        assert_eq!(
            raw_report(&yaml, &Options::default()),
            "error at $.spec.config.storage.disks.0.partitions.0, line 1 col 1: a partition number >= 1 or a label must be specified\n\
             Error translating config: config generated was invalid\n"
        );
    }
    let yaml = format!(
        "{header}storage:\n  disks:\n    - device: /dev/mapper/data\n      partitions:\n        - label: root\n          number: 5\n        - label: boot\nboot_device:\n  layout: aarch64\n  mirror:\n    devices:\n      - /dev/vda\n      - /dev/vdb\n"
    );
    let warnings = raw_report(&yaml.replace("4.12.0", "4.13.0"), &Options::default());
    assert_eq!(
        warnings,
        "warning at $.storage.disks.2.partitions.0.label, line 9 col 5: root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition\n\
         warning at $.storage.disks.2.partitions.0.label, line 9 col 5: incorrect partition number; a new partition will be created using reserved label\n\
         warning at $.storage.disks.2.partitions.1.label, line 9 col 5: incorrect partition number; a new partition will be created using reserved label\n"
    );
    let raw = raw_report(&yaml.replace("4.12.0", "4.13.0"), &raw_mode());
    assert!(
        raw.contains("$.storage.disks.0.partitions.0.label, line 11 col 18"),
        "{raw}"
    );
}

// Before fcos 1.4.0 (Ignition 3.3.0) a swap filesystem's `with_mount_unit` makes a
// mount unit of type swap, as for any filesystem (seed 0x5eed2, case 4445).
#[test]
fn swap_units_came_with_fcos_1_4() {
    let yaml = "variant: fcos\nversion: 1.3.0\nstorage:\n  filesystems:\n    - device: /dev/mapper/data\n      format: swap\n      path: /x\n      with_mount_unit: true\n";
    let output = translate(yaml, &Options::default()).unwrap().output();
    assert!(output.contains("\"name\":\"x.mount\""), "{output}");
    assert!(output.contains("Type=swap"), "{output}");
    let output = translate(&yaml.replace("1.3.0", "1.4.0"), &Options::default())
        .unwrap()
        .output();
    assert!(
        output.contains("\"name\":\"dev-mapper-data.swap\""),
        "{output}"
    );
}

// The reference reports a small root partition at `size_mib` below the generated
// config's indices, a path its translation set cannot map: after a merge it keeps that
// path, placed along it (seed 0x5eed6, case 13424).
#[test]
fn small_root_partition_keeps_the_generated_path() {
    let yaml = "variant: fcos\nversion: 1.4.0\nstorage:\n  disks:\n    - device: /dev/vdc\n      partitions:\n        - label: root\n          number: 5\n          size_mib: 4096\n";
    let incorrect = "warning at $.storage.disks.0.partitions.0.label, line 7 col 18: incorrect partition number; a new partition will be created using reserved label\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        format!(
            "warning at $.storage.disks.0.partitions.0.size_mib, line 9 col 21: root should have 8GiB of space assigned\n{incorrect}"
        )
    );
    let mirrored = format!("{yaml}boot_device:\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\n");
    assert_eq!(
        raw_report(&mirrored, &Options::default()),
        format!(
            "warning at $.boot_device.mirror, line 12 col 5: boot_device.layout should be specified when boot_device.mirror is specified\n\
                 warning at $.storage.disks.2.partitions.0.size_mib, line 5 col 5: root should have 8GiB of space assigned\n{incorrect}"
        )
    );
}

// Ignition requires a link target from spec 3.3.0 on (fcos 1.4.0), and spec 3.0.0
// requires no source: a CA's missing one is an empty URL.
#[test]
fn spec_version_dependent_requirements() {
    let link = "variant: fcos\nversion: 1.2.0\nstorage:\n  links:\n    - path: /a\n";
    let translation = translate(link, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        "{\"ignition\":{\"version\":\"3.2.0\"},\"storage\":{\"links\":[{\"path\":\"/a\",\"target\":\"\"}]}}\n"
    );
    assert_eq!(
        raw_report(&link.replace("1.2.0", "1.4.0"), &Options::default()),
        "error at $.storage.links.0.target, line 5 col 7: link target is required\n\
         Error translating config: config generated was invalid\n"
    );
    let ca = "variant: fcos\nversion: 1.0.0\nignition:\n  security:\n    tls:\n      certificate_authorities:\n        - {}\n";
    assert_eq!(
        raw_report(ca, &Options::default()),
        "error at $.ignition.security.tls.certificate_authorities.0.source, line 7 col 11: invalid url scheme\n\
         Error translating config: config generated was invalid\n"
    );
}

// Ignition's storage-level rules in Butane's order: paths under links, link targets and
// hard-link owners (one warning per owner field), then filesystems on partitioned
// disks, which only warns.
#[test]
fn storage_level_rules_in_ignitions_order() {
    let yaml = "variant: fcos\nversion: 1.5.0\nstorage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - label: a\n  filesystems:\n    - device: /dev/vda\n      format: ext4\n  files:\n    - path: /l/f\n  links:\n    - path: /l\n    - path: /m\n      target: /x\n      hard: true\n      user: {id: 1}\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.storage.files.0, line 12 col 7: file path includes link in config\n\
         error at $.storage.links.0.target, line 14 col 7: link target is required\n\
         warning at $.storage.links.1.user.id, line 18 col 18: user/group ignored for hard link\n\
         warning at $.storage.filesystems.0.device, line 9 col 15: filesystem overwrites partitioned device\n\
         Error translating config: config generated was invalid\n"
    );
}

// Without a files directory only the first tree is reported; a mount unit needs a
// format first, and then a non-empty path.
#[test]
fn first_missing_requirement_only() {
    let trees =
        "variant: fcos\nversion: 1.5.0\nstorage:\n  trees:\n    - local: a\n    - local: b\n";
    assert_eq!(
        raw_report(trees, &Options::default()),
        "error at $.storage.trees.0, line 5 col 7: local file paths are relative to a files directory that must be specified with -d/--files-dir\n\
         Error translating config: source config is invalid\n"
    );
    let mount = "variant: fcos\nversion: 1.5.0\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      with_mount_unit: true\n    - device: /dev/vdc\n      path: \"\"\n      format: xfs\n      with_mount_unit: true\n";
    assert_eq!(
        raw_report(mount, &Options::default()),
        "error at $.storage.filesystems.0.format, line 5 col 7: format is required if with_mount_unit is true\n\
         error at $.storage.filesystems.1.path, line 8 col 13: path is required if with_mount_unit is true and format is not swap\n\
         Error translating config: source config is invalid\n"
    );
}

// A tree entry that cannot be added is reported, and the walk goes on.
#[test]
fn tree_walks_go_on_after_an_entry_error() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    for fifo in [tree.join("p1"), tree.join("sub/p2")] {
        Command::new("mkfifo").arg(fifo).run().unwrap();
    }
    let options = Options {
        files_dir: Some(dir.path().to_owned()),
        ..Options::default()
    };
    assert_eq!(
        raw_report(
            "variant: fcos\nversion: 1.5.0\nstorage:\n  trees:\n    - local: t\n",
            &options
        ),
        "error at $.storage.trees.0, line 5 col 7: trees may only contain files, directories, and symlinks\n\
         error at $.storage.trees.0, line 5 col 7: trees may only contain files, directories, and symlinks\n\
         Error translating config: source config is invalid\n"
    );
}

// Partition warnings hold for every disk: reserved labels on all fcos versions, the
// root partition's size from 1.3.0, its growth reported at its label.
#[test]
fn partition_warnings_on_any_disk() {
    let yaml = "variant: fcos\nversion: 1.3.0\nstorage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - label: var\n        - label: BIOS-BOOT\n          start_mib: 1\n        - label: root\n          number: 3\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "warning at $.storage.disks.0.partitions.1.label, line 8 col 18: incorrect partition number; a new partition will be created using reserved label\n\
         warning at $.storage.disks.0.partitions.2.label, line 10 col 18: root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition\n\
         warning at $.storage.disks.0.partitions.2.label, line 10 col 18: incorrect partition number; a new partition will be created using reserved label\n"
    );
    assert_eq!(
        raw_report(&yaml.replace("1.3.0", "1.2.0"), &Options::default()),
        "warning at $.storage.disks.0.partitions.1.label, line 8 col 18: incorrect partition number; a new partition will be created using reserved label\n\
         warning at $.storage.disks.0.partitions.2.label, line 10 col 18: incorrect partition number; a new partition will be created using reserved label\n"
    );
}

// From openshift 4.14 (fcos 1.5) an empty string has no place in the reference's
// translation set.
#[test]
fn openshift_empty_user_names_are_unplaced() {
    let yaml = format!("{OPENSHIFT_4_18}passwd:\n  users:\n    - name: \"\"\n");
    assert_eq!(
        raw_report(&yaml, &Options::default()),
        "error at $.spec.config.passwd.users.0.name, line 1 col 1: users other than \"core\" are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    assert_eq!(
        raw_report(&yaml.replace("4.18.0", "4.13.0"), &Options::default()),
        "error at $.passwd.users.0.name, line 9 col 13: users other than \"core\" are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
    // Unless sugar was merged into the config (case 1735).
    assert_eq!(
        raw_report(
            &format!(
                "{}boot_device:\n  luks:\n    tpm2: true\n",
                yaml.replace("4.18.0", "4.13.0")
            ),
            &Options::default()
        ),
        "error at $.spec.config.passwd.users.0.name, line 1 col 1: users other than \"core\" are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// An unknown layout does not end the boot device checks; openshift 4.19+ still checks
// `boot_device` itself, after its CEX kernel argument rule; s390x device names are
// reported at the layout.
#[test]
fn boot_device_checks_in_butanes_order() {
    let openshift_4_13 = OPENSHIFT_4_18.replace("4.18.0", "4.13.0");
    let unknown = format!(
        "{openshift_4_13}boot_device:\n  layout: s390x-virt\n  mirror:\n    devices: [/dev/vda]\n"
    );
    assert_eq!(
        raw_report(&unknown, &Options::default()),
        "error at $.boot_device.layout, line 8 col 11: layout must be one of: aarch64, ppc64le, x86_64\n\
         error at $.boot_device.mirror.devices, line 10 col 14: mirroring requires at least two devices\n\
         error at $.boot_device.mirror.devices, line 10 col 14: mirroring requires at least two devices\n\
         Error translating config: source config is invalid\n"
    );
    let openshift_4_20 = OPENSHIFT_4_18.replace("4.18.0", "4.20.0");
    let cex = format!(
        "{openshift_4_20}boot_device:\n  luks:\n    tpm2: true\n    cex:\n      enabled: true\n"
    );
    assert_eq!(
        raw_report(&cex, &Options::default()),
        "error at $.openshift.kernel_arguments, line 1 col 1: 'rd.luks.key=/etc/luks/cex.key' must be set as kernel argument when CEX is enabled for the boot device\n\
         error at $.boot_device.luks.cex, line 11 col 7: when using cex the targeted architecture must match s390x\n\
         error at $.boot_device.luks, line 9 col 5: cannot use cex with clevis\n\
         Error translating config: source config is invalid\n"
    );
    let eckd = "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-eckd\n  luks:\n    device: /dev/sda\n    tpm2: true\n";
    assert_eq!(
        raw_report(eckd, &Options::default()),
        "error at $.boot_device.layout, line 4 col 11: device name must start with /dev/dasd on s390x-eckd layout or /dev/sd on s390x-zfcp layout\n\
         Error translating config: source config is invalid\n"
    );
}

// An inline config's own findings keep their paths, placed at the deepest part of each
// that the Butane file has; only an unreadable one is also "not valid".
#[test]
fn inline_config_findings_keep_their_paths() {
    let yaml = "variant: fcos\nversion: \"1.4.0\"\nignition:\n  config:\n    merge:\n      - inline: \"{\\\"ignition\\\":{\\\"version\\\":\\\"3.3.0\\\"},\\\"storage\\\":{\\\"files\\\":[{\\\"path\\\":\\\"/a\\\"},{\\\"path\\\":\\\"rel\\\"}]},\\\"bogus\\\":1,\\\"systemd\\\":{\\\"units\\\":[{\\\"name\\\":\\\"a.service\\\",\\\"bogus2\\\":1}]}}\"\nstorage:\n  files:\n    - path: /x\nsystemd:\n  units:\n    - name: b.service\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.storage.files.1.path, line 9 col 5: path not absolute\n\
         warning at $.bogus, line 1 col 1: unused key bogus\n\
         warning at $.systemd.units.0.bogus2, line 12 col 7: unused key bogus2\n\
         Error translating config: source config is invalid\n"
    );
}

// Butane's list of modes that look like octal written in decimal.
#[test]
fn modes_written_in_decimal_by_butanes_list() {
    let yaml = "variant: fcos\nversion: 1.7.0\nstorage:\n  files:\n    - path: /a\n      mode: 400\n    - path: /b\n      mode: 544\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "warning at $.storage.files.0.mode, line 6 col 13: unreasonable mode would be reasonable if specified in octal; remember to add a leading zero\n"
    );
}

// Ignition knows `gs://` from spec 3.2.0, S3 ARNs from 3.4.0 and format `none` from
// 3.3.0; before, they are invalid.
#[test]
fn schemes_and_formats_by_spec_version() {
    let yaml = "variant: fcos\nversion: 1.1.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        source: \"gs://b/o\"\n    - path: /b\n      contents:\n        source: \"arn:aws:s3:::bucket/key\"\n  filesystems:\n    - device: /dev/vda\n      format: none\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.storage.files.0.contents.source, line 7 col 17: invalid url scheme\n\
         error at $.storage.files.1.contents.source, line 10 col 17: invalid url scheme\n\
         error at $.storage.filesystems.0.format, line 13 col 15: invalid filesystem format\n\
         Error translating config: config generated was invalid\n"
    );
    assert_eq!(
        raw_report(&yaml.replace("1.1.0", "1.5.0"), &Options::default()),
        ""
    );
}

// Butane checks `boot_device` itself (layout, then mirroring on s390x, CEX, too few
// mirrors), then walks into `luks` and checks `mirror` once more (cases 1094, 9663…).
#[test]
fn boot_device_struct_then_its_fields() {
    let head = "variant: fcos\nversion: 1.7.0\nboot_device:\n";
    let cases = [
        (
            "  layout: s390x-zfcp\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\n",
            "error at $.boot_device.layout, line 4 col 11: device is required for layouts: s390x-eckd, s390x-zfcp\n\
             error at $.boot_device.layout, line 4 col 11: mirroring not supported on layouts: s390x-eckd, s390x-zfcp, s390x-virt\n",
        ),
        (
            "  layout: x86_64\n  luks:\n    device: /dev/sdb\n    cex:\n      enabled: true\n    tpm2: true\n  mirror:\n    devices: [/dev/vda]\n",
            "error at $.boot_device.layout, line 4 col 11: when using cex the targeted architecture must match s390x\n\
             error at $.boot_device.luks, line 6 col 5: cannot use cex with clevis\n\
             error at $.boot_device.mirror.devices, line 11 col 14: mirroring requires at least two devices\n\
             error at $.boot_device.mirror.devices, line 11 col 14: mirroring requires at least two devices\n",
        ),
        (
            "  layout: x86_64\n  luks:\n    device: /dev/sdb\n  mirror:\n    devices: [/dev/vda]\n",
            "error at $.boot_device.mirror.devices, line 8 col 14: mirroring requires at least two devices\n\
             error at $.boot_device.luks.luks, line 6 col 5: no method specified for luks\n\
             error at $.boot_device.mirror.devices, line 8 col 14: mirroring requires at least two devices\n",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            raw_report(&format!("{head}{body}"), &Options::default()),
            format!("{expected}Error translating config: source config is invalid\n"),
            "{body}"
        );
    }
}

// Local files are read in Butane's translation order: ignition, passwd, storage
// (a file's `append` before its `contents`), systemd (a unit's drop-ins before its
// own `contents_local`); a user's key files without a files directory are reported
// once; `append` is validated before `contents` (cases 978, 1255, 1326…).
#[test]
fn local_files_in_butanes_translation_order() {
    let yaml = "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: x\n      append:\n        - local: y\npasswd:\n  users:\n    - name: u\n      ssh_authorized_keys_local: [k, l]\nsystemd:\n  units:\n    - name: a.service\n      contents_local: u\n      dropins:\n        - name: d.conf\n          contents_local: d\nignition:\n  security:\n    tls:\n      certificate_authorities:\n        - local: ca\n";
    let no_dir = "local file paths are relative to a files directory that must be specified with -d/--files-dir";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        format!(
            "error at $.ignition.security.tls.certificate_authorities.0.local, line 25 col 18: {no_dir}\n\
             error at $.passwd.users.0.ssh_authorized_keys_local, line 13 col 34: {no_dir}\n\
             error at $.storage.files.0.append.0.local, line 9 col 18: {no_dir}\n\
             error at $.storage.files.0.contents.local, line 7 col 16: {no_dir}\n\
             error at $.systemd.units.0.dropins.0.contents_local, line 20 col 27: {no_dir}\n\
             error at $.systemd.units.0.contents_local, line 17 col 23: {no_dir}\n\
             Error translating config: source config is invalid\n"
        )
    );
    let sources = "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        source: data:,x\n      append:\n        - inline: z\n          source: data:,z\n";
    assert_eq!(
        raw_report(sources, &Options::default()),
        "error at $.storage.files.0.append.0.source, line 11 col 19: only one of the following can be set: inline, local, source\n\
         error at $.storage.files.0.contents.source, line 8 col 17: only one of the following can be set: inline, local, source\n\
         Error translating config: source config is invalid\n"
    );
}

// Butane's `Quadlet.Validate` reports each contents field of a template instance, and
// nothing more after a bad extension; the walk then checks the drop-ins (cases 599,
// 1400, 1726, 2628…).
#[test]
fn quadlet_checks_and_their_drop_ins() {
    let yaml = "variant: fcos\nversion: 1.8.0-experimental\nsystemd:\n  quadlets:\n    - name: t@i.container\n      contents: x\n      contents_local: y\n      dropins:\n        - name: a.conf\n          contents: a\n          contents_local: b\n    - name: t.bad\n      contents: x\n      contents_local: y\n      dropins:\n        - name: a.conf\n          contents: a\n          contents_local: b\n    - name: u.container\n      contents: x\n      contents_local: y\n";
    let both = "only one of the following can be set: contents, contents_local";
    let template = "template instances cannot have contents or contents_local";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        format!(
            "error at $.systemd.quadlets.0.contents, line 6 col 17: {template}\n\
             error at $.systemd.quadlets.0.contents_local, line 7 col 23: {template}\n\
             error at $.systemd.quadlets.0.dropins.0.contents_local, line 11 col 27: {both}\n\
             error at $.systemd.quadlets.1.name, line 12 col 13: unsupported file extension for quadlet: must be one of .container, .volume, .network, .kube, .image, .build, .pod, or .artifact\n\
             error at $.systemd.quadlets.1.dropins.0.contents_local, line 18 col 27: {both}\n\
             error at $.systemd.quadlets.2.contents_local, line 21 col 23: {both}\n\
             Error translating config: source config is invalid\n"
        )
    );
}

// openshift's user field filter reports each field set, in Ignition's field order
// (cases 602, 701…).
#[test]
fn openshift_user_field_filter_reports_each_field() {
    let message = "fields other than \"name\", \"ssh_authorized_keys\", and \"password_hash\" (4.13.0+) are not supported in this spec version";
    let cases = [
        (
            "4.17.0",
            "      gecos: \"Some One\"\n      primary_group: x\n      uid: 0\n      groups: []\n      ssh_authorized_keys: [a]\n      shell: \"\"\n",
            vec![
                "$.passwd.users.0.gecos, line 10 col 14",
                "$.passwd.users.0.primary_group, line 11 col 22",
                "$.passwd.users.0.shell, line 15 col 14",
                "$.passwd.users.0.uid, line 12 col 12",
            ],
        ),
        (
            "4.12.0",
            "      home_dir: /h\n      no_create_home: false\n      no_log_init: true\n      no_user_group: true\n      password_hash: x\n      should_exist: true\n      system: false\n      groups: [a]\n",
            vec![
                "$.passwd.users.0.groups, line 17 col 15",
                "$.passwd.users.0.home_dir, line 10 col 17",
                "$.passwd.users.0.no_create_home, line 11 col 23",
                "$.passwd.users.0.no_log_init, line 12 col 20",
                "$.passwd.users.0.no_user_group, line 13 col 22",
                "$.passwd.users.0.password_hash, line 14 col 22",
                "$.passwd.users.0.should_exist, line 15 col 21",
                "$.passwd.users.0.system, line 16 col 15",
            ],
        ),
    ];
    for (version, fields, places) in cases {
        let yaml = format!(
            "{}passwd:\n  users:\n    - name: core\n{fields}",
            OPENSHIFT_4_18.replace("4.18.0", version)
        );
        let expected: String = places
            .iter()
            .map(|place| format!("error at {place}: {message}\n"))
            .collect();
        assert_eq!(
            raw_report(&yaml, &Options::default()),
            format!("{expected}Error translating config: source config is invalid\n"),
            "{version}"
        );
    }
}

// In a MachineConfig (not with `--raw`) the reference places an Ignition finding only
// when its field was written and not empty (cases 2538, 5011…).
#[test]
fn openshift_ignition_findings_on_empty_or_missing_fields_are_unplaced() {
    let yaml = format!(
        "{}storage:\n  files:\n    - path: \"\"\n  filesystems:\n    - device: \"\"\n      format: xfs\n    - format: xfs\n",
        OPENSHIFT_4_18.replace("4.18.0", "4.8.0")
    );
    assert_eq!(
        raw_report(&yaml, &Options::default()),
        "error at $.storage.filesystems.1, line 13 col 7: duplicate entry defined\n\
         error at $.spec.config.storage.files.0.path, line 1 col 1: path not specified\n\
         error at $.spec.config.storage.filesystems.0.device, line 1 col 1: path not specified\n\
         error at $.spec.config.storage.filesystems.1.device, line 1 col 1: path not specified\n\
         Error translating config: config generated was invalid\n"
    );
    assert_eq!(
        raw_report(&yaml, &raw_mode()),
        "error at $.storage.filesystems.1, line 13 col 7: duplicate entry defined\n\
         error at $.storage.files.0.path, line 9 col 13: path not specified\n\
         error at $.storage.filesystems.0.device, line 11 col 15: path not specified\n\
         error at $.storage.filesystems.1.device, line 13 col 7: path not specified\n\
         Error translating config: config generated was invalid\n"
    );
}

// The MachineConfig check of file sources looks at the scheme Go's `url.Parse` finds;
// what fails to parse is left to Ignition's validation (case 2868). A list of blank
// entries is not recorded after a merge (case 5632).
#[test]
fn openshift_file_source_schemes() {
    let head = OPENSHIFT_4_18.replace("4.18.0", "4.20.0");
    let unplaced = "error at $.spec.config.storage.files.0.contents.source, line 1 col 1: file contents source must be data URL in this spec version";
    let cases = [
        ("foo", unplaced),
        ("", unplaced),
        ("s3://bucket/key", unplaced),
        ("HTTP://x/", unplaced),
        (
            "https://exa mple.com/",
            "error at $.storage.files.0.contents.source, line 11 col 17: unable to parse url",
        ),
        (
            "DATA:,x",
            "error at $.storage.files.0.contents.source, line 11 col 17: missing data prefix",
        ),
        (
            "1a:b",
            "error at $.storage.files.0.contents.source, line 11 col 17: unable to parse url",
        ),
    ];
    for (source, first) in cases {
        let yaml = format!(
            "{head}storage:\n  files:\n    - path: /a\n      contents:\n        source: \"{source}\"\n"
        );
        let report = raw_report(&yaml, &raw_mode());
        assert_eq!(report.lines().next(), Some(first), "{source}");
    }
    let groups = format!("{head}passwd:\n  groups:\n    - name: \"\"\n");
    assert_eq!(
        raw_report(&groups, &Options::default()),
        "error at $.spec.config.passwd.groups, line 1 col 1: groups are not supported in this spec version\n\
         Error translating config: source config is invalid\n"
    );
}

// Butane's position tree has a leaf where an alias is: a struct there gets its
// "context tree" warning and nothing inside is checked for unused keys (case 501…).
#[test]
fn aliases_are_leaves_of_the_position_tree() {
    let yaml = "variant: fcos\nversion: 1.5.0\nx-anchor: &anc\n  path: /etc/anchored\n  bogus: 1\nx-list: &l\n  - path: /b\n    bogus2: 1\nstorage:\n  files:\n    - *anc\n    - path: /d\n      contents: *anc\n  directories: *l\n";
    let mismatch = |path: &str, at: &str| {
        format!(
            "warning at {path}, {at}: context tree does not match content tree at {path}. Line and column reporting may be inconsistent. Unused keys may not be reported\n"
        )
    };
    assert_eq!(
        raw_report(yaml, &Options::default()),
        format!(
            "warning at $.x-anchor, line 3 col 1: unused key x-anchor\n\
             warning at $.x-list, line 6 col 1: unused key x-list\n{}{}",
            mismatch("$.storage.files.0", "line 11 col 7"),
            mismatch("$.storage.files.1.contents", "line 13 col 17"),
        )
    );
}

// yaml.v3 names Butane's named string types with their base package (case 5308…).
#[test]
fn named_string_types_in_type_errors() {
    let body = "storage:\n  raid:\n    - name: r\n      level: raid1\n      devices:\n        - a: x\n      options:\n        - b: y\n  filesystems:\n    - device: /dev/x\n      options:\n        - c: z\n  luks:\n    - name: l\n      device: /dev/y\n      options:\n        - d: w\nkernel_arguments:\n  should_exist:\n    - e: v\npasswd:\n  users:\n    - name: u\n      groups:\n        - f: 1\n      ssh_authorized_keys:\n        - g: 2\n";
    let cases = [
        (
            "1.0.0",
            "8 v0_1.Device,10 v0_1.RaidOption,14 v0_1.FilesystemOption,27 v0_1.Group,29 v0_1.SSHAuthorizedKey",
        ),
        (
            "1.3.0",
            "8 v0_3.Device,10 v0_3.RaidOption,14 string,19 v0_3.LuksOption,27 v0_3.Group,29 v0_3.SSHAuthorizedKey",
        ),
        (
            "1.4.0",
            "8 v0_4.Device,10 v0_4.RaidOption,14 string,19 v0_4.LuksOption,22 v0_4.KernelArgument,27 v0_4.Group,29 v0_4.SSHAuthorizedKey",
        ),
        (
            "1.6.0",
            "8 v0_6.Device,10 string,14 string,19 string,22 v0_6.KernelArgument,27 v0_6.Group,29 v0_6.SSHAuthorizedKey",
        ),
    ];
    for (version, expected) in cases {
        let lines: String = expected
            .split(',')
            .map(|e| {
                let (line, ty) = e.split_once(' ').unwrap();
                format!("\n  line {line}: cannot unmarshal !!map into {ty}")
            })
            .collect();
        assert_eq!(
            raw_report(
                &format!("variant: fcos\nversion: {version}\n{body}"),
                &Options::default()
            ),
            format!("Error translating config: yaml: unmarshal errors:{lines}\n"),
            "{version}"
        );
    }
}

// Ignition checks each RAID member as a device path, and before 3.3.0 an empty level
// is just unknown (cases 938, 2601…); 3.0.0 has RAID options.
#[test]
fn raid_members_and_levels_by_spec_version() {
    let raid = "storage:\n  raid:\n    - name: r\n      level: \"\"\n      devices: [a, /b]\n      options: [x]\n";
    let cases = [
        ("1.0.0", "unrecognized raid level"),
        ("1.3.0", "unrecognized raid level"),
        ("1.4.0", "raid level is required"),
    ];
    for (version, level) in cases {
        assert_eq!(
            raw_report(
                &format!("variant: fcos\nversion: {version}\n{raid}"),
                &Options::default()
            ),
            format!(
                "error at $.storage.raid.0.level, line 6 col 14: {level}\n\
                 error at $.storage.raid.0.devices.0, line 7 col 17: path not absolute\n\
                 Error translating config: config generated was invalid\n"
            ),
            "{version}"
        );
    }
}

// Single reports minimised from the third round, each as the reference words it.
#[test]
fn single_reports_as_the_reference_words_them() {
    let cases = [
        // A resource with several sources is checked no further: its inline config is not
        // parsed (case 732).
        (
            "variant: fcos\nversion: 1.5.0\nignition:\n  config:\n    replace:\n      source: data:,x\n      inline: \"line one\"\n",
            "error at $.ignition.config.replace.source, line 6 col 15: only one of the following can be set: inline, local, source\n\
         Error translating config: source config is invalid\n",
        ),
        // A link without a target gets no hard-link owner warning (case 6091).
        (
            "variant: fcos\nversion: 1.4.0\nstorage:\n  links:\n    - path: /etc/hostname\n      group:\n        name: app\n      hard: true\n",
            "error at $.storage.links.0.target, line 5 col 7: link target is required\n\
         Error translating config: config generated was invalid\n",
        ),
        // A partition that should not exist may not have a label either (case 218).
        (
            "variant: fcos\nversion: 1.4.0\nstorage:\n  disks:\n    - device: /dev/sda\n      partitions:\n        - label: data\n          number: 3\n          should_exist: false\n",
            "error at $.storage.disks.0.partitions.0, line 7 col 11: shouldExist specified false with other options also specified\n\
         Error translating config: config generated was invalid\n",
        ),
        // Butane's go-systemd quotes the garbage after a section name (cases 571, 7674…).
        (
            "variant: fcos\nversion: 1.5.0\nsystemd:\n  units:\n    - name: a.service\n      contents: \"[Unit] x\\\"y\\\\z é\\n\"\n",
            "error at $.systemd.units.0.contents, line 6 col 17: invalid unit content: found garbage after section name : \"x\\\"y\\\\z é\"\n\
         Error translating config: config generated was invalid\n",
        ),
        // After boot device sugar is merged in, a finding about a field the config lacks is
        // reported at its merged path, placed as far as that path leads in the file (case 2347).
        (
            "variant: fcos\nversion: 1.6.0\nstorage:\n  filesystems:\n    - device: /dev/sda\n      mount_options:\n        - noatime\nboot_device:\n  mirror:\n    devices:\n      - /dev/vda\n      - /dev/vdb\n",
            "warning at $.boot_device.mirror, line 10 col 5: boot_device.layout should be specified when boot_device.mirror is specified\n\
         error at $.storage.filesystems.4.format, line 5 col 5: format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified\n\
         Error translating config: config generated was invalid\n",
        ),
        // yaml.v3 reports the key errors of the mappings it decodes, in document order with
        // the type errors, and decodes nothing inside a mapping with duplicate keys; an unknown
        // key's value is never decoded (cases 637, 3586, 11824…).
        (
            "variant: fcos\nversion: 1.5.0\nbogus:\n  a: 1\n  a: 2\nstorage:\n  files:\n    - path: /a\n      path: /b\n      mode: abc\n    - path: /c\n      mode: xyz\n      overwrite: [1]\n    - ? [k]\n      : 1\n      mode: q\npasswd:\n  users:\n    - name: a\n      name: b\n",
            "Error translating config: yaml: unmarshal errors:\n  \
         line 9: mapping key \"path\" already defined at line 8\n  \
         line 12: cannot unmarshal !!str `xyz` into int\n  \
         line 13: cannot unmarshal !!seq into bool\n  \
         line 14: cannot unmarshal !!seq into string\n  \
         line 16: cannot unmarshal !!str `q` into int\n  \
         line 20: mapping key \"name\" already defined at line 19\n",
        ),
        // Spec 3.0.0 knows only sha512 hashes (cases 85, 264).
        (
            "variant: fcos\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        source: data:,x\n        verification:\n          hash: sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
            "error at $.storage.files.0.contents.verification.hash, line 9 col 17: unrecognized hash function\n\
             Error translating config: config generated was invalid\n",
        ),
        // Before 3.3.0 a mount unit's path is asked for whatever the format, then the
        // format; from 3.3.0 the format first, and the path only then (case 1201).
        (
            "variant: fcos\nversion: 1.1.0\nstorage:\n  filesystems:\n    - device: /dev/vda\n      format: \"\"\n      with_mount_unit: true\n",
            "error at $.storage.filesystems.0.path, line 5 col 7: path is required if with_mount_unit is true and format is not swap\n\
             error at $.storage.filesystems.0.format, line 6 col 15: format is required if with_mount_unit is true\n\
             Error translating config: source config is invalid\n",
        ),
        (
            "variant: fcos\nversion: 1.4.0\nstorage:\n  filesystems:\n    - device: /dev/vda\n      format: \"\"\n      with_mount_unit: true\n",
            "error at $.storage.filesystems.0.format, line 6 col 15: format is required if with_mount_unit is true\n\
             Error translating config: source config is invalid\n",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(raw_report(yaml, &Options::default()), expected, "{yaml}");
    }
}

// Boot device sugar: the reference records each Tang server's non-empty fields at the
// field the user wrote; an empty URL (the zero value of a required string) is left out,
// so a finding about it keeps its generated path, placed at the deepest node the file
// has along it.
#[test]
fn boot_device_tang_fields_are_placed_where_written() {
    let yaml = "variant: fcos\nversion: 1.3.0\nstorage:\n  files:\n    - path: /a\nboot_device:\n  luks:\n    tang:\n      - url: tang.example.com\n        thumbprint: x\n      - url: \"\"\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.boot_device.luks.tang.0.url, line 9 col 14: invalid url scheme\n\
         error at $.storage.luks.0.clevis.tang.1.url, line 4 col 3: invalid url scheme\n\
         error at $.storage.luks.0.clevis.tang.1.thumbprint, line 4 col 3: thumbprint is required\n\
         Error translating config: config generated was invalid\n"
    );
    let yaml = "variant: fcos\nversion: 1.3.0\nboot_device:\n  luks:\n    tang:\n      - url: \"\"\n        thumbprint: x\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "error at $.storage.luks.0.clevis.tang.0.url, line 1 col 1: invalid url scheme\n\
         Error translating config: config generated was invalid\n"
    );
}

// After a merge with sugar (here the boot device mirror), a finding about a field of the
// user's own config (an empty HTTP header name) is still placed at that field, as the
// reference places it: a guard for the lookup of sugar paths, which placing the boot
// device's Tang fields changed.
#[test]
fn a_user_field_finding_after_a_boot_device_merge_stays_at_the_field() {
    let yaml = "variant: fcos\nversion: 1.3.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        source: https://example.com/a\n        http_headers:\n          - name: \"\"\n            value: v\nboot_device:\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "warning at $.boot_device.mirror, line 13 col 5: boot_device.layout should be specified when boot_device.mirror is specified\n\
         error at $.storage.files.0.contents.http_headers.0.name, line 9 col 19: HTTP header name can't be empty\n\
         Error translating config: config generated was invalid\n"
    );
}

// fcos 1.0.0 (Ignition 3.0.0): config and CA references are no resources. They have no
// `compression` (nor Butane's `inline`), an absent config source is written as `null`
// (cases 1903, 3986, 16115, 19013) and a CA's as `""`.
#[test]
fn fcos_1_0_references_are_written_as_ignition_3_0_types_them() {
    let yaml = "variant: fcos\nversion: 1.0.0\nignition:\n  config:\n    merge:\n      - inline: '{\"ignition\":{\"version\":\"3.1.0\"}}'\n    replace:\n      source: https://example.com/file\n      compression: gzip\n";
    let translation = translate(yaml, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        "{\"ignition\":{\"config\":{\"merge\":[{\"source\":null}],\"replace\":{\"source\":\"https://example.com/file\"}},\"version\":\"3.0.0\"}}\n"
    );
    assert_eq!(
        translation.report.to_string(),
        "warning at $.ignition.config.merge.0.inline, line 6 col 9: unused key inline\n\
         warning at $.ignition.config.replace.compression, line 9 col 7: unused key compression\n"
    );
    // From 1.1.0 (Ignition 3.1.0) they are resources.
    let translation = translate(&yaml.replace("1.0.0", "1.1.0"), &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        "{\"ignition\":{\"config\":{\"merge\":[{\"compression\":\"\",\"source\":\"data:;base64,eyJpZ25pdGlvbiI6eyJ2ZXJzaW9uIjoiMy4xLjAifX0=\"}],\"replace\":{\"compression\":\"gzip\",\"source\":\"https://example.com/file\"}},\"version\":\"3.1.0\"}}\n"
    );
    let ca = "variant: fcos\nversion: 1.0.0\nignition:\n  security:\n    tls:\n      certificate_authorities:\n        - source: https://example.com/ca\n          compression: \"\"\n";
    let translation = translate(ca, &Options::default()).unwrap();
    assert_eq!(
        translation.output(),
        "{\"ignition\":{\"security\":{\"tls\":{\"certificateAuthorities\":[{\"source\":\"https://example.com/ca\"}]}},\"version\":\"3.0.0\"}}\n"
    );
    assert_eq!(
        translation.report.to_string(),
        "warning at $.ignition.security.tls.certificate_authorities.0.compression, line 8 col 11: unused key compression\n"
    );
}

// fcos 1.0.0: a config or CA reference with a hash needs no source, its compression is
// not judged, and a CA's source is checked as a URL even when empty, CA by CA
// (cases 7315, 7801, 8773, 13553).
#[test]
fn fcos_1_0_references_are_validated_as_ignition_3_0_does() {
    let yaml = "variant: fcos\nversion: 1.0.0\nignition:\n  config:\n    merge:\n      - verification:\n          hash: sha256-abc\n    replace:\n      compression: xz\n  security:\n    tls:\n      certificate_authorities:\n        - verification: {hash: sha512-00}\n        - source: \"\"\n";
    assert_eq!(
        raw_report(yaml, &Options::default()),
        "warning at $.ignition.config.replace.compression, line 9 col 7: unused key compression\n\
         error at $.ignition.security.tls.certificate_authorities.1, line 14 col 11: duplicate entry defined\n\
         error at $.ignition.config.merge.0.verification.hash, line 7 col 17: unrecognized hash function\n\
         error at $.ignition.security.tls.certificate_authorities.0.source, line 13 col 11: invalid url scheme\n\
         error at $.ignition.security.tls.certificate_authorities.0.verification.hash, line 13 col 32: incorrect size for hash sum\n\
         error at $.ignition.security.tls.certificate_authorities.1.source, line 14 col 19: invalid url scheme\n\
         Error translating config: config generated was invalid\n"
    );
}
