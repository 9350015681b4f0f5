//! The update driver: a service (the node agent) that owns updates on this host, as
//! rpm-ostree's `--register-driver` records one. While a driver is registered, manual
//! `ferro upgrade|deploy|rebase` refuse unless told `--bypass-driver`, so an operator
//! does not stage something behind the agent's back (it would replace the agent's
//! locked staged deployment). The record lives in the run directory (a tmpfs): it
//! vanishes at reboot and the agent registers again when it starts.

use std::fs;
use std::io;

use ferro_ostree::keyfile::KeyFile;
use ferro_sys::IoResultExt;
use ferro_sys::atomic::{WriteOptions, write_file};

use crate::error::Error;
use crate::fsutil;
use crate::layout::Sysroot;

/// A registered update driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDriver {
    /// Its name, shown to whoever runs a manual update.
    pub name: String,
    /// Its systemd unit.
    pub unit: String,
}

impl Sysroot {
    /// Registers `driver` (replacing any other).
    pub fn register_driver(&self, driver: &UpdateDriver) -> Result<(), Error> {
        let mut record = KeyFile::default();
        record.set("driver", "name", &driver.name);
        record.set("driver", "unit", &driver.unit);
        let path = self.driver_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).at("create directory", dir)?;
        }
        write_file(
            &path,
            record.to_text().as_bytes(),
            WriteOptions::replace(0o644),
        )?;
        Ok(())
    }

    /// Removes the registration (a driver stopping).
    pub fn unregister_driver(&self) -> Result<(), Error> {
        fsutil::remove_file_if_exists(&self.driver_path())
    }

    /// The registered driver, if any.
    pub fn update_driver(&self) -> Result<Option<UpdateDriver>, Error> {
        let path = self.driver_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ferro_sys::io_err("read", &path)(e).into()),
        };
        let record = KeyFile::parse(&text);
        Ok(Some(UpdateDriver {
            name: record.get("driver", "name").unwrap_or_default(),
            unit: record.get("driver", "unit").unwrap_or_default(),
        }))
    }

    /// Refuses a manual update while a driver is registered, unless `bypass`.
    pub fn check_driver(&self, bypass: bool) -> Result<(), Error> {
        match self.update_driver()? {
            Some(driver) if !bypass => Err(Error::Invalid(format!(
                "Updates and deployments are driven by {} ({}); stop it or pass \
                 --bypass-driver to update anyway",
                driver.name, driver.unit
            ))),
            _ => Ok(()),
        }
    }
}
