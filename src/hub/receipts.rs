//! Messages whose sender asked for receipts (`direct r=true`), remembered in memory (bounded,
//! oldest forgotten first) until receivers acknowledge them. Lost on restart: a receipt is
//! a courtesy, the positions it reports are stored.

use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};

const CAPACITY: usize = 100_000;

#[derive(Default)]
pub(super) struct Receipts {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    wanted: HashSet<String>,
    order: VecDeque<String>,
}

fn key(app: &str, msg_id: &str) -> String {
    format!("{app}\u{0}{msg_id}")
}

impl Receipts {
    pub(super) fn want(&self, app: &str, msg_id: &str) {
        let key = key(app, msg_id);
        let mut inner = self.inner.lock();
        if inner.wanted.insert(key.clone()) {
            inner.order.push_back(key);
        }
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.wanted.remove(&old);
            }
        }
    }

    pub(super) fn wanted(&self, app: &str, msg_id: &str) -> bool {
        let inner = self.inner.lock();
        !inner.wanted.is_empty() && inner.wanted.contains(&key(app, msg_id))
    }
}
