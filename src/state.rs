//! Shared state handed to every handler and session.

use crate::app::acks::AckWaiters;
use crate::app::directory::AppDirectory;
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
    pub hub: Arc<Hub>,
    pub acks: Arc<AckWaiters>,
    pub limits: Arc<RateLimits>,
    pub clock: ServerClock,
    pub config: Arc<Config>,
    /// Where file bytes live (`files_url`).
    pub files: FileStorage,
    pub shutdown: CancellationToken,
    /// Upgraded WebSocket connections, waited for (with a grace period) at shutdown.
    pub tasks: TaskTracker,
}
