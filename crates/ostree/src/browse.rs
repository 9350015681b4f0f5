//! Reading a commit's tree by path: `ls`, `cat`, and the commit history for `log`.

use crate::checksum::Checksum;
use crate::content::Content;
use crate::error::{Error, too_deep};
use crate::object::{Commit, S_IFMT};
use crate::repo::Repo;

/// One entry of a listing, as `ostree ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path inside the commit, e.g. `/usr/bin`.
    pub path: String,
    /// `st_mode` with the file type.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// Content id for files; dirtree and dirmeta ids for directories.
    pub checksums: Vec<Checksum>,
    /// The symlink target, if a symlink.
    pub symlink_target: Option<String>,
}

impl Entry {
    /// The line `ostree ls` prints (`-C` adds the checksums).
    pub fn to_line(&self, with_checksums: bool) -> String {
        let kind = match self.mode & S_IFMT {
            crate::object::S_IFDIR => 'd',
            crate::object::S_IFLNK => 'l',
            _ => '-',
        };
        let mut line = format!(
            "{kind}0{:04o} {} {} {:6} ",
            self.mode & 0o7777,
            self.uid,
            self.gid,
            self.size
        );
        if with_checksums {
            for id in &self.checksums {
                line.push_str(&format!("{id} "));
            }
        }
        line.push_str(&self.path);
        if let Some(target) = &self.symlink_target {
            line.push_str(&format!(" -> {target}"));
        }
        line
    }
}

pub(crate) enum Node {
    Dir(Checksum, Checksum),
    File(Checksum),
}

pub(crate) fn lookup(repo: &Repo, commit: &Commit, path: &str) -> Result<Node, Error> {
    let mut node = Node::Dir(commit.root_tree, commit.root_meta);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let Node::Dir(tree, _) = node else {
            return Err(Error::Unsupported {
                verb: "look up",
                path: path.into(),
                detail: "Not a directory".into(),
            });
        };
        let tree = repo.load_dirtree(&tree)?;
        node = if let Some((_, id)) = tree.files.iter().find(|f| f.0 == part) {
            Node::File(*id)
        } else if let Some((_, t, m)) = tree.dirs.iter().find(|d| d.0 == part) {
            Node::Dir(*t, *m)
        } else {
            return Err(Error::NotFound(path.to_owned()));
        };
    }
    Ok(node)
}

fn entry(repo: &Repo, node: &Node, path: String) -> Result<Entry, Error> {
    Ok(match node {
        Node::Dir(tree, meta) => {
            let meta_obj = repo.load_dirmeta(meta)?;
            Entry {
                path,
                mode: meta_obj.mode,
                uid: meta_obj.uid,
                gid: meta_obj.gid,
                size: 0,
                checksums: vec![*tree, *meta],
                symlink_target: None,
            }
        }
        Node::File(id) => {
            let content = repo.read_content(id)?;
            let h = content.header;
            let symlink_target = h.is_symlink().then_some(h.symlink_target);
            Entry {
                path,
                mode: h.mode,
                uid: h.uid,
                gid: h.gid,
                size: content.size,
                checksums: vec![*id],
                symlink_target,
            }
        }
    })
}

/// Lists `path` in `commit`: the entry itself, then (for a directory) its files and
/// subdirectories, descending into them when `recursive`.
pub fn ls(
    repo: &Repo,
    commit: &Checksum,
    path: &str,
    recursive: bool,
) -> Result<Vec<Entry>, Error> {
    let commit = repo.load_commit(commit)?;
    let path = normalize(path);
    let node = lookup(repo, &commit, &path)?;
    let mut out = vec![entry(repo, &node, path.clone())?];
    if let Node::Dir(tree, _) = node {
        list_dir(repo, &tree, &path, recursive, 0, &mut out)?;
    }
    Ok(out)
}

fn list_dir(
    repo: &Repo,
    tree: &Checksum,
    path: &str,
    recursive: bool,
    depth: usize,
    out: &mut Vec<Entry>,
) -> Result<(), Error> {
    if depth > crate::object::MAX_DEPTH {
        return Err(too_deep("list", std::path::Path::new(path)));
    }
    let tree = repo.load_dirtree(tree)?;
    let join = |name: &str| {
        if path == "/" {
            format!("/{name}")
        } else {
            format!("{path}/{name}")
        }
    };
    for (name, id) in &tree.files {
        out.push(entry(repo, &Node::File(*id), join(name))?);
    }
    for (name, t, m) in &tree.dirs {
        let child = join(name);
        out.push(entry(repo, &Node::Dir(*t, *m), child.clone())?);
        if recursive {
            list_dir(repo, t, &child, true, depth + 1, out)?;
        }
    }
    Ok(())
}

/// Opens the file at `path` in `commit` (`ostree cat`), following symlinks inside the
/// commit (at most 40, as the kernel allows).
pub fn cat(repo: &Repo, commit: &Checksum, path: &str) -> Result<Content, Error> {
    let commit_obj = repo.load_commit(commit)?;
    let mut current = normalize(path);
    for _ in 0..=40 {
        match lookup(repo, &commit_obj, &current)? {
            Node::File(id) => {
                let content = repo.read_content(&id)?;
                if !content.header.is_symlink() {
                    return Ok(content);
                }
                let target = &content.header.symlink_target;
                current = if target.starts_with('/') {
                    normalize(target)
                } else {
                    let parent = current.rsplit_once('/').map_or("", |(dir, _)| dir);
                    normalize(&format!("{parent}/{target}"))
                };
            }
            Node::Dir(..) => {
                return Err(Error::Unsupported {
                    verb: "cat",
                    path: path.into(),
                    detail: "Can't open directory".into(),
                });
            }
        }
    }
    Err(Error::Unsupported {
        verb: "cat",
        path: path.into(),
        detail: "Too many levels of symbolic links".into(),
    })
}

/// `path` as an absolute path without `.`, `..` or empty components (`..` at the
/// root stays at the root, as in a chroot).
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The commit and its ancestors, newest first, stopping at the first one not stored.
pub fn history(repo: &Repo, commit: &Checksum) -> Result<Vec<(Checksum, Commit)>, Error> {
    let mut out = vec![(*commit, repo.load_commit(commit)?)];
    while let Some(parent) = out.last().and_then(|(_, c)| c.parent) {
        match repo.load_commit(&parent) {
            Ok(c) => out.push((parent, c)),
            Err(Error::NotFound(_)) => break,
            Err(e) => return Err(e),
        }
        if out.len() > 1_000_000 {
            break;
        }
    }
    Ok(out)
}

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM:SS +0000`, as `ostree log` does.
pub fn format_timestamp(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Formats seconds since the epoch as the C locale's `%c` in UTC (`Tue Sep 10 02:29:42
/// 2013`), as OSTree's GPG messages and key listings show times.
pub fn format_c_time(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {d:>2} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SS+00`, as `ostree summary
/// --view` shows times (`%:::z`) when the time zone is UTC; `None` past the year 9999,
/// where `ostree` shows `invalid`.
pub fn format_iso_timestamp(secs: u64) -> Option<String> {
    const YEAR_10000: u64 = 253_402_300_800;
    if secs >= YEAR_10000 {
        return None;
    }
    Some(
        format_timestamp(secs)
            .replacen(' ', "T", 1)
            .replace(" +0000", "+00"),
    )
}

/// Parses `@SECONDS`, `SECONDS` or `YYYY-MM-DD[T ]HH:MM:SS[Z]` (UTC), as accepted by
/// `--timestamp`.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(secs) = text.trim_start_matches('@').parse() {
        return Some(secs);
    }
    if let Some(secs) = parse_month_day_year(text).or_else(|| parse_ago(text)) {
        return Some(secs);
    }
    let text = text
        .trim_end_matches('Z')
        .trim_end_matches("+00:00")
        .trim_end_matches("+0000")
        .trim_end();
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (
        <[i64; 3]>::try_from(&d[..]).ok()?,
        <[u64; 3]>::try_from(&t[..]).ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, m, day)).ok()?;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

/// `N UNIT ago` (`1 week ago`, `3 days ago`): that long before now, a form `ostree prune
/// --keep-younger-than` reads (through GNU `parse_datetime`). A month is 30 days and a
/// year 365, as near as a cut-off needs.
fn parse_ago(text: &str) -> Option<u64> {
    let [count, unit, ago] =
        <[&str; 3]>::try_from(text.split_whitespace().collect::<Vec<_>>()).ok()?;
    if ago != "ago" {
        return None;
    }
    let count: u64 = count.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "second" | "sec" => 1,
        "minute" | "min" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "fortnight" => 14 * 86_400,
        "month" => 30 * 86_400,
        "year" => 365 * 86_400,
        _ => return None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    now.checked_sub(count.checked_mul(unit)?)
}

/// `October 25 1985` (or `Oct 25 1985`): midnight UTC of that day, one of the forms
/// `ostree commit --timestamp` reads (through GNU `parse_datetime`).
fn parse_month_day_year(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let [month, day, year] =
        <[&str; 3]>::try_from(text.split_whitespace().collect::<Vec<_>>()).ok()?;
    let month = month.to_ascii_lowercase();
    let m = MONTHS
        .iter()
        .position(|name| month.len() >= 3 && name.starts_with(&month))?;
    let day: i64 = day.trim_end_matches(',').parse().ok()?;
    let year: i64 = year.parse().ok()?;
    if !(1..=31).contains(&day) {
        return None;
    }
    // Before 1970 the seconds are negative; OSTree stores the commit time as an
    // unsigned 64-bit number, so they wrap, and so do they here (same commit id).
    let secs = days_from_civil(year, m as i64 + 1, day).checked_mul(86_400)?;
    Some(secs as u64)
}

/// Why a `SOURCE_DATE_EPOCH` value is refused, in `ostree commit`'s words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceDateEpochError {
    /// Not a number of seconds.
    #[error("Failed to convert SOURCE_DATE_EPOCH '{0}' to a number of seconds")]
    NotANumber(String),
    /// More seconds than a commit timestamp holds.
    #[error("Parsing SOURCE_DATE_EPOCH: Numerical result out of range")]
    OutOfRange,
}

/// The commit time `SOURCE_DATE_EPOCH` (seconds since the epoch) asks for, refused as
/// `ostree commit` refuses it when it is not a number or does not fit.
pub fn parse_source_date_epoch(text: &str) -> Result<u64, SourceDateEpochError> {
    // Signed, as GLib's date functions take it.
    let secs = text.parse::<i64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => SourceDateEpochError::OutOfRange,
        _ => SourceDateEpochError::NotANumber(text.to_owned()),
    })?;
    u64::try_from(secs).map_err(|_| SourceDateEpochError::NotANumber(text.to_owned()))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Refuses `target` when its commit is older than `current`'s: what `pull -T` and
/// upgrades check, so that a replayed old commit cannot roll a machine back.
pub fn check_not_older(repo: &Repo, current: &Checksum, target: &Checksum) -> Result<(), Error> {
    check_not_older_from(repo, current, repo, target)
}

/// [`check_not_older`] for a `target` read from another repository (a local remote
/// about to be pulled from).
pub fn check_not_older_from(
    repo: &Repo,
    current: &Checksum,
    source: &Repo,
    target: &Checksum,
) -> Result<(), Error> {
    if current == target {
        return Ok(());
    }
    let (current_time, target_time) = (
        repo.load_commit(current)?.timestamp,
        source.load_commit(target)?.timestamp,
    );
    if target_time < current_time {
        return Err(Error::Downgrade {
            target: *target,
            target_time,
            current: *current,
            current_time,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(1577836801), "2020-01-01 00:00:01 +0000");
        assert_eq!(
            format_iso_timestamp(1577836801).as_deref(),
            Some("2020-01-01T00:00:01+00")
        );
        assert_eq!(format_iso_timestamp(u64::MAX), None);
        assert_eq!(parse_timestamp("2020-01-01T00:00:01Z"), Some(1577836801));
        assert_eq!(parse_timestamp("@1577836801"), Some(1577836801));
        assert_eq!(parse_timestamp("2020-13-01"), None);
        assert_eq!(parse_timestamp("junk"), None);
        // The forms OSTree's scripts pass through GNU parse_datetime.
        assert_eq!(parse_timestamp("October 25 1985"), Some(499_046_400));
        assert_eq!(parse_timestamp("oct 25 1985"), Some(499_046_400));
        assert_eq!(
            parse_timestamp("November 05 1955"),
            Some((-446_774_400i64) as u64)
        );
        assert_eq!(
            parse_timestamp("2005-10-29 12:43:29 +0000"),
            Some(1_130_589_809)
        );
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let before = now();
        let week_ago = parse_timestamp("1 week ago").unwrap();
        let after = now();
        assert!((before..=after).contains(&(week_ago + 7 * 86_400)));
        assert_eq!(parse_timestamp("1 eon ago"), None);
    }

    #[test]
    fn ls_line_format() {
        let e = Entry {
            path: "/link".into(),
            mode: 0o120777,
            uid: 0,
            gid: 0,
            size: 0,
            checksums: vec![],
            symlink_target: Some("hello.txt".into()),
        };
        assert_eq!(e.to_line(false), "l00777 0 0      0 /link -> hello.txt");
    }
}
