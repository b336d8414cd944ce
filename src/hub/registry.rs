//! The in-memory registry: `(app, client) -> sessions`, chat-room presence, and each
//! connection's bounded queue ([`Outbox`], in `queue.rs`).

use super::push::Skip;
use super::queue::Outbox;
use super::{Hub, Recipients};
use crate::cluster::wire::SessionRecord;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// What the registry knows about a session besides its queue.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub client: Arc<str>,
    /// Single-device login tag (`None` for untagged sessions and the reserved `default`).
    pub tag: Option<Arc<str>>,
    pub device: Option<Arc<str>>,
}

struct Entry {
    id: u64,
    tag: Option<Arc<str>>,
    device: Option<Arc<str>>,
    outbox: Outbox,
    rooms: Vec<Arc<str>>,
}

/// The online sessions of one chat room: session id -> (client, queue).
type RoomSessions = HashMap<u64, (Arc<str>, Outbox)>;

#[derive(Default)]
struct AppSessions {
    clients: HashMap<Arc<str>, Vec<Entry>>,
    rooms: HashMap<Arc<str>, RoomSessions>,
}

#[derive(Default)]
pub(super) struct Registry {
    apps: RwLock<HashMap<Arc<str>, AppSessions>>,
    next_id: AtomicU64,
    sessions: AtomicUsize,
}

impl Registry {
    /// Registers a session; returns its id and the registry's shared copy of `app`.
    pub(super) fn insert(&self, app: &str, info: SessionInfo, outbox: Outbox) -> (u64, Arc<str>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry {
            id,
            tag: info.tag,
            device: info.device,
            outbox,
            rooms: Vec::new(),
        };
        let mut apps = self.apps.write();
        let app_key = match apps.get_key_value(app) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(app),
        };
        let sessions = apps.entry(Arc::clone(&app_key)).or_default();
        let entries = sessions.clients.entry(info.client).or_default();
        // Exact: a plain `push` reserves 4 entries where one session per client is the rule.
        entries.reserve_exact(1);
        entries.push(entry);
        self.sessions.fetch_add(1, Ordering::Relaxed);
        (id, app_key)
    }

    pub(super) fn remove(&self, app: &str, client: &str, id: u64) {
        let mut apps = self.apps.write();
        let Some(sessions) = apps.get_mut(app) else {
            return;
        };
        let Some(entries) = sessions.clients.get_mut(client) else {
            return;
        };
        let Some(index) = entries.iter().position(|e| e.id == id) else {
            return;
        };
        let entry = entries.swap_remove(index);
        if entries.is_empty() {
            sessions.clients.remove(client);
        }
        for room in &entry.rooms {
            if let Some(online) = sessions.rooms.get_mut(room) {
                online.remove(&id);
                if online.is_empty() {
                    sessions.rooms.remove(room);
                }
            }
        }
        if sessions.clients.is_empty() && sessions.rooms.is_empty() {
            apps.remove(app);
        }
        self.sessions.fetch_sub(1, Ordering::Relaxed);
    }

    /// Calls `f` with every target session's id and queue, under a read lock.
    pub(super) fn for_each_target(
        &self,
        app: &str,
        recipients: &Recipients,
        skip: Option<&Skip>,
        f: &mut dyn FnMut(u64, &Outbox),
    ) {
        let apps = self.apps.read();
        let Some(sessions) = apps.get(app) else {
            return;
        };
        let skipped = |client: &str, id: u64| skip.is_some_and(|s| s.skips(client, id));
        match recipients {
            Recipients::Clients(clients) => {
                for client in clients {
                    let Some(entries) = sessions.clients.get(client.as_str()) else {
                        continue;
                    };
                    for entry in entries.iter().filter(|e| !skipped(client, e.id)) {
                        f(entry.id, &entry.outbox);
                    }
                }
            }
            Recipients::ChatRoom(conv) => {
                let Some(online) = sessions.rooms.get(conv.as_str()) else {
                    return;
                };
                for (id, (client, outbox)) in online {
                    if !skipped(client, *id) {
                        f(*id, outbox);
                    }
                }
            }
            Recipients::Everyone => {
                for (client, entries) in &sessions.clients {
                    for entry in entries.iter().filter(|e| !skipped(client, e.id)) {
                        f(entry.id, &entry.outbox);
                    }
                }
            }
        }
    }

    pub(super) fn for_session(&self, app: &str, client: &str, id: u64, f: &mut dyn FnMut(&Outbox)) {
        let apps = self.apps.read();
        let entry = apps
            .get(app)
            .and_then(|s| s.clients.get(client))
            .and_then(|e| e.iter().find(|e| e.id == id));
        if let Some(entry) = entry {
            f(&entry.outbox);
        }
    }

    pub(super) fn sessions_with_tag(
        &self,
        app: &str,
        client: &str,
        tag: &str,
        except: u64,
    ) -> Vec<(u64, Option<Arc<str>>)> {
        let apps = self.apps.read();
        let Some(entries) = apps.get(app).and_then(|s| s.clients.get(client)) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|e| e.id != except && e.tag.as_deref() == Some(tag))
            .map(|e| (e.id, e.device.clone()))
            .collect()
    }

    pub(super) fn is_online(&self, app: &str, client: &str) -> bool {
        self.apps
            .read()
            .get(app)
            .is_some_and(|s| s.clients.contains_key(client))
    }

    pub(super) fn online_count(&self, app: &str) -> usize {
        self.apps.read().get(app).map_or(0, |s| s.clients.len())
    }

    pub(super) fn online_clients(&self, app: &str) -> Vec<String> {
        self.apps
            .read()
            .get(app)
            .map(|s| s.clients.keys().map(|c| c.to_string()).collect())
            .unwrap_or_default()
    }

    /// Numbers this process's sessions from `base` (a random one per clustered node, so
    /// session ids are unique across the cluster). Called before any session registers.
    pub(super) fn set_id_base(&self, base: u64) {
        let _ = self
            .next_id
            .compare_exchange(0, base, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Every local session, as presence snapshots carry them.
    pub(super) fn sessions(&self, app_filter: Option<&str>) -> Vec<SessionRecord> {
        let apps = self.apps.read();
        let mut out = Vec::with_capacity(self.session_count());
        for (app, sessions) in apps.iter() {
            if app_filter.is_some_and(|a| a != &**app) {
                continue;
            }
            for (client, entries) in &sessions.clients {
                out.extend(entries.iter().map(|e| SessionRecord {
                    id: e.id,
                    app: app.to_string(),
                    client: client.to_string(),
                    tag: e.tag.as_deref().map(str::to_owned),
                    device: e.device.as_deref().map(str::to_owned),
                    rooms: e.rooms.iter().map(|r| r.to_string()).collect(),
                }));
            }
        }
        out
    }

    /// Calls `f` once per distinct connection queue.
    pub(super) fn for_each_outbox(&self, f: &mut dyn FnMut(&Outbox)) {
        let apps = self.apps.read();
        let mut seen = std::collections::HashSet::new();
        for sessions in apps.values() {
            for entries in sessions.clients.values() {
                for entry in entries {
                    if seen.insert(entry.outbox.identity()) {
                        f(&entry.outbox);
                    }
                }
            }
        }
    }

    pub(super) fn session_count(&self) -> usize {
        self.sessions.load(Ordering::Relaxed)
    }

    pub(super) fn room_members(&self, app: &str, conv: &str) -> Vec<String> {
        let apps = self.apps.read();
        let Some(online) = apps.get(app).and_then(|s| s.rooms.get(conv)) else {
            return Vec::new();
        };
        let mut clients: Vec<String> = online
            .values()
            .map(|(client, _)| client.to_string())
            .collect();
        clients.sort_unstable();
        clients.dedup();
        clients
    }

    pub(super) fn join_room(&self, app: &str, client: &str, id: u64, conv: &str) {
        let mut apps = self.apps.write();
        let Some(sessions) = apps.get_mut(app) else {
            return;
        };
        let Some(client_key) = sessions
            .clients
            .get_key_value(client)
            .map(|(k, _)| Arc::clone(k))
        else {
            return;
        };
        let Some(entry) = sessions
            .clients
            .get_mut(client)
            .and_then(|e| e.iter_mut().find(|e| e.id == id))
        else {
            return;
        };
        if entry.rooms.iter().any(|r| &**r == conv) {
            return;
        }
        let room: Arc<str> = match sessions.rooms.get_key_value(conv) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(conv),
        };
        entry.rooms.push(Arc::clone(&room));
        let value = (client_key, entry.outbox.clone());
        sessions.rooms.entry(room).or_default().insert(id, value);
    }

    pub(super) fn leave_room(&self, app: &str, id: u64, conv: &str) {
        let mut apps = self.apps.write();
        let Some(sessions) = apps.get_mut(app) else {
            return;
        };
        let Some(online) = sessions.rooms.get_mut(conv) else {
            return;
        };
        let Some((client, _)) = online.remove(&id) else {
            return;
        };
        if online.is_empty() {
            sessions.rooms.remove(conv);
        }
        if let Some(entry) = sessions
            .clients
            .get_mut(&*client)
            .and_then(|e| e.iter_mut().find(|e| e.id == id))
        {
            entry.rooms.retain(|r| &**r != conv);
        }
    }
}

/// A registered session; dropping it deregisters the session and its chat-room presence.
pub struct SessionGuard {
    hub: Arc<Hub>,
    app: Arc<str>,
    client: Arc<str>,
    id: u64,
}

impl SessionGuard {
    pub(super) fn new(hub: Arc<Hub>, app: Arc<str>, client: Arc<str>, id: u64) -> SessionGuard {
        SessionGuard {
            hub,
            app,
            client,
            id,
        }
    }

    /// The session id: unique in this process, carried by `Origin::Session`.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn app(&self) -> &str {
        &self.app
    }

    pub fn client(&self) -> &str {
        &self.client
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.hub.unregister(&self.app, &self.client, self.id);
        crate::metrics::session_closed(&self.app);
    }
}
