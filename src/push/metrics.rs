//! Counts of pushes per provider: sent, failed (given up) and dropped (unregistered
//! tokens), kept here for tests and recorded through the `metrics` facade as
//! `tidings_push_total{provider, outcome}` (what `/metrics` exports once installed).

use parking_lot::Mutex;
use std::collections::HashMap;

pub const PUSHES: &str = "tidings_push_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    Sent,
    Failed,
    Dropped,
}

impl Count {
    fn label(self) -> &'static str {
        match self {
            Count::Sent => "sent",
            Count::Failed => "failed",
            Count::Dropped => "dropped",
        }
    }
}

#[derive(Default)]
pub struct Counters {
    counts: Mutex<HashMap<(&'static str, Count), u64>>,
}

impl Counters {
    pub fn add(&self, provider: &'static str, count: Count, n: u64) {
        if n == 0 {
            return;
        }
        *self.counts.lock().entry((provider, count)).or_default() += n;
        ::metrics::counter!(PUSHES, "provider" => provider, "outcome" => count.label())
            .increment(n);
    }

    /// The count so far of `count` for `provider` (`apns`, `fcm`, `webhook`).
    pub fn get(&self, provider: &str, count: Count) -> u64 {
        self.counts
            .lock()
            .iter()
            .filter(|((p, c), _)| *p == provider && *c == count)
            .map(|(_, n)| *n)
            .sum()
    }
}
