//! The walkthrough a Fedora CoreOS user does, end to end with the real `ferro` binary:
//! a Butane config with an SSH key → `ferro butane` → `ferro compose tree` (Debian
//! packages, downloads cached) → `ferro compose image` → `ferro vm run` under QEMU →
//! SSH in as `core` with that key → rootless podman serves a page the host fetches
//! through a published port → `ferro status` in the guest → `/usr` is read-only → a
//! reboot does not provision again. A bad config stops the first boot instead.
//!
//! Opt-in (`FERRO_E2E=1`, which CI sets): it needs root, the Debian archive, QEMU and
//! several minutes. Downloads and the composed image are kept in
//! `$CARGO_TARGET_TMPDIR/e2e` (or `$FERRO_E2E_DIR`) between runs. Each step's time is
//! printed.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;

#[path = "../../ostree/tests/support/nginx.rs"]
mod nginx;

#[path = "e2e/media.rs"]
mod media;

const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ferrocore.yaml");
const REF: &str = "ferrocore/x86_64/stable";
/// The page the composed container image serves (`ferro_compose::container`).
const PAGE: &str = "Hello from ferrocore";

/// VMs boot one at a time: two emulated guests on two cores would only slow both.
static VM: Mutex<()> = Mutex::new(());
/// The image, composed once per test run, and the server of its repository.
static IMAGE: OnceLock<Option<(PathBuf, nginx::Nginx)>> = OnceLock::new();

/// Whether the walkthrough can run here; says why not.
fn enabled() -> bool {
    if std::env::var_os("FERRO_E2E").is_none_or(|v| v != "1") {
        eprintln!("skipped: set FERRO_E2E=1 to compose an image from Debian and boot it");
        return false;
    }
    let missing = if !rustix::process::geteuid().is_root() {
        Some("not root".to_owned())
    } else {
        // The error names the Debian package of a missing tool.
        [
            ("debootstrap", "--version"),
            ("qemu-system-x86_64", "--version"),
            ("qemu-img", "--version"),
            ("sgdisk", "--version"),
            ("mkfs.xfs", "-V"),
            ("grub-mkimage", "--version"),
            ("ssh", "-V"),
            ("ssh-keygen", "--help"),
        ]
        .iter()
        .find_map(|(tool, arg)| Command::new(tool).arg(arg).run_capture().err())
        .map(|e| e.to_string())
    };
    if let Some(why) = &missing {
        eprintln!("skipped: {why}");
    }
    missing.is_none()
}

fn work_dir() -> PathBuf {
    std::env::var_os("FERRO_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e"))
}

/// Runs `ferro ARGS` with the VM state in `work/vms`; fails the test if it fails.
fn ferro(work: &Path, args: &[&str]) -> Output {
    let output = ferro_status(work, args);
    assert!(
        output.status.success(),
        "ferro {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn ferro_status(work: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .env("FERRO_VM_STATE_DIR", work.join("vms"))
        .stdin(Stdio::null())
        .run_capture()
        .unwrap()
}

/// Times a step and prints it.
fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    eprintln!("{name}: {:.1} s", start.elapsed().as_secs_f64());
    value
}

/// `ferro compose tree MANIFEST` into `work/repo`, downloads cached in `work/cache`.
fn compose_tree(work: &Path, manifest: &Path) -> Output {
    let (repo, cache) = (work.join("repo"), work.join("cache"));
    ferro(
        work,
        &[
            "compose",
            "tree",
            manifest.to_str().unwrap(),
            "--repo",
            repo.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
    )
}

/// `ferro vm run IMAGE --ignition CONFIG --name NAME --console CONSOLE --wait-ssh`
/// plus `extra` arguments, with a fresh console log; the caller checks the status.
fn vm_run(
    work: &Path,
    image: &Path,
    config: &Path,
    name: &str,
    console: &Path,
    extra: &[&str],
) -> Output {
    let _ = fs::remove_file(console);
    let mut args = vec![
        "vm",
        "run",
        image.to_str().unwrap(),
        "--ignition",
        config.to_str().unwrap(),
        "--name",
        name,
        "--console",
        console.to_str().unwrap(),
        "--wait-ssh",
    ];
    args.extend_from_slice(extra);
    ferro_status(work, &args)
}

/// Composes the tree and the image once (the tree from scratch into a new
/// repository; the package downloads come from the cache). The repository is served
/// over HTTP on loopback and the image's remote `ferrocore` points there, as the guest
/// sees the host (`10.0.2.2`, QEMU user networking).
fn image() -> Option<&'static Path> {
    IMAGE
        .get_or_init(|| {
            if !enabled() {
                return None;
            }
            let work = work_dir();
            let repo = work.join("repo");
            let _ = fs::remove_dir_all(&repo);
            fs::create_dir_all(&work).unwrap();
            let r = repo.to_str().unwrap();
            step("compose tree", || compose_tree(&work, Path::new(MANIFEST)));
            let server = nginx::Nginx::serve(&work).expect("nginx serves the repository");
            let port = server.url().rsplit(':').next().unwrap().to_owned();
            let remote = format!("ferrocore=http://10.0.2.2:{port}/repo");
            let image = work.join("ferrocore.qcow2");
            let image_args = [
                "compose",
                "image",
                "--repo",
                r,
                "--ref",
                REF,
                "--format",
                "qcow2",
                "--remote",
                &remote,
                "-o",
                image.to_str().unwrap(),
            ];
            step("compose image", || ferro(&work, &image_args));
            // A rebuild with nothing changed keeps the commit and only remakes the image.
            let start = Instant::now();
            let again = step("rebuild: compose tree", || {
                compose_tree(&work, Path::new(MANIFEST))
            });
            let stderr = String::from_utf8_lossy(&again.stderr);
            assert!(stderr.contains("No apparent changes"), "{stderr}");
            step("rebuild: compose image", || ferro(&work, &image_args));
            eprintln!("rebuild: {:.1} s", start.elapsed().as_secs_f64());
            eprintln!(
                "image size: {} MB allocated",
                fs::metadata(&image).map(|m| m.len()).unwrap_or(0) / 1_000_000
            );
            Some((image, server))
        })
        .as_ref()
        .map(|(image, _)| image.as_path())
}

/// Version 2 of the image's ref, composed once per test run into the served
/// repository (the same packages, so only the version changes); its checksum. The
/// walkthrough upgrades to it and the agent test rolls it out.
fn version2() -> &'static str {
    static V2: OnceLock<String> = OnceLock::new();
    V2.get_or_init(|| {
        let work = work_dir();
        let manifest = fs::read_to_string(MANIFEST).unwrap();
        let v2 = work.join("ferrocore-v2.yaml");
        fs::write(&v2, manifest.replace("version: \"1\"", "version: \"2\"")).unwrap();
        step("compose version 2", || compose_tree(&work, &v2));
        rev_parse(&work, REF)
    })
}

/// The commit `rev` names in the served repository.
fn rev_parse(work: &Path, rev: &str) -> String {
    let repo = work.join("repo");
    let out = ferro(
        work,
        &["ostree", "rev-parse", "--repo", repo.to_str().unwrap(), rev],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` from 127.0.0.1:port, retried for up to a minute.
fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut page = String::new();
            stream.read_to_string(&mut page)?;
            Ok(page)
        });
        match attempt {
            Ok(page) if page.contains(PAGE) => return page,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no page on port {port}: {other:?}"
                );
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}

/// Runs a shell script in the guest as `core`, returning its standard output.
fn guest(work: &Path, name: &str, key: &Path, script: &str) -> String {
    let output = ferro(
        work,
        &["vm", "ssh", name, "-i", key.to_str().unwrap(), "--", script],
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value of `key: …` lines printed by the guest scripts.
fn field<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no '{key}:' in the guest's output:\n{output}"))
}

/// A Butane config for `core` with `key`'s public half, transpiled by `ferro butane`.
fn ignition_config(work: &Path, key: &Path, extra: &str) -> PathBuf {
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let butane = format!(
        "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      \
         ssh_authorized_keys:\n        - {}\nstorage:\n  files:\n    - path: /etc/hostname\n      \
         mode: 0644\n      contents:\n        inline: ferro-e2e\n{extra}",
        public.trim()
    );
    let source = work.join("config.bu");
    fs::write(&source, butane).unwrap();
    let config = work.join("config.ign");
    ferro(
        work,
        &[
            "butane",
            "--strict",
            "-o",
            config.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
    );
    config
}

/// A new key pair `work/NAME`, `work/NAME.pub`.
fn ssh_key(work: &Path, name: &str) -> PathBuf {
    let key = work.join(name);
    let _ = fs::remove_file(&key);
    let _ = fs::remove_file(key.with_extension("pub"));
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ferro-e2e", "-f"])
        .arg(&key)
        .run()
        .unwrap();
    key
}

/// Boots VM `name` from `image` with `config` (`extra`: more `ferro vm run`
/// arguments), timed as `label`, and fails the test with QEMU's error if SSH never
/// answers; the VM stops when the returned guard drops.
fn boot_to_ssh<'a>(
    work: &'a Path,
    image: &Path,
    config: &Path,
    name: &'a str,
    console: &Path,
    label: &str,
    extra: &[&str],
) -> RunningVm<'a> {
    let running = RunningVm { work, name };
    let started = step(label, || vm_run(work, image, config, name, console, extra));
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    running
}

/// Stops the VM when dropped, so a failed assertion does not leave QEMU running.
struct RunningVm<'a> {
    work: &'a Path,
    name: &'a str,
}

impl Drop for RunningVm<'_> {
    fn drop(&mut self) {
        let _ = ferro_status(self.work, &["vm", "stop", self.name, "--timeout", "0"]);
    }
}

#[test]
fn butane_compose_boot_ssh_rootless_podman_and_reboot() {
    let Some(image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir();
    let key = ssh_key(&work, "id_core");
    let config = ignition_config(&work, &key, "");
    let port = free_port();
    let name = "e2e";
    let console = work.join("e2e-console.log");
    let publish = format!("{port}:8080");
    let ssh_port = free_port();
    let ssh_port_arg = ssh_port.to_string();
    let _running = boot_to_ssh(
        &work,
        image,
        &config,
        name,
        &console,
        "first boot to SSH",
        &["--publish", &publish, "--ssh-port", &ssh_port_arg],
    );
    let first = step("guest checks", || {
        guest(
            &work,
            name,
            &key,
            "set -eu
             echo \"key: $(cat ~/.ssh/authorized_keys.d/ignition)\"
             echo \"key mode: $(stat -c '%a %U' ~/.ssh/authorized_keys.d/ignition)\"
             echo \"hostname: $(hostname)\"
             echo \"groups: $(id -nG)\"
             podman load -q -i /usr/share/ferrocore/images/httpd.oci.tar >/dev/null
             podman run -d -q --name web -p 8080:80 localhost/ferrocore/httpd:latest >/dev/null
             echo \"uid map: $(podman exec web cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';')\"
             echo \"status: $(sudo ferro status | tr '\\n' ';')\"
             if sudo touch /usr/ferro-e2e 2>/dev/null; then echo 'usr: writable'; else echo 'usr: read-only'; fi
             echo \"stamp: $(test -e /boot/ignition.firstboot && echo present || echo removed)\"
             echo \"boot: $(systemd-analyze 2>&1 | head -n 1)\"
             echo \"slowest: $(systemd-analyze blame 2>&1 | head -n 5 | tr -s ' ' | tr '\\n' ',')\"",
        )
    });
    // Where the first boot's time went (systemd's view: the kernel's share includes
    // the initramfs, where Ignition runs).
    eprintln!("first boot: {}", field(&first, "boot"));
    eprintln!("slowest units: {}", field(&first, "slowest"));
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    assert_eq!(
        field(&first, "key"),
        public.trim(),
        "Ignition wrote the key"
    );
    assert_eq!(field(&first, "key mode"), "600 core");
    assert_eq!(field(&first, "hostname"), "ferro-e2e");
    assert!(field(&first, "groups").split(' ').any(|g| g == "sudo"));
    let uid_map = field(&first, "uid map");
    assert!(
        !uid_map.starts_with(" 0 0 ") && !uid_map.starts_with("0 0 "),
        "rootless: the container's root is not the host's: {uid_map}"
    );
    let status = field(&first, "status");
    assert!(status.contains('●'), "booted deployment marked: {status}");
    assert!(status.contains("ferrocore"), "{status}");
    assert_eq!(field(&first, "usr"), "read-only");
    assert_eq!(field(&first, "stamp"), "removed");
    let text = fs::read_to_string(&console).unwrap();
    assert!(
        text.contains("SSH host key fingerprints:") && text.contains("(ED25519)"),
        "the console banner shows the host keys"
    );
    assert!(
        text.contains("IP addresses: 10.0.2.15"),
        "the console banner shows the address"
    );
    let page = step("host fetches the page", || fetch(port));
    assert!(page.starts_with("HTTP/1."), "{page}");

    // Every file in authorized_keys.d counts, not only Ignition's.
    let extra = ssh_key(&work, "id_extra");
    let extra_public = fs::read_to_string(extra.with_extension("pub")).unwrap();
    guest(
        &work,
        name,
        &key,
        &format!(
            "umask 077; printf '%s\\n' '{}' > ~/.ssh/authorized_keys.d/extra",
            extra_public.trim()
        ),
    );
    let with_extra = guest(&work, name, &extra, "echo \"user: $(id -un)\"");
    assert_eq!(field(&with_extra, "user"), "core");

    // Reboot: the stamp is gone, so the initramfs only mounts the deployment.
    let boots = reboot(
        &work,
        name,
        &key,
        &console,
        ssh_port,
        "sudo systemctl reboot",
    );
    print_boot_figures(&work, name, &key, "reboot");
    let text = fs::read_to_string(&console).unwrap();
    let second_boot = &text[text
        .match_indices("Linux version")
        .nth(boots - 1)
        .unwrap()
        .0..];
    assert!(second_boot.contains("ferro prepare-root"), "{second_boot}");
    assert!(
        !second_boot.contains("Ignition (ferro)"),
        "the second boot does not provision"
    );
    let second = guest(
        &work,
        name,
        &key,
        "echo \"hostname: $(hostname)\"; echo \"result: $(sudo cat /etc/.ignition-result.json)\"",
    );
    assert_eq!(field(&second, "hostname"), "ferro-e2e");
    assert!(field(&second, "result").contains("\"userConfigProvided\":true"));

    // Update: version 2 composed into the served repository, pulled by the guest.
    version2();
    guest(
        &work,
        name,
        &key,
        "echo 'edited locally' | sudo tee /etc/ferro-e2e.conf >/dev/null",
    );
    let upgrade = "sudo ferro upgrade --reboot";
    reboot(&work, name, &key, &console, ssh_port, upgrade);
    print_boot_figures(&work, name, &key, "upgrade boot");
    let upgraded = guest(&work, name, &key, CHECK_VERSION);
    assert_eq!(booted_version(&upgraded), "2", "{upgraded}");
    assert_eq!(field(&upgraded, "edit"), "edited locally", "/etc edit kept");

    let rollback = "sudo ferro rollback --reboot";
    reboot(&work, name, &key, &console, ssh_port, rollback);
    print_boot_figures(&work, name, &key, "rollback boot");
    let rolled_back = guest(&work, name, &key, CHECK_VERSION);
    assert_eq!(booted_version(&rolled_back), "1", "{rolled_back}");
}

/// Prints where the last boot's time went, as systemd saw it (the kernel's share
/// includes the initramfs), and its slowest units.
fn print_boot_figures(work: &Path, name: &str, key: &Path, boot: &str) {
    let figures = guest(
        work,
        name,
        key,
        "echo \"boot: $(systemd-analyze 2>&1 | head -n 1)\"
         echo \"slowest: $(systemd-analyze blame 2>&1 | head -n 5 | tr -s ' ' | tr '\\n' ',')\"",
    );
    eprintln!("{boot}: {}", field(&figures, "boot"));
    eprintln!("{boot}, slowest units: {}", field(&figures, "slowest"));
}

/// Prints the status as JSON and the local `/etc` edit.
const CHECK_VERSION: &str = "echo \"status: $(sudo ferro status --json | tr -d '\\n')\"; \
                             echo \"edit: $(cat /etc/ferro-e2e.conf)\"";

/// The version of the booted deployment in the guest's `ferro status --json`.
fn booted_version(output: &str) -> String {
    let status: serde_json::Value = serde_json::from_str(field(output, "status")).unwrap();
    let booted = status["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["booted"] == true)
        .unwrap_or_else(|| panic!("no booted deployment: {status}"));
    booted["version"].as_str().unwrap().to_owned()
}

/// Under TCG a guest now and then stalls for good right after switching root, both
/// vCPUs reporting `soft lockup` on the console (an emulation timer problem, seen
/// with QEMU's TSC under TCG, not a fault of the OS under test). When the console has
/// more such reports than `seen`, the VM is reset through QMP, as one would press
/// the reset button, and the reset is printed; returns whether it did so.
fn reset_if_stalled(work: &Path, name: &str, console: &Path, seen: &mut usize) -> bool {
    let stalls = stall_reports(console);
    if stalls <= *seen {
        return false;
    }
    *seen = stalls;
    eprintln!(
        "{name}: the guest stalled under TCG (soft lockup on the console): reset through QMP"
    );
    ferro_vm::vm::reset(&work.join("vms"), name).expect("QMP system_reset");
    true
}

/// How many soft-lockup reports the console has.
fn stall_reports(console: &Path) -> usize {
    fs::read_to_string(console)
        .unwrap_or_default()
        .matches("watchdog: BUG: soft lockup")
        .count()
}

/// Runs `command` in the guest, which reboots it, and waits until the console shows a
/// new kernel and SSH answers again; returns how many boots the console has seen.
/// Prints the time from the command to the SSH server's banner on `ssh_port` (as
/// `ferro vm run --wait-ssh` measures the first boot: polled every half second, so
/// a connection made while the guest was down does not hold the figure back), and to
/// a completed login.
fn reboot(
    work: &Path,
    name: &str,
    key: &Path,
    console: &Path,
    ssh_port: u16,
    command: &str,
) -> usize {
    let boots = || {
        fs::read_to_string(console)
            .unwrap_or_default()
            .matches("Linux version")
            .count()
    };
    let before = boots();
    let key = key.to_str().unwrap();
    let start = Instant::now();
    // The connection drops as the guest goes down, so the status says little; the
    // output explains a command that failed instead.
    let output = ferro_status(work, &["vm", "ssh", name, "-i", key, "--", command]);
    let mut deadline = Instant::now() + Duration::from_secs(400);
    let mut answered = None;
    let mut stalls = stall_reports(console);
    loop {
        if answered.is_none() && reset_if_stalled(work, name, console, &mut stalls) {
            deadline = Instant::now() + Duration::from_secs(400);
        }
        if answered.is_none()
            && boots() > before
            && ferro_vm::ssh::banner_ready(ssh_port, Duration::from_secs(1))
        {
            answered = Some(start.elapsed());
        }
        let args = ["vm", "ssh", name, "-i", key, "--", "true"];
        if let Some(answered) = answered
            && ferro_status(work, &args).status.success()
        {
            let label = command
                .trim_start_matches("sudo ")
                .replace("systemctl ", "");
            eprintln!(
                "{label} to SSH: {:.1} s (logged in after {:.1} s)",
                answered.as_secs_f64(),
                start.elapsed().as_secs_f64()
            );
            return boots();
        }
        assert!(
            Instant::now() < deadline,
            "no SSH after '{command}', which printed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Boots with `config` and expects the initramfs to stop the boot; returns
/// `ferro vm run --wait-ssh`'s error output.
fn stopped_boot(work: &Path, image: &Path, config: &Path, name: &str) -> String {
    let console = work.join(format!("{name}-console.log"));
    let _running = RunningVm { work, name };
    let output = vm_run(work, image, config, name, &console, &[]);
    assert!(!output.status.success(), "the boot went on");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_config_stops_the_first_boot_with_a_clear_console_message() {
    let Some(image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir().join("bad");
    fs::create_dir_all(&work).unwrap();

    let invalid = work.join("invalid.ign");
    fs::write(&invalid, "{\"ignition\": {\"version\": \"3.4.0\"},").unwrap();
    let error = step("invalid JSON: boot until stopped", || {
        stopped_boot(&work, image, &invalid, "bad-json")
    });
    assert!(error.contains("stopped its boot"), "{error}");
    assert!(error.contains("fetch-offline"), "{error}");
    assert!(error.contains("To retry:"), "how to retry: {error}");

    let key = ssh_key(&work, "id_core");
    let mismatch = ignition_config(
        &work,
        &key,
        "    - path: /etc/checked\n      contents:\n        inline: hello\n        \
         verification:\n          hash: sha512-00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let error = step("hash mismatch: boot until stopped", || {
        stopped_boot(&work, image, &mismatch, "bad-hash")
    });
    assert!(error.contains("stopped its boot"), "{error}");
    assert!(error.contains("files"), "{error}");
    assert!(error.contains("hash"), "{error}");
}

#[path = "e2e/layer.rs"]
mod layer;

#[path = "e2e/agent.rs"]
mod agent;
