//! Choosing between KVM and TCG by booting a probe guest.
//!
//! Opening `/dev/kvm` proves nothing: on nested PVM hosts (`kvm_pvm`) QEMU reports KVM
//! enabled and a stock guest hangs for ever. So the probe runs what such a guest hangs
//! on: a 64 KiB firmware image, generated here, that starts in real mode at the reset
//! vector, switches to protected mode, enables paging and long mode, and prints one
//! letter per stage to the first serial port (`R`, `P`, `L`) before it ends QEMU
//! through the `isa-debug-exit` device. KVM is used only if all three letters arrive.
//! On PVM the guest prints `R` and stops at the switch to protected mode.
//!
//! The probe costs one QEMU start (about 0.1 s) plus, when KVM hangs, [`HANG_GRACE`]
//! after the first letter. The verdict is cached per host boot in the state directory.

use std::fs;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferro_sys::atomic::{Collision, Durability, WriteOptions, write_file};
use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};
use serde::{Deserialize, Serialize};

use crate::programs::QEMU_SYSTEM;

/// How QEMU executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's software emulation (multi-threaded).
    Tcg,
}

impl Accel {
    /// The `-accel` value.
    pub fn qemu_accel(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg,thread=multi",
        }
    }

    /// The `-cpu` value.
    pub fn qemu_cpu(self) -> &'static str {
        match self {
            Accel::Kvm => "host",
            Accel::Tcg => "qemu64",
        }
    }

    /// The short name (`kvm`, `tcg`) shown to users and cached.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Why the accelerator could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// QEMU is not installed (or not executable); the error names its package.
    #[error(transparent)]
    Qemu(#[from] CommandError),
    /// Reading or writing the probe image or the cached verdict failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// How long a guest that has printed `R` may take to print `PL`: its next instructions
/// take microseconds, so anything slower is a hang.
pub const HANG_GRACE: Duration = Duration::from_millis(500);

/// How long QEMU may take to start the guest at all (a loaded host can be slow).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The letters the probe prints, in order.
const MARKER: &[u8] = b"RPL";

/// The value the probe writes to `isa-debug-exit`; QEMU exits with `(value << 1) | 1`.
const EXIT_VALUE: u8 = 0x31;

/// The probe's code, loaded at the start of the firmware image (linear 0xF0000).
#[rustfmt::skip]
const PROBE_CODE: [u8; 189] = [
    // real mode, CS base 0xF0000
    0xfa,                                     // cli
    0xba, 0xf8, 0x03,                         // mov dx, 0x3f8   (COM1)
    0xb0, 0x52, 0xee,                         // mov al, 'R'; out dx, al
    0x2e, 0x66, 0x0f, 0x01, 0x16, 0xb8, 0x00, // lgdt cs:[0xb8]
    0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, // cr0 |= PE
    0x66, 0xea, 0x1e, 0x00, 0x0f, 0x00, 0x08, 0x00, // jmp far 0x08:0xf001e
    // 32-bit protected mode
    0x66, 0xb8, 0x10, 0x00,                   // mov ax, 0x10
    0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,       // mov ds/es/ss, ax
    0xb0, 0x50, 0xee,                         // mov al, 'P'; out dx, al
    0xbf, 0x00, 0x10, 0x00, 0x00,             // mov edi, 0x1000
    0x31, 0xc0,                               // xor eax, eax
    0xb9, 0x00, 0x0c, 0x00, 0x00,             // mov ecx, 0xc00
    0xf3, 0xab,                               // rep stosd       (clear 0x1000-0x3fff)
    0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x03, 0x20, 0x00, 0x00, // PML4[0] = 0x2003
    0xc7, 0x05, 0x00, 0x20, 0x00, 0x00, 0x03, 0x30, 0x00, 0x00, // PDPT[0] = 0x3003
    0xc7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x83, 0x00, 0x00, 0x00, // PD[0] = 2 MiB page at 0
    0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8, // cr3 = 0x1000
    0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, // cr4 |= PAE
    0xb9, 0x80, 0x00, 0x00, 0xc0,             // mov ecx, 0xc0000080 (EFER)
    0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, // EFER |= LME
    0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, // cr0 |= PG
    0xea, 0x88, 0x00, 0x0f, 0x00, 0x18, 0x00, // jmp far 0x18:0xf0088
    // 64-bit long mode
    0x66, 0xba, 0xf8, 0x03,                   // mov dx, 0x3f8
    0xb0, 0x4c, 0xee,                         // mov al, 'L'; out dx, al
    0xb0, EXIT_VALUE, 0xe6, 0xf4,             // mov al, EXIT_VALUE; out 0xf4, al
    0xf4, 0xeb, 0xfd,                         // hlt; jmp hlt
    0x66, 0x90,                               // padding to 8 bytes
    // GDT at 0xf0098: null, 32-bit code, data, 64-bit code
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xaf, 0x00,
    // GDT descriptor at 0xf00b8: limit 31, base 0xf0098
    0x1f, 0x00, 0x98, 0x00, 0x0f,
];

/// At the reset vector (image offset 0xfff0): `jmp far 0xf000:0x0000`.
const RESET_JUMP: [u8; 5] = [0xea, 0x00, 0x00, 0x00, 0xf0];

/// The probe firmware: 64 KiB, the size QEMU requires of a `-bios` image.
pub fn probe_image() -> Vec<u8> {
    let mut image = vec![0u8; 0x10000];
    image[..PROBE_CODE.len()].copy_from_slice(&PROBE_CODE);
    image[0xfff0..0xfff0 + RESET_JUMP.len()].copy_from_slice(&RESET_JUMP);
    image
}

/// What one probe run showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// The marker letters the guest printed.
    pub serial: Vec<u8>,
    /// How long the probe took.
    pub elapsed: Duration,
}

impl ProbeResult {
    /// Whether the guest reached long mode.
    pub fn passed(&self) -> bool {
        self.serial.starts_with(MARKER)
    }
}

/// Boots the probe image (written to `image`) with `accel` and reports what it printed.
pub fn probe(accel: Accel, image: &Path) -> Result<ProbeResult, Error> {
    write_file(image, &probe_image(), TRANSIENT)?;
    let start = Instant::now();
    let mut child = Command::new(QEMU_SYSTEM)
        .args(["-no-user-config", "-nodefaults", "-display", "none"])
        .args(["-machine", "pc", "-m", "16", "-accel", accel.name()])
        .arg("-bios")
        .arg(image)
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-serial", "stdio", "-monitor", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .start()?;
    let serial = read_marker(&mut child);
    // The guest ends QEMU itself when it passes; a hung one is killed. Either way the
    // process is reaped here so no probe outlives its verdict.
    let _ = child.kill();
    let _ = child.wait();
    Ok(ProbeResult {
        serial,
        elapsed: start.elapsed(),
    })
}

/// Collects serial bytes until the whole marker arrived, QEMU exited, or the guest
/// stalled: [`START_TIMEOUT`] for the first letter, [`HANG_GRACE`] after it.
fn read_marker(child: &mut Child) -> Vec<u8> {
    let Some(mut stdout) = child.stdout.take() else {
        return vec![];
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while let Ok(1) = stdout.read(&mut byte) {
            if tx.send(byte[0]).is_err() {
                break;
            }
        }
    });
    let mut serial = Vec::new();
    let mut deadline = Instant::now() + START_TIMEOUT;
    while serial.len() < MARKER.len() {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(byte) => {
                if serial.is_empty() {
                    deadline = Instant::now() + HANG_GRACE;
                }
                serial.push(byte);
            }
            Err(_) => break,
        }
    }
    serial
}

/// How the probe image and the verdict are written: whole under their names (another
/// `ferro` may read them at any time) but not synced, since a verdict is only valid until
/// the next boot and the image is written again whenever it is needed.
const TRANSIENT: WriteOptions = WriteOptions {
    mode: 0o644,
    collision: Collision::Replace,
    durability: Durability::Deferred,
};

/// The cached verdict's file in `state_root`, valid for one host boot.
fn cache_path(state_root: &Path) -> PathBuf {
    state_root.join("accel")
}

/// This boot's id: a verdict from before a reboot (or a module change) is not trusted.
fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// KVM if the probe reaches long mode under KVM, else TCG; cached in `state_root`.
pub fn detect(state_root: &Path) -> Result<Accel, Error> {
    let cache = cache_path(state_root);
    let boot = boot_id();
    match fs::read_to_string(&cache) {
        Ok(text) => {
            if let Some((id, verdict)) = text.trim().split_once(' ')
                && id == boot
            {
                match verdict {
                    "kvm" => return Ok(Accel::Kvm),
                    "tcg" => return Ok(Accel::Tcg),
                    _ => {}
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(source) => return Err(IoError::new("read", cache, source).into()),
    }
    fs::create_dir_all(state_root).at("create", state_root)?;
    let verdict = if probe(Accel::Kvm, &state_root.join("accel-probe.bin"))?.passed() {
        Accel::Kvm
    } else {
        Accel::Tcg
    };
    let line = format!("{boot} {}\n", verdict.name());
    write_file(&cache, line.as_bytes(), TRANSIENT)?;
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_has_code_at_start_and_jump_at_reset_vector() {
        let image = probe_image();
        assert_eq!(image.len(), 65536);
        assert_eq!(image[0], 0xfa);
        assert_eq!(&image[0xfff0..0xfff5], &RESET_JUMP);
        // The GDT descriptor points at the GDT: base 0xf0098 = image offset 0x98.
        assert_eq!(&image[0xb8..0xbd], &[0x1f, 0x00, 0x98, 0x00, 0x0f]);
        assert_eq!(&image[0x98..0xa0], &[0; 8]);
    }

    #[test]
    fn a_cached_verdict_of_this_boot_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(cache_path(dir.path()), format!("{} kvm\n", boot_id())).unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Accel::Kvm);
    }
}
