//! The QEMU programs this crate runs, by name: one place for both, because the
//! accelerator probe, the command line and the VM's life all start `qemu-system`, and
//! their errors name it. Kept apart from [`crate::qemu`] and [`crate::accel`] so that
//! neither has to import the other for it.

/// The QEMU binary that runs x86-64 guests (Debian package `qemu-system-x86`).
pub const QEMU_SYSTEM: &str = "qemu-system-x86_64";

/// The QEMU disk image tool, which makes the overlays (Debian package `qemu-utils`).
pub const QEMU_IMG: &str = "qemu-img";
