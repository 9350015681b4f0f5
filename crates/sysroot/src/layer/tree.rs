//! The work tree a layer is built in: a hardlink checkout of the base commit shaped
//! for dpkg (`/etc` where dpkg expects it, an empty `/var` with `/var/lib/dpkg` linking
//! to the database in `/usr`), then shaped back into a commit: users and groups the
//! maintainer scripts created become `sysusers.d` entries, what the packages put in
//! `/var` becomes tmpfiles.d entries, kernel modules get `depmod` and an initramfs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use ferro_sys::{IoError, IoResultExt};

use crate::error::Error;
use crate::fsutil;

/// Where the dpkg database lives in a ferrocore commit (see `ferro-compose`'s
/// postprocessing, which moves it there).
pub const DPKG_DB: &str = "usr/lib/sysimage/dpkg";
/// `/var/lib/dpkg`'s link to it.
const DPKG_DB_LINK: &str = "../../usr/lib/sysimage/dpkg";
/// systemd's factory directory, which `C` tmpfiles lines copy from.
const FACTORY_VAR: &str = "usr/share/factory/var";
/// The tmpfiles.d file of a layer.
pub const TMPFILES: &str = "usr/lib/tmpfiles.d/ferro-layer.conf";
/// The sysusers.d file of a layer.
pub const SYSUSERS: &str = "usr/lib/sysusers.d/ferro-layer.conf";
/// Keeps services from starting while maintainer scripts run (`invoke-rc.d` and
/// `deb-systemd-invoke` ask it).
const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";
/// Mount points the sandbox mounts over.
const MOUNT_POINTS: &[&str] = &["dev", "proc", "tmp", "run"];
/// What apt and dpkg leave in `/var` that is not the packages' content.
const VAR_SKIP: &[&str] = &["lib/dpkg", "lib/apt", "cache/apt", "log"];

/// A tree being layered, with what must be put back.
pub struct WorkTree {
    /// The tree.
    pub root: PathBuf,
    /// The base's `/var`, moved aside.
    var_base: PathBuf,
    /// Whether we wrote `policy-rc.d`.
    wrote_policy: bool,
    /// Mount points we created.
    created: Vec<PathBuf>,
    /// The base's `/etc/passwd` and `/etc/group`.
    passwd: String,
    group: String,
}

/// Replaces every file under `dir` that is hardlinked elsewhere (to a repository
/// object) by a copy, so writing it in place cannot change the repository.
fn break_links(dir: &Path) -> Result<(), Error> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry.at("list", dir)?.path();
        let meta = fs::symlink_metadata(&path).at("inspect", &path)?;
        if meta.is_dir() {
            break_links(&path)?;
        } else if meta.is_file() && meta.nlink() > 1 {
            let tmp = path.with_extension("ferro-layer-copy");
            fs::copy(&path, &tmp).at("copy", &path)?;
            std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()))
                .at("set owner of", &tmp)?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .at("set mode of", &tmp)?;
            fs::rename(&tmp, &path).at("replace", &path)?;
        }
    }
    Ok(())
}

fn read_or_empty(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

impl WorkTree {
    /// Shapes the checkout at `root` for dpkg; `aside` is a free path beside it.
    pub fn prepare(root: &Path, aside: &Path) -> Result<Self, Error> {
        if !root.join(DPKG_DB).join("status").is_file() {
            return Err(Error::Invalid(format!(
                "the base commit has no dpkg database in /{DPKG_DB}: compose it with this \
                 version of ferro (which keeps the database in /usr) to layer packages on it"
            )));
        }
        let (usr_etc, etc) = (root.join("usr/etc"), root.join("etc"));
        if fs::symlink_metadata(&etc).is_ok() {
            return Err(Error::Invalid(format!(
                "the base commit has both /usr/etc and /etc ('{}')",
                etc.display()
            )));
        }
        break_links(&usr_etc)?;
        break_links(&root.join(DPKG_DB))?;
        fs::rename(&usr_etc, &etc).at("move", &usr_etc)?;
        let var = root.join("var");
        if fs::symlink_metadata(&var).is_ok() {
            fs::rename(&var, aside).at("move", &var)?;
        } else {
            fs::create_dir_all(aside).at("create", aside)?;
        }
        let lib = var.join("lib");
        fs::create_dir_all(&lib).at("create", &lib)?;
        symlink(DPKG_DB_LINK, lib.join("dpkg")).at("link", &lib)?;
        let mut created = vec![];
        for name in MOUNT_POINTS {
            let dir = root.join(name);
            if !dir.is_dir() {
                fs::create_dir_all(&dir).at("create", &dir)?;
                created.push(dir);
            }
        }
        let policy = root.join(POLICY_RC_D);
        let wrote_policy = fs::symlink_metadata(&policy).is_err();
        if wrote_policy {
            let parent = policy.parent().expect("has a parent");
            fs::create_dir_all(parent).at("create", parent)?;
            fs::write(
                &policy,
                "#!/bin/sh\n# ferro layering: no service starts\nexit 101\n",
            )
            .at("write", &policy)?;
            fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))
                .at("set mode of", &policy)?;
        }
        Ok(WorkTree {
            root: root.to_owned(),
            var_base: aside.to_owned(),
            wrote_policy,
            created,
            passwd: read_or_empty(&etc.join("passwd")),
            group: read_or_empty(&etc.join("group")),
        })
    }

    /// Shapes the tree back into a commit's layout; returns the kernel versions whose
    /// modules changed (`depmod` and a new initramfs were done for them).
    pub fn finish(self, installed: &[String]) -> Result<Vec<String>, Error> {
        let root = &self.root;
        let kvers = modules_touched(root, installed);
        for kver in &kvers {
            rebuild_modules(root, kver)?;
        }
        self.sysusers()?;
        self.var_to_tmpfiles()?;
        if self.wrote_policy {
            fsutil::remove_file_if_exists(&root.join(POLICY_RC_D))?;
        }
        for dir in &self.created {
            let _ = fs::remove_dir(dir);
        }
        let (etc, usr_etc) = (root.join("etc"), root.join("usr/etc"));
        fs::rename(&etc, &usr_etc).at("move", &etc)?;
        Ok(kvers)
    }

    /// Users and groups the scripts added to `/etc/passwd` and `/etc/group` as
    /// `sysusers.d` lines with the same ids: `/etc` of a deployment is merged with the
    /// machine's own (whose `/etc/passwd` wins when the machine changed it), and
    /// `systemd-sysusers` creates them at boot in whatever `/etc/passwd` results.
    fn sysusers(&self) -> Result<(), Error> {
        let etc = self.root.join("etc");
        let names = |text: &str| -> BTreeSet<String> {
            text.lines()
                .filter_map(|l| l.split(':').next())
                .map(str::to_owned)
                .collect()
        };
        let (old_users, old_groups) = (names(&self.passwd), names(&self.group));
        let mut text = String::new();
        for line in read_or_empty(&etc.join("group")).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 3 && !old_groups.contains(f[0]) {
                let _ = writeln!(text, "g {} {} - -", f[0], f[2]);
            }
        }
        for line in read_or_empty(&etc.join("passwd")).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 7 && !old_users.contains(f[0]) {
                let gecos = if f[4].is_empty() { "-" } else { f[4] };
                let _ = writeln!(
                    text,
                    "u {} {}:{} \"{}\" {} {}",
                    f[0], f[2], f[3], gecos, f[5], f[6]
                );
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        let path = self.root.join(SYSUSERS);
        let parent = path.parent().expect("has a parent");
        fs::create_dir_all(parent).at("create", parent)?;
        let header = "# Written by ferro install: the users and groups layered packages created.\n";
        fs::write(&path, format!("{header}{text}")).at("write", &path)?;
        Ok(())
    }

    /// Moves what the packages put in `/var` to the factory directory, writes tmpfiles.d
    /// lines recreating it on the deployment's boot (`d` directories, `C` files copied if
    /// missing, `L` symlinks), and puts the base's `/var` back.
    fn var_to_tmpfiles(&self) -> Result<(), Error> {
        let var = self.root.join("var");
        let mut lines = vec![];
        walk_var(&var, &self.root.join(FACTORY_VAR), "", &mut lines)?;
        fsutil::remove_tree(&var)?;
        fs::rename(&self.var_base, &var).at("move", &self.var_base)?;
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.root.join(TMPFILES);
        let parent = path.parent().expect("has a parent");
        fs::create_dir_all(parent).at("create", parent)?;
        let text = format!(
            "# Written by ferro install: /var content of layered packages.\n{}\n",
            lines.join("\n")
        );
        fs::write(&path, text).at("write", &path)?;
        Ok(())
    }
}

fn walk_var(dir: &Path, factory: &Path, rel: &str, lines: &mut Vec<String>) -> Result<(), Error> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .at("list", dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if VAR_SKIP.contains(&rel.as_str()) {
            continue;
        }
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).at("inspect", &path)?;
        if meta.is_symlink() {
            let target = fs::read_link(&path).at("read", &path)?;
            lines.push(format!("L /var/{rel} - - - - {}", target.display()));
        } else if meta.is_dir() {
            lines.push(format!(
                "d /var/{rel} {:04o} {} {} -",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            ));
            walk_var(&path, factory, &rel, lines)?;
        } else {
            let dest = factory.join(&rel);
            let parent = dest.parent().expect("has a parent");
            fs::create_dir_all(parent).at("create", parent)?;
            fs::rename(&path, &dest).at("move", &path)?;
            lines.push(format!("C /var/{rel} - - - - -"));
        }
    }
    Ok(())
}

/// Kernel versions under `/usr/lib/modules` (or `/lib/modules`) the packages `installed`
/// put files in, from their dpkg file lists.
fn modules_touched(root: &Path, installed: &[String]) -> Vec<String> {
    let info = root.join(DPKG_DB).join("info");
    let mut kvers = BTreeSet::new();
    for name in installed {
        let lists = fs::read_dir(&info)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                file == format!("{name}.list")
                    || file.starts_with(&format!("{name}:")) && file.ends_with(".list")
            });
        for list in lists {
            for line in read_or_empty(&list.path()).lines() {
                let rest = line
                    .strip_prefix("/usr/lib/modules/")
                    .or_else(|| line.strip_prefix("/lib/modules/"));
                if let Some(rest) = rest
                    && (rest.ends_with(".ko") || rest.contains(".ko."))
                    && let Some((kver, _)) = rest.split_once('/')
                {
                    kvers.insert(kver.to_owned());
                }
            }
        }
    }
    kvers.into_iter().filter(|k| !k.is_empty()).collect()
}

/// `depmod` for `kver` in the tree (when it has kmod's) and, when the tree has
/// initramfs-tools, a new initramfs moved to where deployments find it.
fn rebuild_modules(root: &Path, kver: &str) -> Result<(), Error> {
    let step = |e: super::apt::ToolError| super::LayerError::Step {
        step: "regenerating kernel module data and the initramfs",
        detail: e.to_string(),
    };
    if root.join("usr/sbin/depmod").exists() {
        super::apt::in_tree(root, "/usr/sbin/depmod", &["-a", kver]).map_err(step)?;
    }
    if root.join("usr/sbin/update-initramfs").exists() {
        // The commit's /boot is an empty mount point; update-initramfs writes there.
        let boot = root.join("boot");
        let made_boot = !boot.is_dir();
        fs::create_dir_all(&boot).at("create", &boot)?;
        super::apt::in_tree(root, "/usr/sbin/update-initramfs", &["-c", "-k", kver])
            .map_err(step)?;
        let built = boot.join(format!("initrd.img-{kver}"));
        let dest = root.join(format!("usr/lib/modules/{kver}/initramfs.img"));
        if built.is_file() {
            fs::rename(&built, &dest).map_err(|e| IoError::new("move", &built, e))?;
        }
        if made_boot {
            let _ = fs::remove_dir(&boot);
        }
    }
    Ok(())
}
