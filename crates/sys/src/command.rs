//! The one way ferrocore runs a subprocess: [`CommandRunExt`] on `std::process::Command`.
//!
//! Every failure carries the same facts, so no caller has to gather them: the command
//! line, the exit status (or signal), and the last lines of standard error. A program
//! that could not be started at all (usually: not installed) is a different error,
//! [`CommandError::Missing`], naming the Debian package that provides it when it is
//! one of the tools ferrocore uses; tests use [`CommandError::is_missing`] to skip.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// At most this much of standard error is kept for an error message.
const STDERR_TAIL: usize = 4096;

/// Why a subprocess did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started.
    #[error("could not start {program}{}", package_hint(package))]
    Missing {
        /// The program.
        program: String,
        /// The Debian package that provides it, when known.
        package: Option<&'static str>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("{command_line} failed ({status}){}", stderr_hint(stderr))]
    Failed {
        /// The program and its arguments, as a shell would show them.
        command_line: String,
        /// How it ended.
        status: ExitStatus,
        /// The end of what it printed on standard error, trimmed.
        stderr: String,
    },
    /// Talking to the running program failed (reading its output).
    #[error("could not read the output of {command_line}")]
    Io {
        /// The program and its arguments.
        command_line: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn package_hint(package: &Option<&'static str>) -> String {
    match package {
        Some(package) => format!(" (install the {package} package)"),
        None => String::new(),
    }
}

fn stderr_hint(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl CommandError {
    /// Whether the program is simply not installed (tests skip then).
    pub fn is_missing(&self) -> bool {
        matches!(self, CommandError::Missing { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// The exit code, when the program ran and exited with one.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            CommandError::Failed { status, .. } => status.code(),
            _ => None,
        }
    }
}

/// The Debian package of a tool ferrocore runs, for the "install the … package" hint.
pub fn debian_package(program: &str) -> Option<&'static str> {
    let name = program.rsplit('/').next().unwrap_or(program);
    Some(match name {
        "sgdisk" => "gdisk",
        "sfdisk" => "fdisk",
        "partx" | "wipefs" | "blkid" | "findmnt" | "lsblk" | "unshare" => "util-linux",
        // Debian ships these apart from util-linux.
        "mount" | "umount" | "losetup" => "mount",
        "mkfs.ext4" | "e2fsck" | "resize2fs" | "tune2fs" | "chattr" => "e2fsprogs",
        "mkfs.xfs" | "xfs_growfs" | "xfs_admin" => "xfsprogs",
        "mkfs.vfat" | "mkfs.fat" => "dosfstools",
        // grub-mkimage itself is in grub-common, which grub-pc-bin pulls in with the
        // i386-pc images and modules a BIOS core image is made of.
        "grub-mkimage" | "grub-bios-setup" => "grub-pc-bin",
        "grub-install" => "grub2-common",
        "qemu-img" | "qemu-nbd" => "qemu-utils",
        "qemu-system-x86_64" => "qemu-system-x86",
        "debootstrap" => "debootstrap",
        "ssh" | "ssh-keygen" | "scp" => "openssh-client",
        "ostree" => "ostree",
        "gpg" | "gpgconf" => "gpg",
        "ignition" | "ignition-validate" => "ignition",
        "nginx" => "nginx",
        "xorriso" => "xorriso",
        "mcopy" | "mmd" | "mdir" | "mtype" => "mtools",
        "mksquashfs" | "unsquashfs" => "squashfs-tools",
        "cpio" => "cpio",
        "dpkg-deb" => "dpkg",
        "chroot" => "coreutils",
        "strip" => "binutils",
        "systemctl" => "systemd",
        "etcd" => "etcd-server",
        "chromium" => "chromium",
        _ => return None,
    })
}

/// The command line of `command`, as a shell would show it.
pub fn command_line(command: &Command) -> String {
    let mut line = shell_word(&command.get_program().to_string_lossy());
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&shell_word(&arg.to_string_lossy()));
    }
    line
}

/// `word`, quoted when a shell would split or expand it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The last [`STDERR_TAIL`] bytes of `stderr`, trimmed, starting at a line.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.len() <= STDERR_TAIL {
        return text.to_owned();
    }
    let mut start = text.len() - STDERR_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    match cut.find('\n') {
        Some(nl) => format!("…{}", &cut[nl..]),
        None => format!("…{cut}"),
    }
}

/// Running a [`Command`] with errors that say what ran and why it failed.
pub trait CommandRunExt {
    /// Runs to completion with standard output inherited; fails unless it exits 0.
    fn run(&mut self) -> Result<(), CommandError>;
    /// Runs to completion and returns standard output (lossy UTF-8); fails unless it
    /// exits 0.
    fn run_get_string(&mut self) -> Result<String, CommandError>;
    /// Runs to completion and returns standard output and error; fails unless it exits
    /// 0.
    fn run_get_output(&mut self) -> Result<Output, CommandError>;
    /// Runs to completion and returns how it ended with what it printed, whatever the
    /// exit status: for callers that read the status themselves (an oracle compared
    /// exit code for exit code, a probe). Only a program that cannot start is an error.
    fn run_capture(&mut self) -> Result<Output, CommandError>;
    /// Runs to completion with every stream as configured (inherited by default) and
    /// returns the exit status, whatever it is.
    fn run_status(&mut self) -> Result<ExitStatus, CommandError>;
    /// Starts the program and returns the running child (a server, a VM, a program
    /// fed through a pipe).
    fn start(&mut self) -> Result<Child, CommandError>;
}

// The one place the standard library's runners are called (clippy.toml disallows
// them everywhere else).
#[allow(clippy::disallowed_methods)]
impl CommandRunExt for Command {
    fn run(&mut self) -> Result<(), CommandError> {
        self.stderr(Stdio::piped());
        let mut child = self.start()?;
        let mut stderr = Vec::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_end(&mut stderr)
                .map_err(|source| CommandError::Io {
                    command_line: command_line(self),
                    source,
                })?;
        }
        let status = child.wait().map_err(|source| CommandError::Io {
            command_line: command_line(self),
            source,
        })?;
        check(self, status, &stderr)
    }

    fn run_get_string(&mut self) -> Result<String, CommandError> {
        let output = self.run_get_output()?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn run_get_output(&mut self) -> Result<Output, CommandError> {
        let output = self.run_capture()?;
        check(self, output.status, &output.stderr)?;
        Ok(output)
    }

    fn run_capture(&mut self) -> Result<Output, CommandError> {
        self.output().map_err(|source| missing(self, source))
    }

    fn run_status(&mut self) -> Result<ExitStatus, CommandError> {
        self.status().map_err(|source| missing(self, source))
    }

    fn start(&mut self) -> Result<Child, CommandError> {
        self.spawn().map_err(|source| missing(self, source))
    }
}

fn missing(command: &Command, source: std::io::Error) -> CommandError {
    let program = command.get_program().to_string_lossy().into_owned();
    CommandError::Missing {
        package: debian_package(&program),
        program,
        source,
    }
}

fn check(command: &Command, status: ExitStatus, stderr: &[u8]) -> Result<(), CommandError> {
    if status.success() {
        return Ok(());
    }
    Err(CommandError::Failed {
        command_line: command_line(command),
        status,
        stderr: tail(stderr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_names_the_command_line_status_and_stderr() {
        let error = Command::new("sh")
            .args(["-c", "echo oops >&2; exit 3", "two words"])
            .run()
            .unwrap_err();
        assert_eq!(error.exit_code(), Some(3));
        assert_eq!(
            error.to_string(),
            "sh -c 'echo oops >&2; exit 3' 'two words' failed (exit status: 3): oops"
        );
    }

    #[test]
    fn a_missing_program_is_told_apart_and_names_its_package() {
        let error = Command::new("/nonexistent/sgdisk")
            .run_get_string()
            .unwrap_err();
        assert!(error.is_missing());
        assert_eq!(
            error.to_string(),
            "could not start /nonexistent/sgdisk (install the gdisk package)"
        );
    }

    #[test]
    fn output_and_captured_runs() {
        let out = Command::new("sh")
            .args(["-c", "echo hi"])
            .run_get_string()
            .unwrap();
        assert_eq!(out, "hi\n");
        let captured = Command::new("sh")
            .args(["-c", "echo e >&2; exit 1"])
            .run_capture()
            .unwrap();
        assert_eq!(captured.status.code(), Some(1));
        assert_eq!(captured.stderr, b"e\n");
    }

    #[test]
    fn long_stderr_keeps_its_tail() {
        let long: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let kept = tail(long.as_bytes());
        assert!(kept.len() <= STDERR_TAIL + 4);
        assert!(kept.starts_with('…'));
        assert!(kept.ends_with("line 1999"));
    }
}
