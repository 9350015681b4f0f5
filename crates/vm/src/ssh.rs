//! Reaching a VM's SSH server through its loopback port forward: the `ssh` command line
//! `ferro vm ssh` runs, and the readiness check `ferro vm run --wait-ssh` polls.

use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// The user Fedora CoreOS (and ferrocore's base config) provisions.
pub const USER: &str = "core";

/// What ferrocore's initramfs prints when it stops a first boot (`ferro_stop` in
/// `dist/initramfs-tools/ferro-ignition`, which `ferro compose tree` installs);
/// `ferro vm run --wait-ssh` watches the console for it. Defined here, by the side that
/// reads it: the script is the other side, and a test below checks that it agrees.
pub const BOOT_STOPPED: &str = "The boot is stopped";

/// The `ssh` arguments that log in as `core` on `port`, then run `command`, if any.
///
/// Host keys are neither checked nor remembered: every VM is new and its keys are made
/// on first boot, so a known-hosts entry could only ever be wrong.
pub fn command_args(port: u16, key: Option<&Path>, command: &[OsString]) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-p", &port.to_string()]
        .iter()
        .map(OsString::from)
        .collect();
    if let Some(key) = key {
        args.extend(["-i".into(), key.as_os_str().to_owned()]);
        args.extend(["-o".into(), "IdentitiesOnly=yes".into()]);
    }
    for option in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        // An emulated guest can take many seconds for the key exchange.
        "ConnectTimeout=60",
    ] {
        args.extend(["-o".into(), option.into()]);
    }
    args.push(format!("{USER}@127.0.0.1").into());
    if !command.is_empty() {
        args.push("--".into());
        args.extend(command.iter().cloned());
    }
    args
}

/// Whether an SSH server answers on `127.0.0.1:port`: it must send its `SSH-` banner.
///
/// A TCP connect alone proves nothing, because QEMU's user networking accepts on the
/// forwarded port before the guest listens, then closes the connection.
pub fn banner_ready(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err() {
        return false;
    }
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

/// The last non-empty line of the console log's `text`, for progress output while
/// waiting.
pub fn last_console_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(|line| line.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

/// Why the boot was stopped, if the console log's `text` says the initramfs stopped it
/// (see [`BOOT_STOPPED`]): Ignition's CRITICAL lines and ferro's own
/// message, so a bad config is reported at once instead of after the SSH timeout.
pub fn boot_stopped(text: &str) -> Option<String> {
    if !text.contains(BOOT_STOPPED) {
        return None;
    }
    let lines: Vec<&str> = text
        .lines()
        .map(|line| line.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
        .filter(|line| line.starts_with("CRITICAL") || line.starts_with("ferro: "))
        .collect();
    let mut reasons: Vec<&str> = Vec::new();
    for line in lines {
        // The stop message comes twice (console and panic); say it once.
        let line = line.split(BOOT_STOPPED).next().unwrap_or(line);
        if !reasons.contains(&line.trim_end()) {
            reasons.push(line.trim_end());
        }
    }
    Some(reasons.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn ssh_arguments_name_port_key_user_and_command() {
        let args = command_args(
            2222,
            Some(Path::new("/k/id")),
            &["uname".into(), "-a".into()],
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "-p",
                "2222",
                "-i",
                "/k/id",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=60",
                "core@127.0.0.1",
                "--",
                "uname",
                "-a"
            ]
        );
        let args = command_args(22, None, &[]);
        assert_eq!(args.last().unwrap(), "core@127.0.0.1");
        assert!(!args.iter().any(|a| a == "-i"));
    }

    #[test]
    fn only_a_server_that_sends_a_banner_is_ready() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut silent, _) = listener.accept().unwrap();
            let (mut ssh, _) = listener.accept().unwrap();
            ssh.write_all(b"SSH-2.0-test\r\n").unwrap();
            drop(silent.write_all(b""));
            (silent, ssh)
        });
        assert!(!banner_ready(port, Duration::from_millis(200)));
        assert!(banner_ready(port, Duration::from_secs(5)));
        server.join().unwrap();
    }

    #[test]
    fn last_console_line_skips_blank_and_control_lines() {
        assert_eq!(
            last_console_line("booting\r\nLinux version 6.1\r\n\x1b\r\n\r\n").as_deref(),
            Some("Linux version 6.1")
        );
        assert_eq!(last_console_line(""), None);
    }

    #[test]
    fn the_initramfs_says_boot_stopped_as_wait_ssh_expects() {
        let functions = include_str!("../../../dist/initramfs-tools/ferro-ignition");
        assert!(functions.contains(BOOT_STOPPED));
    }

    #[test]
    fn a_stopped_boot_is_reported_with_ignitions_reason() {
        assert_eq!(
            boot_stopped("Begin: Ignition (ferro): files ... INFO : Stage: files\n"),
            None
        );
        let stop = format!(
            "CRITICAL : Ignition failed: $.storage.files.0: hash mismatch\r\n\
             ferro: Ignition stage 'files' failed.\n\
             ferro: Ignition stage 'files' failed. {} so that nothing half-provisioned runs\n\
             (initramfs) \n",
            BOOT_STOPPED
        );
        assert_eq!(
            boot_stopped(&stop).unwrap(),
            "CRITICAL : Ignition failed: $.storage.files.0: hash mismatch\n\
             ferro: Ignition stage 'files' failed."
        );
    }
}
