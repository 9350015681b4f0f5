//! What every HTTP client of ferrocore agrees on: which failures deserve another try,
//! how long to wait between tries, and the agent settings. The OSTree puller and the
//! Ignition fetcher decide what a response *means* (a missing optional file, a config
//! to verify); whether a failure is transient is decided here, once.

use std::time::Duration;

/// Whether a transport failure may go away by itself (the connection was refused or
/// reset, the name did not resolve yet, the server stalled): worth another try.
/// Everything else (a malformed URL, a TLS certificate the client refuses, a body over
/// its limit) fails the same way every time.
pub fn is_transient(error: &ureq::Error) -> bool {
    matches!(
        error,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::ConnectProxyFailed(_)
            | ureq::Error::BodyStalled
    )
}

/// Whether an HTTP status may go away by itself: server errors (5xx), 408 Request
/// Timeout and 429 Too Many Requests.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// Delays between tries: `initial`, doubled each time up to `max`; with `attempts`,
/// the iterator ends after that many tries have been allowed (so it yields
/// `attempts - 1` delays).
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    retries_left: Option<u32>,
}

impl Backoff {
    /// A backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            next: initial,
            max,
            retries_left: None,
        }
    }

    /// Limits the tries to `attempts` in all.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.retries_left = Some(attempts.saturating_sub(1));
        self
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if let Some(left) = &mut self.retries_left {
            if *left == 0 {
                return None;
            }
            *left -= 1;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(delay)
    }
}

/// The agent settings every client starts from: statuses are answers, not errors (the
/// caller classifies them), the given `User-Agent`, and a connect timeout so a dead
/// address fails in bounded time. Callers add their own timeouts, TLS roots and proxy.
pub fn agent_config(user_agent: &str) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(user_agent)
        .timeout_connect(Some(Duration::from_secs(30)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_counts_attempts() {
        let delays: Vec<_> = Backoff::new(Duration::from_millis(200), Duration::from_millis(1000))
            .attempts(5)
            .collect();
        let ms: Vec<_> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1000]);
        assert_eq!(
            Backoff::new(Duration::from_secs(1), Duration::from_secs(1))
                .take(3)
                .count(),
            3,
            "without a limit it goes on"
        );
    }

    #[test]
    fn statuses_worth_a_retry() {
        for status in [408, 429, 500, 503, 599] {
            assert!(is_transient_status(status), "{status}");
        }
        for status in [200, 301, 400, 401, 403, 404] {
            assert!(!is_transient_status(status), "{status}");
        }
    }
}
