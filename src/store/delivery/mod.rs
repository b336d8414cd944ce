//! Delivered and own-read positions kept in memory and written in coalesced batches.
//!
//! Every receiver `ack` used to cost five statements (look up the message, read the
//! member's position, update it, stamp `ack_at`, list the newly delivered messages): a
//! 500-member group with everyone online turned one message into 500 write transactions.
//! Now an ack resolves against the conversation's recent messages (recorded by the writer
//! at commit) and the member's position held here; the member rows and the first-delivery
//! times reach the database in one batch per flush interval, whatever the number of acks.
//!
//! The position moves under one lock, so the messages an ack newly delivers are handed out
//! exactly once (receipts). A crash loses at most the last flush interval of delivered
//! positions: those messages are replayed at the next login (the SDKs drop duplicates by id).
//! Messages themselves are written by the writer before anyone is answered and never wait here.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How often pending positions are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Recent messages remembered per conversation (an ack further behind goes to the database).
const RECENT_PER_CONVERSATION: usize = 512;
/// Recent messages older than this (by message time, against the conversation's newest) are
/// forgotten even below the count: online receivers ack within seconds, and holding 512
/// messages of every busy conversation grew the server by ~290 bytes per stored message
/// until the count filled (the 20-minute soak, docs/reliability.md).
const RECENT_MAX_AGE_MS: i64 = 30_000;
/// A conversation without a new message for this long forgets its recent messages.
const RECENT_IDLE: Duration = Duration::from_secs(60);
/// A clean member position not touched for this long is forgotten (re-read on its next ack).
const POSITION_IDLE: Duration = Duration::from_secs(120);

type ConvKey = (String, String);
type MemberKey = (String, String, String);

/// A committed message as acks need it.
#[derive(Debug, Clone)]
pub(super) struct Recent {
    pub seq: i64,
    pub msg_id: String,
    pub from_client: String,
    pub timestamp: i64,
    /// First delivery to someone other than the sender, if any yet.
    pub ack_at: Option<i64>,
}

#[derive(Default)]
struct RecentMessages {
    messages: VecDeque<Recent>,
    recorded: Option<Instant>,
}

impl RecentMessages {
    fn by_id(&self, msg_id: &str) -> Option<&Recent> {
        self.messages.iter().rev().find(|m| m.msg_id == msg_id)
    }

    /// The last message at or before `until`, if the window reaches back that far.
    fn last_until(&self, until: i64) -> Option<i64> {
        let first = self.messages.front()?;
        if first.timestamp > until {
            return None;
        }
        self.messages
            .iter()
            .rev()
            .find(|m| m.timestamp <= until)
            .map(|m| m.seq)
    }

    /// Whether every message in `(from, upto]` is here.
    fn covers(&self, from: i64, upto: i64) -> bool {
        match (self.messages.front(), self.messages.back()) {
            (Some(first), Some(last)) => first.seq <= from + 1 && last.seq >= upto,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Position {
    delivered_seq: i64,
    delivered_at: i64,
    /// Own messages read (the sender's position); 0 when only deliveries moved.
    read_seq: i64,
    /// Read from the member row (so the client is a member); an own send alone does not
    /// prove membership.
    loaded: bool,
    dirty: bool,
    touched: Instant,
}

/// What a newly delivered message needs for its receipt.
#[derive(Debug, Clone)]
pub struct Newly {
    pub msg_id: String,
    pub from_client: String,
    pub timestamp: i64,
}

/// The outcome of advancing a delivered position in memory.
pub(super) enum Advanced {
    /// The position did not move.
    Unchanged,
    /// Moved from `from`; the delivered messages from others, newest first (at most `limit`).
    Known(Vec<Newly>),
    /// Moved from `from`, but the range is older than the recent window: the caller reads
    /// it from the database and queues a range stamp.
    Unknown { from: i64 },
}

/// A row of the batch that moves member positions.
#[derive(Debug, Clone)]
pub(super) struct MemberWrite {
    pub key: MemberKey,
    pub delivered_seq: i64,
    pub delivered_at: i64,
    pub read_seq: i64,
}

/// First-delivery time of one message, or of the messages from others in a seq range.
#[derive(Debug, Clone)]
pub(super) enum AckStamp {
    One {
        app: String,
        conv: String,
        seq: i64,
        at: i64,
    },
    Range {
        app: String,
        conv: String,
        client: String,
        from: i64,
        upto: i64,
        at: i64,
    },
}

/// Everything a flush writes.
#[derive(Default)]
pub(super) struct Pending {
    pub members: Vec<MemberWrite>,
    pub stamps: Vec<AckStamp>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.stamps.is_empty()
    }
}

#[derive(Default)]
pub(super) struct Tracker {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    recent: HashMap<ConvKey, RecentMessages>,
    positions: HashMap<MemberKey, Position>,
    stamps: Vec<AckStamp>,
}

fn member_key(app: &str, conv: &str, client: &str) -> MemberKey {
    (app.to_owned(), conv.to_owned(), client.to_owned())
}

impl Tracker {
    /// The writer committed `message` (seqs of one conversation arrive in order).
    pub fn record(&self, app: &str, conv: &str, message: Recent) {
        let mut inner = self.inner.lock();
        let recent = inner
            .recent
            .entry((app.to_owned(), conv.to_owned()))
            .or_default();
        // A gap (a message stored by another path) would make `covers` lie: start over.
        if recent
            .messages
            .back()
            .is_some_and(|last| last.seq + 1 != message.seq)
        {
            recent.messages.clear();
        }
        let oldest_kept = message.timestamp - RECENT_MAX_AGE_MS;
        recent.messages.push_back(message);
        if recent.messages.len() > RECENT_PER_CONVERSATION {
            recent.messages.pop_front();
        }
        while recent
            .messages
            .front()
            .is_some_and(|first| first.timestamp < oldest_kept)
        {
            recent.messages.pop_front();
        }
        if recent.messages.capacity() > 2 * recent.messages.len().max(8) {
            recent.messages.shrink_to_fit();
        }
        recent.recorded = Some(Instant::now());
    }

    /// The seq of a recent message by id, or of the last recent message at or before a time.
    pub fn resolve_id(&self, app: &str, conv: &str, msg_id: &str) -> Option<i64> {
        let inner = self.inner.lock();
        let recent = inner.recent.get(&(app.to_owned(), conv.to_owned()))?;
        recent.by_id(msg_id).map(|m| m.seq)
    }

    pub fn resolve_time(&self, app: &str, conv: &str, until: i64) -> Option<i64> {
        let inner = self.inner.lock();
        let recent = inner.recent.get(&(app.to_owned(), conv.to_owned()))?;
        recent.last_until(until)
    }

    /// The member's delivered position if held here.
    pub fn delivered(&self, app: &str, conv: &str, client: &str) -> Option<i64> {
        let inner = self.inner.lock();
        inner
            .positions
            .get(&member_key(app, conv, client))
            .filter(|p| p.loaded)
            .map(|p| p.delivered_seq)
    }

    /// Holds a position read from the database (never lowers one already held).
    pub fn load(&self, app: &str, conv: &str, client: &str, delivered_seq: i64) {
        let mut inner = self.inner.lock();
        let entry = inner
            .positions
            .entry(member_key(app, conv, client))
            .or_insert(Position {
                delivered_seq,
                delivered_at: 0,
                read_seq: 0,
                loaded: true,
                dirty: false,
                touched: Instant::now(),
            });
        entry.loaded = true;
        entry.delivered_seq = entry.delivered_seq.max(delivered_seq);
    }

    /// Moves a held position to `upto` (see [`Advanced`]). The position must be loaded.
    pub fn advance(
        &self,
        app: &str,
        conv: &str,
        client: &str,
        upto: i64,
        now: i64,
        limit: usize,
    ) -> Advanced {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let position = inner.positions.get_mut(&member_key(app, conv, client));
        let Some(position) = position.filter(|p| p.loaded) else {
            return Advanced::Unchanged;
        };
        position.touched = Instant::now();
        let from = position.delivered_seq;
        if upto <= from {
            return Advanced::Unchanged;
        }
        position.delivered_seq = upto;
        position.delivered_at = position.delivered_at.max(now);
        position.dirty = true;
        let recent = inner.recent.get_mut(&(app.to_owned(), conv.to_owned()));
        let Some(recent) = recent.filter(|r| r.covers(from, upto)) else {
            return Advanced::Unknown { from };
        };
        let mut newly = Vec::new();
        for message in recent.messages.iter_mut().rev() {
            if message.seq <= from {
                break;
            }
            if message.seq > upto || message.from_client == client {
                continue;
            }
            if message.ack_at.is_none() {
                message.ack_at = Some(now);
                inner.stamps.push(AckStamp::One {
                    app: app.to_owned(),
                    conv: conv.to_owned(),
                    seq: message.seq,
                    at: now,
                });
            }
            if newly.len() < limit {
                newly.push(Newly {
                    msg_id: message.msg_id.clone(),
                    from_client: message.from_client.clone(),
                    timestamp: message.timestamp,
                });
            }
        }
        Advanced::Known(newly)
    }

    /// Queues the first-delivery stamp of a range older than the recent window.
    pub fn stamp_range(&self, stamp: AckStamp) {
        self.inner.lock().stamps.push(stamp);
    }

    /// The sender read its own message: its read and delivered positions move to `seq`.
    pub fn advance_own(&self, app: &str, conv: &str, client: &str, seq: i64) {
        let mut inner = self.inner.lock();
        let entry = inner
            .positions
            .entry(member_key(app, conv, client))
            .or_insert(Position {
                delivered_seq: 0,
                delivered_at: 0,
                read_seq: 0,
                loaded: false,
                dirty: false,
                touched: Instant::now(),
            });
        entry.read_seq = entry.read_seq.max(seq);
        entry.delivered_seq = entry.delivered_seq.max(seq);
        entry.dirty = true;
        entry.touched = Instant::now();
    }

    /// A position written to the database directly (a `read`): keeps the held one from
    /// lagging behind it, so a later ack does not report those messages again.
    pub fn raised(&self, app: &str, conv: &str, client: &str, delivered_seq: i64) {
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.positions.get_mut(&member_key(app, conv, client)) {
            entry.delivered_seq = entry.delivered_seq.max(delivered_seq);
        }
    }

    /// Forgets members whose membership changed (their rows were inserted or deleted).
    pub fn forget_members(&self, app: &str, conv: &str, clients: &[String]) {
        let mut inner = self.inner.lock();
        for client in clients {
            inner.positions.remove(&member_key(app, conv, client));
        }
    }

    /// Forgets a deleted conversation or message.
    pub fn forget_conversation(&self, app: &str, conv: &str) {
        let mut inner = self.inner.lock();
        inner.recent.remove(&(app.to_owned(), conv.to_owned()));
        inner
            .positions
            .retain(|(a, c, _), _| !(a == app && c == conv));
    }

    pub fn forget_message(&self, app: &str, conv: &str, msg_id: &str) {
        let mut inner = self.inner.lock();
        if let Some(recent) = inner.recent.get_mut(&(app.to_owned(), conv.to_owned())) {
            // Removing it would leave a gap that `covers` cannot see: forget the window.
            if recent.by_id(msg_id).is_some() {
                recent.messages.clear();
            }
        }
    }

    /// Takes what is to be written, for the positions `wanted` selects; marks them clean.
    pub fn take(&self, wanted: impl Fn(&MemberKey) -> bool) -> Pending {
        let mut inner = self.inner.lock();
        let mut pending = Pending::default();
        for (key, position) in inner.positions.iter_mut() {
            if position.dirty && wanted(key) {
                position.dirty = false;
                pending.members.push(MemberWrite {
                    key: key.clone(),
                    delivered_seq: position.delivered_seq,
                    delivered_at: position.delivered_at,
                    read_seq: position.read_seq,
                });
            }
        }
        pending.stamps = std::mem::take(&mut inner.stamps);
        pending
    }

    /// A flush failed: what it took is pending again (positions only grow, so a newer
    /// value written meanwhile wins).
    pub fn put_back(&self, pending: Pending) {
        let mut inner = self.inner.lock();
        for write in pending.members {
            if let Some(position) = inner.positions.get_mut(&write.key) {
                position.dirty = true;
            }
        }
        inner.stamps.extend(pending.stamps);
    }

    /// Drops idle windows and clean idle positions, keeping memory bounded.
    pub fn evict_idle(&self) {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        inner.recent.retain(|_, r| {
            r.recorded
                .is_some_and(|at| now.duration_since(at) < RECENT_IDLE)
        });
        inner
            .positions
            .retain(|_, p| p.dirty || now.duration_since(p.touched) < POSITION_IDLE);
    }

    #[cfg(test)]
    fn held_positions(&self) -> usize {
        self.inner.lock().positions.len()
    }
}

#[cfg(test)]
mod tests;
