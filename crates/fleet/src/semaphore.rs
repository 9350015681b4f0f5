//! The semaphore of one group, as a plain value the store reads, changes and writes
//! back in one transaction.
//!
//! It is a *counting* semaphore (up to `slots` holders at once), *owned* (a slot
//! belongs to the id that took it; only that id, or an admin, gives it back) and
//! *recursive* (a holder asking again keeps its slot without taking a second one —
//! Zincati asks again every few minutes until it has rebooted). Beyond Airlock, each
//! holder records when it took its slot and when it last asked, which is what an
//! operator needs to tell a rebooting node from a dead one.
//!
//! When the configured slot count shrinks below the number of holders, nobody is
//! evicted: the holders keep their slots and new requests are refused until enough
//! have been given back.

use serde::{Deserialize, Serialize};

/// One holder of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The client id that owns the slot.
    pub id: String,
    /// When the slot was taken (ms since the Unix epoch).
    pub acquired_at: u64,
    /// When the holder last asked for it (ms since the Unix epoch).
    pub last_seen: u64,
}

/// The state of one group's semaphore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Semaphore {
    /// How many holders are allowed at once.
    pub slots: u32,
    /// The holders, sorted by id.
    pub holders: Vec<Holder>,
}

/// What a lock request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    /// A free slot was taken.
    Acquired,
    /// The id already held a slot; it keeps it (its last-seen time moves).
    AlreadyHeld,
    /// Every slot is held by others; nothing changed.
    Full,
}

/// What an unlock request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockOutcome {
    /// The id's slot was given back.
    Released,
    /// The id held no slot; nothing changed (not an error: unlock is idempotent).
    NotHeld,
}

impl Semaphore {
    /// An empty semaphore with `slots` slots.
    pub fn new(slots: u32) -> Self {
        Semaphore {
            slots,
            holders: Vec::new(),
        }
    }

    fn find(&self, id: &str) -> Result<usize, usize> {
        self.holders.binary_search_by(|h| h.id.as_str().cmp(id))
    }

    /// Whether `id` holds a slot.
    pub fn holds(&self, id: &str) -> bool {
        self.find(id).is_ok()
    }

    /// Takes a slot for `id` at time `now`, or refreshes the one it holds.
    pub fn lock(&mut self, id: &str, now: u64) -> LockOutcome {
        match self.find(id) {
            Ok(i) => {
                self.holders[i].last_seen = now;
                LockOutcome::AlreadyHeld
            }
            Err(_) if self.holders.len() >= self.slots as usize => LockOutcome::Full,
            Err(i) => {
                self.holders.insert(
                    i,
                    Holder {
                        id: id.to_owned(),
                        acquired_at: now,
                        last_seen: now,
                    },
                );
                LockOutcome::Acquired
            }
        }
    }

    /// Removes and returns the holders whose last request is `lease_ms` or more before
    /// `now`: the optional lease, counted from the last `pre-reboot` (Zincati repeats
    /// it while it waits, then is silent while rebooting, so a lease must outlast a
    /// slow reboot).
    pub fn expire(&mut self, now: u64, lease_ms: u64) -> Vec<Holder> {
        let (expired, kept) = std::mem::take(&mut self.holders)
            .into_iter()
            .partition(|h| now.saturating_sub(h.last_seen) >= lease_ms);
        self.holders = kept;
        expired
    }

    /// Gives back the slot of `id`, if it holds one.
    pub fn unlock(&mut self, id: &str) -> UnlockOutcome {
        match self.find(id) {
            Ok(i) => {
                self.holders.remove(i);
                UnlockOutcome::Released
            }
            Err(_) => UnlockOutcome::NotHeld,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_recursive_owned() {
        let mut s = Semaphore::new(2);
        assert_eq!(s.lock("b", 1), LockOutcome::Acquired);
        assert_eq!(s.lock("b", 2), LockOutcome::AlreadyHeld);
        assert_eq!(s.lock("a", 3), LockOutcome::Acquired);
        assert_eq!(s.lock("c", 4), LockOutcome::Full);
        assert_eq!(
            s.lock("a", 5),
            LockOutcome::AlreadyHeld,
            "a holder re-locks"
        );
        let ids: Vec<_> = s.holders.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!((s.holders[1].acquired_at, s.holders[1].last_seen), (1, 2));
        assert_eq!(s.unlock("c"), UnlockOutcome::NotHeld);
        assert_eq!(s.unlock("b"), UnlockOutcome::Released);
        assert_eq!(s.unlock("b"), UnlockOutcome::NotHeld);
        assert_eq!(s.lock("c", 6), LockOutcome::Acquired);
    }

    #[test]
    fn leases_count_from_the_last_request() {
        let mut s = Semaphore::new(2);
        s.lock("a", 0);
        s.lock("b", 10);
        s.lock("a", 60);
        let expired = s.expire(100, 90);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].id, "b");
        assert!(s.holds("a"));
        assert!(s.expire(149, 90).is_empty());
        assert_eq!(s.expire(150, 90).len(), 1);
    }

    #[test]
    fn shrinking_keeps_holders_and_refuses_newcomers() {
        let mut s = Semaphore::new(3);
        for id in ["a", "b", "c"] {
            s.lock(id, 0);
        }
        s.slots = 1;
        assert_eq!(s.lock("a", 1), LockOutcome::AlreadyHeld);
        assert_eq!(s.lock("d", 1), LockOutcome::Full);
        s.unlock("a");
        s.unlock("b");
        assert_eq!(
            s.lock("d", 2),
            LockOutcome::Full,
            "c still holds the one slot"
        );
        s.unlock("c");
        assert_eq!(s.lock("d", 3), LockOutcome::Acquired);
    }
}
