//! `ferro_installer::install` on real files and loop devices with real `sfdisk`,
//! `mkfs.ext4` and mounts: a small image shaped like ferrocore's (GPT with a `boot`
//! ext4 partition holding BLS entries) written onto a larger disk that has a data
//! partition to keep; and every refusal leaving the disk byte for byte as it was.
//! Needs root (loop devices, mounts); skips with a message otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use ferro_compose::loopdev::LoopDevice;
use ferro_compose::mounts::Mount;
use ferro_installer::install::{
    IgnitionSource, ImageSource, InstallError, InstallOptions, install,
};
use ferro_installer::partitions;
use ferro_ostree::sign::SecretKey;
use ferro_sys::CommandRunExt;

/// Loop devices are a shared resource: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: u64 = 1 << 20;
const OPTIONS: &str = "root=LABEL=root rw console=ttyS0,115200n8 ignition.platform.id=qemu loglevel=6 ostree=/ostree/boot.1/ferrocore/abc/0";

fn can_run() -> bool {
    let why = if !rustix::process::geteuid().is_root() {
        Some("not root".to_owned())
    } else if !Path::new("/dev/loop-control").exists() {
        Some("no loop devices".to_owned())
    } else {
        [
            ("sfdisk", "--version"),
            ("sgdisk", "--version"),
            ("mkfs.ext4", "-V"),
        ]
        .iter()
        .find_map(|(t, a)| Command::new(t).arg(a).run_capture().err())
        .map(|e| e.to_string())
    };
    if let Some(why) = &why {
        eprintln!("skipped: {why}");
    }
    why.is_none()
}

/// A 40 MiB image laid out as ferrocore's: BIOS-BOOT, EFI-SYSTEM (1 MiB, left
/// empty), `boot` (ext4, 16 MiB, one BLS entry), `root` (some bytes), with its
/// `.sha256` beside it; without the ESP when `esp` is false.
fn image_with(dir: &Path, esp: bool) -> PathBuf {
    let path = dir.join("image.raw");
    fs::File::create(&path).unwrap().set_len(40 * MIB).unwrap();
    let esp_name = format!(
        "--change-name=2:{}",
        if esp { "EFI-SYSTEM" } else { "spare" }
    );
    Command::new("sgdisk")
        .args([
            "--new=1:2048:+1M",
            "--typecode=1:EF02",
            "--change-name=1:BIOS-BOOT",
        ])
        .args(["--new=2:4096:+1M", "--typecode=2:EF00", &esp_name])
        .args([
            "--new=3:6144:+16M",
            "--typecode=3:8300",
            "--change-name=3:boot",
        ])
        .args(["--new=4:0:0", "--typecode=4:8300", "--change-name=4:root"])
        .arg(&path)
        .run_get_output()
        .unwrap();
    let content = dir.join("bootfs");
    let entries = content.join("loader.1/entries");
    fs::create_dir_all(&entries).unwrap();
    std::os::unix::fs::symlink("loader.1", content.join("loader")).unwrap();
    fs::write(
        entries.join("ostree-1-ferrocore.conf"),
        format!(
            "title ferrocore 1\nversion 1\noptions {OPTIONS}\nlinux /ostree/v\ninitrd /ostree/i\n"
        ),
    )
    .unwrap();
    fs::write(content.join("ignition.firstboot"), "").unwrap();
    Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-L",
            "boot",
            "-E",
            &format!("offset={}", 6144 * 512),
            "-d",
        ])
        .arg(&content)
        .arg(&path)
        .arg("16M")
        .run_get_output()
        .unwrap();
    // Recognisable root bytes, and zeros around them the writer skips.
    let mut bytes = fs::read(&path).unwrap();
    bytes[ROOT + 4096..ROOT + 8192].fill(0xab);
    fs::write(&path, &bytes).unwrap();
    write_checksum(&path);
    path
}

fn image(dir: &Path) -> PathBuf {
    image_with(dir, true)
}

/// Where the test image's root partition starts, in bytes.
const ROOT: usize = (6144 + 16 * 2048) * 512;

fn write_checksum(image: &Path) {
    let digest = ferro_installer::verify::sha256_file(image, &mut |_| {}).unwrap();
    let mut name = image.as_os_str().to_owned();
    name.push(".sha256");
    fs::write(
        name,
        format!("{}  image.raw\n", ferro_installer::verify::hex(&digest)),
    )
    .unwrap();
}

/// A 96 MiB disk with a GPT holding `data` (partition 5, 80–88 MiB, a marker inside).
fn disk(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::File::create(&path).unwrap().set_len(96 * MIB).unwrap();
    Command::new("sgdisk")
        .args(["--new=1:2048:+8M", "--change-name=1:old"])
        .args([
            &format!("--new=5:{}:+8M", 80 * 2048),
            "--change-name=5:data",
        ])
        .arg(&path)
        .run_get_output()
        .unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[(80 * MIB) as usize..(80 * MIB) as usize + 6].copy_from_slice(b"MARKER");
    fs::write(&path, &bytes).unwrap();
    path
}

fn options(device: &Path, image: &Path, config: &Path) -> InstallOptions {
    InstallOptions {
        device: device.to_owned(),
        image: ImageSource::File(image.to_owned()),
        ignition: Some(IgnitionSource::File(config.to_owned())),
        append_kargs: vec!["foo=bar".into()],
        delete_kargs: vec![],
        copy_network: None,
        platform: "metal".into(),
        console: vec!["ttyS1,9600".into()],
        save_partlabels: vec!["data".into()],
        save_partindexes: vec![],
        preserve_on_error: false,
        dry_run: false,
        verify_key: None,
        insecure: false,
    }
}

/// A scratch directory with the image and the config [`CONFIG`] in it.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let config = dir.path().join("config.ign");
    fs::write(&config, CONFIG).unwrap();
    (dir, image, config)
}

const CONFIG: &str = r#"{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core"}]}}"#;

/// The installed disk's boot partition files: (config, entry, copied network files).
fn boot_files(disk: &Path) -> (Option<String>, String, Vec<String>) {
    let device = LoopDevice::attach(disk, 3).unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let mount = Mount::new(&device.partition(3), mnt.path(), "ext4").unwrap();
    let config = fs::read_to_string(mnt.path().join("ignition/config.ign")).ok();
    let entry =
        fs::read_to_string(mnt.path().join("loader/entries/ostree-1-ferrocore.conf")).unwrap();
    let network: Vec<String> = fs::read_dir(mnt.path().join("ferro-firstboot-network"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    let menu = fs::read_to_string(mnt.path().join("loader/grub.cfg")).unwrap();
    assert!(menu.contains("ignition.platform.id=metal"), "{menu}");
    mount.unmount().unwrap();
    device.detach().unwrap();
    (config, entry, network)
}

#[test]
fn installs_with_config_kargs_and_kept_partition() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, image, config) = setup();
    let target = disk(dir.path(), "disk.img");

    let mut dry = options(&target, &image, &config);
    dry.dry_run = true;
    let before = fs::read(&target).unwrap();
    let plan = install(&dry, &mut |_| {}).unwrap();
    assert_eq!(
        fs::read(&target).unwrap(),
        before,
        "a dry run writes nothing"
    );
    assert!(
        plan.plan
            .iter()
            .any(|s| s.contains("keep partition 5 ('data')")),
        "{:?}",
        plan.plan
    );
    assert!(
        plan.plan.iter().any(|s| s.starts_with("verified SHA-256")),
        "{:?}",
        plan.plan
    );

    let network = dir.path().join("network");
    fs::create_dir_all(&network).unwrap();
    fs::write(network.join("10-static.network"), "[Match]\nName=en*\n").unwrap();
    let mut o = options(&target, &image, &config);
    o.copy_network = Some(network);
    let report = install(&o, &mut |_| {}).unwrap();
    assert!(
        report.written < report.image_size,
        "zero blocks skipped: {report:?}"
    );
    assert_eq!(fs::metadata(&target).unwrap().len(), 96 * MIB);
    let table = partitions::read(&target).unwrap();
    let names: Vec<(u32, &str)> = table.iter().map(|p| (p.number, p.name.as_str())).collect();
    assert_eq!(
        names,
        [
            (1, "BIOS-BOOT"),
            (2, "EFI-SYSTEM"),
            (3, "boot"),
            (4, "root"),
            (5, "data")
        ]
    );
    let bytes = fs::read(&target).unwrap();
    assert_eq!(
        &bytes[(80 * MIB) as usize..(80 * MIB) as usize + 6],
        b"MARKER"
    );
    assert!(bytes[ROOT + 4096..ROOT + 8192].iter().all(|&b| b == 0xab));
    drop(bytes);

    let (installed, entry, network) = boot_files(&target);
    assert_eq!(installed.as_deref(), Some(CONFIG));
    assert_eq!(network, ["10-static.network"], "--copy-network");
    let options_line = entry.lines().find(|l| l.starts_with("options ")).unwrap();
    assert_eq!(
        options_line,
        "options root=LABEL=root rw ignition.platform.id=metal loglevel=6 ostree=/ostree/boot.1/ferrocore/abc/0 console=ttyS1,9600 foo=bar"
    );
}

#[test]
fn refusals_leave_the_disk_untouched() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, image, config) = setup();
    let target = disk(dir.path(), "disk.img");
    let pristine = fs::read(&target).unwrap();
    let untouched = |what: &str| {
        assert!(
            fs::read(&target).unwrap() == pristine,
            "{what}: disk changed"
        )
    };

    // Too small.
    let small = dir.path().join("small.img");
    fs::File::create(&small).unwrap().set_len(16 * MIB).unwrap();
    let err = install(&options(&small, &image, &config), &mut |_| {}).unwrap_err();
    assert!(matches!(err, InstallError::TooSmall { .. }), "{err}");
    assert!(fs::read(&small).unwrap().iter().all(|&b| b == 0));

    // A kept partition where the image goes.
    let mut o = options(&target, &image, &config);
    o.save_partlabels = vec!["old".into()];
    let err = install(&o, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, InstallError::SavedOverlaps { number: 1, .. }),
        "{err}"
    );
    untouched("overlap");

    // Not an Ignition config.
    let bad = dir.path().join("bad.ign");
    fs::write(&bad, "{\"passwd\":{}}").unwrap();
    let err = install(&options(&target, &image, &bad), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("no ignition.version"), "{err}");
    untouched("config");

    // Wrong hash.
    let mut sums = image.as_os_str().to_owned();
    sums.push(".sha256");
    fs::write(&sums, format!("{}  image.raw\n", "0".repeat(64))).unwrap();
    let err = install(&options(&target, &image, &config), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, ferro_installer::install::InstallError::Verify(_)),
        "{err}"
    );
    assert!(err.to_string().contains("Nothing was written"), "{err}");
    untouched("hash");
    write_checksum(&image);

    // Signatures: missing, by an untrusted key, then good.
    let key = SecretKey::from_seed(&[1; 32]);
    let keys = dir.path().join("trusted.ed25519");
    fs::write(&keys, key.public_key().to_base64()).unwrap();
    let mut o = options(&target, &image, &config);
    o.verify_key = Some(keys.clone());
    let err = install(&o, &mut |_| {}).unwrap_err();
    assert!(matches!(err, InstallError::NoSignature(_)), "{err}");
    let digest = ferro_installer::verify::sha256_file(&image, &mut |_| {}).unwrap();
    let mut sig = image.as_os_str().to_owned();
    sig.push(".sig");
    let other = SecretKey::from_seed(&[2; 32]);
    fs::write(&sig, other.sign_bytes(&digest)).unwrap();
    let err = install(&o, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    untouched("signature");
    fs::write(&sig, key.sign_bytes(&digest)).unwrap();
    o.dry_run = true;
    let plan = install(&o, &mut |_| {}).unwrap();
    assert!(
        plan.plan.iter().any(|s| s.contains("Ed25519")),
        "{:?}",
        plan.plan
    );

    // An image without an ESP (it could not boot on UEFI).
    let no_esp_dir = dir.path().join("no-esp");
    fs::create_dir_all(&no_esp_dir).unwrap();
    let no_esp = image_with(&no_esp_dir, false);
    let err = install(&options(&target, &no_esp, &config), &mut |_| {}).unwrap_err();
    assert!(matches!(err, InstallError::NoEsp(_)), "{err}");
    assert!(err.to_string().contains("Nothing was written"), "{err}");
    untouched("no ESP");

    // In use: a loop device on the file; then the loop device with a mounted partition.
    let attached = LoopDevice::attach(&target, 0).unwrap();
    let err = install(&options(&target, &image, &config), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("is in use"), "{err}");
    drop(attached);
    untouched("loop-attached file");
}

#[test]
fn installs_onto_a_block_device_and_refuses_a_mounted_one() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, image, config) = setup();
    let backing = disk(dir.path(), "disk.img");
    let device = LoopDevice::attach(&backing, 0).unwrap();
    let mut o = options(device.path(), &image, &config);
    o.save_partlabels = vec![];
    install(&o, &mut |_| {}).unwrap();
    drop(device);
    let (installed, _, network) = boot_files(&backing);
    assert!(network.is_empty());
    assert_eq!(installed.as_deref(), Some(CONFIG));

    // Now mount the boot partition of the installed disk and try again.
    let device = LoopDevice::attach(&backing, 3).unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let mount = Mount::new(&device.partition(3), mnt.path(), "ext4").unwrap();
    let table = fs::read(&backing).unwrap()[..MIB as usize].to_vec();
    let err = install(&options(device.path(), &image, &config), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("is mounted on"), "{err}");
    mount.unmount().unwrap();
    device.detach().unwrap();
    // (Mounting changed the filesystem; the table shows whether the install wrote.)
    assert!(
        fs::read(&backing).unwrap()[..MIB as usize] == table[..],
        "nothing written"
    );
}

#[test]
fn a_failure_after_writing_wipes_the_table_unless_preserved() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, image, config) = setup();

    // Deleting an argument the image's entries lack fails once the image is written.
    let target = disk(dir.path(), "disk.img");
    let mut o = options(&target, &image, &config);
    o.delete_kargs = vec!["absent".into()];
    let err = install(&o, &mut |_| {}).unwrap_err();
    assert!(matches!(err, InstallError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("'absent' is not present"), "{err}");
    assert!(
        err.to_string().contains("kept partitions were put back"),
        "{err}"
    );
    let table = partitions::read(&target).unwrap();
    let names: Vec<(u32, &str)> = table.iter().map(|p| (p.number, p.name.as_str())).collect();
    assert_eq!(names, [(5, "data")], "only the kept partition is left");
    let bytes = fs::read(&target).unwrap();
    assert_eq!(
        &bytes[(80 * MIB) as usize..(80 * MIB) as usize + 6],
        b"MARKER"
    );
    drop(bytes);

    let target = disk(dir.path(), "disk2.img");
    o.device = target.clone();
    o.preserve_on_error = true;
    let err = install(&o, &mut |_| {}).unwrap_err();
    assert!(matches!(err, InstallError::Kargs(_)), "{err}");
    let table = partitions::read(&target).unwrap();
    assert!(
        table.iter().any(|p| p.name == "boot"),
        "left as written: {table:?}"
    );
}
