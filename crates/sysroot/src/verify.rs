//! A consistency check of the committed boot state: what must hold after any
//! operation, finished or interrupted. Crash-safety tests assert it.

use crate::error::Error;
use crate::layout::Sysroot;

impl Sysroot {
    /// Problems with the current boot entries: each entry must lead through the boot
    /// links to a complete deployment (with `usr/` and an origin), its kernel and
    /// initramfs must exist under `/boot`, and a deployment ref must keep its commit.
    /// An empty list means the sysroot boots every entry it lists.
    pub fn verify(&self) -> Result<Vec<String>, Error> {
        let state = self.load()?;
        let mut problems = Vec::new();
        let refs = self.repo().list_refs()?;
        for (i, d) in state.deployments.iter().enumerate() {
            let dir = self.dir_of(d);
            if !dir.join("usr").is_dir() {
                problems.push(format!("deployment {i}: {} has no usr/", dir.display()));
            }
            if !self.origin_path(&d.osname, &d.checksum, d.serial).is_file() {
                problems.push(format!("deployment {i}: no origin file"));
            }
            if !self
                .repo()
                .has_object(ferro_ostree::ObjectType::Commit, &d.checksum)
            {
                problems.push(format!("deployment {i}: commit {} missing", d.checksum));
            }
            let name = format!("ostree/{}/{}/{i}", state.bootversion, state.subbootversion);
            if !refs.iter().any(|(n, c)| *n == name && *c == d.checksum) {
                problems.push(format!("deployment {i}: ref {name} missing"));
            }
        }
        let entries = self
            .path()
            .join(format!("boot/loader.{}/entries", state.bootversion));
        for entry in std::fs::read_dir(&entries).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let entry = crate::bls::BlsEntry::parse(&text);
            for key in ["linux", "initrd"] {
                if let Some(path) = entry.get(key) {
                    let file = self.path().join("boot").join(path.trim_start_matches('/'));
                    if !file.is_file() {
                        problems.push(format!("{key} {} missing", file.display()));
                    }
                }
            }
        }
        Ok(problems)
    }
}
