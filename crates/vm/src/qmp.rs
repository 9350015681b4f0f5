//! A minimal QMP (QEMU Machine Protocol) client: enough to ask a running VM to power
//! down or to quit, which is how `ferro vm stop` ends a daemonized QEMU cleanly.
//!
//! QMP is line-delimited JSON over a Unix socket: the server greets, the client enables
//! commands with `qmp_capabilities`, then each command gets a `return` or an `error`;
//! asynchronous `event` lines may arrive in between and are skipped.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferro_sys::{IoError, IoResultExt};
use serde_json::{Value, json};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be reached or broke.
    #[error(transparent)]
    Io(#[from] IoError),
    /// QEMU answered with an error or something that is not QMP.
    #[error("QMP command '{command}' failed: {message}")]
    Command {
        /// The command sent.
        command: String,
        /// QEMU's description.
        message: String,
    },
}

/// A QMP connection in command mode.
#[derive(Debug)]
pub struct Qmp {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects, reads the greeting and enters command mode.
    pub fn connect(path: &Path) -> Result<Self, Error> {
        let stream = UnixStream::connect(path).at("connect to the QMP socket", path)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .at("configure the QMP socket", path)?;
        let writer = stream.try_clone().at("configure the QMP socket", path)?;
        let mut qmp = Qmp {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(Error::Command {
                command: "(greeting)".into(),
                message: format!("unexpected greeting {greeting}"),
            });
        }
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value, Error> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .at("read from the QMP socket", &self.path)?;
        if n == 0 {
            let eof = std::io::ErrorKind::UnexpectedEof.into();
            return Err(IoError::new("read from the QMP socket", &self.path, eof).into());
        }
        serde_json::from_str(&line).map_err(|e| Error::Command {
            command: "(read)".into(),
            message: format!("not JSON: {e}"),
        })
    }

    /// Runs `command` (no arguments) and waits for its answer.
    pub fn execute(&mut self, command: &str) -> Result<Value, Error> {
        let request = json!({ "execute": command }).to_string() + "\n";
        self.writer
            .write_all(request.as_bytes())
            .at("write to the QMP socket", &self.path)?;
        loop {
            let message = self.read_message()?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                return Err(Error::Command {
                    command: command.into(),
                    message: error
                        .get("desc")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .into(),
                });
            }
        }
    }
}
