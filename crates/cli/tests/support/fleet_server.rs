//! `ferro fleet serve` as a child process, for the tests that need the real binary:
//! started with its config, read until it announces `listening on ADDR` (readiness is
//! that line, never a wait).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use ferro_sys::CommandRunExt;

/// A running server and the address it announced.
pub struct Served {
    /// The process (its standard error is what the caller chose).
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Starts `ferro fleet serve --config CONFIG` with `FERRO_LOG=log` and its standard
/// error to `stderr` (piped: shown if it does not start); panics with what it said if
/// it exits before announcing its address.
pub fn serve(config: &Path, log: &str, stderr: Stdio) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(["fleet", "serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .env("FERRO_LOG", log)
        .start()
        .expect("start ferro fleet serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(addr) = line.trim().strip_prefix("listening on ") else {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        panic!("the server did not start: {line:?} {stderr}");
    };
    Served {
        addr: addr.parse().unwrap(),
        child,
    }
}
