//! The command line, as clap types only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// ferrocore: immutable, atomically updated OS tooling compatible with Fedora CoreOS.
#[derive(Debug, Parser)]
#[command(
    name = "ferro",
    version,
    about,
    propagate_version = false,
    args_override_self = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `ferro ostree` options that belong to a verb but come before it, moved after it:
/// `ostree` parses options wherever they are (`ostree --repo=r --depth=0 pull …`), clap
/// only after the subcommand that defines them. Only `--name[=value]` and `-x` words
/// move (a value in the next word stays ambiguous); the options of `ferro ostree`
/// itself stay where they are, and `ostree`'s global `-v`/`--verbose` (its debug log)
/// is dropped there.
pub fn hoist_ostree_options(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    /// Options `ferro ostree` itself defines (global ones included).
    const OWN: [&str; 6] = [
        "--repo",
        "--sysroot",
        "--print-metadata-key",
        "--timestamp",
        "--version",
        "--help",
    ];
    if args.get(1).is_none_or(|a| a != "ostree") {
        return args;
    }
    let (head, rest) = args.split_at(2);
    let mut own = Vec::new();
    let mut moved = Vec::new();
    let mut words = rest.iter();
    let mut verb = None;
    for word in words.by_ref() {
        let text = word.to_string_lossy();
        if !text.starts_with('-') || text == "-" {
            verb = Some(word.clone());
            break;
        }
        let name = text.split('=').next().unwrap_or_default();
        if text == "-v" || text == "--verbose" {
            continue;
        }
        if OWN.contains(&name) || text == "-h" {
            own.push(word.clone());
        } else {
            moved.push(word.clone());
        }
    }
    let Some(verb) = verb else {
        return args;
    };
    head.iter()
        .cloned()
        .chain(own)
        .chain(std::iter::once(verb))
        .chain(moved)
        .chain(words.cloned())
        .collect()
}

/// The tools.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate Butane configs (YAML) into Ignition configs (JSON), like `butane`.
    Butane(ButaneArgs),
    /// Work with Ignition configs.
    #[command(subcommand)]
    Ignition(IgnitionCommand),
    /// Work with OSTree repositories, like `ostree`.
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
    Ostree(Box<crate::args_ostree::OstreeArgs>),
    /// Show the deployments of this system, like `rpm-ostree status`.
    Status(crate::args_admin::StatusArgs),
    /// Boot the previous deployment next, like `rpm-ostree rollback`.
    Rollback(crate::args_admin::RollbackArgs),
    /// Layer packages onto a new deployment, like `rpm-ostree install`.
    Install(crate::args_layer::InstallArgs),
    /// Drop layered packages in a new deployment, like `rpm-ostree uninstall`.
    Uninstall(crate::args_layer::UninstallArgs),
    /// Remove base packages or undo that, like `rpm-ostree override remove|reset`.
    Override(crate::args_layer::OverrideArgs),
    /// Make the pending deployment's new packages available now, like `rpm-ostree
    /// apply-live`.
    ApplyLive(crate::args_layer::ApplyLiveArgs),
    /// Show or edit kernel arguments, like `rpm-ostree kargs`.
    Kargs(crate::args_admin::KargsArgs),
    /// Delete deployments, boot files and objects nothing references.
    Cleanup(crate::args_admin::SysrootArgs),
    /// Deploy a commit or ref of the local repository, like `rpm-ostree deploy`.
    Deploy(crate::args_admin::DeployArgs),
    /// Pull the origin's ref and deploy its newest commit, like `rpm-ostree upgrade`.
    Upgrade(crate::args_admin::UpgradeArgs),
    /// Switch the origin to another ref and deploy it, like `rpm-ostree rebase`.
    Rebase(crate::args_admin::RebaseArgs),
    /// Unlock the staged deployment and reboot into it, like `rpm-ostree
    /// finalize-deployment`.
    FinalizeDeployment(crate::args_admin::FinalizeDeploymentArgs),
    /// Mount a deployment as the new root (initramfs), like `ostree-prepare-root`.
    PrepareRoot(crate::args_admin::PrepareRootArgs),
    /// Boot images in QEMU VMs: run, ssh, stop, list.
    Vm(crate::args_vm::VmArgs),
    /// Build OS trees (and later images) from Debian packages.
    #[command(subcommand)]
    Compose(crate::args_vm::ComposeCommand),
    /// Coordinate a fleet's reboots (FleetLock server for Zincati) and inspect it.
    Fleet(crate::args_fleet::FleetArgs),
    /// The node's update agent (like Zincati): run it, or show and steer a running one.
    Agent(crate::args_agent::AgentArgs),
    /// Install ferrocore to a disk, customise live ISOs, like `coreos-installer`.
    #[command(subcommand)]
    Installer(crate::args_installer::InstallerCommand),
}

/// `ferro butane`: flag-compatible with Butane.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, disable_version_flag = true)]
pub struct ButaneArgs {
    /// Further Butane tools.
    #[command(subcommand)]
    pub tool: Option<ButaneTool>,
    /// Input files; several are merged in order. None or `-` reads standard input.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output indented JSON.
    #[arg(short, long)]
    pub pretty: bool,
    /// Fail on any warning.
    #[arg(short, long)]
    pub strict: bool,
    /// Check the config only; write no output.
    #[arg(short, long)]
    pub check: bool,
    /// Directory that `local` paths are relative to.
    #[arg(short = 'd', long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// Write output to FILE (mode 0600, replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For openshift configs: output plain Ignition JSON, not a MachineConfig.
    #[arg(short, long)]
    pub raw: bool,
    /// Print report entries one per line instead of with source snippets.
    #[arg(long)]
    pub raw_errors: bool,
    /// Colour the report: auto, always or never.
    #[arg(long, alias = "colour", value_enum, default_value_t = Color::Auto, num_args = 0..=1, default_missing_value = "always", hide = true)]
    pub color: Color,
    /// `NO_COLOR` from the environment: set and not empty turns `auto` colour off.
    #[arg(long = "no-color-env", hide = true, env = crate::env::NO_COLOR, value_name = "ANY")]
    pub no_color: Option<String>,
    /// Print the version (`Butane`-compatible form).
    #[arg(short = 'V', long = "version")]
    pub version: bool,
    /// Read Ignition JSON from FILE and write it back as Butane YAML.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["inputs", "files_dir", "raw"])]
    pub from_ignition: Option<PathBuf>,
    /// With --from-ignition: the Butane variant to write.
    #[arg(long, default_value = "fcos", requires = "from_ignition")]
    pub variant: String,
    /// With --from-ignition: the Butane spec version to write (default: the one whose
    /// Ignition version matches the input).
    #[arg(long, value_name = "VERSION", requires = "from_ignition")]
    pub spec_version: Option<String>,
    /// Deprecated: the input file (use the positional argument).
    #[arg(long, hide = true)]
    pub input: Option<PathBuf>,
}

/// `ferro butane <tool>`.
#[derive(Debug, Subcommand)]
pub enum ButaneTool {
    /// Print a JSON Schema of the Butane format, for editors (YAML language server).
    Schema {
        /// The variant.
        #[arg(long, default_value = "fcos")]
        variant: String,
        /// The spec version.
        #[arg(long, default_value = "1.6.0")]
        version: String,
    },
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When standard error is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    #[value(alias = "yes")]
    Always,
    /// Never.
    #[value(alias = "no")]
    Never,
}

/// `ferro ignition …`.
#[derive(Debug, Subcommand)]
pub enum IgnitionCommand {
    /// Validate an Ignition config, like `ignition-validate`.
    Validate {
        /// The config; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Print the verdict and findings as one JSON document (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Apply a config to a directory tree: render merge/replace, validate, then run the
    /// files stage (users, files, directories, links, units) inside DIR.
    Apply(IgnitionApplyArgs),
    /// Run one stage of Ignition's first-boot contract, like the `ignition` binary.
    Run(IgnitionRunArgs),
}

/// `ferro ignition apply`.
#[derive(Debug, Args)]
pub struct IgnitionApplyArgs {
    /// The target root; every write stays inside it.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Also merge this platform's system base configs (`base.d`, `base.platform.d/P`)
    /// under CONFIG, as a first boot would.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Fail instead of using the network: only `data:` resources are allowed.
    #[arg(long)]
    pub offline: bool,
    /// Print what would be done; write nothing and fetch no file contents.
    #[arg(long)]
    pub dry_run: bool,
    /// The Ignition config; `-` reads standard input.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// `ferro ignition run`: Ignition's flags, with its exit codes (2 usage, 3 init, 1 stage
/// failure).
#[derive(Debug, Args)]
pub struct IgnitionRunArgs {
    /// The stage: fetch-offline, fetch, kargs, disks, mount, files or umount.
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// The platform the config comes from: file, qemu or metal.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: String,
    /// The target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The rendered config shared between stages.
    #[arg(long, value_name = "FILE", default_value = "/run/ignition.json")]
    pub config_cache: PathBuf,
    /// The state shared between stages.
    #[arg(long, value_name = "FILE", default_value = "/run/ignition/state")]
    pub state_file: PathBuf,
    /// The flag `fetch-offline` touches when the network is needed.
    #[arg(long, value_name = "FILE", default_value = "/run/ignition/neednet")]
    pub neednet: PathBuf,
    /// Limit, in seconds, for each fetch of the fetch stages (unless the config sets
    /// `timeouts.httpTotal`); 0 retries for ever.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub fetch_timeout: u64,
    /// Log to standard output instead of standard error.
    #[arg(long)]
    pub log_to_stdout: bool,
    /// Also append each log line to FILE, prefixed with its syslog priority (`<6>`),
    /// as `systemd-cat` reads it: the initramfs has no journal, so its boot scripts
    /// keep the stages' log in `/run` and a unit of the booted system replays it into
    /// the journal with the identifier `ignition`.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Write SSH keys into `~/.ssh/authorized_keys.d/ignition` (true, Fedora CoreOS's
    /// way) or into `~/.ssh/authorized_keys` (false).
    #[arg(
        long,
        hide = true,
        env = crate::env::IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT,
        default_value = "true",
        value_parser = not_false
    )]
    pub write_authorized_keys_fragment: bool,
}

/// Ignition's reading of a switch in the environment: anything but `false` is on.
fn not_false(value: &str) -> Result<bool, std::convert::Infallible> {
    Ok(value != "false")
}

/// The usage text clap prints for the command at `path` below `ferro` (e.g. `["ostree",
/// "admin"]`), for the errors that show it as `ostree` does ("No command specified").
pub fn usage_of(path: &[&str]) -> String {
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let mut current = command;
    for name in path {
        let Some(sub) = current.find_subcommand(name).cloned() else {
            break;
        };
        current = sub;
    }
    current.render_usage().to_string()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// clap's own consistency checks of every command and argument (they run only in
    /// debug builds, when a command is first parsed).
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `ostree --repo=r --depth=0 pull origin main`: verb options before the verb.
    #[test]
    fn verb_options_before_the_verb_move_after_it() {
        let words = |text: &str| {
            text.split(' ')
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        for (given, parsed) in [
            (
                "ferro ostree --repo=r --depth=0 pull origin main",
                "ferro ostree --repo=r pull --depth=0 origin main",
            ),
            (
                "ferro ostree --timestamp=@1 --repo=r commit -b x",
                "ferro ostree --timestamp=@1 --repo=r commit -b x",
            ),
            (
                "ferro ostree --repo=r -v pull o",
                "ferro ostree --repo=r pull o",
            ),
            ("ferro status --json", "ferro status --json"),
        ] {
            assert_eq!(hoist_ostree_options(words(given)), words(parsed), "{given}");
        }
        let cli = Cli::try_parse_from(hoist_ostree_options(words(
            "ferro ostree --repo=r --depth=0 pull origin main",
        )))
        .unwrap();
        assert!(matches!(cli.command, Command::Ostree(_)));
    }

    /// Issue 15: `ostree` scripts repeat `--repo`; the last one wins, as in `ostree`.
    #[test]
    fn repo_given_twice_takes_the_last() {
        let cli = Cli::try_parse_from(["ferro", "ostree", "--repo=a", "refs", "--repo=b"]).unwrap();
        let Command::Ostree(args) = cli.command else {
            panic!("not ostree")
        };
        assert_eq!(args.repo, Some(PathBuf::from("b")));
    }
}
