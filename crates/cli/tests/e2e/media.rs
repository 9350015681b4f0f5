//! Bare-metal boot parity, with the repository and image `super::image()` composed
//! once: the disk image booted under UEFI (OVMF), where the first boot's Ignition log
//! is in the journal and Docker is installed with its daemon off; the live ISO,
//! customised with `ferro installer iso`, installing itself unattended onto a blank
//! disk that then boots; the PXE files booted with the root fetched over HTTP. Each
//! step's time is printed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    REF, RunningVm, VM, boot_to_ssh, ferro, ferro_status, field, guest, ignition_config, image,
    nginx, ssh_key, step, vm_run, work_dir,
};

/// `ferro compose image --format FORMAT -o OUTPUT` of the walkthrough's repository,
/// carrying a 2 GiB disk image (the root grows to the target disk).
fn compose_live(work: &Path, format: &str, output: &Path) {
    let repo = work_dir().join("repo");
    ferro(
        work,
        &[
            "compose",
            "image",
            "--repo",
            repo.to_str().unwrap(),
            "--ref",
            REF,
            "--format",
            format,
            "--size",
            "2G",
            "-o",
            output.to_str().unwrap(),
        ],
    );
}

/// A blank sparse disk of `gib` GiB.
fn blank_disk(work: &Path, gib: u64) -> PathBuf {
    let path = work.join("blank.raw");
    let _ = fs::remove_file(&path);
    fs::File::create(&path).unwrap().set_len(gib << 30).unwrap();
    path
}

/// Waits until `console` contains `text`, failing on a stopped boot or after
/// `limit`.
fn wait_console(console: &Path, text: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let log = fs::read_to_string(console).unwrap_or_default();
        if log.contains(text) {
            return;
        }
        let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
        assert!(
            !log.contains(ferro_vm::ssh::BOOT_STOPPED),
            "the boot stopped; console (last lines, reversed):\n{tail}"
        );
        assert!(
            Instant::now() < deadline,
            "no '{text}' on the console within {} s; last lines (reversed):\n{tail}",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

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
    let _running = boot_to_ssh(
        &work,
        image,
        &config,
        name,
        &console,
        "UEFI: first boot to SSH",
        &["--firmware", "uefi"],
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

#[test]
fn live_iso_installs_unattended_and_the_disk_boots() {
    let Some(_image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir().join("live");
    fs::create_dir_all(&work).unwrap();
    let iso = work.join("ferrocore-live.iso");
    step("compose the live ISO", || compose_live(&work, "iso", &iso));

    // The installed system's config (the key of `core`, hostname ferro-e2e), carried
    // in the live system's embedded config, which the kernel arguments hand to the
    // installer.
    let key = ssh_key(&work, "id_core");
    let target = ignition_config(&work, &key, "");
    fs::copy(&target, work.join("target.ign")).unwrap();
    fs::write(
        work.join("live.bu"),
        "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/ferro-target.ign\n      \
         mode: 0600\n      contents:\n        local: target.ign\n",
    )
    .unwrap();
    let live_config = work.join("live.ign");
    let (w, c, b) = (
        work.to_str().unwrap(),
        live_config.to_str().unwrap(),
        work.join("live.bu"),
    );
    ferro(
        &work,
        &["butane", "--strict", "-d", w, "-o", c, b.to_str().unwrap()],
    );
    let custom = work.join("custom.iso");
    let (i, o) = (iso.to_str().unwrap(), custom.to_str().unwrap());
    step("customise the ISO", || {
        ferro(
            &work,
            &["installer", "iso", "ignition", "embed", "-i", c, "-o", o, i],
        );
        ferro(
            &work,
            &[
                "installer",
                "iso",
                "kargs",
                "modify",
                "-a",
                "coreos.inst.install_dev=/dev/vda",
                "-a",
                "coreos.inst.ignition_url=file:///etc/ferro-target.ign",
                o,
            ],
        )
    });
    let shown = ferro(&work, &["installer", "iso", "ignition", "show", o]);
    assert_eq!(shown.stdout, fs::read(&live_config).unwrap());

    let blank = blank_disk(&work, 4);
    let name = "e2e-live";
    let console = work.join("live-console.log");
    let _ = fs::remove_file(&console);
    let _running = RunningVm { work: &work, name };
    let start = Instant::now();
    let (d, cons) = (blank.to_str().unwrap(), console.to_str().unwrap());
    ferro(
        &work,
        &[
            "vm",
            "run",
            d,
            "--cdrom",
            o,
            "--name",
            name,
            "--console",
            cons,
        ],
    );
    wait_console(
        &console,
        "ferro-installer: installed",
        Duration::from_secs(1200),
    );
    eprintln!(
        "live ISO boot and unattended install: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let installed_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(600);
    let k = key.to_str().unwrap();
    loop {
        let out = ferro_status(&work, &["vm", "ssh", name, "-i", k, "--", "hostname"]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ferro-e2e" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the installed system did not answer SSH as core; console: {}",
            console.display()
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    eprintln!(
        "reboot into the installed disk to SSH: {:.1} s",
        installed_at.elapsed().as_secs_f64()
    );
    let out = guest(
        &work,
        name,
        &key,
        "echo \"cmdline: $(cat /proc/cmdline)\"
         echo \"root: $(findmnt -nvo FSTYPE /sysroot) $(lsblk -bno SIZE \"$(findmnt -nvo SOURCE /sysroot)\")\"
         echo \"status: $(sudo ferro status | tr '\\n' ';')\"
         echo \"journal: $(sudo journalctl -q -o cat -t ignition | grep -c 'fetched config')\"",
    );
    let cmdline = field(&out, "cmdline");
    assert!(cmdline.contains("ignition.platform.id=metal"), "{cmdline}");
    assert!(
        !cmdline.contains("ferro.live"),
        "booted from the disk: {cmdline}"
    );
    let root = field(&out, "root");
    let size: u64 = root.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(root.starts_with("xfs "), "{root}");
    assert!(size > 3 << 30, "the root grew to the 4 GiB disk: {root}");
    assert!(field(&out, "status").contains("ferrocore"), "{out}");
    assert_eq!(field(&out, "journal"), "1", "{out}");
}

#[test]
fn pxe_boots_with_the_root_over_http() {
    let Some(_image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir().join("pxe");
    fs::create_dir_all(&work).unwrap();
    let prefix = work.join("ferrocore-live");
    step("compose the PXE files", || {
        compose_live(&work, "pxe", &prefix)
    });
    let Some(server) = nginx::Nginx::serve(&work) else {
        return;
    };
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let key = ssh_key(&work, "id_core");
    let config = ignition_config(&work, &key, "");
    let append = format!(
        "boot=ferrolive ferro.live=1 ignition.firstboot ignition.platform.id=qemu \
         console=ttyS0,115200n8 loglevel=6 systemd.show_status=auto ip=dhcp \
         coreos.live.rootfs_url=http://10.0.2.2:{port}/ferrocore-live-rootfs.img"
    );
    let blank = blank_disk(&work, 1);
    let name = "e2e-pxe";
    let console = work.join("pxe-console.log");
    let _running = RunningVm { work: &work, name };
    let (kernel, initrd) = (
        work.join("ferrocore-live-kernel"),
        work.join("ferrocore-live-initramfs.img"),
    );
    let started = step("PXE boot to SSH", || {
        vm_run(
            &work,
            &blank,
            &config,
            name,
            &console,
            &[
                "--kernel",
                kernel.to_str().unwrap(),
                "--initrd",
                initrd.to_str().unwrap(),
                "--append",
                &append,
            ],
        )
    });
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let out = guest(
        &work,
        name,
        &key,
        "echo \"hostname: $(hostname)\"
         echo \"root: $(findmnt -nvo FSTYPE /)\"
         echo \"live: $(grep -c ferro.live=1 /proc/cmdline)\"
         echo \"growfs: $(systemctl show -p ConditionResult --value ferro-growfs.service)\"",
    );
    assert_eq!(field(&out, "hostname"), "ferro-e2e");
    assert_eq!(field(&out, "root"), "overlay", "the root is in RAM");
    assert_eq!(field(&out, "live"), "1");
    assert_eq!(
        field(&out, "growfs"),
        "no",
        "no root growth on a live system"
    );
}
