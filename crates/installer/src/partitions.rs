//! The GPT of the target, read and changed with `sfdisk` (util-linux's `fdisk`
//! package), which works on block devices and image files alike: which partitions
//! `--save-partlabel`/`--save-partindex` keep, putting them back after the image is
//! written, and moving the backup GPT to the end of a disk larger than the image.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferro_sys::{CommandError, CommandRunExt};
use serde::Deserialize;

/// One partition of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its number.
    pub number: u32,
    /// First sector.
    pub start: u64,
    /// Sectors.
    pub size: u64,
    /// Type GUID.
    pub type_guid: String,
    /// Partition GUID.
    pub uuid: String,
    /// GPT name (label).
    pub name: String,
}

/// Why the table could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// `sfdisk` failed.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// Its output was not what sfdisk prints.
    #[error("cannot read sfdisk's output for {0}: {1}")]
    Output(PathBuf, String),
    /// A `--save-partindex` value is not a number or range.
    #[error("invalid partition index '{0}': expected N, N-, -N or N-M")]
    BadIndex(String),
}

#[derive(Deserialize)]
struct Dump {
    partitiontable: Table,
}

#[derive(Deserialize)]
struct Table {
    device: String,
    label: String,
    #[serde(default)]
    partitions: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    node: String,
    start: u64,
    size: u64,
    #[serde(rename = "type")]
    type_guid: String,
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    name: String,
}

/// The number at the end of a partition's node name, after the device's name and
/// its `p` separator.
fn number_of(device: &str, node: &str) -> Option<u32> {
    let rest = node.strip_prefix(device)?;
    rest.strip_prefix('p').unwrap_or(rest).parse().ok()
}

/// The GPT partitions of `device`; none when it has no GPT.
pub fn read(device: &Path) -> Result<Vec<Partition>, PartitionError> {
    let output = Command::new("sfdisk")
        .arg("--json")
        .arg(device)
        .run_capture()?;
    if !output.status.success() {
        // No partition table at all: nothing to keep.
        return Ok(Vec::new());
    }
    let dump: Dump = serde_json::from_slice(&output.stdout)
        .map_err(|e| PartitionError::Output(device.to_owned(), e.to_string()))?;
    let table = dump.partitiontable;
    if table.label != "gpt" {
        return Ok(Vec::new());
    }
    table
        .partitions
        .into_iter()
        .map(|e| {
            let number = number_of(&table.device, &e.node).ok_or_else(|| {
                PartitionError::Output(device.to_owned(), format!("partition node {}", e.node))
            })?;
            Ok(Partition {
                number,
                start: e.start,
                size: e.size,
                type_guid: e.type_guid,
                uuid: e.uuid,
                name: e.name,
            })
        })
        .collect()
}

/// Whether `name` matches the shell-style `pattern` (`*`, `?`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Whether `number` is in the range `spec` (`N`, `N-`, `-N`, `N-M`).
pub fn index_match(spec: &str, number: u32) -> Result<bool, PartitionError> {
    let bad = || PartitionError::BadIndex(spec.to_owned());
    let parse = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
    let (low, high) = match spec.split_once('-') {
        None => {
            let n = parse(spec)?;
            (n, n)
        }
        Some(("", high)) => (1, parse(high)?),
        Some((low, "")) => (parse(low)?, u32::MAX),
        Some((low, high)) => (parse(low)?, parse(high)?),
    };
    if low == 0 || low > high {
        return Err(bad());
    }
    Ok((low..=high).contains(&number))
}

/// The partitions of `table` that a label glob or an index range selects.
pub fn select(
    table: &[Partition],
    labels: &[String],
    indexes: &[String],
) -> Result<Vec<Partition>, PartitionError> {
    let mut kept = Vec::new();
    for p in table {
        let mut keep = labels.iter().any(|l| glob_match(l, &p.name));
        for spec in indexes {
            keep |= index_match(spec, p.number)?;
        }
        if keep {
            kept.push(p.clone());
        }
    }
    Ok(kept)
}

/// Runs `sfdisk ARGS DEVICE` with `script` on its standard input (from a temporary
/// file: sfdisk reads scripts only there).
fn sfdisk(device: &Path, args: &[&str], script: &str) -> Result<(), PartitionError> {
    let io = |e: std::io::Error| PartitionError::Output(device.to_owned(), e.to_string());
    let mut input = tempfile::tempfile().map_err(io)?;
    input.write_all(script.as_bytes()).map_err(io)?;
    input.seek(SeekFrom::Start(0)).map_err(io)?;
    Command::new("sfdisk")
        .args(["--no-reread", "--no-tell-kernel", "--quiet"])
        .args(args)
        .arg(device)
        .stdin(Stdio::from(input))
        .run_get_output()?;
    Ok(())
}

/// Moves the backup GPT to the end of `device` (after an image smaller than it was
/// written).
pub fn relocate_backup(device: &Path) -> Result<(), PartitionError> {
    sfdisk(device, &["--relocate", "gpt-bak-std"], "")
}

/// Adds `kept` to the GPT of `device` with their numbers, places, types, GUIDs and
/// names; with `new_table`, on a new empty GPT. The whole table is written back in
/// one `sfdisk` run, whose script names each partition by its device node: that is
/// how sfdisk takes a partition's number.
pub fn restore(device: &Path, kept: &[Partition], new_table: bool) -> Result<(), PartitionError> {
    let mut script = if new_table {
        "label: gpt\n".to_owned()
    } else {
        Command::new("sfdisk")
            .arg("--dump")
            .arg(device)
            .run_get_string()?
    };
    let name = device.to_string_lossy();
    let separator = if name.ends_with(|c: char| c.is_ascii_digit()) {
        "p"
    } else {
        ""
    };
    for p in kept {
        script.push_str(&format!(
            "{name}{separator}{} : start={}, size={}, type={}, uuid={}, name=\"{}\"\n",
            p.number,
            p.start,
            p.size,
            p.type_guid,
            p.uuid,
            p.name.replace('"', "")
        ));
    }
    sfdisk(device, &[], &script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_ranges() {
        assert!(glob_match("data*", "data-1"));
        assert!(glob_match("d?ta", "data"));
        assert!(!glob_match("data", "data2"));
        assert!(glob_match("*", ""));
        assert!(index_match("5", 5).unwrap());
        assert!(!index_match("5", 6).unwrap());
        assert!(index_match("5-", 9).unwrap());
        assert!(index_match("-3", 1).unwrap());
        assert!(!index_match("2-3", 4).unwrap());
        for bad in ["x", "0", "3-1", "1-x"] {
            assert!(index_match(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn partition_numbers_follow_the_device_name() {
        assert_eq!(number_of("/dev/sda", "/dev/sda3"), Some(3));
        assert_eq!(number_of("/dev/nvme0n1", "/dev/nvme0n1p12"), Some(12));
        assert_eq!(number_of("/tmp/disk1", "/tmp/disk1p4"), Some(4));
        assert_eq!(number_of("/dev/sda", "/dev/sdb1"), None);
    }
}
