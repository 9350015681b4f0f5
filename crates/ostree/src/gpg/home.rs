//! Where trusted keys come from ([`Keyrings`]) and the throwaway GnuPG homedir they are
//! gathered in for one verification ([`GpgHome`]).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::{CommandRunExt, io_err};

use super::keys::{self, Key};
use super::{GpgError, SignatureInfo, VerifyResult, parse_status};

/// The directory of system-wide trusted keyrings when `OSTREE_GPG_HOME` is unset.
const GLOBAL_KEYRING_DIR: &str = "/usr/share/ostree/trusted.gpg.d";

/// The keys a verification trusts, gathered as OSTree gathers them: binary keyring
/// files (concatenated; one that does not exist is skipped), keyring bytes already
/// read, and key files imported one by one (`gpgkeypath=`, ASCII-armored or binary).
#[derive(Debug, Clone, Default)]
pub struct Keyrings {
    files: Vec<PathBuf>,
    data: Vec<Vec<u8>>,
    key_files: Vec<PathBuf>,
}

impl Keyrings {
    /// Adds a binary keyring file (`--keyring`); a missing one adds nothing.
    pub fn add_keyring_file(&mut self, path: &Path) {
        self.files.push(path.to_owned());
    }

    /// Adds keyring bytes.
    pub fn add_keyring_data(&mut self, data: Vec<u8>) {
        self.data.push(data);
    }

    /// Adds every `*.gpg` regular file of `dir` but `trustdb.gpg` and `secring.gpg`:
    /// the keyrings of a remote-keyring directory, a GnuPG homedir or
    /// `trusted.gpg.d`.
    pub fn add_keyring_dir(&mut self, dir: &Path) -> Result<(), GpgError> {
        for (name, path) in regular_files(dir)? {
            if name.ends_with(".gpg") && name != "trustdb.gpg" && name != "secring.gpg" {
                self.data
                    .push(fs::read(&path).map_err(io_err("read", &path))?);
            }
        }
        Ok(())
    }

    /// Adds the global keyrings: `OSTREE_GPG_HOME`, else
    /// `/usr/share/ostree/trusted.gpg.d`, when it is a directory.
    pub fn add_global(&mut self) -> Result<(), GpgError> {
        let dir = std::env::var_os("OSTREE_GPG_HOME")
            .map_or_else(|| PathBuf::from(GLOBAL_KEYRING_DIR), PathBuf::from);
        if dir.is_dir() {
            self.add_keyring_dir(&dir)?;
        }
        Ok(())
    }

    /// Adds a `gpgkeypath=` entry: every regular file of a directory, or the file
    /// itself, as a key file to import. A path that does not exist is an error naming
    /// it, as OSTree refuses it.
    pub fn add_key_path(&mut self, path: &Path) -> Result<(), GpgError> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                for (_, file) in regular_files(path)? {
                    self.key_files.push(file);
                }
                Ok(())
            }
            Ok(_) => {
                self.key_files.push(path.to_owned());
                Ok(())
            }
            Err(source) => Err(GpgError::KeyPath {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

/// The regular files directly in `dir`, with their names, sorted by name.
fn regular_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, GpgError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("open directory", dir))? {
        let entry = entry.map_err(io_err("read directory", dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_err("stat", &path))?.is_file() {
            out.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// A `gpg` command with the options every run here needs: no terminal, no prompts.
pub(super) fn gpg(homedir: Option<&Path>) -> Command {
    let mut command = Command::new("gpg");
    if let Some(homedir) = homedir {
        command.arg("--homedir").arg(homedir);
    }
    command.args(["--batch", "--no-tty"]);
    command
}

/// A throwaway GnuPG homedir under a repository's `tmp/`, removed when dropped. Its
/// `pubring.gpg` is created (empty, or holding the keyrings given) before `gpg` first
/// runs, so that `gpg` keeps keys in that classic keyring rather than a new keybox,
/// which lets the keyring be copied out as a file `ostree` reads too.
pub(super) struct GpgHome {
    dir: tempfile::TempDir,
}

impl GpgHome {
    /// A homedir in `parent` with `pubring.gpg` holding `pubring`.
    pub(super) fn new(parent: &Path, pubring: &[u8]) -> Result<Self, GpgError> {
        let dir = tempfile::Builder::new()
            .prefix("gpg-")
            .tempdir_in(parent)
            .map_err(io_err("create a directory in", parent))?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod", dir.path()))?;
        let home = GpgHome { dir };
        let ring = home.path().join("pubring.gpg");
        fs::write(&ring, pubring).map_err(io_err("write", &ring))?;
        Ok(home)
    }

    /// A homedir holding every key of `keyrings`.
    pub(super) fn with_keyrings(parent: &Path, keyrings: &Keyrings) -> Result<Self, GpgError> {
        let mut pubring = Vec::new();
        for file in &keyrings.files {
            match fs::read(file) {
                Ok(bytes) => pubring.extend(bytes),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("read", file)(e).into()),
            }
        }
        for data in &keyrings.data {
            pubring.extend_from_slice(data);
        }
        let home = Self::new(parent, &pubring)?;
        // As GPGME's import: a file with no key in it (a directory of key files may
        // hold other files) adds nothing rather than failing.
        for file in &keyrings.key_files {
            home.gpg().arg("--import").arg(file).run_capture()?;
        }
        Ok(home)
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A scratch file in the homedir holding `bytes`.
    pub(super) fn scratch(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, GpgError> {
        let path = self.path().join(name);
        fs::write(&path, bytes).map_err(io_err("write", &path))?;
        Ok(path)
    }

    fn gpg(&self) -> Command {
        gpg(Some(self.path()))
    }

    /// Imports the keys of a file (binary or ASCII-armored); returns how many keys were
    /// new (`IMPORT_RES`'s "imported": keys already there, even updated, do not count).
    pub(super) fn import(&self, file: &Path) -> Result<usize, GpgError> {
        let output = self
            .gpg()
            .args(["--status-fd", "1", "--import"])
            .arg(file)
            .run_get_output()?;
        let status = String::from_utf8_lossy(&output.stdout);
        Ok(status
            .lines()
            .filter_map(|l| l.strip_prefix("[GNUPG:] IMPORT_RES "))
            .filter_map(|rest| rest.split(' ').nth(2)?.parse::<usize>().ok())
            .sum())
    }

    /// Every public key.
    pub(super) fn list_keys(&self) -> Result<Vec<Key>, GpgError> {
        let listing = self
            .gpg()
            .args(["--with-colons", "--fixed-list-mode", "--list-keys"])
            .run_get_string()?;
        Ok(keys::parse_listing(&listing))
    }

    /// The binary export of the keys `ids` name (every key when empty).
    pub(super) fn export(&self, ids: &[String]) -> Result<Vec<u8>, GpgError> {
        Ok(self
            .gpg()
            .arg("--export")
            .args(ids)
            .run_get_output()?
            .stdout)
    }

    /// Verifies the concatenated detached `signatures` of `data` with this homedir's
    /// keys. `gpg` exits non-zero when any signature fails; the verdicts are read from
    /// its status lines either way, and a run that reports no signature at all is one
    /// with nothing valid.
    pub(super) fn verify(&self, data: &[u8], signatures: &[u8]) -> Result<VerifyResult, GpgError> {
        let data = self.scratch("signed-data", data)?;
        let sig = self.scratch("signatures", signatures)?;
        let output = self
            .gpg()
            .args(["--trust-model", "always", "--status-fd", "1", "--verify"])
            .arg(&sig)
            .arg(&data)
            .run_capture()?;
        let keys = self.list_keys()?;
        let signatures: Vec<SignatureInfo> =
            parse_status(&String::from_utf8_lossy(&output.stdout), &keys);
        Ok(VerifyResult { signatures, keys })
    }
}

/// Signs `data` with the secret key `key_id` of `homedir` (gpg's default homedir when
/// `None`) and returns the binary detached signature; `scratch` is a directory for
/// the input and output files.
pub(super) fn sign_data(
    scratch: &GpgHome,
    data: &[u8],
    key_id: &str,
    homedir: Option<&Path>,
) -> Result<Vec<u8>, GpgError> {
    let found = gpg(homedir)
        .args(["--with-colons", "--list-secret-keys", "--", key_id])
        .run_capture()?;
    if !found.status.success() || found.stdout.is_empty() {
        return Err(GpgError::NoSecretKey {
            key_id: key_id.to_owned(),
            homedir: homedir.map_or_else(|| "default".into(), |h| h.display().to_string()),
        });
    }
    let input = scratch.scratch("to-sign", data)?;
    let output = scratch.path().join("signature");
    gpg(homedir)
        .args(["--yes", "--detach-sign", "--local-user", key_id, "--output"])
        .arg(&output)
        .arg(&input)
        .run()?;
    Ok(fs::read(&output).map_err(io_err("read", &output))?)
}
