//! What a running host does around its deployments beyond the sysroot: rebooting, and
//! asking logind for block-mode shutdown inhibitors. Behind [`HostActions`] so that the
//! CLI and the node agent share one implementation ([`SystemHost`]) and tests inject
//! their own.

use std::process::Command;

use ferro_sys::CommandRunExt;

use crate::deployment::Deployment;
use crate::error::Error;
use crate::layout::Sysroot;

/// The host operations updates need.
pub trait HostActions {
    /// Reboots the machine (returns once the reboot is queued).
    fn reboot(&self) -> Result<(), Error>;
    /// Who holds a block-mode `shutdown` inhibitor, as "WHO: WHY" lines.
    fn block_shutdown_inhibitors(&self) -> Result<Vec<String>, Error>;
}

/// The real host: `systemctl reboot`, logind's `ListInhibitors` through `busctl`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemHost;

fn command_error(e: ferro_sys::CommandError) -> Error {
    Error::Invalid(e.to_string())
}

impl HostActions for SystemHost {
    fn reboot(&self) -> Result<(), Error> {
        Command::new("systemctl")
            .arg("reboot")
            .run()
            .map_err(command_error)
    }

    fn block_shutdown_inhibitors(&self) -> Result<Vec<String>, Error> {
        let out = Command::new("busctl")
            .args([
                "--json=short",
                "call",
                "org.freedesktop.login1",
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "ListInhibitors",
            ])
            .run_get_string()
            .map_err(command_error)?;
        parse_inhibitors(&out)
    }
}

/// Reads `busctl --json=short` output of `ListInhibitors` (`a(ssssuu)`: what, who,
/// why, mode, uid, pid) and keeps the block-mode shutdown ones.
pub fn parse_inhibitors(json: &str) -> Result<Vec<String>, Error> {
    let bad = |detail: &str| Error::Invalid(format!("logind ListInhibitors reply: {detail}"));
    let doc: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
    let rows = doc["data"][0]
        .as_array()
        .ok_or_else(|| bad("no data array"))?;
    let mut found = vec![];
    for row in rows {
        let field = |i: usize| row[i].as_str().unwrap_or_default();
        let (what, who, why, mode) = (field(0), field(1), field(2), field(3));
        if mode == "block" && what.split(':').any(|w| w == "shutdown") {
            found.push(format!("{who}: {why}"));
        }
    }
    Ok(found)
}

/// `ferro finalize-deployment CHECKSUM`, as rpm-ostree's: refuses unless `checksum` is
/// the staged commit, and while a block-mode shutdown inhibitor is held (unless
/// `allow_inhibitors`); then unlocks finalization and reboots, so the shutdown
/// finalizes the deployment. Returns the deployment.
pub fn finalize_deployment(
    sysroot: &Sysroot,
    host: &dyn HostActions,
    checksum: &str,
    allow_inhibitors: bool,
) -> Result<Deployment, Error> {
    let staged = sysroot
        .staged()?
        .ok_or_else(|| Error::Invalid("No staged deployment to finalize".into()))?;
    if staged.checksum.to_string() != checksum {
        return Err(Error::Invalid(format!(
            "Expected staged base checksum {checksum}, but found {}",
            staged.checksum
        )));
    }
    if !allow_inhibitors {
        let inhibitors = host.block_shutdown_inhibitors()?;
        if !inhibitors.is_empty() {
            return Err(Error::Invalid(format!(
                "Reboot blocked by a block-mode shutdown inhibitor: {}",
                inhibitors.join("; ")
            )));
        }
    }
    let staged = sysroot.unlock_staged(checksum)?;
    host.reboot()?;
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_block_mode_shutdown_inhibitors_count() {
        let json = r#"{"type":"a(ssssuu)","data":[[
            ["shutdown:sleep","Unattended Upgrades","Upgrading packages","block",0,12],
            ["sleep","NetworkManager","suspend","delay",0,9],
            ["shutdown","ModemManager","reset","delay",0,7]]]}"#;
        assert_eq!(
            parse_inhibitors(json).unwrap(),
            ["Unattended Upgrades: Upgrading packages"]
        );
        assert!(parse_inhibitors("nope").is_err());
    }
}
