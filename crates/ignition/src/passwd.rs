//! Users, groups and SSH keys, written directly as shadow-utils would.
//!
//! Ignition shells out to `groupadd`/`useradd`/`usermod`/… `--root`; those tools need to
//! be on the host and chroot into the target. We edit `/etc/passwd`, `/etc/group`,
//! `/etc/shadow` and `/etc/gshadow` inside the [`Root`] ourselves, with the tools'
//! semantics: existing lines and their order are kept (comments and NIS lines too), ids
//! are allocated from the root's `/etc/login.defs`, defaults come from the root's
//! `/etc/default/useradd`, the previous contents go to `passwd-` etc., and each file is
//! replaced atomically. All account changes are computed in memory first ([`Db`]) and
//! written once, so a config error leaves the account files untouched.
//!
//! Not modelled: `/etc/subuid`/`/etc/subgid`, lastlog/faillog (`noLogInit` has nothing to
//! skip), re-owning a home's files when a uid changes, nscd/sssd cache invalidation.

use std::collections::BTreeSet;

use ferro_spec::{Passwd, PasswdGroup, PasswdUser};

use crate::files::{Error, Stage, id};
use crate::root::{self, Kind, Perms, Root, RootError};

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
const SHADOW: &str = "/etc/shadow";
const GSHADOW: &str = "/etc/gshadow";

/// One line of an account file: colon-separated fields, or anything else kept verbatim.
#[derive(Debug, Clone)]
enum Line {
    Entry(Vec<String>),
    Raw(String),
}

/// One account file, as read from the root, with the edits made so far.
#[derive(Debug)]
struct Table {
    path: &'static str,
    lines: Vec<Line>,
    /// The file's bytes as read, for the `-` backup; `None` if it did not exist.
    original: Option<Vec<u8>>,
    /// Owner and mode to keep; `None` if the file did not exist.
    perms: Option<Perms>,
    /// Mode for a file created from scratch.
    new_mode: u32,
    dirty: bool,
}

impl Table {
    fn load(root: &Root, path: &'static str, new_mode: u32) -> Result<Table, RootError> {
        let original = root.read(path)?;
        let perms = match &original {
            Some(_) => root.stat(path)?.map(|m| Perms {
                uid: Some(m.uid),
                gid: Some(m.gid),
                mode: m.mode,
            }),
            None => None,
        };
        let text = original
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| {
                if l.is_empty() || l.starts_with(['#', '+', '-']) || !l.contains(':') {
                    Line::Raw(l.to_string())
                } else {
                    Line::Entry(l.split(':').map(str::to_string).collect())
                }
            })
            .collect();
        Ok(Table {
            path,
            lines,
            original,
            perms,
            new_mode,
            dirty: false,
        })
    }

    fn entries(&self) -> impl Iterator<Item = &Vec<String>> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(f) => Some(f),
            Line::Raw(_) => None,
        })
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = &mut Vec<String>> {
        self.lines.iter_mut().filter_map(|l| match l {
            Line::Entry(f) => Some(f),
            Line::Raw(_) => None,
        })
    }

    fn find(&self, name: &str) -> Option<&Vec<String>> {
        self.entries().find(|f| f[0] == name)
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut Vec<String>> {
        self.dirty = true;
        self.entries_mut().find(|f| f[0] == name)
    }

    fn push(&mut self, fields: Vec<String>) {
        self.dirty = true;
        self.lines.push(Line::Entry(fields));
    }

    fn remove(&mut self, name: &str) {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry(f) if f[0] == name));
        self.dirty |= self.lines.len() != before;
    }

    fn render(&self) -> Vec<u8> {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Entry(f) => out.push_str(&f.join(":")),
                Line::Raw(r) => out.push_str(r),
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Writes the backup (`path-`, the previous contents with the same owner and mode)
    /// and then the file itself, atomically.
    fn save(&self, root: &Root) -> Result<(), RootError> {
        if let (Some(original), Some(perms)) = (&self.original, self.perms) {
            root.write_file(&format!("{}-", self.path), original, perms)?;
        }
        let perms = self.perms.unwrap_or(Perms {
            uid: None,
            gid: None,
            mode: self.new_mode,
        });
        root.write_file(self.path, &self.render(), perms)
    }
}

/// Field `i` of an entry, empty when the line is short.
fn field(f: &[String], i: usize) -> &str {
    f.get(i).map_or("", String::as_str)
}

/// Sets field `i`, padding a short line.
fn set_field(f: &mut Vec<String>, i: usize, value: &str) {
    if f.len() <= i {
        f.resize(i + 1, String::new());
    }
    f[i] = value.to_string();
}

/// A comma-separated member list as names.
fn members(f: &[String], i: usize) -> Vec<String> {
    field(f, i)
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

/// The settings of `/etc/login.defs` and `/etc/default/useradd` that matter here.
#[derive(Debug, Clone)]
struct Defs {
    uid: (u32, u32),
    sys_uid: (u32, u32),
    gid: (u32, u32),
    sys_gid: (u32, u32),
    usergroups: bool,
    pass_min: Option<i64>,
    pass_max: Option<i64>,
    pass_warn: Option<i64>,
    home_mode: u32,
    group: u32,
    home: String,
    shell: String,
}

/// `KEY VALUE` (login.defs) or `KEY=VALUE` (default/useradd) lines, comments skipped.
fn settings(text: &str, sep: char) -> Vec<(String, String)> {
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
fn number(v: &str) -> Option<i64> {
    if let Some(hex) = v.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if v.len() > 1 && v.starts_with('0') {
        i64::from_str_radix(&v[1..], 8).ok()
    } else {
        v.parse().ok()
    }
}

impl Defs {
    fn load(root: &Root) -> Result<Defs, RootError> {
        let read = |p: &str| -> Result<String, RootError> {
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
        })
    }
}

/// A user as the files stage needs it (owner lookups, SSH keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory (a path inside the root).
    pub home: String,
}

/// Work on home directories, done after the account files are written.
#[derive(Debug)]
enum HomeOp {
    Create {
        entry: String,
        home: String,
        uid: u32,
        gid: u32,
    },
    Move {
        entry: String,
        from: String,
        to: String,
    },
    Remove {
        entry: String,
        path: String,
    },
}

/// The root's account database, read once and edited in memory.
#[derive(Debug)]
pub struct Db {
    passwd: Table,
    group: Table,
    shadow: Table,
    gshadow: Table,
    defs: Defs,
    /// Days since the epoch, for shadow's "last change" field.
    today: i64,
}

impl Db {
    /// Reads the account files and defaults from the root; missing files are empty.
    pub fn load(root: &Root) -> Result<Db, RootError> {
        // shadow-utils honours SOURCE_DATE_EPOCH for reproducible images; so do we.
        let now = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            });
        Ok(Db {
            passwd: Table::load(root, PASSWD, 0o644)?,
            group: Table::load(root, GROUP, 0o644)?,
            shadow: Table::load(root, SHADOW, 0o640)?,
            gshadow: Table::load(root, GSHADOW, 0o640)?,
            defs: Defs::load(root)?,
            today: now / 86400,
        })
    }

    /// The uid of user `name`.
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.user(name).map(|u| u.uid)
    }

    /// The gid of group `name`.
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.group.find(name).and_then(|f| field(f, 2).parse().ok())
    }

    /// User `name`, if it exists (with a numeric uid and gid).
    pub fn user(&self, name: &str) -> Option<User> {
        let f = self.passwd.find(name)?;
        Some(User {
            uid: field(f, 2).parse().ok()?,
            gid: field(f, 3).parse().ok()?,
            home: field(f, 5).to_string(),
        })
    }

    fn uids(&self) -> BTreeSet<u32> {
        self.passwd
            .entries()
            .filter_map(|f| field(f, 2).parse().ok())
            .collect()
    }

    fn gids(&self) -> BTreeSet<u32> {
        self.group
            .entries()
            .filter_map(|f| field(f, 2).parse().ok())
            .collect()
    }

    fn group_by_gid(&self, gid: u32) -> Option<String> {
        self.group
            .entries()
            .find(|f| field(f, 2).parse() == Ok(gid))
            .map(|f| f[0].clone())
    }

    fn dirty(&self) -> bool {
        self.passwd.dirty || self.group.dirty || self.shadow.dirty || self.gshadow.dirty
    }

    /// Adds `user` to group `name`'s members (group and gshadow).
    fn add_member(&mut self, name: &str, user: &str) {
        for (table, i) in [(&mut self.group, 3), (&mut self.gshadow, 3)] {
            if let Some(f) = table.find_mut(name) {
                let mut m = members(f, i);
                if !m.iter().any(|x| x == user) {
                    m.push(user.to_string());
                    set_field(f, i, &m.join(","));
                }
            }
        }
    }

    /// Removes `user` from group `name`'s members (and, in gshadow, administrators).
    fn remove_member(&mut self, name: &str, user: &str) {
        for (table, fields) in [
            (&mut self.group, &[3][..]),
            (&mut self.gshadow, &[2, 3][..]),
        ] {
            if let Some(f) = table.find_mut(name) {
                for &i in fields {
                    let m = members(f, i);
                    if m.iter().any(|x| x == user) {
                        let kept: Vec<String> = m.into_iter().filter(|x| x != user).collect();
                        set_field(f, i, &kept.join(","));
                    }
                }
            }
        }
    }

    /// Groups that list `user` as a member.
    fn groups_of(&self, user: &str) -> Vec<String> {
        self.group
            .entries()
            .filter(|f| members(f, 3).iter().any(|m| m == user))
            .map(|f| f[0].clone())
            .collect()
    }

    fn shadow_fields(&self, name: &str, password: &str) -> Vec<String> {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let d = &self.defs;
        vec![
            name.to_string(),
            password.to_string(),
            self.today.to_string(),
            opt(d.pass_min),
            opt(d.pass_max),
            opt(d.pass_warn),
            String::new(),
            String::new(),
            String::new(),
        ]
    }
}

/// An id from `used`'s complement, as shadow-utils allocates them: the preferred one if
/// free and in range; for regular accounts one above the highest in use in the range
/// (else the lowest free); for system accounts the highest free.
fn allocate(
    used: &BTreeSet<u32>,
    (min, max): (u32, u32),
    system: bool,
    preferred: Option<u32>,
) -> Option<u32> {
    if let Some(p) = preferred.filter(|p| (min..=max).contains(p) && !used.contains(p)) {
        return Some(p);
    }
    if system {
        return (min..=max).rev().find(|i| !used.contains(i));
    }
    let next = used
        .range(min..=max)
        .next_back()
        .map_or(Some(min), |h| h.checked_add(1));
    match next {
        Some(n) if n <= max => Some(n),
        _ => (min..=max).find(|i| !used.contains(i)),
    }
}

/// Refuses values that would corrupt a colon-separated line.
fn check_field(entry: &str, what: &str, value: &str) -> Result<(), Error> {
    if value.contains([':', '\n', '\r']) {
        return Err(Error::invalid(
            entry,
            value,
            format!("invalid {what} {value:?}: contains ':' or a newline"),
        ));
    }
    Ok(())
}

fn check_name(entry: &str, name: &str) -> Result<(), Error> {
    check_field(entry, "name", name)?;
    if name.is_empty()
        || name.contains([',', '/', ' '])
        || name.starts_with(['-', '+', '#'])
        || name == "."
        || name == ".."
    {
        return Err(Error::invalid(
            entry,
            name,
            format!("invalid account name {name:?}"),
        ));
    }
    Ok(())
}

/// Groups, users, then SSH keys of `passwd`, as Ignition's files stage does them.
pub(crate) fn apply(stage: &mut Stage<'_>, db: &mut Db, passwd: &Passwd) -> Result<(), Error> {
    let mut homes = Vec::new();
    for (i, g) in passwd.groups.iter().enumerate() {
        group(stage, db, &format!("$.passwd.groups.{i}"), g)?;
    }
    for (i, u) in passwd.users.iter().enumerate() {
        user(stage, db, &format!("$.passwd.users.{i}"), u, &mut homes)?;
    }
    if db.dirty() {
        save(stage, db)?;
    }
    for op in homes {
        home(stage, db.defs.home_mode, op)?;
    }
    for (i, u) in passwd.users.iter().enumerate() {
        if u.should_exist != Some(false) && !u.ssh_authorized_keys.is_empty() {
            ssh_keys(
                stage,
                db,
                &format!("$.passwd.users.{i}.sshAuthorizedKeys"),
                u,
            )?;
        }
    }
    Ok(())
}

/// Writes the edited account files (with `-` backups) and, like the tools, makes sure
/// the lock file `/etc/.pwd.lock` (0600) exists.
fn save(stage: &mut Stage<'_>, db: &Db) -> Result<(), Error> {
    const ENTRY: &str = "$.passwd";
    const LOCK: &str = "/etc/.pwd.lock";
    if !stage.dry_run {
        let root = stage.root;
        root.create_dir_all("/etc", 0o755, None)
            .map_err(|e| Error::new(ENTRY, "/etc", e))?;
        if root
            .lstat(LOCK)
            .map_err(|e| Error::new(ENTRY, LOCK, e))?
            .is_none()
        {
            let perms = Perms {
                uid: None,
                gid: None,
                mode: 0o600,
            };
            root.write_file(LOCK, b"", perms)
                .map_err(|e| Error::new(ENTRY, LOCK, e))?;
        }
    }
    for t in [&db.group, &db.gshadow, &db.passwd, &db.shadow] {
        if !t.dirty {
            continue;
        }
        if !stage.dry_run {
            t.save(stage.root)
                .map_err(|e| Error::new(ENTRY, t.path, e))?;
        }
        let backup = if t.original.is_some() {
            format!(" (previous in {}-)", t.path)
        } else {
            String::new()
        };
        stage.record(ENTRY, format!("updated {}{backup}", t.path));
    }
    Ok(())
}

/// `groupdel`, `groupmod` or `groupadd`.
fn group(stage: &mut Stage<'_>, db: &mut Db, entry: &str, g: &PasswdGroup) -> Result<(), Error> {
    let name = g.name.as_str();
    check_name(entry, name)?;
    if let Some(h) = &g.password_hash {
        check_field(entry, "password hash", h)?;
    }
    let gid = g.gid.map(|v| id(entry, "gid", v)).transpose()?;
    let current = db.gid(name);
    if g.should_exist == Some(false) {
        let Some(old) = current else { return Ok(()) };
        // Ignition deletes what the config says even when a user still has the group as
        // primary group (its groupdel stand-in does); the change list says so.
        let orphans: Vec<String> = db
            .passwd
            .entries()
            .filter(|f| field(f, 3).parse() == Ok(old))
            .map(|f| f[0].clone())
            .collect();
        db.group.remove(name);
        db.gshadow.remove(name);
        let note = if orphans.is_empty() {
            String::new()
        } else {
            format!("; still the primary group of {}", orphans.join(", "))
        };
        stage.record(entry, format!("removed group {name} ({old}){note}"));
        return Ok(());
    }
    if db.group.find(name).is_some() {
        let mut done = Vec::new();
        if let (Some(new), Some(old)) = (gid, current)
            && new != old
        {
            if db.gids().contains(&new) {
                return Err(Error::invalid(
                    entry,
                    name,
                    format!("group {name}: GID {new} is not unique"),
                ));
            }
            if let Some(f) = db.group.find_mut(name) {
                set_field(f, 2, &new.to_string());
            }
            // groupmod moves the users whose primary group this is along.
            db.passwd.dirty = true;
            for f in db
                .passwd
                .entries_mut()
                .filter(|f| field(f, 3).parse() == Ok(old))
            {
                set_field(f, 3, &new.to_string());
            }
            done.push(format!("gid {old} -> {new}"));
        }
        if let Some(h) = &g.password_hash {
            set_group_password(db, name, h);
            done.push("password".to_string());
        }
        if !done.is_empty() {
            stage.record(
                entry,
                format!("modified group {name} ({})", done.join(", ")),
            );
        }
        return Ok(());
    }
    let system = g.system == Some(true);
    let new = match gid {
        Some(v) if db.gids().contains(&v) => {
            return Err(Error::invalid(
                entry,
                name,
                format!("group {name}: GID {v} is not unique"),
            ));
        }
        Some(v) => v,
        None => {
            let range = if system { db.defs.sys_gid } else { db.defs.gid };
            allocate(&db.gids(), range, system, None)
                .ok_or_else(|| Error::invalid(entry, name, format!("group {name}: no free GID")))?
        }
    };
    add_group(db, name, new, g.password_hash.as_deref().unwrap_or("!"));
    stage.record(entry, format!("added group {name} ({new})"));
    Ok(())
}

fn add_group(db: &mut Db, name: &str, gid: u32, password: &str) {
    db.group.push(vec![
        name.to_string(),
        "x".to_string(),
        gid.to_string(),
        String::new(),
    ]);
    db.gshadow.push(vec![
        name.to_string(),
        password.to_string(),
        String::new(),
        String::new(),
    ]);
}

fn set_group_password(db: &mut Db, name: &str, hash: &str) {
    match db.gshadow.find_mut(name) {
        Some(f) => set_field(f, 1, hash),
        None => db.gshadow.push(vec![
            name.to_string(),
            hash.to_string(),
            String::new(),
            String::new(),
        ]),
    }
}

/// A primary group given by name or number, which must exist.
fn primary_gid(db: &Db, entry: &str, group: &str) -> Result<u32, Error> {
    db.gid(group)
        .or_else(|| group.parse().ok().filter(|g| db.gids().contains(g)))
        .ok_or_else(|| Error::invalid(entry, group, format!("group {group:?} does not exist")))
}

/// The shadow password for a given hash: `*` (no password login) for an empty one.
fn shadow_password(hash: &str) -> &str {
    if hash.is_empty() { "*" } else { hash }
}

/// `userdel --remove`, `usermod` or `useradd`.
fn user(
    stage: &mut Stage<'_>,
    db: &mut Db,
    entry: &str,
    u: &PasswdUser,
    homes: &mut Vec<HomeOp>,
) -> Result<(), Error> {
    let name = u.name.as_str();
    check_name(entry, name)?;
    for (what, v) in [
        ("password hash", &u.password_hash),
        ("gecos", &u.gecos),
        ("home directory", &u.home_dir),
        ("shell", &u.shell),
    ] {
        if let Some(v) = v {
            check_field(entry, what, v)?;
        }
    }
    for g in &u.groups {
        if db.gid(g).is_none() {
            return Err(Error::invalid(
                entry,
                g,
                format!("user {name}: group {g:?} does not exist"),
            ));
        }
    }
    let uid = u.uid.map(|v| id(entry, "uid", v)).transpose()?;
    let existing = db.user(name);
    match (u.should_exist, existing) {
        (Some(false), None) => Ok(()),
        (Some(false), Some(old)) => userdel(stage, db, entry, name, &old, homes),
        (_, Some(old)) => usermod(stage, db, entry, u, uid, &old, homes),
        (_, None) => useradd(stage, db, entry, u, uid, homes),
    }
}

fn useradd(
    stage: &mut Stage<'_>,
    db: &mut Db,
    entry: &str,
    u: &PasswdUser,
    uid: Option<u32>,
    homes: &mut Vec<HomeOp>,
) -> Result<(), Error> {
    let name = u.name.as_str();
    let system = u.system == Some(true);
    let uid = match uid {
        Some(v) if db.uids().contains(&v) => {
            return Err(Error::invalid(
                entry,
                name,
                format!("user {name}: UID {v} is not unique"),
            ));
        }
        Some(v) => v,
        None => {
            let range = if system { db.defs.sys_uid } else { db.defs.uid };
            allocate(&db.uids(), range, system, None)
                .ok_or_else(|| Error::invalid(entry, name, format!("user {name}: no free UID")))?
        }
    };
    let user_group =
        u.primary_group.is_none() && u.no_user_group != Some(true) && db.defs.usergroups;
    let gid = if let Some(g) = &u.primary_group {
        primary_gid(db, entry, g)?
    } else if user_group {
        if db.group.find(name).is_some() {
            let msg = format!("group {name} exists - to add user {name} to it, set primaryGroup");
            return Err(Error::invalid(entry, name, msg));
        }
        let range = if system { db.defs.sys_gid } else { db.defs.gid };
        let gid = allocate(&db.gids(), range, system, Some(uid)).ok_or_else(|| {
            Error::invalid(
                entry,
                name,
                format!("user {name}: no free GID for its group"),
            )
        })?;
        add_group(db, name, gid, "!");
        gid
    } else {
        db.defs.group
    };
    let home = u
        .home_dir
        .clone()
        .unwrap_or_else(|| format!("{}/{name}", db.defs.home.trim_end_matches('/')));
    let shell = u.shell.clone().unwrap_or_else(|| db.defs.shell.clone());
    db.passwd.push(vec![
        name.to_string(),
        "x".to_string(),
        uid.to_string(),
        gid.to_string(),
        u.gecos.clone().unwrap_or_default(),
        home.clone(),
        shell,
    ]);
    db.shadow.remove(name);
    let shadow = db.shadow_fields(
        name,
        shadow_password(u.password_hash.as_deref().unwrap_or("")),
    );
    db.shadow.push(shadow);
    for g in &u.groups {
        db.add_member(g, name);
    }
    let mut summary = format!("added user {name} ({uid}:{gid}, home {home})");
    if user_group {
        summary.push_str(&format!(", with group {name} ({gid})"));
    }
    stage.record(entry, summary);
    if u.no_create_home != Some(true) {
        homes.push(HomeOp::Create {
            entry: entry.to_string(),
            home,
            uid,
            gid,
        });
    }
    Ok(())
}

fn usermod(
    stage: &mut Stage<'_>,
    db: &mut Db,
    entry: &str,
    u: &PasswdUser,
    uid: Option<u32>,
    old: &User,
    homes: &mut Vec<HomeOp>,
) -> Result<(), Error> {
    let name = u.name.as_str();
    let mut done = Vec::new();
    let set = |db: &mut Db, i: usize, v: &str| {
        if let Some(f) = db.passwd.find_mut(name) {
            set_field(f, i, v);
        }
    };
    if let Some(v) = uid.filter(|v| *v != old.uid) {
        if db.uids().contains(&v) {
            return Err(Error::invalid(
                entry,
                name,
                format!("user {name}: UID {v} is not unique"),
            ));
        }
        set(db, 2, &v.to_string());
        done.push(format!("uid {} -> {v}", old.uid));
    }
    if let Some(g) = &u.primary_group {
        let gid = primary_gid(db, entry, g)?;
        if gid != old.gid {
            set(db, 3, &gid.to_string());
            done.push(format!("primary group {gid}"));
        }
    }
    if let Some(gecos) = &u.gecos {
        set(db, 4, gecos);
        done.push("gecos".to_string());
    }
    if let Some(home) = u
        .home_dir
        .as_ref()
        .filter(|h| root::clean(h) != root::clean(&old.home))
    {
        set(db, 5, home);
        homes.push(HomeOp::Move {
            entry: entry.to_string(),
            from: old.home.clone(),
            to: home.clone(),
        });
        done.push(format!("home {home}"));
    }
    if let Some(shell) = &u.shell {
        set(db, 6, shell);
        done.push("shell".to_string());
    }
    if let Some(hash) = &u.password_hash {
        let password = shadow_password(hash).to_string();
        let today = db.today.to_string();
        match db.shadow.find_mut(name) {
            Some(f) => {
                set_field(f, 1, &password);
                set_field(f, 2, &today);
            }
            None => {
                let fields = db.shadow_fields(name, &password);
                db.shadow.push(fields);
            }
        }
        done.push("password".to_string());
    }
    if !u.groups.is_empty() {
        // `usermod --groups` without `--append`: exactly these supplementary groups.
        for g in db.groups_of(name) {
            if !u.groups.contains(&g) {
                db.remove_member(&g, name);
            }
        }
        for g in &u.groups {
            db.add_member(g, name);
        }
        done.push(format!("groups {}", u.groups.join(",")));
    }
    let what = if done.is_empty() {
        "unchanged".to_string()
    } else {
        done.join(", ")
    };
    stage.record(entry, format!("modified user {name} ({what})"));
    Ok(())
}

fn userdel(
    stage: &mut Stage<'_>,
    db: &mut Db,
    entry: &str,
    name: &str,
    old: &User,
    homes: &mut Vec<HomeOp>,
) -> Result<(), Error> {
    // userdel --remove refuses a home the user does not own (`/` for system users).
    let home = root::clean(&old.home);
    let meta = stage
        .root
        .lstat(&home)
        .map_err(|e| Error::new(entry, &home, e))?;
    if let Some(m) = meta {
        if m.kind != Kind::Dir || m.uid != old.uid || home == "/" {
            // Like `userdel --remove`, which warns and keeps a home the user does not own
            // (`/` for system users), the account itself still goes.
            stage.record(
                entry,
                format!("kept home directory {home} of {name}: not owned by {name}"),
            );
        } else {
            homes.push(HomeOp::Remove {
                entry: entry.to_string(),
                path: home.clone(),
            });
        }
    }
    let mail = format!("/var/mail/{name}");
    if stage
        .root
        .lstat(&mail)
        .map_err(|e| Error::new(entry, &mail, e))?
        .is_some_and(|m| m.uid == old.uid)
    {
        homes.push(HomeOp::Remove {
            entry: entry.to_string(),
            path: mail,
        });
    }
    db.passwd.remove(name);
    db.shadow.remove(name);
    for g in db.groups_of(name) {
        db.remove_member(&g, name);
    }
    let admin_of: Vec<String> = db
        .gshadow
        .entries()
        .filter(|f| members(f, 2).iter().any(|m| m == name))
        .map(|f| f[0].clone())
        .collect();
    for g in admin_of {
        db.remove_member(&g, name);
    }
    let mut summary = format!("removed user {name} ({})", old.uid);
    // The user's own group goes too, unless another user still has it as primary group.
    if db.defs.usergroups
        && db.group_by_gid(old.gid).as_deref() == Some(name)
        && !db
            .passwd
            .entries()
            .any(|f| field(f, 3).parse() == Ok(old.gid))
    {
        db.group.remove(name);
        db.gshadow.remove(name);
        summary.push_str(&format!(" and its group {name}"));
    }
    stage.record(entry, summary);
    Ok(())
}

/// Creates, moves or removes a home directory after the account files were written.
fn home(stage: &mut Stage<'_>, mode: u32, op: HomeOp) -> Result<(), Error> {
    let root = stage.root;
    match op {
        HomeOp::Create {
            entry,
            home,
            uid,
            gid,
        } => {
            let home = root::clean(&home);
            if root
                .lstat(&home)
                .map_err(|e| Error::new(&entry, &home, e))?
                .is_some()
            {
                // useradd: the home exists, so it is neither touched nor filled from skel.
                stage.record(&entry, format!("kept existing home {home}"));
                return Ok(());
            }
            if !stage.dry_run {
                let e = |err| Error::new(&entry, &home, err);
                root.create_dir_all(&root::parent(&home), 0o755, None)
                    .map_err(e)?;
                root.create_dir_all(&home, mode, Some((uid, gid)))
                    .map_err(e)?;
                copy_skel(root, "/etc/skel", &home, uid, gid).map_err(e)?;
            }
            stage.record(
                &entry,
                format!("created home {home} ({mode:04o}, {uid}:{gid})"),
            );
        }
        HomeOp::Move { entry, from, to } => {
            let (from, to) = (root::clean(&from), root::clean(&to));
            let e = |err| Error::new(&entry, &to, err);
            if root.lstat(&from).map_err(e)?.is_none() {
                return Ok(());
            }
            if root.lstat(&to).map_err(e)?.is_some() {
                return Err(Error::invalid(
                    &entry,
                    &to,
                    format!("cannot move home to {to}: it already exists"),
                ));
            }
            if !stage.dry_run {
                root.create_dir_all(&root::parent(&to), 0o755, None)
                    .map_err(e)?;
                root.rename(&from, &to).map_err(e)?;
            }
            stage.record(&entry, format!("moved home {from} to {to}"));
        }
        HomeOp::Remove { entry, path } => {
            if !stage.dry_run {
                root.remove_all(&path)
                    .map_err(|e| Error::new(&entry, &path, e))?;
            }
            stage.record(&entry, format!("removed {path}"));
        }
    }
    Ok(())
}

/// Copies the skeleton tree `src` into `dst`, everything owned by `uid:gid`, modes kept.
fn copy_skel(root: &Root, src: &str, dst: &str, uid: u32, gid: u32) -> Result<(), RootError> {
    for (name, kind) in root.read_dir(src)? {
        let (from, to) = (format!("{src}/{name}"), format!("{dst}/{name}"));
        let mode = root.lstat(&from)?.map_or(0o644, |m| m.mode);
        match kind {
            Kind::Dir => {
                root.create_dir_all(&to, mode, Some((uid, gid)))?;
                copy_skel(root, &from, &to, uid, gid)?;
            }
            Kind::File => {
                let data = root.read(&from)?.unwrap_or_default();
                root.write_file(
                    &to,
                    &data,
                    Perms {
                        uid: Some(uid),
                        gid: Some(gid),
                        mode,
                    },
                )?;
            }
            Kind::Symlink => {
                root.symlink(&to, &root.read_link(&from)?)?;
                root.chown(&to, Some(uid), Some(gid))?;
            }
            Kind::Other => {}
        }
    }
    Ok(())
}

/// Writes `<home>/.ssh/authorized_keys.d/ignition` as Ignition does as the user:
/// missing directories 0700 and the file 0600, owned by the user's uid and primary gid.
fn ssh_keys(stage: &mut Stage<'_>, db: &Db, entry: &str, u: &PasswdUser) -> Result<(), Error> {
    let name = u.name.as_str();
    let user = db
        .user(name)
        .ok_or_else(|| Error::invalid(entry, name, format!("user {name} does not exist")))?;
    let ssh = format!("{}/.ssh", root::clean(&user.home).trim_end_matches('/'));
    let (dir, path) = if stage.authorized_keys_fragment {
        let dir = format!("{ssh}/authorized_keys.d");
        let path = format!("{dir}/ignition");
        (dir, path)
    } else {
        let path = format!("{ssh}/authorized_keys");
        (ssh, path)
    };
    let mut data = u.ssh_authorized_keys.join("\n");
    if !data.ends_with('\n') {
        data.push('\n');
    }
    if !stage.dry_run {
        let e = |err| Error::new(entry, &path, err);
        stage
            .root
            .create_dir_all(&dir, 0o700, Some((user.uid, user.gid)))
            .map_err(e)?;
        let perms = Perms {
            uid: Some(user.uid),
            gid: Some(user.gid),
            mode: 0o600,
        };
        stage
            .root
            .write_file(&path, data.as_bytes(), perms)
            .map_err(e)?;
    }
    stage.record(
        entry,
        format!("wrote SSH keys {path} (0600, {}:{})", user.uid, user.gid),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use serde_json::json;

    use super::allocate;
    use crate::files::test_support::{TestRoot, as_root};

    fn seeded() -> TestRoot {
        let t = TestRoot::new();
        t.write(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\n# comment kept\n",
        );
        t.write("etc/group", "root:x:0:\nusers:x:100:\n");
        t.write("etc/shadow", "root:*:19000:0:99999:7:::\n");
        t.write("etc/gshadow", "root:*::\nusers:*::\n");
        for f in ["etc/shadow", "etc/gshadow"] {
            fs::set_permissions(t.host(f), fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        t
    }

    fn stat(t: &TestRoot, rel: &str) -> (u32, u32, u32) {
        let m = fs::symlink_metadata(t.host(rel)).expect("lstat");
        (m.mode() & 0o7777, m.uid(), m.gid())
    }

    #[test]
    fn adds_groups_users_homes_and_keys() {
        let t = seeded();
        let config = json!({"passwd": {
            "groups": [{"name": "wheel", "gid": 10}],
            "users": [{"name": "core", "passwordHash": "$6$abc$xyz", "groups": ["wheel"],
                       "sshAuthorizedKeys": ["ssh-ed25519 AAAA a", "ssh-rsa BBBB b"]}]
        }});
        t.apply(config, false).expect("apply");
        assert_eq!(
            t.read("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\n# comment kept\ncore:x:1000:1000::/home/core:/bin/bash\n"
        );
        assert_eq!(
            t.read("etc/group"),
            "root:x:0:\nusers:x:100:\nwheel:x:10:core\ncore:x:1000:\n"
        );
        assert_eq!(
            t.read("etc/gshadow"),
            "root:*::\nusers:*::\nwheel:!::core\ncore:!::\n"
        );
        let shadow = t.read("etc/shadow");
        let line = shadow.lines().nth(1).expect("core line");
        assert!(
            line.starts_with("core:$6$abc$xyz:") && line.ends_with("::::::"),
            "{line}"
        );
        assert_eq!(
            t.read("etc/passwd-"),
            "root:x:0:0:root:/root:/bin/bash\n# comment kept\n"
        );
        assert_eq!(stat(&t, "etc/shadow").0, 0o640);
        assert_eq!(stat(&t, "etc/.pwd.lock").0, 0o600);
        let keys = "home/core/.ssh/authorized_keys.d/ignition";
        assert_eq!(t.read(keys), "ssh-ed25519 AAAA a\nssh-rsa BBBB b\n");
        let expect_owner = |rel: &str, mode: u32| {
            let (m, u, g) = stat(&t, rel);
            assert_eq!(m, mode, "{rel}");
            if as_root() {
                assert_eq!((u, g), (1000, 1000), "{rel}");
            }
        };
        expect_owner("home/core", 0o755);
        expect_owner("home/core/.ssh", 0o700);
        expect_owner("home/core/.ssh/authorized_keys.d", 0o700);
        expect_owner(keys, 0o600);
    }

    #[test]
    fn allocation_follows_login_defs() {
        let t = seeded();
        t.write(
            "etc/login.defs",
            "UID_MIN 2000\nGID_MIN 3000\nSYS_UID_MAX 499\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\n",
        );
        t.write("etc/default/useradd", "SHELL=/bin/zsh\n");
        let config = json!({"passwd": {
            "groups": [{"name": "svc", "system": true}],
            "users": [
                {"name": "a", "noUserGroup": true, "noCreateHome": true},
                {"name": "b", "noCreateHome": true},
                {"name": "sys", "system": true, "noCreateHome": true, "primaryGroup": "svc"},
                {"name": "c", "uid": 2500, "primaryGroup": "users", "homeDir": "/var/c", "shell": "/bin/sh", "noCreateHome": true}
            ]
        }});
        t.apply(config, false).expect("apply");
        let passwd = t.read("etc/passwd");
        for line in [
            "a:x:2000:100::/home/a:/bin/zsh",
            "b:x:2001:3000::/home/b:/bin/zsh",
            "sys:x:499:2999::/home/sys:/bin/zsh",
            "c:x:2500:100::/var/c:/bin/sh",
        ] {
            assert!(passwd.contains(line), "{line} in {passwd}");
        }
        assert!(t.read("etc/group").contains("svc:x:2999:\nb:x:3000:\n"));
        assert!(t.read("etc/shadow").contains(":0:99999::::\n"));
        assert!(!t.host("home").exists());
        assert_eq!(
            allocate(&[1000, 1001, 60000].into(), (1000, 60000), false, None),
            Some(1002)
        );
        assert_eq!(allocate(&[5, 10].into(), (1, 10), false, None), Some(1));
        assert_eq!(allocate(&[999].into(), (101, 999), true, None), Some(998));
    }

    #[test]
    fn modifies_and_deletes_existing_accounts() {
        let t = seeded();
        t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nold:x:1000:1000::/home/old:/bin/sh\nkeep:x:1001:1001::/home/keep:/bin/sh\n");
        t.write(
            "etc/group",
            "root:x:0:\nold:x:1000:\nkeep:x:1001:\nadm:x:4:old,keep\ndev:x:50:\n",
        );
        fs::create_dir_all(t.host("home/old")).expect("mkdir");
        fs::write(t.host("home/old/f"), "x").expect("write");
        if !as_root() {
            // userdel --remove needs the home owned by the user, which needs chown.
            return;
        }
        std::os::unix::fs::chown(t.host("home/old"), Some(1000), Some(1000)).expect("chown");
        let config = json!({"passwd": {
            "groups": [{"name": "keep", "gid": 1500}, {"name": "dev", "shouldExist": false}],
            "users": [
                {"name": "keep", "shell": "/bin/bash", "groups": ["root"], "passwordHash": ""},
                {"name": "old", "shouldExist": false}
            ]
        }});
        let changes = t.apply(config, false).expect("apply");
        assert_eq!(
            t.read("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nkeep:x:1001:1500::/home/keep:/bin/bash\n"
        );
        assert_eq!(
            t.read("etc/group"),
            "root:x:0:keep\nkeep:x:1500:\nadm:x:4:\n"
        );
        assert!(t.read("etc/shadow").contains("\nkeep:*:"));
        assert!(!t.host("home/old").exists(), "home removed");
        let text = changes.to_string();
        assert!(
            text.contains("modified group keep (gid 1001 -> 1500)")
                && text.contains("removed user old (1000) and its group old"),
            "{text}"
        );
        // A group that is some user's primary group goes too, as in Ignition, and the
        // change list says who is left with it.
        let changes = t
            .apply(
                json!({"passwd": {"groups": [{"name": "keep", "shouldExist": false}]}}),
                false,
            )
            .expect("deleted");
        assert!(
            changes
                .to_string()
                .contains("removed group keep (1500); still the primary group of keep"),
            "{changes}"
        );
        assert_eq!(t.read("etc/group"), "root:x:0:keep\nadm:x:4:\n");
    }

    #[test]
    fn creates_missing_files_and_copies_skel() {
        let t = TestRoot::new();
        t.write("etc/skel/.bashrc", "# rc\n");
        fs::create_dir_all(t.host("var/roothome")).expect("mkdir");
        symlink("/var/roothome", t.host("root")).expect("symlink");
        let config = json!({"passwd": {"users": [
            {"name": "core"},
            {"name": "root", "uid": 0, "homeDir": "/root", "noCreateHome": true, "noUserGroup": true, "sshAuthorizedKeys": ["k"]}
        ]}});
        t.apply(config, false).expect("apply");
        for f in ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"] {
            assert!(t.host(f).is_file(), "{f}");
            assert!(!t.host(&format!("{f}-")).exists(), "no backup of a new {f}");
        }
        assert_eq!(stat(&t, "etc/gshadow").0, 0o640);
        assert_eq!(t.read("home/core/.bashrc"), "# rc\n");
        if as_root() {
            assert_eq!(stat(&t, "home/core/.bashrc").1, 1000);
        }
        // The home is resolved in the root: /root -> /var/roothome.
        assert_eq!(
            t.read("var/roothome/.ssh/authorized_keys.d/ignition"),
            "k\n"
        );
    }

    #[test]
    fn config_errors_name_the_entry_and_change_nothing() {
        let t = seeded();
        let before = t.read("etc/passwd");
        let cases = [
            (
                json!({"users": [{"name": "x", "uid": 0}]}),
                "$.passwd.users.0: user x: UID 0 is not unique",
            ),
            (
                json!({"users": [{"name": "x", "groups": ["nope"]}]}),
                "$.passwd.users.0: user x: group \"nope\" does not exist",
            ),
            (
                json!({"users": [{"name": "ok"}, {"name": "users"}]}),
                "$.passwd.users.1: group users exists",
            ),
            (
                json!({"groups": [{"name": "g", "gid": 100}]}),
                "$.passwd.groups.0: group g: GID 100 is not unique",
            ),
            (
                json!({"users": [{"name": "a:b"}]}),
                "$.passwd.users.0: invalid name",
            ),
        ];
        for (passwd, expected) in cases {
            let err = t
                .apply(json!({"passwd": passwd}), false)
                .expect_err(expected);
            assert!(err.to_string().starts_with(expected), "{err} vs {expected}");
        }
        assert_eq!(t.read("etc/passwd"), before);
        assert!(!t.host("etc/passwd-").exists());
    }
}
