//! Writing a new deployment list: everything for the *other* boot version is prepared
//! beside the current one (kernels in `/boot/ostree`, `ostree/boot.B.S` links,
//! `boot/loader.B/entries`, deployment refs), and one rename of the `/boot/loader`
//! symlink commits it. A failure at any earlier point leaves the current boot version
//! untouched; the leftovers are garbage that [`Sysroot::cleanup`] removes. A sysroot
//! booted by GRUB without `blscfg` also gets its menu in `loader.B` ([`grub`]), one
//! booted by U-Boot its `uEnv.txt` ([`uboot`]).

mod grub;
mod uboot;

pub use grub::edit_boot_options;

use std::collections::HashMap;
use std::fs;

use ferro_sys::IoResultExt;
use ferro_sys::atomic::{Durability, WriteOptions, replace_symlink, write_file};

use crate::bls::BlsEntry;
use crate::deployment::{BootState, Deployment};
use crate::error::Error;
use crate::fsutil;
use crate::kernel::KernelLayout;
use crate::layout::Sysroot;

/// `PRETTY_NAME` (else `ID`) from the deployment's os-release.
fn os_name(dir: &std::path::Path) -> Option<String> {
    ["usr/lib/os-release", "etc/os-release"]
        .iter()
        .find_map(|p| fs::read_to_string(dir.join(p)).ok())
        .and_then(|text| {
            let value = |key: &str| {
                text.lines().find_map(|l| {
                    let v = l.strip_prefix(key)?.strip_prefix('=')?;
                    Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                })
            };
            value("PRETTY_NAME").or_else(|| value("ID"))
        })
}

impl Sysroot {
    /// The BLS title OSTree writes: os-release name, the commit's `version` unless the
    /// name already contains it, and `(ostree:INDEX)`, or `(ostree:OSNAME:INDEX)` when
    /// the entries are of several stateroots (`several_os`).
    fn entry_title(&self, d: &Deployment, index: usize, several_os: bool) -> Result<String, Error> {
        let mut title = os_name(&self.dir_of(d)).unwrap_or_else(|| d.osname.clone());
        let commit = self.repo().load_commit(&d.checksum)?;
        let version = commit.metadata_string("version");
        if let Some(version) = version.filter(|v| !v.is_empty() && !title.contains(v.as_str())) {
            title.push(' ');
            title.push_str(&version);
        }
        if several_os {
            title.push_str(&format!(" (ostree:{}:{index})", d.osname));
        } else {
            title.push_str(&format!(" (ostree:{index})"));
        }
        Ok(title)
    }

    /// Makes `list` the deployment list (first = default) in a new boot version and
    /// commits it by swapping `/boot/loader`. Returns the new state; the old boot
    /// version is left for [`Sysroot::cleanup`].
    pub(crate) fn write_deployments(
        &self,
        current: &BootState,
        mut list: Vec<Deployment>,
    ) -> Result<BootState, Error> {
        let root = self.path();
        // As OSTree: when every position keeps its stateroot, kernel, arguments and
        // version (the title), the
        // boot entries stay valid, so only the boot links change (a new subbootversion
        // under the same bootversion) and `/boot` is not rewritten.
        let version = |d: &Deployment| {
            Ok::<_, Error>(
                self.repo()
                    .load_commit(&d.checksum)?
                    .metadata_string("version"),
            )
        };
        let mut same_boot = current.deployments.len() == list.len();
        for (old, new) in current.deployments.iter().zip(&list) {
            same_boot = same_boot
                && old.osname == new.osname
                && old.bootcsum == new.bootcsum
                && boot_kargs(&old.kargs) == boot_kargs(&new.kargs)
                && version(old)? == version(new)?;
        }
        let (bootversion, subbootversion) = if same_boot {
            (current.bootversion, 1 - current.subbootversion.min(1))
        } else {
            let bootversion = 1 - current.bootversion;
            (
                bootversion,
                1 - self.read_subbootversion(bootversion)?.min(1),
            )
        };
        let mut serials: HashMap<(String, String), u32> = HashMap::new();
        for d in &mut list {
            let next = serials
                .entry((d.osname.clone(), d.bootcsum.clone()))
                .or_default();
            d.bootserial = *next;
            *next += 1;
        }

        if same_boot {
            for (new, old) in list.iter_mut().zip(&current.deployments) {
                new.kargs = old.kargs.clone();
            }
            // The refs come first: once `ostree/boot.N` is switched (the commit
            // point here), the new list must already be kept from pruning.
            self.step("boot links")?;
            self.write_boot_links(&list, bootversion, subbootversion)?;
            self.step("deployment refs")?;
            self.write_deployment_refs(&list, bootversion, subbootversion)?;
            self.freeze_thaw_boot()?;
            self.step("swap boot links")?;
            self.swap_boot_links(bootversion, subbootversion)?;
            self.bump_deploy_mtime()?;
            return Ok(BootState {
                bootversion,
                subbootversion,
                deployments: list,
            });
        }

        self.step("install kernels")?;
        let mut layouts = Vec::new();
        for d in &list {
            let layout = KernelLayout::find(&self.dir_of(d), self.debug().no_dtb)?;
            self.install_kernel(&d.osname, &d.bootcsum, &layout)?;
            layouts.push(layout);
        }

        self.step("boot links")?;
        self.write_boot_links(&list, bootversion, subbootversion)?;
        self.swap_boot_links(bootversion, subbootversion)?;

        self.step("boot entries")?;
        let loader = root.join(format!("boot/loader.{bootversion}"));
        fsutil::remove_tree(&loader)?;
        let entries = loader.join("entries");
        fs::create_dir_all(&entries).at("create directory", &entries)?;
        let n = list.len();
        let several_os = list.iter().any(|d| d.osname != list[0].osname);
        let mut written = Vec::with_capacity(n);
        for (i, (d, layout)) in list.iter_mut().zip(&layouts).enumerate() {
            let prefix = format!(
                "/ostree/boot.{bootversion}/{}/{}/{}",
                d.osname, d.bootcsum, d.bootserial
            );
            if layout.initramfs.is_none() {
                d.kargs.replace_or_append(&format!(
                    "init={prefix}/usr/lib/ostree/ostree-prepare-root"
                ));
            }
            d.kargs.replace_or_append(&format!("ostree={prefix}"));
            let boot = format!("/ostree/{}-{}", d.osname, d.bootcsum);
            let (kernel, initramfs) = layout.boot_names();
            let mut entry = BlsEntry::default();
            entry.push("title", &self.entry_title(d, i, several_os)?);
            entry.push("version", &(n - i).to_string());
            entry.push("options", &d.kargs.to_string());
            entry.push("linux", &format!("{boot}/{kernel}"));
            if let Some(initramfs) = initramfs {
                entry.push("initrd", &format!("{boot}/{initramfs}"));
            }
            if let Some(devicetree) = layout.devicetree_name() {
                entry.push("devicetree", &format!("{boot}/{devicetree}"));
            }
            if layout.dtb_dir.is_some() {
                entry.push("fdtdir", &format!("{boot}/dtb"));
            }
            let path = entries.join(format!("ostree-{}-{}.conf", n - i, d.osname));
            write_file(
                &path,
                entry.to_text().as_bytes(),
                WriteOptions::replace(0o644),
            )?;
            written.push(entry);
        }
        if grub::enabled(root) {
            grub::write_menu(&loader, &written)?;
        }
        if uboot::enabled(root)
            && let Some(default) = list.first()
        {
            uboot::write_env(&loader, &written, &self.dir_of(default))?;
        }
        fsutil::sync_dir(&entries)?;
        fsutil::sync_dir(&loader)?;

        self.step("deployment refs")?;
        self.write_deployment_refs(&list, bootversion, subbootversion)?;
        self.freeze_thaw_boot()?;
        let boot_boot = root.join("boot/boot");
        if fsutil::read_link(&boot_boot)?.is_none() {
            std::os::unix::fs::symlink(".", &boot_boot).at("create symlink", &boot_boot)?;
        }

        self.step("swap /boot/loader")?;
        replace_symlink(
            format!("loader.{bootversion}"),
            &root.join("boot/loader"),
            Durability::Sync,
        )?;
        self.bump_deploy_mtime()?;
        Ok(BootState {
            bootversion,
            subbootversion,
            deployments: list,
        })
    }

    /// `ostree/boot.B.S/OS/BOOTCSUM/SERIAL` links to each deployment.
    fn write_boot_links(
        &self,
        list: &[Deployment],
        bootversion: u8,
        subbootversion: u8,
    ) -> Result<(), Error> {
        let root = self.path();
        let bootdir_name = format!("boot.{bootversion}.{subbootversion}");
        let bootdir = root.join("ostree").join(&bootdir_name);
        fsutil::remove_tree(&bootdir)?;
        for d in list {
            let dir = bootdir.join(&d.osname).join(&d.bootcsum);
            fs::create_dir_all(&dir).at("create directory", &dir)?;
            let link = dir.join(d.bootserial.to_string());
            let target = format!("../../../deploy/{}/deploy/{}", d.osname, d.name());
            std::os::unix::fs::symlink(target, &link).at("create symlink", &link)?;
        }
        Ok(())
    }

    /// Switches `ostree/boot.B` to `boot.B.S`, durably.
    fn swap_boot_links(&self, bootversion: u8, subbootversion: u8) -> Result<(), Error> {
        replace_symlink(
            format!("boot.{bootversion}.{subbootversion}"),
            &self.path().join(format!("ostree/boot.{bootversion}")),
            Durability::Sync,
        )?;
        Ok(())
    }

    /// The refs `ostree/B/S/INDEX` that keep each deployment's commit from pruning,
    /// set in one repository transaction as OSTree sets them.
    fn write_deployment_refs(
        &self,
        list: &[Deployment],
        bootversion: u8,
        subbootversion: u8,
    ) -> Result<(), Error> {
        let refs: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    format!("ostree/{bootversion}/{subbootversion}/{i}"),
                    d.checksum,
                )
            })
            .collect();
        self.repo().begin_transaction()?.commit(&refs)?;
        Ok(())
    }

    /// Where OSTree freezes and thaws `/boot` before switching to new boot entries
    /// (ferro has synced each file and directory it wrote by then): only the
    /// `test-fifreeze` debug switch stops here.
    fn freeze_thaw_boot(&self) -> Result<(), Error> {
        match self.debug().test_fifreeze {
            true => Err(Error::TestFifreeze),
            false => Ok(()),
        }
    }

    /// As OSTree: a new mtime on `ostree/deploy` tells watchers (rpm-ostreed, GNOME
    /// Software) that the deployments changed.
    fn bump_deploy_mtime(&self) -> Result<(), Error> {
        let deploy = self.path().join("ostree/deploy");
        fs::File::open(&deploy)
            .and_then(|dir| dir.set_modified(std::time::SystemTime::now()))
            .at("update the modification time of", &deploy)?;
        Ok(())
    }
}

/// The kernel arguments that decide whether a boot entry must change: all but those the
/// boot links determine (`ostree=`, `init=`).
fn boot_kargs(kargs: &crate::kargs::Kargs) -> Vec<&String> {
    kargs
        .args()
        .iter()
        .filter(|a| !a.starts_with("ostree=") && !a.starts_with("init="))
        .collect()
}
