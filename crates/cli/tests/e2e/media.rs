//! Bare-metal boot parity, with the image `super::image()` composed once: the disk
//! image booted under UEFI (OVMF), where the first boot's Ignition log is in the
//! journal and Docker is installed with its daemon off. Each step's time is printed.

use std::fs;
use std::path::Path;

use super::{RunningVm, VM, field, guest, ignition_config, image, ssh_key, step, vm_run, work_dir};

/// Whether Debian's OVMF is installed; says why not.
fn have_ovmf() -> bool {
    let have = Path::new(ferro_vm::qemu::OVMF_CODE).exists();
    if !have {
        eprintln!(
            "skipped: no {} (apt-get install ovmf)",
            ferro_vm::qemu::OVMF_CODE
        );
    }
    have
}

#[test]
fn uefi_boot_with_ignition_in_the_journal_and_docker_off() {
    let Some(image) = image() else {
        return;
    };
    if !have_ovmf() {
        return;
    }
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir().join("uefi");
    fs::create_dir_all(&work).unwrap();
    let key = ssh_key(&work, "id_core");
    let config = ignition_config(&work, &key, "");
    let name = "e2e-uefi";
    let console = work.join("uefi-console.log");
    let _running = RunningVm { work: &work, name };
    let started = step("UEFI: first boot to SSH", || {
        vm_run(
            &work,
            image,
            &config,
            name,
            &console,
            &["--firmware", "uefi"],
        )
    });
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let out = step("UEFI: guest checks", || {
        guest(
            &work,
            name,
            &key,
            "echo \"efi: $(test -d /sys/firmware/efi && echo yes || echo no)\"
             echo \"journal: $(sudo journalctl -q -o cat -t ignition | tr '\\n' ';')\"
             echo \"docker: $(docker --version 2>&1 | cut -d, -f1)\"
             echo \"docker units: $(systemctl is-enabled docker.service docker.socket containerd.service 2>&1 | tr '\\n' ' ')\"
             echo \"docker active: $(systemctl is-active docker.service docker.socket 2>&1 | tr '\\n' ' ')\"
             echo \"growfs: $(systemctl show -p Result --value ferro-growfs.service)\"
             echo \"boot: $(systemd-analyze 2>&1 | head -n 1)\"
             echo \"slowest: $(systemd-analyze blame 2>&1 | head -n 5 | tr -s ' ' | tr '\\n' ',')\"",
        )
    });
    eprintln!("UEFI first boot: {}", field(&out, "boot"));
    eprintln!("UEFI slowest units: {}", field(&out, "slowest"));
    assert_eq!(field(&out, "efi"), "yes", "booted through UEFI");
    let journal = field(&out, "journal");
    for expected in [
        "fetch-offline: fetched config from platform qemu",
        "files: ",
        "Ignition finished successfully",
    ] {
        assert!(journal.contains(expected), "'{expected}' in: {journal}");
    }
    assert!(field(&out, "docker").starts_with("Docker version"), "{out}");
    assert_eq!(
        field(&out, "docker units").trim(),
        "disabled disabled disabled",
        "{out}"
    );
    assert_eq!(field(&out, "docker active").trim(), "inactive inactive");
    assert_eq!(field(&out, "growfs"), "success");
}
