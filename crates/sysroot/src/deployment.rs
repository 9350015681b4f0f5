//! Deployments and the current boot state, read the way OSTree reads them: the
//! `/boot/loader` symlink names the boot version, its BLS entries (highest `version`
//! first) are the deployment list, and each entry's `ostree=` argument leads through
//! the `/ostree/boot.B` links to `ostree/deploy/OS/deploy/CSUM.SERIAL`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ferro_ostree::Checksum;
use ferro_sys::IoResultExt;

use crate::bls::{BlsEntry, sort_entries};
use crate::error::Error;
use crate::fsutil;
use crate::kargs::Kargs;
use crate::layout::Sysroot;
use ferro_ostree::keyfile::KeyFile;

/// One deployment: a checkout of a commit with its own `/etc`, boot files and kernel
/// arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The stateroot.
    pub osname: String,
    /// The deployed commit.
    pub checksum: Checksum,
    /// Distinguishes deployments of the same commit.
    pub serial: u32,
    /// The boot checksum (kernel + initramfs).
    pub bootcsum: String,
    /// Distinguishes deployments sharing a boot checksum in one boot version.
    pub bootserial: u32,
    /// The kernel command line of its boot entry.
    pub kargs: Kargs,
    /// The `.origin` key file (what to upgrade from, pinning).
    pub origin: KeyFile,
}

impl Deployment {
    /// `CSUM.SERIAL`, the deployment directory name.
    pub fn name(&self) -> String {
        format!("{}.{}", self.checksum, self.serial)
    }

    /// Whether `ostree admin pin` / [`Sysroot::set_pinned`] protects it from removal.
    pub fn pinned(&self) -> bool {
        self.origin.get("libostree-transient", "pinned").as_deref() == Some("true")
    }

    /// The origin's `refspec`, if any.
    pub fn refspec(&self) -> Option<String> {
        self.origin.get("origin", "refspec")
    }

    /// Same deployment (stateroot, commit, serial), whatever its boot position.
    pub fn same(&self, other: &Deployment) -> bool {
        self.osname == other.osname
            && self.checksum == other.checksum
            && self.serial == other.serial
    }
}

/// The committed boot configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootState {
    /// `N` of `/boot/loader -> loader.N` (0 when there is no link yet).
    pub bootversion: u8,
    /// `S` of `/ostree/boot.N -> boot.N.S`.
    pub subbootversion: u8,
    /// Deployments in boot order: the first is the default.
    pub deployments: Vec<Deployment>,
}

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::Layout {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// Parses `loader.N` / `boot.N.S` style version numbers (0 or 1).
fn version_suffix<'a>(target: &'a str, prefix: &str) -> Option<&'a str> {
    target.strip_prefix(prefix)
}

/// The `*.conf` entries of a `loader.N/entries` directory (none if it is missing),
/// in boot order: the first is the default.
pub(crate) fn read_entries(dir: &Path) -> Result<Vec<(String, BlsEntry)>, Error> {
    let mut entries = Vec::new();
    match fs::read_dir(dir) {
        Ok(list) => {
            for item in list {
                let item = item.at("list", dir)?;
                let name = item.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".conf") {
                    continue;
                }
                let text = fs::read_to_string(item.path()).at("read", &item.path())?;
                entries.push((name, BlsEntry::parse(&text)));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ferro_sys::io_err("list", dir)(e).into()),
    }
    sort_entries(&mut entries);
    Ok(entries)
}

impl Sysroot {
    /// The boot version `/boot/loader` points to, 0 when absent.
    pub(crate) fn read_bootversion(&self) -> Result<u8, Error> {
        let link = self.path().join("boot/loader");
        match fsutil::read_link(&link)? {
            None => Ok(0),
            Some(target) => match version_suffix(&target, "loader.") {
                Some("0") => Ok(0),
                Some("1") => Ok(1),
                _ => Err(bad(
                    &link,
                    format!("points to '{target}', not loader.0 or loader.1"),
                )),
            },
        }
    }

    /// The subboot version `/ostree/boot.B` points to, 0 when absent.
    pub(crate) fn read_subbootversion(&self, bootversion: u8) -> Result<u8, Error> {
        let link = self.path().join(format!("ostree/boot.{bootversion}"));
        match fsutil::read_link(&link)? {
            None => Ok(0),
            Some(target) => match version_suffix(&target, &format!("boot.{bootversion}.")) {
                Some("0") => Ok(0),
                Some("1") => Ok(1),
                _ => Err(bad(&link, format!("points to unexpected '{target}'"))),
            },
        }
    }

    /// Reads the current boot version, its links and entries.
    pub fn load(&self) -> Result<BootState, Error> {
        let bootversion = self.read_bootversion()?;
        let subbootversion = self.read_subbootversion(bootversion)?;
        let dir = self
            .path()
            .join(format!("boot/loader.{bootversion}/entries"));
        let mut deployments = Vec::new();
        for (name, entry) in read_entries(&dir)? {
            let kargs = Kargs::parse(entry.get("options").unwrap_or(""));
            if kargs.get("ostree").is_some() {
                deployments.push(self.deployment_from_kargs(&dir.join(name), kargs)?);
            }
        }
        Ok(BootState {
            bootversion,
            subbootversion,
            deployments,
        })
    }

    /// Follows `ostree=/ostree/boot.B/OS/BOOTCSUM/N` to the deployment directory.
    fn deployment_from_kargs(&self, entry: &Path, kargs: Kargs) -> Result<Deployment, Error> {
        let arg = kargs.get("ostree").unwrap_or_default();
        let parts: Vec<&str> = arg.trim_start_matches('/').split('/').collect();
        let [_, _, osname, bootcsum, bootserial] = parts[..] else {
            return Err(bad(entry, format!("unexpected ostree={arg}")));
        };
        let bootserial = bootserial
            .parse()
            .map_err(|_| bad(entry, format!("unexpected ostree={arg}")))?;
        let target = self.resolve_bootlink(arg)?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| bad(entry, format!("ostree={arg} leads nowhere")))?;
        let (checksum, serial) = parse_deploy_name(name)
            .ok_or_else(|| bad(&target, "not a CHECKSUM.SERIAL deployment"))?;
        let origin_path = self.origin_path(osname, &checksum, serial);
        let origin = match fs::read_to_string(&origin_path) {
            Ok(text) => KeyFile::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => KeyFile::default(),
            Err(e) => return Err(ferro_sys::io_err("read", &origin_path)(e).into()),
        };
        Ok(Deployment {
            osname: osname.to_owned(),
            checksum,
            serial,
            bootcsum: bootcsum.to_owned(),
            bootserial,
            kargs,
            origin,
        })
    }

    /// Resolves an `ostree=` path inside the sysroot to the deployment directory it
    /// names, following the two levels of boot links.
    pub(crate) fn resolve_bootlink(&self, arg: &str) -> Result<PathBuf, Error> {
        let rel = arg.trim_start_matches('/');
        let mut parts = rel.splitn(3, '/');
        let (Some("ostree"), Some(boot), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(Path::new(arg), "not an /ostree/boot.N/… path"));
        };
        let boot_link = self.path().join("ostree").join(boot);
        let subdir =
            fsutil::read_link(&boot_link)?.ok_or_else(|| bad(&boot_link, "missing boot link"))?;
        let link = self.path().join("ostree").join(subdir).join(rest);
        let target = fsutil::read_link(&link)?.ok_or_else(|| bad(&link, "missing boot link"))?;
        let dir = link.parent().unwrap_or(&link).join(target);
        if !dir.is_dir() {
            return Err(bad(&link, "points to a missing deployment"));
        }
        Ok(dir)
    }

    /// `ostree/deploy/OS/deploy/CSUM.SERIAL.origin`.
    pub(crate) fn origin_path(&self, osname: &str, checksum: &Checksum, serial: u32) -> PathBuf {
        self.stateroot(osname)
            .join("deploy")
            .join(format!("{checksum}.{serial}.origin"))
    }

    /// The directory of a deployment.
    pub fn dir_of(&self, deployment: &Deployment) -> PathBuf {
        self.deployment_dir(&deployment.osname, &deployment.checksum, deployment.serial)
    }
}

/// `CSUM.SERIAL` → parts.
pub(crate) fn parse_deploy_name(name: &str) -> Option<(Checksum, u32)> {
    let (csum, serial) = name.split_once('.')?;
    Some((csum.parse().ok()?, serial.parse().ok()?))
}
