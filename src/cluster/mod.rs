//! Several nodes on one Redis (`redis_url`, docs/cluster.md). Unset, none of this exists
//! and the hub is in-process only.
//!
//! - Fan-out: each node subscribes to its own channel `{prefix}:node:{id}` and to
//!   `{prefix}:all`. A push goes to the channels of the nodes whose presence holds a
//!   recipient (chat rooms: the nodes with a session in the room); global broadcasts and
//!   control (kicks, revocations, cache invalidation) go to `all`.
//! - Presence: every node publishes its session changes as numbered frames and a heartbeat
//!   each second (and refreshes a key with a TTL); the others keep a replica
//!   (`presence.rs`) and forget a node not heard from for five seconds.
//! - Redis loss: publishing stops (nothing queues up), local delivery goes on, `/readyz`
//!   reports degraded; once Redis answers again the node resubscribes, sends its snapshot,
//!   and asks its clients to reconnect so they resync from history what they missed.

mod bus;
mod inbound;
pub mod presence;
pub mod quota;
pub mod wire;

pub use bus::start;

/// Who signs the frames [`announce_app_change`] publishes: no node has this id, so every
/// node applies them.
const CLI_SENDER: &str = "tidings-cli";

/// Tells the running nodes of a cluster that `app`'s settings changed: `tidings app set`
/// runs in a process of its own, outside the cluster, so it publishes one frame on
/// `{prefix}:all` and every node drops its cached copy at once (instead of within the
/// directory's few-second TTL). Without a `redis_url` there is nothing to tell.
pub async fn announce_app_change(redis_url: &str, prefix: &str, app: &str) -> anyhow::Result<()> {
    if redis_url.is_empty() {
        return Ok(());
    }
    let client = redis::Client::open(redis_url)?;
    let connect = client.get_multiplexed_async_connection();
    let mut connection = tokio::time::timeout(Duration::from_secs(2), connect)
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer"))??;
    let frame = Frame {
        from: CLI_SENDER.to_owned(),
        body: Body::App {
            app: app.to_owned(),
        },
    };
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}:all"))
        .arg(frame.encode())
        .query_async::<()>(&mut connection)
        .await?;
    Ok(())
}

use crate::hub::Recipients;
use parking_lot::Mutex;
use presence::Replica;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use wire::{Body, Frame, PresenceOp, Target};

/// Frames waiting for the publisher; past this (Redis slow or gone) new ones are dropped.
const QUEUE: usize = 65_536;
/// Snapshots asked for by other nodes: at most one per this long.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// How long a remote Agora wait is remembered.
const ACK_WAIT: Duration = Duration::from_secs(60);

/// (app, msg) -> (destination client, waiting node, since).
type RemoteWaits = HashMap<(String, String), (String, String, Instant)>;

pub struct Outgoing {
    pub channel: String,
    pub payload: Vec<u8>,
}

/// A node's link to the others: what the hub, quotas and caches call.
pub struct Cluster {
    node: String,
    prefix: String,
    client: redis::Client,
    manager: redis::aio::ConnectionManager,
    out: mpsc::Sender<Outgoing>,
    queued: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// Presence frame numbers; held while a presence frame is queued so they go out in order.
    presence_seq: Mutex<u64>,
    replica: Replica,
    /// Subscribed and publishing: cross-node delivery works.
    up: AtomicBool,
    /// Agora waits of other nodes for an ack that may happen here.
    remote_waits: Mutex<RemoteWaits>,
    /// When this node last published its snapshot.
    last_snapshot: Mutex<Option<Instant>>,
}

impl Cluster {
    /// Builds the link (no connection yet: Redis may be down at start).
    pub fn new(redis_url: &str, prefix: &str, node: &str) -> anyhow::Result<Cluster> {
        let client = redis::Client::open(redis_url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let (out, queued) = mpsc::channel(QUEUE);
        let node = if node.is_empty() {
            crate::domain::ids::random_alphanumeric(12)
        } else {
            node.to_owned()
        };
        Ok(Cluster {
            node,
            prefix: prefix.to_owned(),
            client,
            manager,
            out,
            queued: Mutex::new(Some(queued)),
            presence_seq: Mutex::new(0),
            replica: Replica::default(),
            up: AtomicBool::new(false),
            remote_waits: Mutex::new(HashMap::new()),
            last_snapshot: Mutex::new(None),
        })
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether cross-node delivery works right now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    pub(crate) fn manager(&self) -> redis::aio::ConnectionManager {
        self.manager.clone()
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    fn all_channel(&self) -> String {
        self.key("all")
    }

    fn node_channel(&self, node: &str) -> String {
        self.key(&format!("node:{node}"))
    }

    fn queue(&self, channel: String, body: Body) {
        if !self.is_up() {
            return;
        }
        let frame = Frame {
            from: self.node.clone(),
            body,
        };
        let outgoing = Outgoing {
            channel,
            payload: frame.encode(),
        };
        if self.out.try_send(outgoing).is_err() {
            // The publisher is behind (Redis slow): cross-node delivery degrades to
            // history, like a slow client's.
            tracing::debug!("cluster frame dropped: publish queue full");
        }
    }

    /// To every other node.
    pub fn broadcast(&self, body: Body) {
        self.queue(self.all_channel(), body);
    }

    /// To one node.
    pub fn send_to(&self, node: &str, body: Body) {
        self.queue(self.node_channel(node), body);
    }

    /// Forwards an encoded push to the nodes holding its recipients.
    pub fn forward_push(
        &self,
        app: &str,
        recipients: &Recipients,
        body: &[u8],
        skip_client: Option<&str>,
    ) {
        if !self.is_up() {
            return;
        }
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        let deliver = |to: Target| Body::Deliver {
            app: app.to_owned(),
            to,
            body: encoded.clone(),
            skip_client: skip_client.map(str::to_owned),
        };
        match recipients {
            Recipients::Clients(clients) => {
                for (node, held) in self.replica.nodes_for_clients(app, clients) {
                    self.send_to(&node, deliver(Target::Clients(held)));
                }
            }
            Recipients::ChatRoom(room) => {
                for node in self.replica.nodes_for_room(app, room) {
                    self.send_to(&node, deliver(Target::Room(room.clone())));
                }
            }
            Recipients::Everyone => {
                // One frame on `all` rather than one per node holding the app.
                if !self.replica.nodes_for_app(app).is_empty() {
                    self.broadcast(deliver(Target::Everyone));
                }
            }
        }
    }

    /// Queues one presence change of this node.
    pub fn presence(&self, op: PresenceOp) {
        let mut seq = self.presence_seq.lock();
        *seq += 1;
        // Queued (or dropped while Redis is away) under the lock: frames leave in order,
        // and a dropped one leaves a gap the others notice.
        self.queue(
            self.all_channel(),
            Body::Presence {
                seq: *seq,
                ops: vec![op],
            },
        );
    }

    /// Publishes this node's whole presence, read by `sessions` under the sequence lock, in
    /// frames of at most [`wire::SNAPSHOT_PART`] sessions (queued together, so no presence
    /// frame comes between them).
    pub fn publish_snapshot(&self, sessions: impl FnOnce() -> Vec<wire::SessionRecord>) {
        let seq = self.presence_seq.lock();
        let mut sessions = sessions();
        *self.last_snapshot.lock() = Some(Instant::now());
        let parts = sessions.len().div_ceil(wire::SNAPSHOT_PART).max(1);
        let parts_u32 = u32::try_from(parts).unwrap_or(u32::MAX);
        for part in 0..parts_u32 {
            let rest = sessions.split_off(sessions.len().min(wire::SNAPSHOT_PART));
            let chunk = std::mem::replace(&mut sessions, rest);
            self.queue(
                self.all_channel(),
                Body::Snapshot {
                    seq: *seq,
                    sessions: chunk,
                    part,
                    parts: parts_u32,
                },
            );
        }
    }

    /// Another node asked for a snapshot. A snapshot goes to every node, so one per
    /// [`SNAPSHOT_EVERY`] answers all the nodes asking at once (a restart makes each ask);
    /// one asking too soon asks again at its next heartbeat mismatch.
    pub fn snapshot_wanted(&self, sessions: impl FnOnce() -> Vec<wire::SessionRecord>) {
        let recent = self
            .last_snapshot
            .lock()
            .is_some_and(|at| at.elapsed() < SNAPSHOT_EVERY);
        if !recent {
            self.publish_snapshot(sessions);
        }
    }

    fn beat(&self) {
        let seq = self.presence_seq.lock();
        self.broadcast(Body::Beat { seq: *seq });
    }

    /// Another node waits for `dest` to acknowledge `msg`.
    pub(crate) fn remember_wait(&self, node: &str, app: String, msg: String, dest: String) {
        let mut waits = self.remote_waits.lock();
        waits.retain(|_, (_, _, since)| since.elapsed() < ACK_WAIT);
        waits.insert((app, msg), (dest, node.to_owned(), Instant::now()));
    }

    /// `client` acknowledged `msg` here: tells the node waiting for it, if any.
    pub fn acknowledged(&self, app: &str, msg: &str, client: &str) {
        let node = {
            let mut waits = self.remote_waits.lock();
            if waits.is_empty() {
                return;
            }
            let key = (app.to_owned(), msg.to_owned());
            match waits.get(&key) {
                Some((dest, _, _)) if dest == client => waits.remove(&key).map(|(_, n, _)| n),
                _ => None,
            }
        };
        if let Some(node) = node {
            self.send_to(
                &node,
                Body::Acked {
                    app: app.to_owned(),
                    msg: msg.to_owned(),
                    client: client.to_owned(),
                },
            );
        }
    }
}
