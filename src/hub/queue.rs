//! A connection's bounded outbound queue. Publishers push without waiting ([`Outbox::deliver`]);
//! a full queue marks the connection as a slow client and wakes it so it closes itself.
//!
//! Why not `tokio::sync::mpsc`: a bounded channel allocates its first block of 32 slots (and
//! cache-padded state) up front, about 2 KB per connection; idle connections are the common
//! case, so this queue allocates nothing until something is queued and gives the memory back
//! once drained.

use super::Outbound;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Drained queues keep at most this many slots allocated.
const KEEP_SLOTS: usize = 16;

struct Queue {
    items: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    ready: Notify,
    overflowed: AtomicBool,
    closed: AtomicBool,
}

/// The publishing side, shared by the hub entries of every session on the connection.
#[derive(Clone)]
pub struct Outbox(Arc<Queue>);

/// The connection's side.
pub struct Inbox(Arc<Queue>);

/// What woke the connection.
pub enum Wake {
    /// These items, in order.
    Items(Vec<Outbound>),
    /// A publisher found the queue full: the client is too slow.
    Overflow,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("capacity", &self.0.capacity)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    pub fn new(capacity: usize) -> (Outbox, Inbox) {
        let queue = Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        (Outbox(Arc::clone(&queue)), Inbox(queue))
    }

    /// Queues without waiting. A full queue means a slow client: flag it and wake its
    /// connection, which closes; never drop silently and carry on.
    pub fn deliver(&self, item: Outbound) {
        let queue = &self.0;
        if queue.closed.load(Ordering::Relaxed) || queue.overflowed.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut items = queue.items.lock();
            if items.len() >= queue.capacity {
                queue.overflowed.store(true, Ordering::Release);
            } else {
                items.push_back(item);
            }
        }
        queue.ready.notify_one();
    }

    /// Asks the connection to close as a slow client does (code 1013): the SDK reconnects
    /// and resyncs from history. Used when cross-node pushes may have been lost.
    pub fn ask_to_reconnect(&self) {
        self.0.overflowed.store(true, Ordering::Release);
        self.0.ready.notify_one();
    }

    /// Tells queues apart (several sessions share one connection's queue).
    pub(super) fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Resolves once a publisher found the queue full (used while a write is blocked).
    pub async fn overflowed(&self) {
        loop {
            if self.0.overflowed.load(Ordering::Acquire) {
                return;
            }
            self.0.ready.notified().await;
        }
    }
}

impl Inbox {
    /// Waits for queued items (up to `max`) or the overflow flag. Cancel-safe: items stay
    /// queued until returned.
    pub async fn next(&self, max: usize) -> Wake {
        let queue = &self.0;
        loop {
            if queue.overflowed.load(Ordering::Acquire) {
                return Wake::Overflow;
            }
            {
                let mut items = queue.items.lock();
                if !items.is_empty() {
                    let take = items.len().min(max.max(1));
                    let batch: Vec<Outbound> = items.drain(..take).collect();
                    if items.is_empty() && items.capacity() > KEEP_SLOTS {
                        items.shrink_to(KEEP_SLOTS);
                    }
                    return Wake::Items(batch);
                }
            }
            // A permit stored by `notify_one` between the check and here is not lost.
            queue.ready.notified().await;
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Relaxed);
        self.0.items.lock().clear();
    }
}
