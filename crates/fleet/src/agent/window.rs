//! Maintenance windows of the `periodic` strategy, in the time zone of
//! `updates.periodic.time_zone` (Zincati's: `UTC` by default, an IANA name such as
//! `America/Toronto`, or `localtime` for the system's own): minutes since Monday 00:00
//! of the local week, windows crossing the end of the week wrap to its start. Local
//! wall-clock time is what an operator writes a window in, so a window keeps its local
//! hours across daylight-saving changes.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

use super::config::Window;

const WEEK: u64 = 7 * 24 * 60;

/// A named time zone (compared by name: the same name reads the same rules).
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }
}

impl Zone {
    /// `UTC`, `localtime` (the system's zone, `/etc/localtime`), or an IANA name
    /// found in the system's time zone database; the error says which and how to fix.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let tz = match name {
            "UTC" => TimeZone::UTC,
            "localtime" => TimeZone::try_system().map_err(|e| {
                format!("the system time zone (localtime) cannot be read: {e}; give an IANA name")
            })?,
            iana => TimeZone::get(iana).map_err(|e| {
                format!("'{iana}' is not a time zone of this system's database (e.g. Europe/Berlin): {e}")
            })?,
        };
        Ok(Zone {
            name: name.to_owned(),
            tz,
        })
    }

    /// The name it was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn local(&self, now: u64) -> Zoned {
        let seconds = i64::try_from(now).unwrap_or(i64::MAX);
        Timestamp::from_second(seconds)
            .unwrap_or(Timestamp::MAX)
            .to_zoned(self.tz.clone())
    }
}

/// Minutes since Monday 00:00 of the local week of `now` (seconds since the epoch).
fn week_minute(local: &Zoned) -> u64 {
    let day = u64::from(local.weekday().to_monday_zero_offset().unsigned_abs());
    day * 24 * 60
        + u64::from(local.hour().unsigned_abs()) * 60
        + u64::from(local.minute().unsigned_abs())
}

fn starts(windows: &[Window]) -> impl Iterator<Item = (u64, u64)> + '_ {
    windows.iter().flat_map(|w| {
        w.days.iter().map(move |d| {
            (
                u64::from(d.0) * 24 * 60 + u64::from(w.start_minute),
                u64::from(w.length_minutes),
            )
        })
    })
}

/// Whether `now` is inside any window.
pub fn contains(windows: &[Window], zone: &Zone, now: u64) -> bool {
    let m = week_minute(&zone.local(now));
    starts(windows).any(|(start, length)| (m + WEEK - start) % WEEK < length)
}

/// The start of the next window (seconds since the epoch): `now` itself when inside.
pub fn next_start(windows: &[Window], zone: &Zone, now: u64) -> u64 {
    if contains(windows, zone, now) {
        return now;
    }
    let local = zone.local(now);
    let m = week_minute(&local);
    let wait = starts(windows)
        .map(|(start, _)| (start + WEEK - m) % WEEK)
        .min()
        .unwrap_or(0);
    // Local wall-clock arithmetic; a start in a daylight-saving gap moves forward.
    let minute = local
        .datetime()
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .ok();
    minute
        .and_then(|dt| {
            dt.checked_add(Span::new().minutes(i64::try_from(wait).ok()?))
                .ok()
        })
        .and_then(|dt| dt.to_zoned(zone.tz.clone()).ok())
        .and_then(|z| u64::try_from(z.timestamp().as_second()).ok())
        .unwrap_or((now / 60 + wait) * 60)
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
        let utc = Zone::default();
        let monday = 4 * 86400; // 1970-01-05 00:00 UTC
        assert!(contains(&w, &utc, monday + 15 * 60));
        assert!(!contains(&w, &utc, monday + 31 * 60));
        assert_eq!(
            next_start(&w, &utc, monday + 31 * 60),
            monday + 6 * 86400 + (23 * 60 + 30) * 60
        );
    }

    #[test]
    fn windows_follow_local_time_across_daylight_saving() {
        let Ok(berlin) = Zone::parse("Europe/Berlin") else {
            eprintln!("skipped: no Europe/Berlin in this system's time zone database");
            return;
        };
        // Saturdays 02:00–03:00 Berlin time.
        let w = [Window {
            days: vec![Weekday(5)],
            start_minute: 2 * 60,
            length_minutes: 60,
        }];
        // Saturday 2026-01-10 01:30 UTC is 02:30 in Berlin (CET, UTC+1): inside.
        let winter = 1_768_008_600;
        assert!(contains(&w, &berlin, winter));
        assert!(!contains(&w, &Zone::default(), winter));
        // Saturday 2026-07-11 00:30 UTC is 02:30 in Berlin (CEST, UTC+2): inside.
        let summer = 1_783_729_800;
        assert!(contains(&w, &berlin, summer));
        // From Friday 2026-07-10 12:00 UTC, the window opens at Saturday 00:00 UTC.
        let friday = 1_783_684_800;
        assert_eq!(next_start(&w, &berlin, friday), 1_783_728_000);
        assert!(
            Zone::parse("Mars/Olympus_Mons")
                .unwrap_err()
                .contains("not a time zone")
        );
    }
}
