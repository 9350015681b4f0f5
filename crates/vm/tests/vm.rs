//! VMs under real QEMU: the accelerator probe, overlays made by real `qemu-img`, and the
//! run/list/stop cycle of a VM booting a one-sector disk that prints a line and halts.
//! Each test skips with a message when QEMU is not installed.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;
use ferro_vm::accel::{self, Accel};
use ferro_vm::overlay::{self, ImageFormat};
use ferro_vm::programs::{QEMU_IMG, QEMU_SYSTEM};
use ferro_vm::vm::{self, RunOptions, Stopped};

fn have(program: &str) -> bool {
    match Command::new(program).arg("--version").run_capture() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

/// What the test disk prints before it halts.
const DISK_MESSAGE: &str = "ferro test disk halted";

/// A 1 MiB raw disk whose boot sector prints [`DISK_MESSAGE`] on COM1 and halts.
fn halting_disk(path: &Path) {
    #[rustfmt::skip]
    let code = [
        0x31, 0xc0, 0x8e, 0xd8,       // xor ax, ax; mov ds, ax
        0xba, 0xf8, 0x03,             // mov dx, 0x3f8
        0xbe, 0x16, 0x7c,             // mov si, 0x7c16 (the message)
        0xac, 0x84, 0xc0, 0x74, 0x03, // lodsb; test al, al; jz halt
        0xee, 0xeb, 0xf8,             // out dx, al; jmp lodsb
        0xfa, 0xf4, 0xeb, 0xfc,       // halt: cli; hlt; jmp halt
    ];
    let mut disk = vec![0u8; 1 << 20];
    disk[..code.len()].copy_from_slice(&code);
    let message = format!("{DISK_MESSAGE}\n\0");
    disk[0x16..0x16 + message.len()].copy_from_slice(message.as_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    fs::write(path, disk).unwrap();
}

#[test]
fn probe_boots_to_long_mode_under_tcg() {
    if !have(QEMU_SYSTEM) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let result = accel::probe(Accel::Tcg, &dir.path().join("probe.bin")).unwrap();
    assert_eq!(
        result.serial, b"RPL",
        "the probe prints one letter per CPU mode"
    );
    assert!(result.passed());
    // How long it took is the benchmark's business, not a test's.
    eprintln!("TCG probe: {:?}", result.elapsed);
}

#[test]
fn detection_is_cached_and_rejects_nested_pvm() {
    if !have(QEMU_SYSTEM) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let verdict = accel::detect(dir.path()).unwrap();
    let first = start.elapsed();
    eprintln!("accelerator: {verdict:?}, probed in {first:?}");
    if Path::new("/sys/module/kvm_pvm").exists() {
        // Nested PVM: KVM "works" but stock guests hang; the probe must see that.
        assert_eq!(verdict, Accel::Tcg);
    }
    assert_eq!(accel::detect(dir.path()).unwrap(), verdict);
    // The verdict is read back, not probed again: a verdict planted in the cache for
    // this boot is what detection answers.
    let cache = dir.path().join("accel");
    let planted = if verdict == Accel::Kvm {
        Accel::Tcg
    } else {
        Accel::Kvm
    };
    let text = fs::read_to_string(&cache).unwrap();
    let boot = text.split_once(' ').unwrap().0;
    fs::write(&cache, format!("{boot} {}\n", planted.name())).unwrap();
    assert_eq!(accel::detect(dir.path()).unwrap(), planted);
}

#[test]
fn overlay_is_backed_by_the_image_in_its_format() {
    if !have(QEMU_IMG) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("base,1.raw");
    halting_disk(&raw);
    let top = dir.path().join("top.qcow2");
    assert_eq!(overlay::create(&raw, &top).unwrap(), ImageFormat::Raw);
    let info = Command::new(QEMU_IMG)
        .args(["info", "--output=json"])
        .arg(&top)
        .run_get_string()
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["backing-filename"], raw.to_str().unwrap());
    assert_eq!(info["backing-filename-format"], "raw");

    // A qcow2 image is recognised as one, and a relative path is made absolute.
    let second = dir.path().join("second.qcow2");
    let relative = top
        .strip_prefix(std::env::current_dir().unwrap())
        .unwrap_or(&top);
    assert_eq!(
        overlay::create(relative, &second).unwrap(),
        ImageFormat::Qcow2
    );

    // The export formats `compose image` converts to are recognised too.
    for format in [ImageFormat::Vmdk, ImageFormat::Vhd] {
        let converted = dir.path().join(format!("disk.{}", format.name()));
        Command::new(QEMU_IMG)
            .args(["convert", "-f", "raw", "-O", format.name()])
            .arg(&raw)
            .arg(&converted)
            .run()
            .unwrap();
        assert_eq!(ImageFormat::detect(&converted).unwrap(), format);
        let top = dir.path().join(format!("over-{}.qcow2", format.name()));
        assert_eq!(overlay::create(&converted, &top).unwrap(), format);
    }
}

#[test]
fn run_list_and_stop_a_vm_that_halts() {
    if !have(QEMU_SYSTEM) || !have(QEMU_IMG) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A comma in the state directory reaches every option-list path QEMU parses.
    let root = dir.path().join("state,dir");
    let image = dir.path().join("disk.raw");
    halting_disk(&image);
    let pristine = fs::read(&image).unwrap();
    let config = dir.path().join("config.ign");
    fs::write(&config, r#"{"ignition":{"version":"3.4.0"}}"#).unwrap();

    let options = RunOptions {
        name: "halt".into(),
        image: image.clone(),
        ignition: Some(config),
        memory_mb: 128,
        cpus: 1,
        publish: vec!["18080:80".parse().unwrap()],
        ssh_port: None,
        console: None,
        accel: Some(Accel::Tcg),
        foreground: false,
        firmware: Default::default(),
        cdrom: None,
        direct_boot: None,
    };
    let started = vm::run(&root, &options).unwrap();
    let pid = started.pid.expect("daemonized QEMU wrote its pidfile");
    assert!(started.vm.qmp_socket().exists());

    let console = started.record.console.clone().unwrap();
    assert_eq!(console, started.vm.console_log());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(&console)
        .unwrap_or_default()
        .contains(DISK_MESSAGE)
    {
        assert!(
            Instant::now() < deadline,
            "no console output in {console:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let listed = vm::status(&root).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record.name, "halt");
    assert_eq!(listed[0].pid, Some(pid));
    assert!(listed[0].running);
    assert_eq!(listed[0].record.publish[0].host, 18080);
    assert_eq!(listed[0].record.image, image);
    let json = serde_json::to_value(&listed[0]).unwrap();
    assert_eq!(json["running"], true);
    assert_eq!(json["name"], "halt");

    assert!(matches!(
        vm::run(&root, &options),
        Err(vm::Error::AlreadyRunning { .. })
    ));

    // The halted guest ignores the power button, so stop falls back to `quit`.
    let stopped = vm::stop(&root, "halt", Duration::from_secs(1)).unwrap();
    assert_eq!(stopped, Stopped::Quit);
    let listed = vm::status(&root).unwrap();
    assert!(!listed[0].running);
    assert_eq!(listed[0].pid, None);
    assert_eq!(
        vm::stop(&root, "halt", Duration::ZERO).unwrap(),
        Stopped::NotRunning
    );
    assert_eq!(
        fs::read(&image).unwrap(),
        pristine,
        "the image stays pristine"
    );
    assert!(matches!(
        vm::stop(&root, "nope", Duration::ZERO),
        Err(vm::Error::State(_))
    ));
}
