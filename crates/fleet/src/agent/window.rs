//! Maintenance windows of the `periodic` strategy, in UTC: minutes since Monday 00:00,
//! windows crossing the end of the week wrap to its start.

use super::config::Window;

const WEEK: u64 = 7 * 24 * 60;

/// Minutes since Monday 00:00 UTC of `now` (seconds since the epoch, a Thursday).
fn week_minute(now: u64) -> u64 {
    // 1970-01-01 was a Thursday: Monday 00:00 was 3 days earlier.
    (now / 60 + 3 * 24 * 60) % WEEK
}

/// Whether `now` is inside any window.
pub fn contains(windows: &[Window], now: u64) -> bool {
    let m = week_minute(now);
    windows.iter().any(|w| {
        w.days.iter().any(|d| {
            let start = u64::from(d.0) * 24 * 60 + u64::from(w.start_minute);
            (m + WEEK - start) % WEEK < u64::from(w.length_minutes)
        })
    })
}

/// The start of the next window (seconds since the epoch): `now` itself when inside.
pub fn next_start(windows: &[Window], now: u64) -> u64 {
    if contains(windows, now) {
        return now;
    }
    let m = week_minute(now);
    let wait = windows
        .iter()
        .flat_map(|w| {
            w.days
                .iter()
                .map(move |d| u64::from(d.0) * 24 * 60 + u64::from(w.start_minute))
        })
        .map(|start| (start + WEEK - m) % WEEK)
        .min()
        .unwrap_or(0);
    (now / 60 + wait) * 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::config::Weekday;

    #[test]
    fn windows_wrap_across_the_week() {
        // Sunday 23:30 for 60 minutes: covers Monday 00:15.
        let w = [Window {
            days: vec![Weekday(6)],
            start_minute: 23 * 60 + 30,
            length_minutes: 60,
        }];
        let monday = 4 * 86400; // 1970-01-05 00:00 UTC
        assert!(contains(&w, monday + 15 * 60));
        assert!(!contains(&w, monday + 31 * 60));
        assert_eq!(
            next_start(&w, monday + 31 * 60),
            monday + 6 * 86400 + (23 * 60 + 30) * 60
        );
    }
}
