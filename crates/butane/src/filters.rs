//! Fields a variant does not support, checked on the translated config so that
//! sugar-generated fields are caught too.

use ferro_document::{Path, Report};
use ferro_spec::Config;

use crate::profile::{Profile, Variant};

/// Errors for every field of `config` that `profile` does not support.
pub(crate) fn check(config: &Config, profile: &Profile) -> Report {
    let mut report = Report::new();
    match profile.variant {
        Variant::R4e | Variant::Fiot => edge(config, &mut report),
        Variant::Flatcar => flatcar(config, profile, &mut report),
        Variant::Openshift => openshift(config, profile, &mut report),
        Variant::Fcos => {}
    }
    report
}

fn edge(config: &Config, report: &mut Report) {
    let storage = &config.storage;
    if config.kernel_arguments != Default::default() {
        report.error(
            Path::parse("kernelArguments"),
            "kernel argument customization is not supported in this spec version",
        );
    }
    if !storage.disks.is_empty() {
        report.error(
            Path::parse("storage.disks"),
            "disk customization is not supported in this spec version",
        );
    }
    if !storage.filesystems.is_empty() {
        report.error(
            Path::parse("storage.filesystems"),
            "filesystem customization is not supported in this spec version",
        );
    }
    if !storage.luks.is_empty() {
        report.error(
            Path::parse("storage.luks"),
            "luks is not supported in this spec version",
        );
    }
    if !storage.raid.is_empty() {
        report.error(
            Path::parse("storage.raid"),
            "raid is not supported in this spec version",
        );
    }
}

fn flatcar(config: &Config, profile: &Profile, report: &mut Report) {
    let experimental = profile.target.is_experimental();
    for (index, luks) in config.storage.luks.iter().enumerate() {
        let at = Path::parse("storage.luks").index(index);
        if !experimental && luks.clevis != Default::default() {
            report.error(
                at.key("clevis"),
                "clevis is not supported in this spec version",
            );
        }
        if experimental && luks.cex != Default::default() {
            report.error(
                at.key("cex"),
                "cex is not currently supported on the target platform",
            );
        }
    }
}

/// What the Machine Config Operator cannot apply and the reference rejects while it
/// builds the MachineConfig, before its field filters, in its order: filesystems,
/// files, then users. Paths are in the Ignition config; with `--raw` the reference
/// cannot place them (see [`crate::translate`]).
pub(crate) fn machine_config_support(config: &Config, profile: &Profile) -> Report {
    let minor = profile.openshift_minor().unwrap_or(0);
    let mut report = Report::new();
    let storage = &config.storage;
    let format_at = |index: usize| {
        Path::parse("storage.filesystems")
            .index(index)
            .key("format")
    };
    // The RHCOS checks (btrfs) come before the MCO's (format `none` and the rest).
    for (index, fs) in storage.filesystems.iter().enumerate() {
        if fs.format.as_deref() == Some("btrfs") {
            report.error(
                format_at(index),
                "btrfs is not supported in this spec version",
            );
        }
    }
    for (index, fs) in storage.filesystems.iter().enumerate() {
        if minor >= 14 && fs.format.as_deref() == Some("none") {
            report.error(
                format_at(index),
                "format \"none\" is not supported in this spec version",
            );
        }
    }
    for (index, file) in storage.files.iter().enumerate() {
        let at = Path::parse("storage.files").index(index);
        let source = file.contents.source.as_deref();
        // What fails to parse is left to Ignition's validation.
        if source.is_some_and(|s| {
            ferro_spec::validate::url_scheme(s).is_some_and(|scheme| scheme != "data")
        }) {
            report.error(
                at.key("contents").key("source"),
                "file contents source must be data URL in this spec version",
            );
        }
        if minor >= 10 && file.mode.is_some_and(|m| m & !0o777 != 0) {
            report.error(
                at.key("mode"),
                "special mode bits are not supported in this spec version",
            );
        }
    }
    for (index, user) in config.passwd.users.iter().enumerate() {
        if user.name != "core" {
            report.error(
                Path::parse("passwd.users").index(index).key("name"),
                "users other than \"core\" are not supported in this spec version",
            );
        }
    }
    report
}

/// The openshift field filters, checked on the MachineConfig (so not with `--raw`),
/// in the order of a walk of the Ignition config's fields.
fn openshift(config: &Config, profile: &Profile, report: &mut Report) {
    let minor = profile.openshift_minor().unwrap_or(0);
    if minor >= 14 && config.kernel_arguments != Default::default() {
        report.error(
            Path::parse("kernelArguments"),
            "this section cannot be used for kernel arguments in this spec version; use openshift.kernel_arguments instead",
        );
    }
    let passwd = &config.passwd;
    if !passwd.groups.is_empty() {
        report.error(
            Path::parse("passwd.groups"),
            "groups are not supported in this spec version",
        );
    }
    // One entry per field set (a list: not empty), in the Ignition struct's order.
    for (index, user) in passwd.users.iter().enumerate() {
        let fields = [
            ("gecos", user.gecos.is_some()),
            ("groups", !user.groups.is_empty()),
            ("homeDir", user.home_dir.is_some()),
            ("noCreateHome", user.no_create_home.is_some()),
            ("noLogInit", user.no_log_init.is_some()),
            ("noUserGroup", user.no_user_group.is_some()),
            ("passwordHash", minor < 13 && user.password_hash.is_some()),
            ("primaryGroup", user.primary_group.is_some()),
            ("shell", user.shell.is_some()),
            ("shouldExist", user.should_exist.is_some()),
            ("system", user.system.is_some()),
            ("uid", user.uid.is_some()),
        ];
        for (field, set) in fields {
            if set {
                report.error(
                    Path::parse("passwd.users").index(index).key(field),
                    "fields other than \"name\", \"ssh_authorized_keys\", and \"password_hash\" (4.13.0+) are not supported in this spec version",
                );
            }
        }
    }
    let storage = &config.storage;
    if !storage.directories.is_empty() {
        report.error(
            Path::parse("storage.directories"),
            "directories are not supported in this spec version",
        );
    }
    for (index, file) in storage.files.iter().enumerate() {
        let at = Path::parse("storage.files").index(index);
        if !file.append.is_empty() {
            report.error(
                at.key("append"),
                "appending to files is not supported in this spec version",
            );
        }
        if minor <= 9
            && file
                .contents
                .compression
                .as_deref()
                .is_some_and(|c| !c.is_empty())
        {
            report.error(
                at.key("contents").key("compression"),
                "file compression is not supported in this spec version",
            );
        }
        if !file.contents.http_headers.is_empty() {
            report.error(
                at.key("contents").key("httpHeaders"),
                "file HTTP headers are not supported in this spec version",
            );
        }
    }
    if !storage.links.is_empty() {
        report.error(
            Path::parse("storage.links"),
            "links are not supported in this spec version",
        );
    }
}
