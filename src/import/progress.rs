//! Counters shared by the import's workers, and a line on stderr every few seconds:
//! conversations done/total, messages imported, rate and ETA.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Conversations the source has (0 = not known yet).
    pub conversations_total: AtomicU64,
    pub conversations_done: AtomicU64,
    pub messages_imported: AtomicU64,
    pub messages_present: AtomicU64,
    pub messages_skipped: AtomicU64,
    /// How many more messages this run may import (`u64::MAX` = no budget).
    budget: AtomicU64,
}

impl Progress {
    pub fn new(budget: Option<u64>) -> Arc<Progress> {
        Arc::new(Progress {
            started: Instant::now(),
            conversations_total: AtomicU64::new(0),
            conversations_done: AtomicU64::new(0),
            messages_imported: AtomicU64::new(0),
            messages_present: AtomicU64::new(0),
            messages_skipped: AtomicU64::new(0),
            budget: AtomicU64::new(budget.unwrap_or(u64::MAX)),
        })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Takes up to `wanted` messages from the budget; returns how many were granted.
    pub fn reserve(&self, wanted: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                granted = left.min(wanted);
                Some(if left == u64::MAX {
                    left
                } else {
                    left - granted
                })
            });
        granted
    }

    /// Messages imported per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed().as_secs_f64().max(0.001);
        self.messages_imported.load(Ordering::Relaxed) as f64 / secs
    }

    /// `conversations 120/200, messages 12034 imported (3400 msg/s), ETA 0:25`
    pub fn line(&self) -> String {
        let done = self.conversations_done.load(Ordering::Relaxed);
        let total = self.conversations_total.load(Ordering::Relaxed);
        let messages = self.messages_imported.load(Ordering::Relaxed);
        let present = self.messages_present.load(Ordering::Relaxed);
        let skipped = self.messages_skipped.load(Ordering::Relaxed);
        let total_text = if total == 0 {
            "?".to_owned()
        } else {
            total.to_string()
        };
        let eta = if done > 0 && total >= done {
            let per = self.elapsed().as_secs_f64() / done as f64;
            clock(Duration::from_secs_f64(per * (total - done) as f64))
        } else {
            "?".to_owned()
        };
        let mut line = format!(
            "import: conversations {done}/{total_text}, messages {messages} imported ({:.0} msg/s), ETA {eta}",
            self.rate()
        );
        if present > 0 || skipped > 0 {
            line.push_str(&format!(" [{present} already present, {skipped} skipped]"));
        }
        line
    }

    /// Prints [`Progress::line`] to stderr every `every` until `stop` fires.
    pub fn spawn_printer(
        self: &Arc<Self>,
        every: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let progress = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = ticker.tick() => eprintln!("{}", progress.line()),
                    _ = stop.cancelled() => break,
                }
            }
        })
    }
}

/// `h:mm:ss` or `m:ss`.
pub fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared() {
        let progress = Progress::new(Some(10));
        assert_eq!(progress.reserve(7), 7);
        assert_eq!(progress.reserve(7), 3);
        assert_eq!(progress.reserve(1), 0);
        let unlimited = Progress::new(None);
        assert_eq!(unlimited.reserve(1000), 1000);
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
