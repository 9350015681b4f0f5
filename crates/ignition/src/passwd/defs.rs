//! The useradd settings of the root: `/etc/login.defs` and `/etc/default/useradd`.

use ferro_sys::IoError;

use crate::root::Root;

/// The settings of `/etc/login.defs` and `/etc/default/useradd` that matter here.
#[derive(Debug, Clone)]
pub(super) struct Defs {
    pub(super) uid: (u32, u32),
    pub(super) sys_uid: (u32, u32),
    pub(super) gid: (u32, u32),
    pub(super) sys_gid: (u32, u32),
    pub(super) usergroups: bool,
    pub(super) pass_min: Option<i64>,
    pub(super) pass_max: Option<i64>,
    pub(super) pass_warn: Option<i64>,
    pub(super) home_mode: u32,
    pub(super) group: u32,
    pub(super) home: String,
    pub(super) shell: String,
    pub(super) sub_uid: SubIds,
    pub(super) sub_gid: SubIds,
}

/// `SUB_UID_MIN`/`_MAX`/`_COUNT` (or the `SUB_GID_` ones): where `useradd` puts a new
/// user's subordinate range, and how many ids it gets (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SubIds {
    pub(super) min: u64,
    pub(super) max: u64,
    pub(super) count: u64,
}

/// `KEY VALUE` (login.defs) or `KEY=VALUE` (default/useradd) lines, comments skipped.
pub(super) fn settings(text: &str, sep: char) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(sep)?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// A number as login.defs writes them: `0…` octal, `0x…` hex, else decimal.
pub(super) fn number(v: &str) -> Option<i64> {
    if let Some(hex) = v.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if v.len() > 1 && v.starts_with('0') {
        i64::from_str_radix(&v[1..], 8).ok()
    } else {
        v.parse().ok()
    }
}

impl Defs {
    pub(super) fn load(root: &Root) -> Result<Defs, IoError> {
        let read = |p: &str| -> Result<String, IoError> {
            Ok(root
                .read(p)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default())
        };
        let login = settings(&read("/etc/login.defs")?, ' ');
        let login: Vec<(String, String)> = login
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().next().unwrap_or("").to_string()))
            .collect();
        let get = |k: &str| {
            login
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let num = |k: &str| get(k).and_then(number);
        let id = |k: &str, d: u32| num(k).and_then(|v| u32::try_from(v).ok()).unwrap_or(d);
        let ulong = |k: &str, d: u64| num(k).and_then(|v| u64::try_from(v).ok()).unwrap_or(d);
        let sub_ids = |kind: &str| SubIds {
            min: ulong(&format!("SUB_{kind}_MIN"), 100_000),
            max: ulong(&format!("SUB_{kind}_MAX"), 600_100_000),
            count: ulong(&format!("SUB_{kind}_COUNT"), 65536),
        };
        let uid_min = id("UID_MIN", 1000);
        let gid_min = id("GID_MIN", 1000);
        let umask = num("UMASK")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0o022);
        let useradd = settings(&read("/etc/default/useradd")?, '=');
        let dflt = |k: &str| {
            useradd
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        Ok(Defs {
            uid: (uid_min, id("UID_MAX", 60000)),
            sys_uid: (
                id("SYS_UID_MIN", 101),
                id("SYS_UID_MAX", uid_min.saturating_sub(1)),
            ),
            gid: (gid_min, id("GID_MAX", 60000)),
            sys_gid: (
                id("SYS_GID_MIN", 101),
                id("SYS_GID_MAX", gid_min.saturating_sub(1)),
            ),
            // Debian and Fedora ship `USERGROUPS_ENAB yes`; a root without login.defs gets
            // the same (the brief's choice, where shadow-utils' own default is "no").
            usergroups: get("USERGROUPS_ENAB").is_none_or(|v| v.eq_ignore_ascii_case("yes")),
            pass_min: num("PASS_MIN_DAYS").filter(|v| *v >= 0),
            pass_max: num("PASS_MAX_DAYS").filter(|v| *v >= 0),
            pass_warn: num("PASS_WARN_AGE").filter(|v| *v >= 0),
            home_mode: num("HOME_MODE")
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0o777 & !umask)
                & 0o7777,
            group: dflt("GROUP").and_then(|v| v.parse().ok()).unwrap_or(100),
            home: dflt("HOME").unwrap_or_else(|| "/home".to_string()),
            // What the verified oracle's useradd used with no /etc/default/useradd.
            shell: dflt("SHELL").unwrap_or_else(|| "/bin/bash".to_string()),
            sub_uid: sub_ids("UID"),
            sub_gid: sub_ids("GID"),
        })
    }
}
