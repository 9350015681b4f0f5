//! `compose_image` on real loop devices with real `sgdisk`, `mkfs` and `grub-mkimage`:
//! the partition table, the sysroot inside, GRUB's boot sector and menu, and that no
//! loop device or mount outlives a build, failed or not. Needs root; skips with a
//! message when that, loop devices or a tool are missing.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use ferro_compose::commit::commit_tree;
use ferro_compose::disk::{BOOT, ESP, LAYOUT, ROOT};
use ferro_compose::grub_bios::GRUB_PC_DIR;
use ferro_compose::image::{self, ImageFormat, ImageOptions, compose_image};
use ferro_compose::loopdev::LoopDevice;
use ferro_compose::mounts::Mount;
use ferro_sys::CommandRunExt;

/// Builds run one at a time, so "nothing is left mounted" is about this build only.
static SERIAL: Mutex<()> = Mutex::new(());

/// Whether images can be built here; says why not.
fn can_build() -> bool {
    let missing = if !rustix::process::geteuid().is_root() {
        Some("not root".to_owned())
    } else if !Path::new("/dev/loop-control").exists() {
        Some("no loop devices (/dev/loop-control)".to_owned())
    } else if !Path::new(GRUB_PC_DIR).join("boot.img").exists() {
        Some(format!(
            "{GRUB_PC_DIR} missing (apt-get install grub-pc-bin)"
        ))
    } else if !Path::new(ferro_compose::grub_efi::GRUB_EFI_DIR).exists() {
        Some("no EFI GRUB (apt-get install grub-efi-amd64-bin)".to_owned())
    } else {
        // The error names the Debian package of a missing tool.
        [
            ("mcopy", "--version"),
            ("mkfs.vfat", "--help"),
            ("sgdisk", "--version"),
            ("mkfs.xfs", "-V"),
            ("mkfs.ext4", "-V"),
            ("grub-mkimage", "--version"),
            ("qemu-img", "--version"),
        ]
        .iter()
        .find_map(|(tool, arg)| Command::new(tool).arg(arg).run_capture().err())
        .map(|e| e.to_string())
    };
    if let Some(why) = &missing {
        eprintln!("skipped: cannot build disk images here: {why}");
    }
    missing.is_none()
}

/// A repository with a small bootable commit on `test/os` (a fake kernel unless
/// `kernel` is false) and its directory.
fn repo(dir: &Path, kernel: bool) -> PathBuf {
    let tree = dir.join("tree");
    let modules = tree.join("usr/lib/modules/6.1.0");
    fs::create_dir_all(&modules).unwrap();
    if kernel {
        fs::write(modules.join("vmlinuz"), "not really a kernel").unwrap();
        fs::write(modules.join("initramfs.img"), "not really an initramfs").unwrap();
    }
    fs::create_dir_all(tree.join("usr/etc")).unwrap();
    fs::write(
        tree.join("usr/etc/os-release"),
        "ID=ferrotest\nPRETTY_NAME=\"Ferro Test\"\n",
    )
    .unwrap();
    let repo = dir.join("repo");
    commit_tree(&repo, &tree, "test/os", "7", &[]).unwrap();
    repo
}

fn options(dir: &Path, repo: PathBuf, format: ImageFormat) -> ImageOptions {
    ImageOptions {
        repo,
        rev: "test/os".into(),
        output: dir.join("out/disk.img"),
        format,
        size: 1 << 30,
        kargs: vec!["quiet".into()],
        remote: None,
    }
}

/// Backing files of loop devices that lie under `dir` (deleted ones too).
fn loops_under(dir: &Path) -> Vec<String> {
    let out = Command::new("losetup")
        .args(["--list", "--noheadings", "--output", "BACK-FILE"])
        .run_get_string()
        .unwrap();
    out.lines()
        .map(str::trim)
        .filter(|file| Path::new(file).starts_with(dir))
        .map(str::to_owned)
        .collect()
}

/// Mount points left by image builds (their directories are `ferro-image-*`).
fn image_mounts() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|point| point.contains("/ferro-image-"))
        .map(str::to_owned)
        .collect()
}

/// Files in the output directory besides `keep`: leftovers of a build.
fn others(dir: &Path, keep: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

#[test]
fn raw_image_has_the_gpt_sysroot_and_grub_and_releases_everything() {
    if !can_build() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path(), repo(dir.path(), true), ImageFormat::Raw);
    options.remote = Some(image::Remote {
        name: "ferrocore".into(),
        url: "http://10.0.2.2:8000/repo".into(),
    });
    fs::create_dir_all(options.output.parent().unwrap()).unwrap();
    let outcome = compose_image(&options, &mut |_| {}).unwrap();
    let disk = &options.output;

    assert_eq!(
        loops_under(dir.path()),
        Vec::<String>::new(),
        "the loop device is detached"
    );
    assert_eq!(
        image_mounts(),
        Vec::<String>::new(),
        "nothing stays mounted"
    );
    assert_eq!(
        others(disk.parent().unwrap(), "disk.img"),
        Vec::<String>::new()
    );
    assert_eq!(fs::metadata(disk).unwrap().len(), 1 << 30);

    let table = Command::new("sgdisk")
        .arg("-p")
        .arg(disk)
        .run_get_string()
        .unwrap();
    for (line, p) in table
        .lines()
        .rev()
        .take(LAYOUT.len())
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .zip(LAYOUT)
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], p.number.to_string(), "{table}");
        assert_eq!(words[1], p.start.to_string(), "{table}");
        assert_eq!(&words[words.len() - 2..], [p.type_code, p.label], "{table}");
    }

    // UEFI: GRUB's EFI image at the removable-media path of the FAT ESP.
    let esp = format!("{}@@{}", disk.display(), ESP.start * 512);
    let listing = Command::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-b", "-i", &esp, "::/EFI/BOOT"])
        .run_get_string()
        .unwrap();
    assert!(listing.contains("BOOTX64.EFI"), "{listing}");

    let mbr = fs::read(disk).unwrap();
    assert_eq!(&mbr[510..512], [0x55, 0xaa]);
    assert_eq!(
        &mbr[0x5c..0x64],
        2048u64.to_le_bytes(),
        "boot sector → core image"
    );
    let diskboot = fs::read(Path::new(GRUB_PC_DIR).join("diskboot.img")).unwrap();
    assert_eq!(
        &mbr[2048 * 512..2048 * 512 + 0x1e8],
        &diskboot[..0x1e8],
        "the core image is in the BIOS boot partition"
    );
    drop(mbr);

    let device = LoopDevice::attach(disk, LAYOUT.len() as u32).unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let root = Mount::new(&device.partition(ROOT.number), mnt.path(), "xfs").unwrap();
    let boot = Mount::new(
        &device.partition(BOOT.number),
        &mnt.path().join("boot"),
        "ext4",
    )
    .unwrap();
    let m = mnt.path();
    let deployment = m
        .join("ostree/deploy")
        .join(image::OSNAME)
        .join(format!("deploy/{}.0", outcome.commit));
    assert!(m.join("ostree/repo/config").is_file());
    assert_eq!(
        fs::read_to_string(deployment.join("etc/os-release")).unwrap(),
        "ID=ferrotest\nPRETTY_NAME=\"Ferro Test\"\n"
    );
    let origin = fs::read_to_string(deployment.with_extension("0.origin")).unwrap();
    assert!(origin.contains("refspec=ferrocore:test/os"), "{origin}");
    let config = fs::read_to_string(m.join("ostree/repo/config")).unwrap();
    assert!(
        config.contains("[remote \"ferrocore\"]\nurl=http://10.0.2.2:8000/repo\n"),
        "{config}"
    );

    let entry = fs::read_to_string(
        m.join("boot/loader/entries")
            .join(format!("ostree-1-{}.conf", image::OSNAME)),
    )
    .unwrap();
    assert!(entry.contains("title Ferro Test 7 (ostree:0)\n"), "{entry}");
    let options_line = entry.lines().find(|l| l.starts_with("options ")).unwrap();
    assert!(
        options_line.starts_with(
            "options root=LABEL=root rw quiet console=ttyS0,115200n8 ignition.platform.id=qemu loglevel=6 systemd.show_status=auto ostree=/ostree/boot.1/ferrocore/"
        ),
        "{entry}"
    );
    assert_eq!(outcome.kargs, options_line["options ".len()..]);

    let menu = fs::read_to_string(m.join("boot/loader/grub.cfg")).unwrap();
    assert!(
        menu.contains("menuentry 'Ferro Test 7 (ostree:0)'"),
        "{menu}"
    );
    assert!(menu.contains("quiet console=ttyS0,115200n8"), "{menu}");
    assert!(menu.contains("$ignition_firstboot\n"), "{menu}");
    assert!(menu.contains("if [ -f /ignition.firstboot ]"), "{menu}");
    let stub = fs::read_to_string(m.join("boot/grub/grub.cfg")).unwrap();
    assert!(stub.contains("source /loader/grub.cfg"), "{stub}");
    assert!(m.join("boot/ignition.firstboot").is_file());
    assert!(m.join("boot/grub/i386-pc/normal.mod").is_file());
    assert!(m.join("boot/grub/i386-pc/linux.mod").is_file());
    boot.unmount().unwrap();
    root.unmount().unwrap();
    device.detach().unwrap();
}

#[test]
fn qcow2_output_is_converted_and_the_raw_work_file_removed() {
    if !can_build() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let options = options(dir.path(), repo(dir.path(), true), ImageFormat::Qcow2);
    fs::create_dir_all(options.output.parent().unwrap()).unwrap();
    compose_image(&options, &mut |_| {}).unwrap();
    let mut magic = [0u8; 4];
    fs::File::open(&options.output)
        .and_then(|mut file| file.read_exact(&mut magic))
        .unwrap();
    assert_eq!(&magic, b"QFI\xfb", "a qcow2 file starts with its magic");
    assert_eq!(
        others(options.output.parent().unwrap(), "disk.img"),
        Vec::<String>::new()
    );
}

#[test]
fn a_failed_build_leaves_no_loop_device_mount_or_output() {
    if !can_build() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // No kernel: deploying fails after the disk is attached, formatted and mounted.
    let options = options(dir.path(), repo(dir.path(), false), ImageFormat::Raw);
    let out = options.output.parent().unwrap();
    fs::create_dir_all(out).unwrap();
    let mut steps = Vec::new();
    let err = compose_image(&options, &mut |s| steps.push(s.to_owned())).unwrap_err();
    assert!(
        matches!(
            err,
            image::Error::Sysroot(ferro_sysroot::Error::NoKernel(_))
        ),
        "{err}"
    );
    assert_eq!(steps.last().map(String::as_str), Some("deploy"));
    assert_eq!(
        image_mounts(),
        Vec::<String>::new(),
        "nothing stays mounted"
    );
    assert_eq!(
        loops_under(dir.path()),
        Vec::<String>::new(),
        "the loop device is detached"
    );
    assert_eq!(
        others(out, ""),
        Vec::<String>::new(),
        "no output, no work file"
    );
}
