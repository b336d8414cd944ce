//! Writes that follow a login or a send but need not delay it (a sender's own read
//! position, the daily login record) go through one bounded, coalescing queue drained by a
//! single task, instead of a task per event: a burst of sends to one conversation becomes
//! one position write, and a flood cannot grow tasks or memory without bound.
//!
//! Past [`MAX_PENDING`] distinct keys, new keys are dropped (and counted in the log): both
//! writes are repairable hints (the next send or login writes them again).

use crate::store::Store;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Distinct pending keys per kind.
pub const MAX_PENDING: usize = 100_000;

/// `(app, conversation, client)`.
type OwnKey = (String, String, String);
/// `(app, client, utc day)`.
type LoginKey = (String, String, i64);

#[derive(Default)]
struct Pending {
    own_positions: HashMap<OwnKey, i64>,
    logins: HashSet<LoginKey>,
    dropped: u64,
}

pub struct Background {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Background {
    /// Starts the draining task on `tasks`; it flushes what is pending when `shutdown`
    /// fires, then ends.
    pub fn start(store: Store, shutdown: CancellationToken, tasks: &TaskTracker) -> Arc<Self> {
        let background = Arc::new(Background {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        });
        tasks.spawn(drain(Arc::clone(&background), store, shutdown));
        background
    }

    /// The sender has read its own message `seq` in `conv` (coalesced to the highest).
    pub fn advance_own(&self, app: &str, conv: &str, client: &str, seq: i64) {
        let mut pending = self.pending.lock();
        let key = (app.to_owned(), conv.to_owned(), client.to_owned());
        let full = pending.own_positions.len() >= MAX_PENDING;
        match pending.own_positions.get_mut(&key) {
            Some(highest) => *highest = (*highest).max(seq),
            None if full => pending.dropped += 1,
            None => {
                pending.own_positions.insert(key, seq);
            }
        }
        drop(pending);
        self.wake.notify_one();
    }

    /// `client` logged in on UTC day `day` (coalesced per client and day).
    pub fn record_login(&self, app: &str, client: &str, day: i64) {
        let mut pending = self.pending.lock();
        let key = (app.to_owned(), client.to_owned(), day);
        if pending.logins.len() >= MAX_PENDING && !pending.logins.contains(&key) {
            pending.dropped += 1;
        } else {
            pending.logins.insert(key);
        }
        drop(pending);
        self.wake.notify_one();
    }

    /// Keys waiting to be written (tests).
    pub fn pending(&self) -> usize {
        let pending = self.pending.lock();
        pending.own_positions.len() + pending.logins.len()
    }
}

async fn drain(background: Arc<Background>, store: Store, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            () = background.wake.notified() => false,
            () = shutdown.cancelled() => true,
        };
        flush(&background, &store).await;
        if stopping {
            return;
        }
    }
}

async fn flush(background: &Background, store: &Store) {
    let batch = std::mem::take(&mut *background.pending.lock());
    if batch.dropped > 0 {
        tracing::warn!(
            dropped = batch.dropped,
            "background queue full: positions or login records dropped"
        );
    }
    for ((app, conv, client), seq) in batch.own_positions {
        if let Err(err) = store.advance_own(&app, &conv, &client, seq).await {
            tracing::warn!(error = %err, "read position of a sender not advanced");
        }
    }
    for (app, client, day) in batch.logins {
        if let Err(err) = store.record_login(&app, &client, day).await {
            tracing::warn!(error = %err, "daily login not recorded");
        }
    }
}
