//! The local replica of the other nodes' presence: which sessions each node holds, kept
//! current by their numbered presence frames and snapshots, and forgotten when a node has
//! not been heard from for [`NODE_TTL`] (a dead node stops counting within seconds).

use super::wire::{PresenceOp, SessionRecord};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A node not heard from (heartbeat, presence) for this long is taken as gone.
pub const NODE_TTL: Duration = Duration::from_secs(5);

struct Remote {
    app: Arc<str>,
    client: Arc<str>,
    tag: Option<Arc<str>>,
    device: Option<Arc<str>>,
    rooms: Vec<Arc<str>>,
}

#[derive(Default)]
struct AppView {
    /// client -> sessions on the node.
    clients: HashMap<Arc<str>, u32>,
    /// room -> session -> client.
    rooms: HashMap<Arc<str>, HashMap<u64, Arc<str>>>,
}

struct NodeView {
    /// Last presence frame applied; `None` until a snapshot arrived.
    seq: Option<u64>,
    seen: Instant,
    sessions: HashMap<u64, Remote>,
    apps: HashMap<Arc<str>, AppView>,
}

impl NodeView {
    fn new() -> NodeView {
        NodeView {
            seq: None,
            seen: Instant::now(),
            sessions: HashMap::new(),
            apps: HashMap::new(),
        }
    }

    fn online(&mut self, record: SessionRecord) {
        if self.sessions.contains_key(&record.id) {
            self.offline(record.id);
        }
        let app: Arc<str> = Arc::from(record.app);
        let client: Arc<str> = Arc::from(record.client);
        let view = self.apps.entry(Arc::clone(&app)).or_default();
        *view.clients.entry(Arc::clone(&client)).or_default() += 1;
        let rooms: Vec<Arc<str>> = record.rooms.into_iter().map(Arc::from).collect();
        for room in &rooms {
            view.rooms
                .entry(Arc::clone(room))
                .or_default()
                .insert(record.id, Arc::clone(&client));
        }
        self.sessions.insert(
            record.id,
            Remote {
                app,
                client,
                tag: record.tag.map(Arc::from),
                device: record.device.map(Arc::from),
                rooms,
            },
        );
    }

    fn offline(&mut self, id: u64) {
        let Some(session) = self.sessions.remove(&id) else {
            return;
        };
        let Some(view) = self.apps.get_mut(&session.app) else {
            return;
        };
        if let Some(count) = view.clients.get_mut(&session.client) {
            *count -= 1;
            if *count == 0 {
                view.clients.remove(&session.client);
            }
        }
        for room in &session.rooms {
            if let Some(online) = view.rooms.get_mut(room) {
                online.remove(&id);
                if online.is_empty() {
                    view.rooms.remove(room);
                }
            }
        }
        if view.clients.is_empty() && view.rooms.is_empty() {
            self.apps.remove(&session.app);
        }
    }

    fn join(&mut self, id: u64, room: &str) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if session.rooms.iter().any(|r| &**r == room) {
            return;
        }
        let room: Arc<str> = Arc::from(room);
        session.rooms.push(Arc::clone(&room));
        let view = self.apps.entry(Arc::clone(&session.app)).or_default();
        view.rooms
            .entry(room)
            .or_default()
            .insert(id, Arc::clone(&session.client));
    }

    fn leave(&mut self, id: u64, room: &str) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.rooms.retain(|r| &**r != room);
        if let Some(view) = self.apps.get_mut(&session.app) {
            if let Some(online) = view.rooms.get_mut(room) {
                online.remove(&id);
                if online.is_empty() {
                    view.rooms.remove(room);
                }
            }
        }
    }
}

/// What applying a presence frame found.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Ok,
    /// Frames were missed (or the node is new): ask it for a snapshot.
    NeedSnapshot,
}

/// A snapshot arriving in parts: the view being rebuilt, and the part expected next.
struct Assembly {
    seq: u64,
    next: u32,
    view: NodeView,
}

#[derive(Default)]
pub struct Replica {
    nodes: RwLock<HashMap<String, NodeView>>,
    /// Snapshots whose last part has not arrived yet, per node.
    assembling: parking_lot::Mutex<HashMap<String, Assembly>>,
}

impl Replica {
    /// A heartbeat: the node is alive and its presence is at `seq`.
    pub fn beat(&self, node: &str, seq: u64) -> Applied {
        let mut nodes = self.nodes.write();
        let view = nodes.entry(node.to_owned()).or_insert_with(NodeView::new);
        view.seen = Instant::now();
        if view.seq == Some(seq) {
            Applied::Ok
        } else {
            Applied::NeedSnapshot
        }
    }

    pub fn apply(&self, node: &str, seq: u64, ops: Vec<PresenceOp>) -> Applied {
        let mut nodes = self.nodes.write();
        let view = nodes.entry(node.to_owned()).or_insert_with(NodeView::new);
        view.seen = Instant::now();
        let Some(last) = view.seq else {
            return Applied::NeedSnapshot;
        };
        if seq <= last {
            return Applied::Ok;
        }
        // Applied even after a gap (the ops are idempotent); the snapshot asked for then
        // replaces the whole view.
        for op in ops {
            match op {
                PresenceOp::Online { session } => view.online(session),
                PresenceOp::Offline { id } => view.offline(id),
                PresenceOp::Join { id, room } => view.join(id, &room),
                PresenceOp::Leave { id, room } => view.leave(id, &room),
            }
        }
        let gap = seq != last + 1;
        view.seq = Some(seq);
        if gap {
            Applied::NeedSnapshot
        } else {
            Applied::Ok
        }
    }

    /// Part `part` of `parts` of a node's snapshot; the view is replaced when the last part
    /// arrives. A part out of order drops the assembly: the node's next heartbeat then
    /// disagrees and a fresh snapshot is asked for.
    pub fn snapshot_part(
        &self,
        node: &str,
        seq: u64,
        part: u32,
        parts: u32,
        sessions: Vec<SessionRecord>,
    ) {
        if parts <= 1 {
            self.snapshot(node, seq, sessions);
            return;
        }
        let mut assembling = self.assembling.lock();
        if part == 0 {
            assembling.insert(
                node.to_owned(),
                Assembly {
                    seq,
                    next: 0,
                    view: NodeView::new(),
                },
            );
        }
        let Some(assembly) = assembling.get_mut(node) else {
            return;
        };
        if assembly.seq != seq || assembly.next != part {
            assembling.remove(node);
            return;
        }
        for session in sessions {
            assembly.view.online(session);
        }
        assembly.next += 1;
        if assembly.next == parts {
            if let Some(done) = assembling.remove(node) {
                drop(assembling);
                self.install(node, done.seq, done.view);
            }
        }
    }

    /// A node's whole presence in one frame.
    pub fn snapshot(&self, node: &str, seq: u64, sessions: Vec<SessionRecord>) {
        let mut view = NodeView::new();
        for session in sessions {
            view.online(session);
        }
        self.install(node, seq, view);
    }

    fn install(&self, node: &str, seq: u64, mut view: NodeView) {
        let mut nodes = self.nodes.write();
        if nodes
            .get(node)
            .and_then(|v| v.seq)
            .is_some_and(|last| last > seq)
        {
            return;
        }
        view.seq = Some(seq);
        view.seen = Instant::now();
        nodes.insert(node.to_owned(), view);
    }

    pub fn forget(&self, node: &str) {
        self.nodes.write().remove(node);
        self.assembling.lock().remove(node);
    }

    /// Drops the nodes not heard from within [`NODE_TTL`]; returns how many.
    pub fn expire(&self) -> usize {
        let mut nodes = self.nodes.write();
        let before = nodes.len();
        nodes.retain(|_, v| v.seen.elapsed() < NODE_TTL);
        before - nodes.len()
    }

    /// Nodes currently known alive.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.read().keys().cloned().collect()
    }

    pub fn is_online(&self, app: &str, client: &str) -> bool {
        self.nodes.read().values().any(|v| {
            v.apps
                .get(app)
                .is_some_and(|a| a.clients.contains_key(client))
        })
    }

    /// Calls `f` with every remote client of `app` (once per node holding it).
    pub fn for_each_client(&self, app: &str, f: &mut dyn FnMut(&str)) {
        for view in self.nodes.read().values() {
            if let Some(a) = view.apps.get(app) {
                a.clients.keys().for_each(|c| f(c));
            }
        }
    }

    pub fn room_members(&self, app: &str, room: &str, into: &mut Vec<String>) {
        for view in self.nodes.read().values() {
            if let Some(online) = view.apps.get(app).and_then(|a| a.rooms.get(room)) {
                into.extend(online.values().map(|c| c.to_string()));
            }
        }
    }

    /// The remote sessions of `client` with `tag`: (session id, device).
    pub fn sessions_with_tag(
        &self,
        app: &str,
        client: &str,
        tag: &str,
    ) -> Vec<(u64, Option<Arc<str>>)> {
        let mut found = Vec::new();
        for view in self.nodes.read().values() {
            for (id, s) in &view.sessions {
                if &*s.app == app && &*s.client == client && s.tag.as_deref() == Some(tag) {
                    found.push((*id, s.device.clone()));
                }
            }
        }
        found
    }

    /// The tag of each remote session of `client` (`None` when untagged).
    pub fn session_tags(&self, app: &str, client: &str) -> Vec<Option<String>> {
        let mut found = Vec::new();
        for view in self.nodes.read().values() {
            for s in view.sessions.values() {
                if &*s.app == app && &*s.client == client {
                    found.push(s.tag.as_deref().map(str::to_owned));
                }
            }
        }
        found
    }

    /// The node holding session `id`.
    pub fn node_of_session(&self, id: u64) -> Option<String> {
        self.nodes
            .read()
            .iter()
            .find(|(_, v)| v.sessions.contains_key(&id))
            .map(|(node, _)| node.clone())
    }

    /// The nodes with sessions of any of `clients`, each with the clients it holds.
    pub fn nodes_for_clients(&self, app: &str, clients: &[String]) -> Vec<(String, Vec<String>)> {
        let nodes = self.nodes.read();
        let mut out = Vec::new();
        for (node, view) in nodes.iter() {
            let Some(a) = view.apps.get(app) else {
                continue;
            };
            let held: Vec<String> = clients
                .iter()
                .filter(|c| a.clients.contains_key(c.as_str()))
                .cloned()
                .collect();
            if !held.is_empty() {
                out.push((node.clone(), held));
            }
        }
        out
    }

    /// The nodes with sessions joined to `room`.
    pub fn nodes_for_room(&self, app: &str, room: &str) -> Vec<String> {
        self.nodes
            .read()
            .iter()
            .filter(|(_, v)| v.apps.get(app).is_some_and(|a| a.rooms.contains_key(room)))
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// The nodes with any session of `app`.
    pub fn nodes_for_app(&self, app: &str) -> Vec<String> {
        self.nodes
            .read()
            .iter()
            .filter(|(_, v)| v.apps.contains_key(app))
            .map(|(node, _)| node.clone())
            .collect()
    }
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
