//! Making an installed Debian tree a ferrocore system, before it is reshaped:
//!
//! - the `ferro` binary, and the initramfs-tools hook and boot scripts that run
//!   Ignition's stages with it on the first boot and `ferro prepare-root` on every
//!   boot (`dist/initramfs-tools/`);
//! - the base Ignition config that creates `core` as Fedora CoreOS does
//!   (`dist/ignition/base.d/`), with `/etc/subuid` and `/etc/subgid` present so that
//!   `core` gets subordinate ids for rootless podman;
//! - sshd reading every file in `~/.ssh/authorized_keys.d/` (an
//!   `AuthorizedKeysCommand`, like Fedora CoreOS's ssh-key-dir), passwordless sudo for the
//!   `sudo` group, DHCP with systemd-networkd, overlay storage for podman, SSH host
//!   keys generated per machine at first boot (none ship in the tree), and the console
//!   login banner with host key fingerprints and addresses;
//! - a small HTTP-serving container image, built from the tree's own static busybox,
//!   for `podman load` (no registry is reachable from the VMs);
//! - no package downloads or archive indexes (200 MB that every first boot would copy
//!   into `/var`);
//! - units that only cost boot time in a VM masked, and the initramfs rebuilt with all
//!   of the above.
//!
//! The files are compiled into `ferro` from `dist/`, so a `ferro` binary composes the
//! same system wherever it runs.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::atomic::{Collision, Durability, WriteOptions, write_file};
use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

/// A file ferrocore adds to the tree: where, its mode, its contents.
struct Asset {
    path: &'static str,
    mode: u32,
    contents: &'static str,
}

macro_rules! asset {
    ($path:literal, $mode:literal, $source:literal) => {
        Asset {
            path: $path,
            mode: $mode,
            contents: include_str!(concat!("../../../dist/", $source)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!(
        "usr/share/initramfs-tools/hooks/ferro",
        0o755,
        "initramfs-tools/hooks/ferro"
    ),
    asset!(
        "usr/share/ferrocore/initramfs/ferro-ignition",
        0o644,
        "initramfs-tools/ferro-ignition"
    ),
    asset!(
        "usr/share/initramfs-tools/scripts/local-premount/ferro-ignition",
        0o755,
        "initramfs-tools/scripts/local-premount/ferro-ignition"
    ),
    asset!(
        "usr/share/initramfs-tools/scripts/local-bottom/ferro-ignition",
        0o755,
        "initramfs-tools/scripts/local-bottom/ferro-ignition"
    ),
    asset!(
        "usr/share/initramfs-tools/scripts/ferrolive",
        0o644,
        "initramfs-tools/scripts/ferrolive"
    ),
    asset!(
        "etc/initramfs-tools/conf.d/ferrocore.conf",
        0o644,
        "config/initramfs.conf"
    ),
    asset!(
        "usr/lib/ignition/base.d/ferrocore-core.ign",
        0o644,
        "ignition/base.d/ferrocore-core.ign"
    ),
    asset!(
        "etc/ssh/sshd_config.d/40-ferrocore.conf",
        0o644,
        "config/sshd-ferrocore.conf"
    ),
    asset!(
        "etc/sudoers.d/ferrocore-sudo-group",
        0o440,
        "config/sudoers-ferrocore"
    ),
    asset!(
        "etc/systemd/network/20-wired.network",
        0o644,
        "config/wired.network"
    ),
    asset!(
        "etc/containers/storage.conf",
        0o644,
        "config/containers-storage.conf"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-sshd-keygen.service",
        0o644,
        "systemd/ferro-sshd-keygen.service"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-console-issue.service",
        0o644,
        "systemd/ferro-console-issue.service"
    ),
    asset!(
        "usr/libexec/ferrocore/ssh-key-dir",
        0o755,
        "libexec/ssh-key-dir"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-growfs.service",
        0o644,
        "systemd/ferro-growfs.service"
    ),
    asset!("usr/libexec/ferrocore/growfs", 0o755, "libexec/growfs"),
    asset!(
        "usr/lib/systemd/system/ferro-installer.service",
        0o644,
        "systemd/ferro-installer.service"
    ),
    asset!(
        "usr/libexec/ferrocore/live-install",
        0o755,
        "libexec/live-install"
    ),
    asset!(
        "usr/libexec/ferrocore/console-issue",
        0o755,
        "libexec/console-issue"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-finalize-staged.service",
        0o644,
        "systemd/ferro-finalize-staged.service"
    ),
    asset!(
        "usr/lib/systemd/system/podman-restart.service.d/ferrocore.conf",
        0o644,
        "systemd/podman-restart.service.d/ferrocore.conf"
    ),
    asset!("usr/sbin/apt-get", 0o755, "libexec/apt-wrapper"),
    asset!("usr/sbin/apt", 0o755, "libexec/apt-wrapper"),
    asset!(
        "usr/lib/systemd/system/ferro-ignition-journal.service",
        0o644,
        "systemd/ferro-ignition-journal.service"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-finalize-staged.path",
        0o644,
        "systemd/ferro-finalize-staged.path"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-agent.service",
        0o644,
        "systemd/ferro-agent.service"
    ),
    asset!(
        "usr/lib/systemd/system/ferro-agent-health.target",
        0o644,
        "systemd/ferro-agent-health.target"
    ),
    asset!(
        "usr/lib/ferro/agent.d/10-ferrocore.toml",
        0o644,
        "agent/10-ferrocore.toml"
    ),
];

/// Plain configuration files written as-is: (path, contents).
const SETTINGS: &[(&str, &str)] = &[
    // The boot partition; the root is mounted by the initramfs. Mounted when first
    // used (an automount point), not on the way to `local-fs.target` and so to the
    // login: nothing at boot needs it, the device appears only once udev has gone
    // through every device, and mounting loads ext4. `ferro` and the finalize unit
    // (`RequiresMountsFor=/boot`) reach it through the automount point. Not checked
    // at boot (pass 0): ext4's journal keeps it consistent.
    (
        "etc/fstab",
        "LABEL=boot /boot ext4 defaults,x-systemd.automount 0 0\n",
    ),
    (
        "etc/hosts",
        "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
    ),
    // QEMU user networking's DNS; debootstrap leaves the build host's here.
    ("etc/resolv.conf", "nameserver 10.0.2.3\n"),
    // Empty: systemd makes each machine its own id on its first boot.
    ("etc/machine-id", ""),
    // The console's login banner: the system's name from os-release, then the
    // ferrocore banner in /etc/issue.d (host keys, addresses).
    ("etc/issue", "\\S \\n \\l\n\n"),
    (
        "etc/motd",
        "ferrocore: /usr is read-only and updated as a whole (`ferro status`, \
         `ferro upgrade`, `ferro rollback`).\n",
    ),
];

/// Symlinks: (path, target). agetty reads `/etc/issue.d` (not `/run/issue.d`) when
/// `/etc/issue` exists, as on Debian, so the banner written at boot is linked there.
const SYMLINKS: &[(&str, &str)] = &[(
    "etc/issue.d/40-ferrocore.issue",
    "/run/issue.d/40-ferrocore.issue",
)];

/// Units enabled in the tree.
const ENABLE: &[&str] = &[
    "systemd-networkd.service",
    "ferro-sshd-keygen.service",
    "ferro-console-issue.service",
    "ferro-finalize-staged.path",
    "ferro-agent.service",
    "ferro-ignition-journal.service",
    "ferro-growfs.service",
    "ferro-installer.service",
];

/// Units the packages enable that the tree does not start at boot: podman's API
/// service, which `podman.socket` starts when a client connects.
const DISABLE: &[&str] = &["podman.service"];

/// Units of optional packages the tree has but does not start: Docker (`docker.io`,
/// in the default manifest as Fedora CoreOS ships it, its daemon off and podman the
/// default container engine) and the containerd it brings. `sudo systemctl enable
/// --now docker.socket` turns it on. Disabled only when installed: a manifest without
/// `docker.io` leaves Docker out.
const DISABLE_IF_PRESENT: &[&str] = &["docker.service", "docker.socket", "containerd.service"];

/// Where packages put their units, in the tree.
const UNIT_DIRS: &[&str] = &["usr/lib/systemd/system", "lib/systemd/system"];

/// Units masked: interactive first-boot prompts, periodic jobs that cost minutes of
/// CPU in an emulated VM and update nothing on an image-based system, and the
/// `modprobe@` jobs that load, one process each and before `sysinit.target`, modules
/// nothing here needs at boot (`drm` for logind's seats, `loop` and `dm_mod` for
/// systemd-repart, `efi_pstore`, `configfs`, `fuse`): the kernel loads them on
/// demand (a device node opened, a filesystem mounted, a GPU driver's dependency).
const MASK: &[&str] = &[
    "modprobe@drm.service",
    "modprobe@loop.service",
    "modprobe@dm_mod.service",
    "modprobe@efi_pstore.service",
    "modprobe@configfs.service",
    "modprobe@fuse.service",
    "systemd-firstboot.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "man-db.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "xfs_scrub_all.timer",
    "podman-auto-update.timer",
    "podman-auto-update.service",
];

/// Files the Debian installation leaves that a ferrocore system must not have: the
/// build host's name (Ignition or DHCP names the machine).
const REMOVE: &[&str] = &["etc/hostname"];

/// The archive indexes apt downloaded while installing; a tree never runs apt again.
const APT_LISTS: &str = "var/lib/apt/lists";

/// Where the static busybox of `busybox-static` is, in the tree.
const BUSYBOX: &str = "usr/bin/busybox";

/// Where the container image is written, in the tree: `podman load -i` it.
pub const HTTPD_IMAGE: &str = "usr/share/ferrocore/images/httpd.oci.tar";

/// Where the `ferro` binary goes in the tree.
pub const FERRO_IN_TREE: &str = "usr/bin/ferro";

/// Why the tree could not be made a ferrocore system.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The container image could not be built.
    #[error(transparent)]
    Container(#[from] crate::container::Error),
    /// A command in the tree (systemctl, update-initramfs) failed.
    #[error(transparent)]
    Tool(#[from] CommandError),
}

/// Removes the file or symlink at `path`, if there is one. What ferrocore puts in the
/// tree replaces what the installation left there; a symlink (Debian's
/// `/etc/resolv.conf` can be one) is never written through.
fn remove_entry(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_dir() => Ok(fs::remove_file(path).at("remove", path)?),
        _ => Ok(()),
    }
}

/// `root/path`, ready to be created: its parent directories exist and nothing is
/// there (see [`remove_entry`]).
fn place(root: &Path, path: &str) -> Result<PathBuf, Error> {
    let path = root.join(path);
    let parent = path.parent().expect("paths in the tree have parents");
    fs::create_dir_all(parent).at("create", parent)?;
    remove_entry(&path)?;
    Ok(path)
}

/// Writes `contents` to `root/path` with exactly `mode`, creating parent directories
/// and replacing what is there (a symlink included, which is never written through).
/// Not synced: a tree is thrown away if the compose fails, and committing it makes its
/// objects durable.
fn write(root: &Path, path: &str, mode: u32, contents: &[u8]) -> Result<(), Error> {
    let path = place(root, path)?;
    let options = WriteOptions {
        mode,
        collision: Collision::Replace,
        durability: Durability::Deferred,
    };
    write_file(&path, contents, options)?;
    Ok(())
}

/// Where the operating system identifies itself (`/etc/os-release` links there).
const OS_RELEASE: &str = "usr/lib/os-release";

/// `/usr/lib/os-release` for ferrocore `version`, built on the Debian release whose
/// os-release is `debian` (its `VERSION_ID` and `VERSION_CODENAME` are kept, and named
/// in `VERSION`): ferrocore's `ID`, `ID_LIKE=debian` so that tools treating Debian
/// derivatives alike still do, and `VARIANT_ID=coreos` as Fedora CoreOS has. The
/// console banner (`\S` in `/etc/issue`) and the boot menu's titles show
/// `PRETTY_NAME`.
fn os_release(version: &str, debian: &str) -> String {
    let field = |key: &str| {
        debian.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim_matches('"').to_owned())
        })
    };
    let base = match (field("VERSION_ID"), field("VERSION_CODENAME")) {
        (Some(id), Some(codename)) => format!("Debian {id} {codename}"),
        (Some(id), None) => format!("Debian {id}"),
        (None, Some(codename)) => format!("Debian {codename}"),
        (None, None) => "Debian".to_owned(),
    };
    let quote = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = format!(
        "NAME=\"ferrocore\"\n\
         PRETTY_NAME=\"ferrocore {v} ({base})\"\n\
         ID=ferrocore\n\
         ID_LIKE=debian\n\
         VERSION=\"{v} ({base})\"\n\
         VERSION_ID=\"{v}\"\n\
         VARIANT=\"CoreOS\"\n\
         VARIANT_ID=coreos\n",
        v = quote(version),
        base = quote(&base),
    );
    if let Some(codename) = field("VERSION_CODENAME") {
        text.push_str(&format!("VERSION_CODENAME={codename}\n"));
    }
    text
}

/// Installs ferrocore `version` into the Debian tree at `root`, with `ferro` (the
/// binary doing the compose, normally) as its `ferro`, then rebuilds the initramfs.
/// The container image is built only when the tree has a static busybox (package
/// `busybox-static`).
pub fn integrate(root: &Path, ferro: &Path, version: &str) -> Result<(), Error> {
    let debian = fs::read_to_string(root.join(OS_RELEASE)).unwrap_or_default();
    write(
        root,
        OS_RELEASE,
        0o644,
        os_release(version, &debian).as_bytes(),
    )?;
    for asset in ASSETS {
        write(root, asset.path, asset.mode, asset.contents.as_bytes())?;
    }
    for (path, contents) in SETTINGS {
        write(root, path, 0o644, contents.as_bytes())?;
    }
    for (path, target) in SYMLINKS {
        let path = place(root, path)?;
        symlink(target, &path).at("link", &path)?;
    }
    for path in REMOVE {
        remove_entry(&root.join(path))?;
    }
    install_ferro(root, ferro)?;
    let busybox = root.join(BUSYBOX);
    if busybox.is_file() {
        let image = place(root, HTTPD_IMAGE)?;
        crate::container::write_httpd_image(&busybox, crate::container::DEFAULT_NAME, &image)?;
    }
    for ids in ["etc/subuid", "etc/subgid"] {
        let path = root.join(ids);
        if !path.exists() {
            write(root, ids, 0o644, b"")?;
        }
    }
    remove_files_in(&root.join("etc/ssh"), is_host_key)?;
    in_tree(root, "apt-get", &["clean"])?;
    remove_files_in(&root.join(APT_LISTS), |name| name != "lock")?;
    let dbus_id = root.join("var/lib/dbus/machine-id");
    if fs::symlink_metadata(&dbus_id).is_ok() {
        remove_entry(&dbus_id)?;
        symlink("/etc/machine-id", &dbus_id).at("link", &dbus_id)?;
    }
    in_tree(root, "systemctl", &[&["enable"], ENABLE].concat())?;
    in_tree(root, "systemctl", &[&["disable"], DISABLE].concat())?;
    let present: Vec<&str> = DISABLE_IF_PRESENT
        .iter()
        .copied()
        .filter(|unit| {
            UNIT_DIRS
                .iter()
                .any(|dir| root.join(dir).join(unit).exists())
        })
        .collect();
    if !present.is_empty() {
        in_tree(root, "systemctl", &[&["disable"], &present[..]].concat())?;
    }
    in_tree(root, "systemctl", &[&["mask"], MASK].concat())?;
    in_tree(root, "update-initramfs", &["-u", "-k", "all"])?;
    Ok(())
}

/// Copies `ferro` into the tree stripped of its debug information and symbols, as
/// Debian's packages are (a fifth of the size, and it is copied again into every
/// initramfs, which the boot loader reads and the kernel unpacks on every boot); a
/// plain copy if `strip` is missing.
fn install_ferro(root: &Path, ferro: &Path) -> Result<(), Error> {
    let target = place(root, FERRO_IN_TREE)?;
    let stripped = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&target)
        .arg(ferro)
        .run_get_output()
        .is_ok();
    if !stripped {
        fs::copy(ferro, &target).at("copy ferro to", &target)?;
    }
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).at("set mode of", &target)?;
    Ok(())
}

/// Removes the regular files directly in `dir` whose names `doomed` accepts.
fn remove_files_in(dir: &Path, doomed: impl Fn(&str) -> bool) -> Result<(), Error> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name();
        if doomed(&name.to_string_lossy()) && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }
    Ok(())
}

/// Whether a file in `/etc/ssh` is a host key openssh-server's installation generated:
/// every machine booted from the image would share it. `ferro-sshd-keygen.service`
/// makes each machine its own.
fn is_host_key(name: &str) -> bool {
    name.starts_with("ssh_host_")
}

/// Runs `program args` inside the tree (chroot), as its own tools must be used on it.
/// A program the tree lacks fails with chroot's "failed to run command" in the error.
fn in_tree(root: &Path, program: &str, args: &[&str]) -> Result<(), Error> {
    Command::new("chroot")
        .arg(root)
        .arg(program)
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .run_get_output()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_path_is_relative_and_unique_and_only_scripts_are_executable() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.extend(SETTINGS.iter().map(|(p, _)| *p));
        paths.extend(SYMLINKS.iter().map(|(p, _)| *p));
        for path in &paths {
            assert!(!path.starts_with('/') && !path.contains(".."), "{path}");
        }
        let count = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), count, "no path is written twice");
        for asset in ASSETS {
            let executable = asset.mode & 0o111 != 0;
            assert_eq!(
                executable,
                asset.contents.starts_with("#!"),
                "{}: scripts and only scripts are executable",
                asset.path
            );
        }
    }

    #[test]
    fn the_base_config_is_valid_ignition_and_creates_core() {
        let asset = ASSETS
            .iter()
            .find(|a| a.path.starts_with("usr/lib/ignition/base.d/"))
            .unwrap();
        let config: serde_json::Value = serde_json::from_str(asset.contents).unwrap();
        assert_eq!(config["passwd"]["users"][0]["name"], "core");
        let groups = &config["passwd"]["users"][0]["groups"];
        for group in ["sudo", "adm", "systemd-journal"] {
            assert!(
                groups.as_array().unwrap().iter().any(|g| g == group),
                "core is in {group}"
            );
        }
    }

    #[test]
    fn os_release_names_ferrocore_on_its_debian_base() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                      VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        let text = os_release("39.1", debian);
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "ID=ferrocore",
            "ID_LIKE=debian",
            "VERSION=\"39.1 (Debian 12 bookworm)\"",
            "VERSION_ID=\"39.1\"",
            "VARIANT_ID=coreos",
            "PRETTY_NAME=\"ferrocore 39.1 (Debian 12 bookworm)\"",
            "VERSION_CODENAME=bookworm",
        ] {
            assert!(lines.contains(&expected), "{expected} in:\n{text}");
        }
        assert!(!text.contains("ID=debian\n"));
        // A quote in the manifest's version cannot end the value early.
        assert!(os_release("1\"x", "").contains("VERSION_ID=\"1\\\"x\"\n"));
        assert!(os_release("1", "").contains("VERSION=\"1 (Debian)\"\n"));
    }

    #[test]
    fn writing_replaces_symlinks_instead_of_following_them() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "host").unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink(&outside, root.join("etc/resolv.conf")).unwrap();
        write(&root, "etc/resolv.conf", 0o644, b"nameserver 10.0.2.3\n").unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "host");
        assert_eq!(
            fs::read_to_string(root.join("etc/resolv.conf")).unwrap(),
            "nameserver 10.0.2.3\n"
        );
    }

    #[test]
    fn archive_indexes_are_removed_but_not_the_lock_or_directories() {
        let dir = tempfile::tempdir().unwrap();
        let lists = dir.path().join(APT_LISTS);
        fs::create_dir_all(lists.join("partial")).unwrap();
        for name in ["lock", "deb.debian.org_debian_dists_bookworm_InRelease"] {
            fs::write(lists.join(name), "x").unwrap();
        }
        remove_files_in(&lists, |name| name != "lock").unwrap();
        let mut left: Vec<_> = fs::read_dir(&lists)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["lock", "partial"]);
    }

    #[test]
    fn host_keys_are_removed_and_other_ssh_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join("etc/ssh");
        fs::create_dir_all(&ssh).unwrap();
        for name in [
            "ssh_host_ed25519_key",
            "ssh_host_ed25519_key.pub",
            "sshd_config",
        ] {
            fs::write(ssh.join(name), "x").unwrap();
        }
        remove_files_in(&ssh, is_host_key).unwrap();
        let left: Vec<_> = fs::read_dir(&ssh)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["sshd_config"]);
    }
}
