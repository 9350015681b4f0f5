//! Wall-clock instants as the fleet records them: milliseconds since the Unix epoch
//! (what the store and the JSON API carry, so they sort and compare as integers), and
//! their RFC 3339 form in UTC for people.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A simulated "now" (ms), 0 when the wall clock is used.
static SIMULATED_MS: AtomicU64 = AtomicU64::new(0);

/// Makes [`now_ms`] return `ms` (`None`: the wall clock again), for the whole process.
/// Only for simulations that run a server in-process on a simulated clock (the fleet
/// rollout simulation): rollouts, leases and timestamps then follow simulated time.
pub fn set_simulated_now_ms(ms: Option<u64>) {
    SIMULATED_MS.store(ms.unwrap_or(0), Ordering::SeqCst);
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is before 1970), or the
/// simulated time set by [`set_simulated_now_ms`].
pub fn now_ms() -> u64 {
    let simulated = SIMULATED_MS.load(Ordering::SeqCst);
    if simulated != 0 {
        return simulated;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `ms` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of the `days`-th day after 1970-01-01 (the well-known
/// era-based conversion).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_646_168_400_999), "2022-03-01T21:00:00Z");
    }
}
