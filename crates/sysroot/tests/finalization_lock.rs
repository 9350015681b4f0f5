//! Locked finalization (`--lock-finalization`, `finalize-deployment`), OSTree's staged
//! deployment record and lock file, and the update-driver registration.

mod support;

use std::cell::RefCell;
use std::fs;

use ferro_sysroot::host::{HostActions, finalize_deployment};
use ferro_sysroot::staged_record::StagedRecord;
use ferro_sysroot::{Apply, Error, Sysroot, UpdateDriver};
use support::{Scratch, snapshot};

fn booted(scratch: &Scratch) -> Sysroot {
    support::booted_testos(scratch)
}

fn new_version(scratch: &Scratch, sysroot: &Sysroot, version: &str) -> ferro_ostree::Checksum {
    support::new_testos_version(scratch, sysroot, version)
}

/// A host that records reboots and reports the inhibitors it is given.
#[derive(Default)]
struct FakeHost {
    inhibitors: Vec<String>,
    reboots: RefCell<usize>,
}

impl HostActions for FakeHost {
    fn reboot(&self) -> Result<(), Error> {
        *self.reboots.borrow_mut() += 1;
        Ok(())
    }
    fn block_shutdown_inhibitors(&self) -> Result<Vec<String>, Error> {
        Ok(self.inhibitors.clone())
    }
}

#[test]
fn the_record_is_ostrees_gvariant_in_run_ostree() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let v2 = new_version(&scratch, &sysroot, "2");
    let (_, report) = sysroot.upgrade(Apply::Staged).unwrap();
    let d = report.unwrap().deployment;
    let bytes = fs::read(scratch.path().join("run/ostree/staged-deployment")).unwrap();
    let record = StagedRecord::decode(&bytes).unwrap();
    assert_eq!(record.osname, "testos");
    assert_eq!(record.checksum, v2.to_string());
    assert_eq!(record.serial, d.serial as i32);
    assert_eq!(record.bootcsum, d.bootcsum);
    assert_eq!(record.kargs.as_deref(), Some(&["rw".to_owned()][..]));
    assert!(!record.locked);
    assert!(
        !scratch
            .path()
            .join("run/ostree/staged-deployment-locked")
            .exists()
    );
    // A record written by another tool with `locked` set is honoured too.
    let locked = StagedRecord {
        locked: true,
        ..record
    };
    fs::write(
        scratch.path().join("run/ostree/staged-deployment"),
        locked.encode(),
    )
    .unwrap();
    assert!(sysroot.finalization_locked().unwrap());
    assert!(sysroot.finalize_staged().is_err());
    // A corrupt record is an error naming the file, never a panic.
    fs::write(scratch.path().join("run/ostree/staged-deployment"), b"junk").unwrap();
    let err = sysroot.staged().unwrap_err().to_string();
    assert!(err.contains("run/ostree/staged-deployment"), "{err}");
}

#[test]
fn a_locked_staged_deployment_is_not_finalized_until_unlocked() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let v2 = new_version(&scratch, &sysroot, "2");
    let (_, report) = sysroot.upgrade(Apply::StagedLocked).unwrap();
    assert_eq!(report.unwrap().deployment.checksum, v2);
    let lock = scratch.path().join("run/ostree/staged-deployment-locked");
    assert!(lock.exists());
    assert!(sysroot.finalization_locked().unwrap());

    // Shutdown while locked: nothing changes, the deployment stays staged.
    let boot_before = snapshot(&sysroot.path().join("boot"));
    let err = sysroot.finalize_staged().unwrap_err().to_string();
    assert!(err.contains("Not finalizing; found"), "{err}");
    assert_eq!(snapshot(&sysroot.path().join("boot")), boot_before);
    assert_eq!(sysroot.staged().unwrap().unwrap().checksum, v2);

    // finalize-deployment: a different checksum and a block inhibitor are refused.
    let host = FakeHost {
        inhibitors: vec!["backup: copying".into()],
        ..FakeHost::default()
    };
    let wrong = "0".repeat(64);
    let err = finalize_deployment(&sysroot, &host, &wrong, false).unwrap_err();
    assert!(
        err.to_string().contains("Expected staged base checksum"),
        "{err}"
    );
    let err = finalize_deployment(&sysroot, &host, &v2.to_string(), false).unwrap_err();
    assert!(err.to_string().contains("backup: copying"), "{err}");
    assert!(lock.exists());
    assert_eq!(*host.reboots.borrow(), 0);

    let host = FakeHost::default();
    let d = finalize_deployment(&sysroot, &host, &v2.to_string(), false).unwrap();
    assert_eq!(d.checksum, v2);
    assert_eq!(*host.reboots.borrow(), 1);
    assert!(!lock.exists());
    // The shutdown then finalizes it.
    let report = sysroot.finalize_staged().unwrap().unwrap();
    assert_eq!(report.deployment.checksum, v2);
    assert_eq!(sysroot.load().unwrap().deployments[0].checksum, v2);
}

#[test]
fn restaging_without_the_flag_drops_the_lock_and_discarding_removes_it() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    new_version(&scratch, &sysroot, "2");
    sysroot.upgrade(Apply::StagedLocked).unwrap();
    let lock = scratch.path().join("run/ostree/staged-deployment-locked");
    assert!(lock.exists());
    new_version(&scratch, &sysroot, "3");
    sysroot.upgrade(Apply::Staged).unwrap();
    assert!(!lock.exists());
    new_version(&scratch, &sysroot, "4");
    sysroot.upgrade(Apply::StagedLocked).unwrap();
    assert!(lock.exists());
    sysroot.discard_staged().unwrap().unwrap();
    assert!(!lock.exists());
    assert!(!sysroot.finalization_locked().unwrap());
}

#[test]
fn manual_updates_need_bypass_while_a_driver_is_registered() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    assert!(sysroot.check_driver(false).is_ok());
    let driver = UpdateDriver {
        name: "ferro agent".into(),
        unit: "ferro-agent.service".into(),
    };
    sysroot.register_driver(&driver).unwrap();
    assert_eq!(sysroot.update_driver().unwrap(), Some(driver));
    let err = sysroot.check_driver(false).unwrap_err().to_string();
    assert!(
        err.contains("ferro-agent.service") && err.contains("--bypass-driver"),
        "{err}"
    );
    assert!(sysroot.check_driver(true).is_ok());
    sysroot.unregister_driver().unwrap();
    assert!(sysroot.check_driver(false).is_ok());
}
