//! The disks stage: GPT partitions and filesystems (reference §1.2, §3.3).
//!
//! [`apply`] walks `storage.disks` then `storage.filesystems` in config order:
//!
//! - **Partitions** (through `sgdisk`): `wipeTable` zaps the table first. Each configured
//!   partition is matched to an existing one by `number`, or by `label` when the number
//!   is 0. A match whose label, type GUID, GUID, start and size agree with the config
//!   (fields the config leaves out always agree; `sizeMiB` 0 means the partition must
//!   reach the end of its free block) is kept. A mismatch is recreated when
//!   `wipePartitionEntry` is set, or when `resize` is set and only the size differs (same
//!   start, the existing label and GUIDs kept unless configured); otherwise the stage
//!   fails naming the difference. `shouldExist: false` deletes the partition. Missing
//!   partitions are created (number 0 takes the lowest free number, `startMiB` 0 the
//!   start of the largest free block, `sizeMiB` 0 the rest of that block). All changes to
//!   a disk are first dry-run with `sgdisk --pretend`, so a layout that does not fit fails
//!   before the table is touched. The kernel is then told with `partx -u` (falling back
//!   to `blockdev --rereadpt`) and `udevadm settle` runs when udev is there.
//! - **Filesystems** (through `mkfs.*`, `mkswap`, `wipefs` and `blkid`): the device is
//!   probed with `blkid -p`. Without `wipeFilesystem`, an existing filesystem of the
//!   configured format whose label and UUID agree with the config is reused, anything
//!   else already on the device is an error, and a blank device is formatted. With
//!   `wipeFilesystem`, signatures are erased (`wipefs -a`) and the device is formatted.
//!   `format: none` only wipes (when asked); an absent format leaves the device alone.
//!
//! `storage.raid` and `storage.luks` are refused by the engine (not supported yet).
//!
//! **Devices without udev.** In a container (or an initramfs before udev has caught up)
//! neither `/dev/disk/by-*` links nor partition nodes such as `/dev/loop0p1` may exist,
//! although the kernel knows the device. [`Devices::resolve`] then finds it itself: a
//! `/dev/NAME` path is looked up as `/sys/class/block/NAME`, and
//! `/dev/disk/by-{partlabel,partuuid,label,uuid}/X` by probing the kernel's block
//! devices with `blkid -p`. When the node is missing from `/dev`, a block device node is
//! made in a private directory (`dev/` next to the state file, `/run/ignition/dev` by
//! default) and used instead; it is recreated whenever its device number is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ferro_spec::{Config, Disk, Filesystem, Partition};
use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

use crate::apply::{Change, Changes};

/// A failure of the disks or mount stage, naming the config entry.
///
/// Displays as `$.storage.disks.0.partitions.2: partition 3 does not fit …`.
#[derive(Debug, thiserror::Error)]
#[error("{entry}: {message}")]
pub struct Error {
    /// The failing config entry (`$.storage.filesystems.1`).
    pub entry: String,
    /// What went wrong, with the output of the failing tool.
    pub message: String,
}

impl Error {
    pub(crate) fn new(entry: &str, message: impl Into<String>) -> Error {
        Error {
            entry: entry.to_owned(),
            message: message.into(),
        }
    }
}

/// Runs `program args…` without a terminal; its standard error (or, when that is
/// empty, its standard output) becomes the error message when it fails.
pub(crate) fn run_command(program: &str, args: &[&str]) -> Result<String, String> {
    let output = spawn(program, args)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(failure(program, args, &output))
}

/// Runs `program args…` to completion whatever its exit status: the callers read the
/// status themselves (`blkid` exits 2 for "nothing found"), and a failure message
/// falls back to standard output, where `sgdisk` explains itself.
fn spawn(program: &str, args: &[&str]) -> Result<Output, String> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .run_capture()
        .map_err(|error| match error {
            error if error.is_missing() => format!("{program} is not installed"),
            CommandError::Missing { source, .. } => format!("could not run {program}: {source}"),
            other => other.to_string(),
        })
}

fn failure(program: &str, args: &[&str], output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail = match stderr.trim() {
        "" => stdout.trim(),
        text => text,
    };
    let detail = detail.lines().collect::<Vec<_>>().join("; ");
    format!(
        "`{program} {}` failed ({}): {detail}",
        args.join(" "),
        output.status
    )
}

/// Finds block devices by the paths a config names, with or without udev (see the
/// module documentation).
#[derive(Debug, Clone)]
pub struct Devices {
    dev_dir: PathBuf,
    sys_block: PathBuf,
}

impl Devices {
    /// A resolver that makes missing device nodes in `dev_dir`.
    pub fn new(dev_dir: impl Into<PathBuf>) -> Devices {
        Devices {
            dev_dir: dev_dir.into(),
            sys_block: PathBuf::from("/sys/class/block"),
        }
    }

    /// The block device `device` names: the path itself when it is a block device,
    /// else what the kernel knows under that name or by-* key. Waits up to two seconds
    /// for a device that is not there yet.
    pub fn resolve(&self, device: &str) -> Result<PathBuf, String> {
        let mut last = String::new();
        for attempt in 0..10 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            match self.resolve_once(device) {
                Ok(Some(path)) => return Ok(path),
                Ok(None) => last = format!("device {device} does not exist"),
                Err(error) => return Err(error),
            }
        }
        Err(last)
    }

    fn resolve_once(&self, device: &str) -> Result<Option<PathBuf>, String> {
        let path = Path::new(device);
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.file_type().is_block_device() {
                return Err(format!("{device} is not a block device"));
            }
            return Ok(Some(
                std::fs::canonicalize(path).unwrap_or_else(|_| path.into()),
            ));
        }
        if let Some((kind, value)) = by_link(device) {
            return self.find_by(kind, &value, device);
        }
        match device.strip_prefix("/dev/") {
            Some(name) if !name.contains('/') && self.sys_block.join(name).exists() => {
                self.node(name).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Probes every block device the kernel knows for the by-* key.
    fn find_by(&self, kind: ByKind, value: &str, device: &str) -> Result<Option<PathBuf>, String> {
        let key = match kind {
            ByKind::PartLabel => "PART_ENTRY_NAME",
            ByKind::PartUuid => "PART_ENTRY_UUID",
            ByKind::Label => "LABEL",
            ByKind::Uuid => "UUID",
        };
        let fold = matches!(kind, ByKind::PartUuid | ByKind::Uuid);
        let mut found = Vec::new();
        for name in self.block_names() {
            let Ok(node) = self.node(&name) else { continue };
            let Ok(Some(probe)) = probe(&node) else {
                continue;
            };
            let matches = probe.get(key).is_some_and(|v| {
                if fold {
                    v.eq_ignore_ascii_case(value)
                } else {
                    v == value
                }
            });
            if matches {
                found.push(node);
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(format!(
                "{device} is ambiguous: it matches {}",
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The kernel names of the non-empty block devices.
    fn block_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.sys_block) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| {
                std::fs::read_to_string(self.sys_block.join(name).join("size"))
                    .is_ok_and(|size| size.trim() != "0")
            })
            .collect();
        names.sort();
        names
    }

    /// A node for the kernel's block device `name`: `/dev/NAME` when it is the right
    /// device, else one made in the private directory.
    fn node(&self, name: &str) -> Result<PathBuf, String> {
        let numbers = std::fs::read_to_string(self.sys_block.join(name).join("dev"))
            .map_err(|error| format!("block device {name} is not known to the kernel: {error}"))?;
        let (major, minor) = numbers
            .trim()
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .ok_or_else(|| format!("unexpected device number {numbers:?} for {name}"))?;
        let rdev = rustix::fs::makedev(major, minor);
        let is_it = |path: &Path| {
            std::fs::symlink_metadata(path)
                .is_ok_and(|m| m.file_type().is_block_device() && m.rdev() == rdev)
        };
        let dev = Path::new("/dev").join(name);
        if is_it(&dev) {
            return Ok(dev);
        }
        let private = self.dev_dir.join(name);
        if is_it(&private) {
            return Ok(private);
        }
        // The stage's messages are single lines: the IO error with its cause.
        std::fs::create_dir_all(&self.dev_dir)
            .at("create directory", &self.dev_dir)
            .map_err(|error| error.one_line())?;
        match std::fs::remove_file(&private) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(
                    IoError::new("remove the stale device node", &private, error).one_line(),
                );
            }
            _ => {}
        }
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &private,
            rustix::fs::FileType::BlockDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            rdev,
        )
        .at("make the device node", &private)
        .map_err(|error| error.one_line())?;
        Ok(private)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByKind {
    PartLabel,
    PartUuid,
    Label,
    Uuid,
}

/// The key of a `/dev/disk/by-*/X` path, with udev's `\xHH` escapes decoded.
fn by_link(device: &str) -> Option<(ByKind, String)> {
    let rest = device.strip_prefix("/dev/disk/by-")?;
    let (kind, value) = rest.split_once('/')?;
    let kind = match kind {
        "partlabel" => ByKind::PartLabel,
        "partuuid" => ByKind::PartUuid,
        "label" => ByKind::Label,
        "uuid" => ByKind::Uuid,
        _ => return None,
    };
    (!value.is_empty() && !value.contains('/')).then(|| (kind, unescape_udev(value)))
}

fn unescape_udev(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes.get(i..i + 2), hex) {
            (Some(b"\\x"), Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `blkid -p` finds on `device` (`TYPE`, `LABEL`, `UUID`, `PTTYPE`,
/// `PART_ENTRY_NAME`, …); `None` when it finds nothing.
pub fn probe(device: &Path) -> Result<Option<BTreeMap<String, String>>, String> {
    let shown = device.display().to_string();
    let args = ["-p", "-o", "export", shown.as_str()];
    let output = spawn("blkid", &args)?;
    match output.status.code() {
        Some(0) => Ok(Some(parse_export(&String::from_utf8_lossy(&output.stdout)))),
        Some(2) => Ok(None),
        _ => Err(failure("blkid", &args, &output)),
    }
}

/// `KEY=value` lines of `blkid -o export`, backslash escapes removed.
fn parse_export(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let mut out = String::new();
            let mut chars = value.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            (key.to_owned(), out)
        })
        .collect()
}

/// Runs the disks stage for `config` (see the module documentation).
pub fn apply(config: &Config, devices: &Devices) -> Result<Changes, Error> {
    let mut changes = Changes::default();
    for (i, disk) in config.storage.disks.iter().enumerate() {
        partition_disk(&format!("$.storage.disks.{i}"), disk, devices, &mut changes)?;
    }
    for (i, fs) in config.storage.filesystems.iter().enumerate() {
        let entry = format!("$.storage.filesystems.{i}");
        create_filesystem(&entry, fs, devices, &mut changes)?;
    }
    Ok(changes)
}

fn record(changes: &mut Changes, entry: &str, summary: String) {
    changes.changes.push(Change {
        entry: entry.to_owned(),
        summary,
    });
}

/// A partition as the table holds it (sectors, end inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Existing {
    number: u32,
    start: u64,
    end: u64,
    type_guid: String,
    guid: String,
    label: String,
}

/// A GPT as `sgdisk -p` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    sector_size: u64,
    first_usable: u64,
    last_usable: u64,
    alignment: u64,
    partitions: Vec<Existing>,
}

impl Table {
    fn sectors(&self, mib: i64) -> u64 {
        u64::try_from(mib).unwrap_or(0) * (1 << 20) / self.sector_size
    }

    /// Free sectors right after `part`, up to the next partition or the usable end.
    fn free_after(&self, part: &Existing) -> u64 {
        let next = self
            .partitions
            .iter()
            .filter(|p| p.start > part.start)
            .map(|p| p.start)
            .min()
            .unwrap_or(self.last_usable + 1);
        next.saturating_sub(part.end + 1)
    }
}

/// The summary part of `sgdisk -p`: sector size, usable range, alignment, partition
/// numbers (their details come from `sgdisk -i`).
fn parse_print(text: &str) -> Result<(Table, Vec<u32>), String> {
    let mut table = Table {
        sector_size: 0,
        first_usable: 0,
        last_usable: 0,
        alignment: 1,
        partitions: Vec::new(),
    };
    let mut numbers = Vec::new();
    let mut in_list = false;
    let first_number = |s: &str| -> Option<u64> {
        let digits: String = s
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    for line in text.lines() {
        if in_list {
            if let Some(number) = line.split_whitespace().next().and_then(|n| n.parse().ok()) {
                numbers.push(number);
            }
        } else if let Some(rest) = line.strip_prefix("Sector size (logical") {
            let value = rest.split_once(": ").map_or("", |(_, v)| v);
            table.sector_size = first_number(value).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("First usable sector is ") {
            table.first_usable = first_number(rest).unwrap_or(0);
            if let Some((_, last)) = rest.split_once("last usable sector is ") {
                table.last_usable = first_number(last).unwrap_or(0);
            }
        } else if let Some(rest) = line.strip_prefix("Partitions will be aligned on ") {
            table.alignment = first_number(rest).unwrap_or(1).max(1);
        } else if line.starts_with("Number") {
            in_list = true;
        }
    }
    if table.sector_size == 0 || table.last_usable == 0 {
        return Err(format!("unexpected output of sgdisk -p: {text}"));
    }
    Ok((table, numbers))
}

/// The details of one partition from `sgdisk -i N`.
fn parse_info(number: u32, text: &str) -> Existing {
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let word = |name: &str| {
        field(name)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned()
    };
    let label = field("Partition name:");
    let label = label
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or(&label)
        .to_owned();
    Existing {
        number,
        start: word("First sector:").parse().unwrap_or(0),
        end: word("Last sector:").parse().unwrap_or(0),
        type_guid: word("Partition GUID code:"),
        guid: word("Partition unique GUID:"),
        label,
    }
}

fn read_table(device: &str) -> Result<Table, String> {
    let (mut table, numbers) = parse_print(&run_command("sgdisk", &["-p", device])?)?;
    for number in numbers {
        let text = run_command("sgdisk", &["-i", &number.to_string(), device])?;
        table.partitions.push(parse_info(number, &text));
    }
    Ok(table)
}

/// Why `part` (as configured) does not describe `existing`; `size_only` when only the
/// size differs.
fn mismatch(table: &Table, part: &Partition, existing: &Existing) -> Option<(String, bool)> {
    let mut reasons = Vec::new();
    let differs = |want: &Option<String>, have: &str| {
        want.as_deref()
            .is_some_and(|w| !w.eq_ignore_ascii_case(have))
    };
    if let Some(label) = part.label.as_deref().filter(|l| *l != existing.label) {
        reasons.push(format!("its label is {:?}, not {label:?}", existing.label));
    }
    if differs(&part.type_guid, &existing.type_guid) {
        reasons.push(format!("its type GUID is {}", existing.type_guid));
    }
    if differs(&part.guid, &existing.guid) {
        reasons.push(format!("its GUID is {}", existing.guid));
    }
    if let Some(start) = part.start_mib.filter(|s| *s > 0)
        && table.sectors(start) != existing.start
    {
        reasons.push(format!(
            "it starts at sector {}, not {}",
            existing.start,
            table.sectors(start)
        ));
    }
    let size_only = reasons.is_empty();
    let have = existing.end + 1 - existing.start;
    match part.size_mib.unwrap_or(0) {
        0 if table.free_after(existing) >= table.alignment => reasons.push(format!(
            "it does not fill the {} free sectors after it",
            table.free_after(existing)
        )),
        0 => {}
        size if table.sectors(size) != have => reasons.push(format!(
            "it has {have} sectors, not {}",
            table.sectors(size)
        )),
        _ => {}
    }
    (!reasons.is_empty()).then(|| (reasons.join(", "), size_only))
}

/// The configured start as an sgdisk start sector, `0` for sgdisk's default.
fn start_of(table: &Table, part: &Partition) -> String {
    part.start_mib
        .filter(|s| *s > 0)
        .map_or("0".to_owned(), |s| table.sectors(s).to_string())
}

/// The sgdisk options creating partition `number` as `part` says, starting at `start`
/// (a sector, or `"0"` for the default), with fallbacks for unconfigured fields.
fn create_ops(
    table: &Table,
    number: u32,
    start: String,
    part: &Partition,
    keep: Option<&Existing>,
) -> Vec<String> {
    let end = match part.size_mib.unwrap_or(0) {
        0 => "0".to_owned(),
        size => format!("+{}", table.sectors(size)),
    };
    let mut ops = vec![format!("--new={number}:{start}:{end}")];
    let pick = |want: &Option<String>, had: Option<&str>| {
        want.clone()
            .or_else(|| had.map(str::to_owned))
            .filter(|v| !v.is_empty())
    };
    if let Some(label) = pick(&part.label, keep.map(|k| k.label.as_str())) {
        ops.push(format!("--change-name={number}:{label}"));
    }
    if let Some(type_guid) = pick(&part.type_guid, keep.map(|k| k.type_guid.as_str())) {
        ops.push(format!("--typecode={number}:{type_guid}"));
    }
    if let Some(guid) = pick(&part.guid, keep.map(|k| k.guid.as_str())) {
        ops.push(format!("--partition-guid={number}:{guid}"));
    }
    ops
}

fn partition_disk(
    entry: &str,
    disk: &Disk,
    devices: &Devices,
    changes: &mut Changes,
) -> Result<(), Error> {
    let path = devices
        .resolve(&disk.device)
        .map_err(|e| Error::new(entry, e))?;
    let device = path.display().to_string();
    let fail = |message: String| Error::new(entry, format!("{}: {message}", disk.device));
    if disk.wipe_table == Some(true) {
        run_command("sgdisk", &["--zap-all", &device]).map_err(fail)?;
        record(
            changes,
            entry,
            format!("wiped the partition table of {device}"),
        );
    }
    let table = read_table(&device).map_err(fail)?;
    let mut deletes = Vec::new();
    let mut creates = Vec::new();
    let mut used: BTreeSet<u32> = table.partitions.iter().map(|p| p.number).collect();
    let mut summaries = Vec::new();
    for (i, part) in disk.partitions.iter().enumerate() {
        let entry = format!("{entry}.partitions.{i}");
        let wanted = u32::try_from(part.number).unwrap_or(0);
        let existing = if wanted != 0 {
            table.partitions.iter().find(|p| p.number == wanted)
        } else {
            part.label
                .as_deref()
                .and_then(|label| table.partitions.iter().find(|p| p.label == label))
        };
        // (partition to delete, options creating one, what was done)
        let (delete, ops, summary) = match (existing, part.should_exist.unwrap_or(true)) {
            (Some(existing), false) => {
                used.remove(&existing.number);
                let summary = format!("deleted partition {}", existing.number);
                (Some(existing.number), Vec::new(), summary)
            }
            (None, false) => continue,
            (Some(existing), true) => match mismatch(&table, part, existing) {
                None => {
                    let summary = format!("kept partition {} (it matches)", existing.number);
                    (None, Vec::new(), summary)
                }
                Some((_, true)) if part.resize == Some(true) => {
                    let start = existing.start.to_string();
                    let ops = create_ops(&table, existing.number, start, part, Some(existing));
                    let summary = format!("resized partition {}", existing.number);
                    (Some(existing.number), ops, summary)
                }
                Some(_) if part.wipe_partition_entry == Some(true) => {
                    let ops =
                        create_ops(&table, existing.number, start_of(&table, part), part, None);
                    let summary = format!("recreated partition {}", existing.number);
                    (Some(existing.number), ops, summary)
                }
                Some((reason, _)) => {
                    return Err(Error::new(
                        &entry,
                        format!(
                            "partition {} on {} does not match the config: {reason}; \
                             set wipePartitionEntry to replace it",
                            existing.number, disk.device
                        ),
                    ));
                }
            },
            (None, true) => {
                let number = if wanted != 0 {
                    wanted
                } else {
                    (1..).find(|n| !used.contains(n)).unwrap_or(1)
                };
                used.insert(number);
                let ops = create_ops(&table, number, start_of(&table, part), part, None);
                (None, ops, format!("created partition {number}"))
            }
        };
        deletes.extend(delete.map(|number| format!("--delete={number}")));
        creates.extend(ops);
        summaries.push((entry, summary));
    }
    for (entry, summary) in summaries {
        record(changes, &entry, format!("{summary} on {device}"));
    }
    if deletes.is_empty() && creates.is_empty() {
        if disk.wipe_table == Some(true) {
            reread(&device);
        }
        return Ok(());
    }
    let mut args: Vec<&str> = vec!["--pretend"];
    args.extend(deletes.iter().chain(&creates).map(String::as_str));
    args.push(&device);
    if let Err(error) = run_command("sgdisk", &args) {
        return Err(fail(format!(
            "the partitions do not fit or are invalid, nothing was changed: {error}"
        )));
    }
    run_command("sgdisk", &args[1..]).map_err(fail)?;
    reread(&device);
    Ok(())
}

/// Makes the kernel (and udev, when running) see the new table; in a container without
/// udev `partx -u` alone does it, `blockdev --rereadpt` is the fallback.
fn reread(device: &str) {
    if run_command("partx", &["-u", device]).is_err() {
        let _ = run_command("blockdev", &["--rereadpt", device]);
    }
    let _ = run_command("udevadm", &["settle", "--timeout=30"]);
}

/// The `blkid` TYPE of each format.
fn blkid_type(format: &str) -> Option<&'static str> {
    Some(match format {
        "ext4" => "ext4",
        "xfs" => "xfs",
        "vfat" => "vfat",
        "btrfs" => "btrfs",
        "swap" => "swap",
        _ => return None,
    })
}

/// Whether the probed filesystem is the configured one (format, label, UUID).
fn reusable(fs: &Filesystem, format: &str, found: &BTreeMap<String, String>) -> bool {
    let get = |key: &str| found.get(key).map_or("", String::as_str);
    let vfat = format == "vfat";
    let label_ok = fs.label.as_deref().is_none_or(|want| {
        let have = get("LABEL");
        if vfat {
            have.eq_ignore_ascii_case(want)
        } else {
            have == want
        }
    });
    let uuid_ok = fs.uuid.as_deref().is_none_or(|want| {
        let strip = |s: &str| s.replace('-', "").to_ascii_lowercase();
        strip(get("UUID")) == strip(want)
    });
    blkid_type(format) == Some(get("TYPE")) && label_ok && uuid_ok
}

/// The mkfs command line for `format`.
fn mkfs_command(
    fs: &Filesystem,
    format: &str,
    device: &str,
) -> Option<(&'static str, Vec<String>)> {
    let (program, force, label_flag) = match format {
        "ext4" => ("mkfs.ext4", Some("-F"), "-L"),
        "xfs" => ("mkfs.xfs", Some("-f"), "-L"),
        "vfat" => ("mkfs.vfat", None, "-n"),
        "btrfs" => ("mkfs.btrfs", Some("-f"), "-L"),
        "swap" => ("mkswap", Some("-f"), "-L"),
        _ => return None,
    };
    let mut args: Vec<String> = force.map(str::to_owned).into_iter().collect();
    if let Some(label) = fs.label.as_deref().filter(|l| !l.is_empty()) {
        args.extend([label_flag.to_owned(), label.to_owned()]);
    }
    if let Some(uuid) = fs.uuid.as_deref().filter(|u| !u.is_empty()) {
        match format {
            "xfs" => args.extend(["-m".to_owned(), format!("uuid={uuid}")]),
            "vfat" => args.extend(["-i".to_owned(), uuid.replace('-', "")]),
            _ => args.extend(["-U".to_owned(), uuid.to_owned()]),
        }
    }
    args.extend(fs.options.iter().cloned());
    args.push(device.to_owned());
    Some((program, args))
}

fn create_filesystem(
    entry: &str,
    fs: &Filesystem,
    devices: &Devices,
    changes: &mut Changes,
) -> Result<(), Error> {
    let Some(format) = fs.format.as_deref().filter(|f| !f.is_empty()) else {
        return Ok(());
    };
    let path = devices
        .resolve(&fs.device)
        .map_err(|e| Error::new(entry, e))?;
    let device = path.display().to_string();
    let fail = |message: String| Error::new(entry, message);
    let wipe = fs.wipe_filesystem == Some(true);
    if format == "none" {
        if wipe {
            run_command("wipefs", &["-a", &device]).map_err(fail)?;
            record(changes, entry, format!("wiped the signatures on {device}"));
        }
        return Ok(());
    }
    let Some((program, args)) = mkfs_command(fs, format, &device) else {
        return Err(fail(format!("unsupported filesystem format {format:?}")));
    };
    if wipe {
        run_command("wipefs", &["-a", &device]).map_err(fail)?;
    } else if let Some(found) = probe(&path)
        .map_err(fail)?
        // On a partition blkid also reports the partition entry (PART_ENTRY_*): only a
        // filesystem, swap area or partition table counts as contents.
        .filter(|found| found.contains_key("TYPE") || found.contains_key("PTTYPE"))
    {
        if reusable(fs, format, &found) {
            record(
                changes,
                entry,
                format!("reused the {format} filesystem on {device}"),
            );
            return Ok(());
        }
        let what = found
            .get("TYPE")
            .map(|t| format!("a {t} filesystem"))
            .or_else(|| {
                found
                    .get("PTTYPE")
                    .map(|t| format!("a {t} partition table"))
            })
            .unwrap_or_default();
        let label = found
            .get("LABEL")
            .map(|l| format!(" labelled {l:?}"))
            .unwrap_or_default();
        let uuid = found
            .get("UUID")
            .map(|u| format!(" with UUID {u}"))
            .unwrap_or_default();
        return Err(fail(format!(
            "{device} holds {what}{label}{uuid}, which does not match the config, \
             and wipeFilesystem is false"
        )));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_command(program, &args).map_err(fail)?;
    record(
        changes,
        entry,
        format!("created a {format} filesystem on {device}"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINT: &str = "Disk /dev/loop0: 131072 sectors, 64.0 MiB
Sector size (logical/physical): 512/512 bytes
Disk identifier (GUID): C20ADF47-2E7F-4C4F-9110-4DF409BB885E
Partition table holds up to 128 entries
Main partition table begins at sector 2 and ends at sector 33
First usable sector is 34, last usable sector is 131038
Partitions will be aligned on 2048-sector boundaries
Total free space is 2014 sectors (1007.0 KiB)

Number  Start (sector)    End (sector)  Size       Code  Name
   1            2048           22527   10.0 MiB    8300  my root
   2           22528          131038   53.0 MiB    8300  
";

    const INFO: &str =
        "Partition GUID code: 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem)
Partition unique GUID: A0A4CBE8-7E09-4965-8A0D-7F0DDF17A643
First sector: 2048 (at 1024.0 KiB)
Last sector: 22527 (at 11.0 MiB)
Partition size: 20480 sectors (10.0 MiB)
Attribute flags: 0000000000000000
Partition name: 'my root'
";

    fn table() -> Table {
        let (mut table, numbers) = parse_print(PRINT).unwrap();
        assert_eq!(numbers, [1, 2]);
        table.partitions.push(parse_info(1, INFO));
        table.partitions.push(Existing {
            number: 2,
            start: 22528,
            end: 100_000,
            type_guid: String::new(),
            guid: String::new(),
            label: String::new(),
        });
        table
    }

    #[test]
    fn parses_sgdisk_output() {
        let table = table();
        assert_eq!(
            (
                table.sector_size,
                table.first_usable,
                table.last_usable,
                table.alignment
            ),
            (512, 34, 131_038, 2048)
        );
        let root = &table.partitions[0];
        assert_eq!(
            (root.start, root.end, root.label.as_str()),
            (2048, 22527, "my root")
        );
        assert_eq!(root.type_guid, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
        assert_eq!(root.guid, "A0A4CBE8-7E09-4965-8A0D-7F0DDF17A643");
        assert!(parse_print("garbage").is_err());
    }

    #[test]
    fn matches_partitions_like_ignition() {
        let table = table();
        let root = &table.partitions[0];
        let part = |json: &str| serde_json::from_str::<Partition>(json).unwrap();
        let same = part(
            r#"{"number":1,"label":"my root","sizeMiB":10,"startMiB":1,"typeGuid":"0fc63daf-8483-4772-8e79-3d69d8477de4"}"#,
        );
        assert_eq!(mismatch(&table, &same, root), None);
        assert_eq!(mismatch(&table, &part(r#"{"number":1}"#), root), None);
        let (reason, size_only) =
            mismatch(&table, &part(r#"{"number":1,"sizeMiB":20}"#), root).unwrap();
        assert!(size_only && reason.contains("not 40960"), "{reason}");
        let (reason, size_only) = mismatch(
            &table,
            &part(r#"{"number":1,"label":"x","sizeMiB":20}"#),
            root,
        )
        .unwrap();
        assert!(!size_only && reason.contains("label"), "{reason}");
        // Size 0 means "up to the next partition or the end".
        let fill = part(r#"{"number":2,"sizeMiB":0}"#);
        let (reason, _) = mismatch(&table, &fill, &table.partitions[1]).unwrap();
        assert!(reason.contains("does not fill"), "{reason}");
        let mut full = table.partitions[1].clone();
        full.end = 131_038;
        assert_eq!(mismatch(&table, &fill, &full), None);
    }

    #[test]
    fn builds_sgdisk_and_mkfs_options() {
        let table = table();
        let part: Partition =
            serde_json::from_str(r#"{"number":3,"label":"data","sizeMiB":8,"typeGuid":"T"}"#)
                .unwrap();
        assert_eq!(
            create_ops(&table, 3, "0".into(), &part, None),
            ["--new=3:0:+16384", "--change-name=3:data", "--typecode=3:T"]
        );
        let fs: Filesystem = serde_json::from_str(
            r#"{"device":"/dev/x","format":"vfat","label":"EFI","uuid":"12AB-34CD","options":["-F","32"]}"#,
        )
        .unwrap();
        let (program, args) = mkfs_command(&fs, "vfat", "/dev/x").unwrap();
        assert_eq!(program, "mkfs.vfat");
        assert_eq!(args, ["-n", "EFI", "-i", "12AB34CD", "-F", "32", "/dev/x"]);
        let (_, args) = mkfs_command(&fs, "xfs", "/dev/x").unwrap();
        assert_eq!(args[..5], ["-f", "-L", "EFI", "-m", "uuid=12AB-34CD"]);
        assert!(mkfs_command(&fs, "zfs", "/dev/x").is_none());
    }

    #[test]
    fn reuses_only_matching_filesystems() {
        let fs: Filesystem = serde_json::from_str(
            r#"{"device":"/dev/x","format":"vfat","label":"efi","uuid":"12ab-34cd"}"#,
        )
        .unwrap();
        let found = parse_export("TYPE=vfat\nLABEL=EFI\nUUID=12AB-34CD\n");
        assert!(reusable(&fs, "vfat", &found));
        assert!(!reusable(&fs, "ext4", &found));
        let other = parse_export("TYPE=vfat\nLABEL=OTHER\nUUID=12AB-34CD\n");
        assert!(!reusable(&fs, "vfat", &other));
        assert_eq!(parse_export("LABEL=a\\ b\n")["LABEL"], "a b");
    }

    #[test]
    fn decodes_by_links() {
        assert_eq!(
            by_link("/dev/disk/by-partlabel/my\\x20root"),
            Some((ByKind::PartLabel, "my root".to_owned()))
        );
        assert_eq!(
            by_link("/dev/disk/by-uuid/ab").map(|b| b.0),
            Some(ByKind::Uuid)
        );
        assert_eq!(by_link("/dev/disk/by-path/pci-0"), None);
        assert_eq!(by_link("/dev/vda"), None);
    }

    #[test]
    fn reports_command_failures_with_their_output() {
        let error = run_command("sh", &["-c", "echo out; echo oops >&2; exit 3"]).unwrap_err();
        assert!(
            error.contains("oops") && error.contains("exit status: 3"),
            "{error}"
        );
        assert_eq!(
            run_command("ferro-no-such-tool", &[]).unwrap_err(),
            "ferro-no-such-tool is not installed"
        );
    }
}
