//! apt and dpkg, confined to a work tree.
//!
//! Resolution and download are the host's `apt-get` pointed at the tree with `-o
//! Dir=TREE`: it reads the tree's apt sources and trusted keys and the tree's dpkg
//! database (through `/var/lib/dpkg` → `/usr/lib/sysimage/dpkg`), verifies the archive's
//! `InRelease` signature and every index and package hash as it always does, and keeps
//! its lists and downloads in a cache outside the tree. Any failed fetch is an error
//! (`APT::Update::Error-Mode=any`): a layer is never built from stale or unsigned
//! indexes.
//!
//! Unpacking and maintainer scripts are `dpkg --root=TREE`: dpkg chroots into the tree
//! for every script. It runs in its own mount and PID namespaces (`unshare`) with a
//! private `/dev` holding only the harmless device nodes, the tree's own `/proc`,
//! `/tmp` and `/run`: nothing a script does can reach the running system's mounts or
//! outlive the transaction. `policy-rc.d` (written by the caller) keeps services from
//! starting.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::CommandRunExt;
use ferro_sys::command::command_line;

/// Why a tool failed: its command line, exit status and the last lines it printed
/// (apt explains unmet dependencies on standard output, dpkg a failing script on
/// standard error: both are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The last lines that matter of a tool's output.
const TAIL_LINES: usize = 12;

/// Runs `command`; on failure the error has the interesting end of both streams.
fn run(command: &mut Command) -> Result<String, ToolError> {
    let line = command_line(command);
    let program = line.split_whitespace().next().unwrap_or("").to_owned();
    run_as(command, &program)
}

/// [`run`], naming the tool `program` in errors (the sandbox runs dpkg through
/// `unshare` and `sh`).
fn run_as(command: &mut Command, program: &str) -> Result<String, ToolError> {
    let output = command
        .run_capture()
        .map_err(|e| ToolError(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let noise = |l: &&str| {
        let l = l.trim();
        !l.is_empty()
            && !l.starts_with("Reading ")
            && !l.starts_with("Building dependency")
            && !l.starts_with("(Reading database")
            && !l.starts_with("W: ")
            && !l.starts_with("- ")
            && !l.starts_with("Hashes of")
            && !l.starts_with("Last modification")
            && !l.starts_with("NOTE:")
            && !l.starts_with("Get:")
            && !l.starts_with("Hit:")
            && !l.starts_with("Ign:")
            && !l.starts_with("Fetched ")
            && !l.starts_with("Some packages could not")
            && !l.starts_with("requested an impossible")
            && !l.starts_with("distribution that some")
            && !l.starts_with("or been moved out")
            && !l.starts_with("the following information")
            && !l.starts_with("The following information")
    };
    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).filter(noise).collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    Err(ToolError(format!(
        "{program} exited with {}:\n{tail}",
        output.status
    )))
}

/// The real apt-get: the image's `/usr/sbin/apt-get` is a wrapper pointing users at
/// `ferro install`.
const APT_GET: &str = "/usr/bin/apt-get";

/// One package the transaction installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// Package name.
    pub name: String,
    /// Version installed.
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// The version the tree has now, when this replaces a package of the base.
    pub replaces: Option<String>,
}

/// What apt would do, from `apt-get --simulate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Packages installed, in apt's order.
    pub install: Vec<Install>,
    /// Packages removed: (name, version).
    pub remove: Vec<(String, String)>,
}

impl Transaction {
    /// Parses `apt-get -s` output: `Inst NAME [OLD] (NEW SUITE [ARCH])`, `Remv NAME [VER]`.
    pub fn parse(text: &str) -> Self {
        let mut out = Transaction::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("Inst ") {
                let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                let (replaces, rest) = match rest.strip_prefix('[') {
                    Some(r) => match r.split_once("] ") {
                        Some((old, rest)) => (Some(old.to_owned()), rest),
                        None => (None, r),
                    },
                    None => (None, rest),
                };
                let inner = rest.trim_start_matches('(');
                let version = inner.split_whitespace().next().unwrap_or("").to_owned();
                let arch = inner
                    .rsplit_once('[')
                    .and_then(|(_, a)| a.split_once(']'))
                    .map_or("all", |(a, _)| a)
                    .to_owned();
                out.install.push(Install {
                    name: name.to_owned(),
                    version,
                    arch,
                    replaces,
                });
            } else if let Some(rest) = line.strip_prefix("Remv ") {
                let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                let version = rest
                    .trim()
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                out.remove.push((name.to_owned(), version));
            }
        }
        out
    }

    /// The transaction as `--dry-run` prints it.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for p in &self.install {
            match &p.replaces {
                Some(old) => text.push_str(&format!(
                    "  replace {} {old} -> {} ({})\n",
                    p.name, p.version, p.arch
                )),
                None => text.push_str(&format!(
                    "  install {} {} ({})\n",
                    p.name, p.version, p.arch
                )),
            }
        }
        for (name, version) in &self.remove {
            text.push_str(&format!("  remove {name} {version}\n"));
        }
        text
    }
}

/// The archive file apt downloads `p` to.
pub fn archive_file(archives: &Path, p: &Install) -> PathBuf {
    let version = p.version.replace(':', "%3a");
    archives.join(format!("{}_{version}_{}.deb", p.name, p.arch))
}

/// apt-get confined to a tree, with its lists and downloads in `cache`.
pub struct Apt<'a> {
    pub(crate) tree: &'a Path,
    pub(crate) cache: &'a Path,
}

impl Apt<'_> {
    /// Where downloaded packages are.
    pub fn archives(&self) -> PathBuf {
        self.cache.join("archives")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(APT_GET);
        let mut opt = |key: &str, value: &Path| {
            let mut arg = OsString::from(format!("{key}="));
            arg.push(value);
            command.arg("-o").arg(arg);
        };
        opt("Dir", self.tree);
        opt("Dir::State::Lists", &self.cache.join("lists"));
        opt("Dir::Cache", self.cache);
        opt("Dir::Cache::Archives", &self.archives());
        opt("Dir::Log", &self.cache.join("log"));
        command.args([
            "-q",
            "-o",
            "Debug::NoLocking=1",
            "-o",
            "APT::Sandbox::User=root",
            "-o",
            "APT::Update::Error-Mode=any",
            "-o",
            "APT::Install-Recommends=false",
            "-o",
            "APT::Get::Assume-Yes=true",
        ]);
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C");
        command
    }

    /// Creates the cache directories apt expects.
    pub fn prepare(&self) -> std::io::Result<()> {
        for dir in ["lists/partial", "archives/partial", "log"] {
            std::fs::create_dir_all(self.cache.join(dir))?;
        }
        Ok(())
    }

    /// `apt-get update`: fetches and verifies the indexes the tree's sources name.
    pub fn update(&self) -> Result<(), ToolError> {
        run(self.command().arg("update")).map(drop)
    }

    /// `apt-get -s install ARGS`: the transaction installing `args` (names, or paths of
    /// local `.deb` files).
    pub fn simulate(&self, args: &[OsString]) -> Result<Transaction, ToolError> {
        let text = run(self.command().args(["-s", "install"]).args(args))?;
        Ok(Transaction::parse(&text))
    }

    /// `apt-get --download-only install ARGS`: downloads and verifies the packages.
    pub fn download(&self, args: &[OsString]) -> Result<(), ToolError> {
        run(self
            .command()
            .args(["--download-only", "install"])
            .args(args))
        .map(drop)
    }
}

/// The shell that sets up the namespace for dpkg: a private `/dev` with the harmless
/// device nodes bound from the host, the tree's own `/proc`, `/tmp` and `/run`.
const SANDBOX: &str = r#"set -e
root=$1; shift
mount -t tmpfs -o mode=755 ferro-layer-dev "$root/dev"
for n in null zero full random urandom; do
    [ -e "/dev/$n" ] || continue
    : > "$root/dev/$n"
    mount --bind "/dev/$n" "$root/dev/$n"
done
ln -s /proc/self/fd "$root/dev/fd"
mount -t proc proc "$root/proc"
mount -t tmpfs ferro-layer-tmp "$root/tmp"
mount -t tmpfs ferro-layer-run "$root/run"
exec "$@"
"#;

/// Runs `dpkg --root=TREE ARGS` in the sandbox; returns what it printed.
pub fn dpkg(tree: &Path, args: &[OsString]) -> Result<String, ToolError> {
    let mut root = OsString::from("--root=");
    root.push(tree);
    let mut argv: Vec<OsString> = vec!["dpkg".into(), root];
    argv.extend(
        ["--force-confdef", "--force-confold", "--force-unsafe-io"]
            .into_iter()
            .map(OsString::from),
    );
    argv.extend(args.iter().cloned());
    sandboxed(tree, &argv)
}

/// Runs the tree's own `PROGRAM ARGS` chrooted into it, in the sandbox.
pub fn in_tree(tree: &Path, program: &str, args: &[&str]) -> Result<String, ToolError> {
    let mut argv: Vec<OsString> = vec!["chroot".into(), tree.into(), program.into()];
    argv.extend(args.iter().map(OsString::from));
    sandboxed(tree, &argv)
}

fn sandboxed(tree: &Path, argv: &[OsString]) -> Result<String, ToolError> {
    let program = argv
        .iter()
        .find(|a| *a != "chroot" && !Path::new(a).starts_with(tree))
        .map_or_else(String::new, |a| a.to_string_lossy().into_owned());
    run_as(
        Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--propagation", "private"])
            .args(["--", "sh", "-c", SANDBOX, "ferro-layer"])
            .arg(tree)
            .args(argv)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("DEBCONF_NONINTERACTIVE_SEEN", "true")
            .env("LC_ALL", "C")
            .env("HOME", "/root"),
        &program,
    )
}

/// `dpkg-deb --field FILE Package Version Architecture`.
pub fn deb_fields(file: &Path) -> Result<(String, String, String), ToolError> {
    let text = run(Command::new("dpkg-deb").arg("--field").arg(file).args([
        "Package",
        "Version",
        "Architecture",
    ]))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Ok((field("Package"), field("Version"), field("Architecture")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulate_output_parses_into_installs_replacements_and_removals() {
        let text = "NOTE: simulation\n\
                    Inst libhello [0.9] (1.0 test [all])\n\
                    Inst hello (1:2.1-3 test [amd64])\n\
                    Remv oldthing [3.0]\n\
                    Conf hello (1:2.1-3 test [amd64])\n";
        let t = Transaction::parse(text);
        assert_eq!(
            t.install,
            [
                Install {
                    name: "libhello".into(),
                    version: "1.0".into(),
                    arch: "all".into(),
                    replaces: Some("0.9".into())
                },
                Install {
                    name: "hello".into(),
                    version: "1:2.1-3".into(),
                    arch: "amd64".into(),
                    replaces: None
                }
            ]
        );
        assert_eq!(t.remove, [("oldthing".to_owned(), "3.0".to_owned())]);
        assert_eq!(
            archive_file(Path::new("/a"), &t.install[1]),
            Path::new("/a/hello_1%3a2.1-3_amd64.deb")
        );
    }
}
