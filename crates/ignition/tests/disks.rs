//! The disks, mount, files and umount stages on a real loop device, through the same
//! engine entry point as `ferro ignition run`.
//!
//! Needs root, a free loop device and sgdisk, mkfs.ext4, mkfs.vfat, blkid, partx and
//! wipefs; without them each test prints why it is skipped and passes. Every test
//! unmounts what is mounted under its temp dir and detaches its loop device in a drop
//! guard, also when it fails.

#[path = "support/workdir.rs"]
mod workdir;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use ferro_ignition::disks::Devices;
use ferro_ignition::engine::{self, EngineError, Outcome, Stage};
use ferro_ignition::sources::{Platform, Sources};
use ferro_sys::CommandRunExt;

/// Loop devices and by-* lookups are machine-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const TOOLS: &[&str] = &[
    "losetup",
    "sgdisk",
    "mkfs.ext4",
    "mkfs.vfat",
    "blkid",
    "partx",
    "wipefs",
    "mount",
];

const LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const DATA_GUID: &str = "6A3F7C2E-5B1D-4E8A-9C0F-1D2E3F4A5B6C";
const DATA_UUID: &str = "3f1b9e2a-7c4d-4e5f-8a6b-9c0d1e2f3a4b";

/// A temp dir with an image attached to a loop device; detached (after unmounting
/// everything below the dir) when dropped.
struct Bench {
    dir: tempfile::TempDir,
    loop_dev: String,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut targets: Vec<&str> = mountinfo
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|target| target.starts_with(&prefix))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for target in targets {
            let _ = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH);
        }
        let _ = Command::new("losetup").args(["-d", &self.loop_dev]).run();
    }
}

fn tool_missing(tool: &str) -> bool {
    !std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// A bench with a `mib` MiB image, or `None` (with the reason printed) when this machine
/// cannot run the test.
fn bench(test: &str, mib: u64) -> Option<Bench> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping {test}: needs root for loop devices and mounts");
        return None;
    }
    if let Some(tool) = TOOLS.iter().find(|t| tool_missing(t)) {
        eprintln!("skipping {test}: {tool} is not installed (apt-get install gdisk dosfstools)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    std::fs::File::create(&image)
        .and_then(|f| f.set_len(mib << 20))
        .unwrap();
    let attached = Command::new("losetup")
        .args(["-f", "--show", "-P"])
        .arg(&image)
        .run_get_string();
    let loop_dev = match attached {
        Ok(stdout) => stdout.trim().to_owned(),
        Err(error) => {
            eprintln!("skipping {test}: no loop device: {error}");
            return None;
        }
    };
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    std::fs::write(dir.path().join("boot_id"), "abc\n").unwrap();
    Some(Bench { dir, loop_dev })
}

impl Bench {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `/dev/loopNpM`, which the stages resolve even when udev did not make it.
    fn part(&self, n: u32) -> String {
        format!("{}p{n}", self.loop_dev)
    }

    /// A unique partition label (by-partlabel lookups scan every device of the machine).
    fn plabel(&self, name: &str) -> String {
        let loop_name = self.loop_dev.trim_start_matches("/dev/");
        format!("{name}-{}-{loop_name}", std::process::id())
    }

    fn options(&self, stage: Stage) -> engine::Options {
        let env = workdir::ignition_env(self.dir.path());
        let sources = Sources::from_lookup(Platform::File, |name| env.get(name).cloned());
        engine::Options {
            config_cache: self.path("run/ignition.json"),
            state_file: self.path("run/state"),
            neednet: self.path("run/neednet"),
            boot_id: self.path("boot_id"),
            fetch_timeout: Some(Duration::from_secs(2)),
            ..engine::Options::new(stage, sources, self.path("root"))
        }
    }

    /// Caches `config` with the fetch stage.
    fn fetch(&self, config: &str) {
        std::fs::write(self.path("config.ign"), config).unwrap();
        let outcome = engine::run(&self.options(Stage::Fetch)).unwrap();
        assert!(matches!(outcome, Outcome::Cached { .. }), "{outcome:?}");
    }

    fn stage(&self, stage: Stage) -> Result<Vec<String>, EngineError> {
        Ok(match engine::run(&self.options(stage))? {
            Outcome::Applied { changes, .. } => {
                changes.changes.iter().map(|c| c.to_string()).collect()
            }
            _ => Vec::new(),
        })
    }

    fn devices(&self) -> Devices {
        Devices::new(self.path("run/dev"))
    }

    /// `blkid -p -s KEY -o value` of partition `n`.
    fn blkid(&self, n: u32, key: &str) -> String {
        let node = self.devices().resolve(&self.part(n)).unwrap();
        // Any status: blkid exits 2 when the key is not there, which reads as "".
        let output = Command::new("blkid")
            .args(["-p", "-s", key, "-o", "value"])
            .arg(node)
            .run_capture()
            .unwrap_or_else(|error| panic!("{error}"));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn sgdisk(&self, args: &[&str]) -> String {
        Command::new("sgdisk")
            .args(args)
            .arg(&self.loop_dev)
            .run_get_string()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Mounts partition `n` at a scratch dir, runs `check` on it, unmounts.
    fn inspect(&self, n: u32, check: impl FnOnce(&Path)) {
        let node = self.devices().resolve(&self.part(n)).unwrap();
        let at = self.path(&format!("inspect{n}"));
        std::fs::create_dir_all(&at).unwrap();
        Command::new("mount")
            .arg(&node)
            .arg(&at)
            .run()
            .unwrap_or_else(|error| panic!("{error}"));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&at)));
        let _ = rustix::mount::unmount(&at, rustix::mount::UnmountFlags::empty());
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    fn is_mounted(&self, inside_root: &str) -> bool {
        let target = format!("{}{inside_root}", self.path("root").display());
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|line| line.split(' ').nth(4) == Some(target.as_str()))
    }
}

/// Whether the running kernel can mount vfat (some VM kernels lack it).
fn kernel_has_vfat() -> bool {
    std::fs::read_to_string("/proc/filesystems").is_ok_and(|list| {
        list.lines()
            .any(|l| l.split_whitespace().last() == Some("vfat"))
    })
}

/// The config of the end-to-end test: a GPT with ESP, data and a fill-the-rest partition;
/// ext4 on data at /srv, ext4 on the rest nested at /srv/extra (listed first: mounts go
/// shallowest first), vfat on the ESP at /srv/efi when the kernel can mount it; files on
/// the mounted filesystems.
fn full_config(bench: &Bench, wipe: bool) -> String {
    let data = bench.plabel("data");
    let (efi_path, efi_file) = if kernel_has_vfat() {
        (
            r#","path":"/srv/efi""#,
            r#",{"path":"/srv/efi/boot.txt","contents":{"source":"data:,efi"},"overwrite":true}"#,
        )
    } else {
        ("", "")
    };
    format!(
        r#"{{"ignition":{{"version":"3.4.0"}},
  "storage":{{
    "disks":[{{"device":"{dev}","wipeTable":{wipe},"partitions":[
      {{"number":1,"label":"esp","sizeMiB":16,"typeGuid":"{ESP}"}},
      {{"number":2,"label":"{data}","sizeMiB":48,"typeGuid":"{LINUX}","guid":"{DATA_GUID}"}},
      {{"label":"spare","sizeMiB":0}}]}}],
    "filesystems":[
      {{"device":"{p3}","format":"ext4","label":"extra","path":"/srv/extra","wipeFilesystem":{wipe}}},
      {{"device":"{p1}","format":"vfat","label":"EFI","uuid":"1234-ABCD","wipeFilesystem":{wipe}{efi_path}}},
      {{"device":"/dev/disk/by-partlabel/{data}","format":"ext4","label":"data","uuid":"{DATA_UUID}",
        "path":"/srv","mountOptions":["noatime"],"wipeFilesystem":{wipe}}}],
    "files":[
      {{"path":"/srv/hello.txt","contents":{{"source":"data:,hello"}},"mode":420,"overwrite":true}},
      {{"path":"/srv/extra/x.txt","contents":{{"source":"data:,extra"}},"overwrite":true}}{efi_file}]}}}}"#,
        dev = bench.loop_dev,
        p1 = bench.part(1),
        p3 = bench.part(3),
    )
}

#[test]
fn partitions_formats_mounts_and_reuses() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(bench) = bench("partitions_formats_mounts_and_reuses", 96) else {
        return;
    };

    // First boot: wipe, partition, format, mount, write, unmount.
    bench.fetch(&full_config(&bench, true));
    let disks = bench.stage(Stage::Disks).unwrap();
    assert!(
        disks.iter().any(|c| c.contains("created partition 3")),
        "{disks:?}"
    );
    assert!(
        disks
            .iter()
            .any(|c| c.contains("created a vfat filesystem"))
    );
    let vfat = kernel_has_vfat();
    if !vfat {
        eprintln!("the kernel cannot mount vfat: the ESP is formatted but not mounted");
    }
    let mounted = bench.stage(Stage::Mount).unwrap();
    assert_eq!(mounted.len(), 2 + usize::from(vfat), "{mounted:?}");
    assert!(
        mounted[0].contains("on /srv "),
        "shallowest first: {mounted:?}"
    );
    assert!(bench.is_mounted("/srv") && bench.is_mounted("/srv/extra"));
    assert_eq!(bench.is_mounted("/srv/efi"), vfat);
    let state = std::fs::read_to_string(bench.path("run/state")).unwrap();
    assert!(
        state.contains("\"mounts\"") && state.contains("/srv/extra"),
        "{state}"
    );
    bench.stage(Stage::Files).unwrap();
    let unmounted = bench.stage(Stage::Umount).unwrap();
    assert!(
        unmounted.last().unwrap().contains("/srv "),
        "deepest first: {unmounted:?}"
    );
    assert!(!bench.is_mounted("/srv") && !bench.is_mounted("/srv/extra"));
    assert!(!bench.is_mounted("/srv/efi"));
    let state = std::fs::read_to_string(bench.path("run/state")).unwrap();
    assert!(!state.contains("\"mounts\""), "{state}");

    // What is on the disk now.
    let table = bench.sgdisk(&["-p"]);
    for label in ["esp", &bench.plabel("data"), "spare"] {
        assert!(table.contains(label), "{label} missing from {table}");
    }
    let info = bench.sgdisk(&["-i", "2"]);
    assert!(info.contains(LINUX) && info.contains(DATA_GUID), "{info}");
    assert!(info.contains("98304 sectors"), "48 MiB: {info}");
    assert!(bench.sgdisk(&["-i", "1"]).contains(ESP));
    assert_eq!(bench.blkid(1, "TYPE"), "vfat");
    assert_eq!(bench.blkid(1, "LABEL"), "EFI");
    assert_eq!(bench.blkid(1, "UUID"), "1234-ABCD");
    assert_eq!(bench.blkid(2, "TYPE"), "ext4");
    assert_eq!(bench.blkid(2, "LABEL"), "data");
    assert_eq!(bench.blkid(2, "UUID"), DATA_UUID);
    assert_eq!(bench.blkid(3, "LABEL"), "extra");
    bench.inspect(2, |at| {
        let hello = std::fs::read_to_string(at.join("hello.txt")).unwrap();
        assert_eq!(hello, "hello");
        assert!(at.join("extra").is_dir());
        assert_eq!(at.join("efi").is_dir(), vfat);
    });
    bench.inspect(3, |at| {
        assert_eq!(std::fs::read_to_string(at.join("x.txt")).unwrap(), "extra");
    });
    if vfat {
        bench.inspect(1, |at| {
            assert_eq!(std::fs::read_to_string(at.join("boot.txt")).unwrap(), "efi");
        });
    }

    // Second boot without wiping: everything is reused, nothing is lost.
    bench.fetch(&full_config(&bench, false));
    let disks = bench.stage(Stage::Disks).unwrap();
    for n in 1..=3 {
        let kept = format!("kept partition {n} (it matches)");
        assert!(disks.iter().any(|c| c.contains(&kept)), "{disks:?}");
    }
    assert_eq!(
        disks.iter().filter(|c| c.contains("reused the")).count(),
        3,
        "{disks:?}"
    );
    bench.stage(Stage::Mount).unwrap();
    let root = bench.path("root");
    assert_eq!(
        std::fs::read_to_string(root.join("srv/hello.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("srv/extra/x.txt")).unwrap(),
        "extra"
    );
    assert_eq!(root.join("srv/efi/boot.txt").is_file(), vfat);
    bench.stage(Stage::Files).unwrap();
    bench.stage(Stage::Umount).unwrap();
    assert!(!bench.is_mounted("/srv"));
    assert_eq!(bench.blkid(2, "UUID"), DATA_UUID);

    // A filesystem that does not match and may not be wiped is an error.
    let config = full_config(&bench, false).replace(r#""label":"data""#, r#""label":"other""#);
    bench.fetch(&config);
    let error = bench.stage(Stage::Disks).unwrap_err().to_string();
    assert!(
        error.contains("$.storage.filesystems.2") && error.contains("wipeFilesystem is false"),
        "{error}"
    );
}

#[test]
fn partitions_that_do_not_fit_change_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(bench) = bench("partitions_that_do_not_fit_change_nothing", 64) else {
        return;
    };
    bench.fetch(&format!(
        r#"{{"ignition":{{"version":"3.4.0"}},"storage":{{"disks":[{{"device":"{}","partitions":[
            {{"number":1,"label":"a","sizeMiB":16}},{{"number":2,"label":"b","sizeMiB":200}}]}}]}}}}"#,
        bench.loop_dev
    ));
    let error = bench.stage(Stage::Disks).unwrap_err().to_string();
    assert!(
        error.contains("$.storage.disks.0")
            && error.contains("do not fit")
            && error.contains("Could not create partition 2"),
        "{error}"
    );
    let table = bench.sgdisk(&["-p"]);
    assert!(!table.contains("  a"), "nothing may be created: {table}");

    // A partition that differs from the config is kept unless it may be replaced.
    bench.sgdisk(&["-n", "1:0:+8M", "-c", "1:a"]);
    bench.fetch(&format!(
        r#"{{"ignition":{{"version":"3.4.0"}},"storage":{{"disks":[{{"device":"{}","partitions":[
            {{"number":1,"label":"a","sizeMiB":16}}]}}]}}}}"#,
        bench.loop_dev
    ));
    let error = bench.stage(Stage::Disks).unwrap_err().to_string();
    assert!(
        error.contains("$.storage.disks.0.partitions.0")
            && error.contains("does not match")
            && error.contains("wipePartitionEntry"),
        "{error}"
    );
}

#[test]
fn deletes_resizes_and_recreates_partitions() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(bench) = bench("deletes_resizes_and_recreates_partitions", 64) else {
        return;
    };
    bench.sgdisk(&[
        "-n", "1:0:+8M", "-c", "1:keep", "-n", "2:0:+8M", "-c", "2:gone",
    ]);
    bench.sgdisk(&["-n", "3:0:+4M", "-c", "3:old"]);
    let guid = |info: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix("Partition unique GUID: "))
            .unwrap()
            .to_owned()
    };
    let guid1 = guid(&bench.sgdisk(&["-i", "1"]));
    bench.fetch(&format!(
        r#"{{"ignition":{{"version":"3.4.0"}},"storage":{{"disks":[{{"device":"{}","partitions":[
            {{"number":2,"shouldExist":false}},
            {{"number":1,"sizeMiB":16,"resize":true}},
            {{"number":3,"label":"new","sizeMiB":4,"wipePartitionEntry":true}},
            {{"number":5,"shouldExist":false}}]}}],
          "filesystems":[{{"device":"{}","format":"ext4","label":"grown"}}]}}}}"#,
        bench.loop_dev,
        bench.part(1),
    ));
    let changes = bench.stage(Stage::Disks).unwrap();
    assert!(
        changes.iter().any(|c| c.contains("deleted partition 2")),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|c| c.contains("resized partition 1")),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|c| c.contains("recreated partition 3")),
        "{changes:?}"
    );
    let info = bench.sgdisk(&["-i", "1"]);
    assert!(
        info.contains("32768 sectors") && info.contains("'keep'"),
        "{info}"
    );
    assert_eq!(guid(&info), guid1, "resize keeps the GUID");
    let table = bench.sgdisk(&["-p"]);
    assert!(!table.contains("gone") && table.contains("new"), "{table}");
    assert_eq!(bench.blkid(1, "LABEL"), "grown");
}
