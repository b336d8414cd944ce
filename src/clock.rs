//! The server's clock for quotas: real time plus an offset that tests can advance, so
//! "locked out for 60 seconds" and "until the end of the UTC day" are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ServerClock {
    base: Instant,
    offset_ms: Arc<AtomicI64>,
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock {
            base: Instant::now(),
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }
}

impl ServerClock {
    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Wall-clock milliseconds since the epoch, with the offset.
    pub fn now_ms(&self) -> i64 {
        crate::domain::time::now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

impl governor::clock::Clock for ServerClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let offset = Duration::from_millis(self.offset_ms.load(Ordering::SeqCst).max(0) as u64);
        self.base.elapsed() + offset
    }
}
