//! Tidings: a self-hosted realtime messaging server speaking LeanCloud's Realtime API.
//!
//! - `domain`: pure types and rules (ids, time, signatures, message checks).
//! - `store`: persistence over SQLite or Postgres; group commit for messages.
//! - `app`: the use cases; REST and WebSocket are two doors into the same code.
//! - `http`: the REST API (`/1.2/rtm/*`), auth extractors, health.
//! - `hub`: who is online where; delivery to sessions without waiting on any.
//! - `gateway`: the WebSocket protocol of LeanCloud's SDKs.
//!
//! [`run`] serves on a listener until the shutdown token fires; tests call it on port 0.

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod http;
pub mod hub;
pub mod import;
pub mod proto;
pub mod ratelimit;
pub mod state;
pub mod store;

use crate::app::directory::AppDirectory;
use crate::config::Config;
use crate::hub::Hub;
use crate::state::AppState;
use crate::store::Store;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Credentials of an app created at start-up, for the caller to show once.
#[derive(Debug, Clone)]
pub struct CreatedApp {
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
}

/// Connects to the store, migrates, and makes sure the configured app exists. When no app
/// exists and none is configured, creates one with random credentials and returns them.
pub async fn open_store(config: &Config) -> anyhow::Result<(Store, Option<CreatedApp>)> {
    let store = Store::connect(
        &config.database_url,
        config.database_max_connections,
        config.write_batch_max,
    )
    .await?;
    store.migrate().await?;
    let created = ensure_app(&store, config).await?;
    Ok((store, created))
}

async fn ensure_app(store: &Store, config: &Config) -> anyhow::Result<Option<CreatedApp>> {
    if !config.app_id.is_empty() {
        store
            .upsert_app(&config.app_id, &config.app_key, &config.master_key)
            .await?;
        if !config.agora_customer_id.is_empty() {
            if let Some(mut app) = store.find_app(&config.app_id).await? {
                app.settings.agora_customer_id = Some(config.agora_customer_id.clone());
                app.settings.agora_customer_secret = Some(config.agora_customer_secret.clone());
                store.save_app_settings(&app.app_id, &app.settings).await?;
            }
        }
        return Ok(None);
    }
    if store.count_apps().await? > 0 {
        return Ok(None);
    }
    let app = CreatedApp {
        app_id: domain::ids::random_alphanumeric(24),
        app_key: domain::ids::random_alphanumeric(24),
        master_key: domain::ids::random_alphanumeric(24),
    };
    store
        .upsert_app(&app.app_id, &app.app_key, &app.master_key)
        .await?;
    Ok(Some(app))
}

/// Serves HTTP and WebSocket on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_clock(
        config,
        store,
        listener,
        shutdown,
        clock::ServerClock::default(),
    )
    .await
}

/// [`run`] with a clock the caller controls (tests advance it to expire quotas).
pub async fn run_with_clock(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: clock::ServerClock,
) -> anyhow::Result<()> {
    let tasks = tokio_util::task::TaskTracker::new();
    let grace_secs = config.shutdown_grace_secs;
    let revocations = app::revocation::Revocations::load(
        &store,
        domain::time::now_ms() - (config.session_token_ttl_secs as i64).saturating_mul(1000),
    )
    .await?;
    let state = AppState {
        limits: Arc::new(ratelimit::RateLimits::new(clock.clone())),
        client_quotas: Arc::new(app::quota::ClientQuotas::new(clock.clone())),
        revocations: Arc::new(revocations),
        uplink: Arc::default(),
        hooks: Arc::default(),
        acks: Arc::new(app::acks::AckWaiters::default()),
        clock,
        store: store.clone(),
        apps: Arc::new(AppDirectory::default()),
        hub: Arc::new(Hub::new()),
        config: Arc::new(config),
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
    };
    app::startup::announce(&state).await;
    app::uplink::spawn_dispatcher(state.clone());
    let router = gateway::router(state.clone(), http::router(state));
    let signal = shutdown.clone();
    // No Nagle: pushes are small frames, and Nagle plus the peer's delayed ACK would hold a
    // push for up to 40 ms behind an unacknowledged one.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { signal.cancelled().await })
    .await?;
    // axum does not wait for upgraded sockets: give them the grace period, then stop.
    tasks.close();
    let grace = std::time::Duration::from_secs(grace_secs);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            "connections still open after the shutdown grace period"
        );
    }
    store.close().await;
    Ok(())
}
