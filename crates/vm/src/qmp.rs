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

use serde_json::{Value, json};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be reached or broke.
    #[error("QMP socket '{path}'")]
    Io {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
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
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
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

    fn io(&self) -> impl FnOnce(std::io::Error) -> Error + '_ {
        |source| Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read_message(&mut self) -> Result<Value, Error> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).map_err(self.io())?;
        if n == 0 {
            return Err(self.io()(std::io::ErrorKind::UnexpectedEof.into()));
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
            .map_err(self.io())?;
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
