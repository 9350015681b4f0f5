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
//! A new user that is not a system user (its uid in `UID_MIN..=UID_MAX`) also gets, as
//! with shadow-utils 4.13, a subordinate uid range in `/etc/subuid` and a gid range in
//! `/etc/subgid`, each only if that file exists and the user has no range there yet:
//! `SUB_UID_COUNT` ids (65536) at the lowest start from `SUB_UID_MIN` (100000) that
//! overlaps no range and ends by `SUB_UID_MAX` (600100000), likewise `SUB_GID_*`. As
//! useradd does, the file's ranges are sorted by start before the new one is appended.
//!
//! Not modelled: userdel's removal of a user's subordinate ranges, lastlog/faillog
//! (`noLogInit` has nothing to skip), re-owning a home's files when a uid changes,
//! nscd/sssd cache invalidation.

use std::collections::BTreeSet;

use ferro_spec::{Passwd, PasswdGroup, PasswdUser};
use ferro_sys::IoError;

use crate::apply::{Context, id};
use crate::error::Error;
use crate::root::{self, Kind, Perms, Root};

mod defs;
mod subid;
mod table;

use defs::Defs;
use table::{Table, field, members, set_field};

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
const SHADOW: &str = "/etc/shadow";
const GSHADOW: &str = "/etc/gshadow";
const SUBUID: &str = "/etc/subuid";
const SUBGID: &str = "/etc/subgid";

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
    subuid: Table,
    subgid: Table,
    defs: Defs,
    /// Days since the epoch, for shadow's "last change" field.
    today: i64,
}

impl Db {
    /// Reads the account files and defaults from the root; missing files are empty.
    pub fn load(root: &Root) -> Result<Db, IoError> {
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
            subuid: Table::load(root, SUBUID, 0o644)?,
            subgid: Table::load(root, SUBGID, 0o644)?,
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
        [
            &self.passwd,
            &self.group,
            &self.shadow,
            &self.gshadow,
            &self.subuid,
            &self.subgid,
        ]
        .iter()
        .any(|t| t.dirty)
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

    /// The shadow line of a new account. System accounts get no password aging, as
    /// `useradd --system` leaves it out.
    fn shadow_fields(&self, name: &str, password: &str, system: bool) -> Vec<String> {
        let opt = |v: Option<i64>| {
            v.filter(|_| !system)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
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
pub(crate) fn apply(stage: &mut Context<'_>, db: &mut Db, passwd: &Passwd) -> Result<(), Error> {
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
fn save(stage: &mut Context<'_>, db: &Db) -> Result<(), Error> {
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
    for t in [
        &db.group,
        &db.gshadow,
        &db.passwd,
        &db.shadow,
        &db.subuid,
        &db.subgid,
    ] {
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
fn group(stage: &mut Context<'_>, db: &mut Db, entry: &str, g: &PasswdGroup) -> Result<(), Error> {
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
    stage: &mut Context<'_>,
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
    stage: &mut Context<'_>,
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
        system,
    );
    db.shadow.push(shadow);
    for g in &u.groups {
        db.add_member(g, name);
    }
    // useradd gives subordinate ids to regular users only (not `--system`, and with an
    // explicit `--uid` only one in UID_MIN..=UID_MAX).
    let mut subids = Vec::new();
    if !system && (db.defs.uid.0..=db.defs.uid.1).contains(&uid) {
        for (table, ids, kind) in [
            (&mut db.subuid, db.defs.sub_uid, "UID"),
            (&mut db.subgid, db.defs.sub_gid, "GID"),
        ] {
            let start = subid::assign(table, name, ids, kind)
                .map_err(|msg| Error::invalid(entry, name, format!("user {name}: {msg}")))?;
            if let Some(start) = start {
                subids.push(format!(
                    "added {name}:{start}:{} to {}",
                    ids.count, table.path
                ));
            }
        }
    }
    let mut summary = format!("added user {name} ({uid}:{gid}, home {home})");
    if user_group {
        summary.push_str(&format!(", with group {name} ({gid})"));
    }
    stage.record(entry, summary);
    for s in subids {
        stage.record(entry, s);
    }
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
    stage: &mut Context<'_>,
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
                let fields = db.shadow_fields(name, &password, u.system == Some(true));
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
    stage: &mut Context<'_>,
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
fn home(stage: &mut Context<'_>, mode: u32, op: HomeOp) -> Result<(), Error> {
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
fn copy_skel(root: &Root, src: &str, dst: &str, uid: u32, gid: u32) -> Result<(), IoError> {
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
fn ssh_keys(stage: &mut Context<'_>, db: &Db, entry: &str, u: &PasswdUser) -> Result<(), Error> {
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
mod tests;
