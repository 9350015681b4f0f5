//! Subordinate id ranges (`/etc/subuid`, `/etc/subgid`), assigned as `useradd` does.

use std::cmp::Ordering;

use super::defs::{SubIds, number};
use super::table::{Line, Table};

/// A line's range `(owner, start, count)` as shadow-utils reads it: exactly three
/// non-empty fields, start and count numbers. Other lines are kept but hold no range.
fn range(line: &Line) -> Option<(&str, u64, u64)> {
    let Line::Entry(f) = line else { return None };
    let [owner, start, count] = f.as_slice() else {
        return None;
    };
    let n = |v: &str| number(v).and_then(|v| u64::try_from(v).ok());
    Some((owner.as_str(), n(start)?, n(count)?)).filter(|(o, ..)| !o.is_empty())
}

/// Sorts the ranges as `useradd` does before it looks for a free one (and writes them
/// back so): by start, count, then owner, lines without a range after them (in their
/// order); the first NIS line (`+`/`-`) and everything after it stay in place.
fn sort(table: &mut Table) {
    let end = table
        .lines
        .iter()
        .position(|l| matches!(l, Line::Raw(r) if r.starts_with(['+', '-'])))
        .unwrap_or(table.lines.len());
    table.lines[..end].sort_by(|a, b| match (range(a), range(b)) {
        (Some((o1, s1, c1)), Some((o2, s2, c2))) => {
            (s1, c1, o1.as_bytes()).cmp(&(s2, c2, o2.as_bytes()))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

/// The lowest start `>= ids.min` of `ids.count` ids that overlap no range of `table`
/// and end at or below `ids.max`.
fn find_free(table: &Table, ids: SubIds) -> Option<u64> {
    let mut taken: Vec<(u64, u64)> = table
        .lines
        .iter()
        .filter_map(range)
        .filter(|&(_, _, count)| count > 0)
        .map(|(_, start, count)| (start, start.saturating_add(count - 1)))
        .collect();
    taken.sort_unstable();
    let mut low = ids.min;
    for (first, last) in taken {
        if last < low {
            continue;
        }
        if first > low && first - low >= ids.count {
            break;
        }
        low = last.checked_add(1)?;
    }
    let last = low.checked_add(ids.count - 1)?;
    (last <= ids.max).then_some(low)
}

/// `useradd`'s subordinate range for new user `owner`, appended to `table` (after
/// sorting it): only if the file exists, `ids.count` is not 0 and `owner` has no range
/// yet. Returns the start, or the error useradd fails with (`kind` is `UID` or `GID`).
pub(super) fn assign(
    table: &mut Table,
    owner: &str,
    ids: SubIds,
    kind: &str,
) -> Result<Option<u64>, String> {
    if table.original.is_none()
        || ids.count == 0
        || table
            .lines
            .iter()
            .any(|l| range(l).is_some_and(|r| r.0 == owner))
    {
        return Ok(None);
    }
    if ids.min > ids.max || ids.count >= ids.max || ids.min.saturating_add(ids.count - 1) > ids.max
    {
        return Err(format!(
            "invalid configuration: SUB_{kind}_MIN ({}), SUB_{kind}_MAX ({}), SUB_{kind}_COUNT ({})",
            ids.min, ids.max, ids.count
        ));
    }
    sort(table);
    let start = find_free(table, ids).ok_or_else(|| {
        format!(
            "no free subordinate {kind} range of {} in SUB_{kind}_MIN..SUB_{kind}_MAX ({}..{})",
            ids.count, ids.min, ids.max
        )
    })?;
    table.push(vec![
        owner.to_string(),
        start.to_string(),
        ids.count.to_string(),
    ]);
    Ok(Some(start))
}
