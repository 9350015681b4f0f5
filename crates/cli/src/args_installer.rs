//! `ferro installer …` arguments, as clap types only: coreos-installer's flags.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `ferro installer`: install ferrocore to a disk, customise live ISOs.
#[derive(Debug, Subcommand)]
pub enum InstallerCommand {
    /// Write the OS image to DEVICE with an Ignition config, like `coreos-installer install`.
    Install(InstallArgs),
    /// Customise a live ISO without rebuilding it.
    #[command(subcommand)]
    Iso(IsoCommand),
}

/// `ferro installer install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The target disk (a block device, or a file standing in for one).
    #[arg(value_name = "DEVICE")]
    pub device: PathBuf,
    /// The Ignition config for the installed system's first boot.
    #[arg(
        short = 'i',
        long,
        value_name = "FILE",
        conflicts_with = "ignition_url"
    )]
    pub ignition_file: Option<PathBuf>,
    /// The Ignition config, fetched from a URL.
    #[arg(short = 'I', long, value_name = "URL")]
    pub ignition_url: Option<String>,
    /// The raw disk image (FILE.sha256 and FILE.sig beside it are checked when present).
    /// Default: the image the live system carries.
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with = "image_url")]
    pub image_file: Option<PathBuf>,
    /// The raw disk image at a URL (URL.sha256 or URL.sig must exist unless --insecure).
    #[arg(short = 'u', long, value_name = "URL")]
    pub image_url: Option<String>,
    /// Add a kernel argument to the installed system (repeatable).
    #[arg(long = "append-karg", value_name = "ARG")]
    pub append_karg: Vec<String>,
    /// Remove a kernel argument from the installed system (repeatable).
    #[arg(long = "delete-karg", value_name = "ARG")]
    pub delete_karg: Vec<String>,
    /// Copy the live system's network configuration (systemd-networkd) to the installed one.
    #[arg(short = 'n', long)]
    pub copy_network: bool,
    /// With --copy-network: the directory to copy.
    #[arg(long, value_name = "DIR", default_value = ferro_installer::install::DEFAULT_NETWORK_DIR)]
    pub network_dir: PathBuf,
    /// The Ignition platform of the installed system.
    #[arg(long, value_name = "NAME", default_value = "metal")]
    pub platform: String,
    /// Kernel console of the installed system (repeatable; replaces the image's).
    #[arg(long, value_name = "SPEC")]
    pub console: Vec<String>,
    /// Keep partitions whose GPT name matches this glob (repeatable).
    #[arg(long, value_name = "LABEL")]
    pub save_partlabel: Vec<String>,
    /// Keep partitions with this number or range: N, N-, -N, N-M (repeatable).
    #[arg(long, value_name = "INDEX")]
    pub save_partindex: Vec<String>,
    /// Leave the disk as it is if the install fails (default: wipe its partition table).
    #[arg(long)]
    pub preserve_on_error: bool,
    /// Check everything and print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Trusted Ed25519 public keys (base64, one per line): the image's .sig must verify.
    #[arg(long, value_name = "KEYS")]
    pub verify_key: Option<PathBuf>,
    /// Install a downloaded image that has no checksum or signature.
    #[arg(long)]
    pub insecure: bool,
}

/// `ferro installer iso`.
#[derive(Debug, Subcommand)]
pub enum IsoCommand {
    /// The embedded Ignition config of a live ISO.
    #[command(subcommand)]
    Ignition(IsoIgnitionCommand),
    /// The kernel arguments of a live ISO.
    #[command(subcommand)]
    Kargs(IsoKargsCommand),
}

/// `ferro installer iso ignition`.
#[derive(Debug, Subcommand)]
pub enum IsoIgnitionCommand {
    /// Embed an Ignition config (refused if one is embedded, unless --force).
    Embed {
        /// The ISO.
        iso: PathBuf,
        /// The config (default: standard input).
        #[arg(short = 'i', long, value_name = "FILE")]
        ignition_file: Option<PathBuf>,
        /// Replace an embedded config.
        #[arg(short, long)]
        force: bool,
        /// Write a customised copy here instead of changing ISO.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the embedded config (exit 1 if there is none).
    Show {
        /// The ISO.
        iso: PathBuf,
    },
    /// Remove the embedded config.
    Remove {
        /// The ISO.
        iso: PathBuf,
        /// Write a customised copy here instead of changing ISO.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `ferro installer iso kargs`.
#[derive(Debug, Subcommand)]
pub enum IsoKargsCommand {
    /// Add, delete or replace kernel arguments.
    Modify {
        /// The ISO.
        iso: PathBuf,
        /// Add an argument (repeatable).
        #[arg(short, long, value_name = "ARG")]
        append: Vec<String>,
        /// Delete an argument (repeatable).
        #[arg(short, long, value_name = "ARG")]
        delete: Vec<String>,
        /// Replace K=V, or K=OLD=NEW (repeatable).
        #[arg(short, long, value_name = "ARG")]
        replace: Vec<String>,
        /// Write a customised copy here instead of changing ISO.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the kernel arguments.
    Show {
        /// The ISO.
        iso: PathBuf,
        /// The ISO's original arguments instead of the current ones.
        #[arg(long)]
        default: bool,
    },
}
