//! The client sessions on one connection. JS multiplexes every `IMClient` of a `Realtime`
//! on one socket and Swift/ObjC/Java share one socket per app, so a connection holds
//! several sessions. A command without `peerId` belongs to the *default session*: the
//! first one opened on the connection that is still open (JS `_firstIMClient`, Swift
//! `defaultInstantMessagingPeerID`).

use crate::app::send::SendRequest;
use crate::domain::app::App;
use crate::hub::SessionGuard;
use std::sync::Arc;

/// One logged-in client on this connection. Dropping it deregisters it from the hub.
pub struct Session {
    pub guard: SessionGuard,
    pub app: Arc<App>,
    pub client: Arc<str>,
    /// Single-device tag and device id, carried into re-issued session tokens.
    pub tag: Option<Arc<str>>,
    pub device: Option<Arc<str>>,
    /// A "will" message, sent to its conversation if the connection drops unexpectedly.
    pub will: Option<Box<SendRequest>>,
}

impl Session {
    pub fn id(&self) -> u64 {
        self.guard.id()
    }

    pub fn current(&self) -> Current {
        Current {
            app: Arc::clone(&self.app),
            client: Arc::clone(&self.client),
            session: self.id(),
        }
    }
}

/// What a command handler needs to know about its session, detached from the connection
/// so handlers can borrow the connection mutably: the app's client actor.
pub use crate::app::actor::ClientSession as Current;

#[derive(Default)]
pub struct Sessions {
    /// In opening order: the first is the default session.
    list: Vec<Session>,
}

impl Sessions {
    /// The session a command addresses: by `peerId`, or the default session without one.
    pub fn resolve(&self, peer_id: Option<&str>) -> Option<&Session> {
        match peer_id.filter(|p| !p.is_empty()) {
            Some(peer) => self.by_client(peer),
            None => self.list.first(),
        }
    }

    pub fn by_client(&self, client: &str) -> Option<&Session> {
        self.list.iter().find(|s| &*s.client == client)
    }

    pub fn by_id(&self, id: u64) -> Option<&Session> {
        self.list.iter().find(|s| s.id() == id)
    }

    pub fn by_id_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.list.iter_mut().find(|s| s.id() == id)
    }

    pub fn add(&mut self, session: Session) {
        // Exact: a plain `push` reserves 4 slots (448 bytes) where one session is the rule.
        self.list.reserve_exact(1);
        self.list.push(session);
    }

    /// Removes a session, keeping the opening order of the others.
    pub fn remove(&mut self, id: u64) -> Option<Session> {
        let index = self.list.iter().position(|s| s.id() == id)?;
        Some(self.list.remove(index))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Session> {
        self.list.drain(..)
    }
}
