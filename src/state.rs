//! Shared state handed to every handler and session.

use crate::app::acks::AckWaiters;
use crate::app::directory::AppDirectory;
use crate::app::quota::ClientQuotas;
use crate::app::revocation::Revocations;
use crate::app::uplink::UplinkSignal;
use crate::clock::ServerClock;
use crate::config::Config;
use crate::files::FileStorage;
use crate::hub::Hub;
use crate::ratelimit::RateLimits;
use crate::store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub apps: Arc<AppDirectory>,
    /// Open WebSockets, per process and per source IP.
    pub connections: Arc<crate::gateway::admission::Admission>,
    /// Coalescing queue for writes that follow a login or a send.
    pub background: Arc<crate::app::background::Background>,
    pub hub: Arc<Hub>,
    pub acks: Arc<AckWaiters>,
    pub limits: Arc<RateLimits>,
    /// WebSocket quotas per client (messages per second, conversations per minute).
    pub client_quotas: Arc<ClientQuotas>,
    /// Whether senders are silenced, per conversation (`app/silence_cache.rs`).
    pub silences: Arc<crate::app::silence_cache::SilenceCache>,
    /// Session tokens and signatures voided by forced kicks.
    pub revocations: Arc<Revocations>,
    /// Wakes the service-conversation callback dispatcher.
    pub uplink: Arc<UplinkSignal>,
    /// The app's LeanEngine-style hooks: one HTTP client, per-app concurrency bounds.
    pub hooks: Arc<crate::app::hooks::Hooks>,
    /// Offline push delivery: the queue worker's clients, caps and counters.
    pub push: Arc<crate::push::PushService>,
    pub clock: ServerClock,
    pub config: Arc<Config>,
    /// Where file bytes live (`files_url`).
    pub files: FileStorage,
    pub shutdown: CancellationToken,
    /// Upgraded WebSocket connections, waited for (with a grace period) at shutdown.
    pub tasks: TaskTracker,
}
