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

pub mod admin;
pub mod app;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod files;
pub mod gateway;
pub mod http;
pub mod hub;
pub mod import;
pub mod malloc;
pub mod metrics;
pub mod openapi;
pub mod proto;
pub mod push;
pub mod ratelimit;
pub mod serving;
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
#[derive(Clone)]
pub struct CreatedApp {
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
}

impl std::fmt::Debug for CreatedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApp")
            .field("app_id", &self.app_id)
            .field("app_key", &domain::app::REDACTED)
            .field("master_key", &domain::app::REDACTED)
            .finish()
    }
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
        // Other running nodes hold the app cached: the keys or settings just saved reach
        // them now instead of within the directory's TTL.
        let told =
            cluster::announce_app_change(&config.redis_url, &config.redis_prefix, &config.app_id);
        if let Err(err) = told.await {
            tracing::warn!(error = %err, "running nodes not told of the app's keys; they see them within seconds");
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
    metrics::install();
    tasks.spawn(metrics::upkeep(shutdown.clone()));
    tasks.spawn(malloc::trim_periodically(shutdown.clone()));
    let grace_secs = config.shutdown_grace_secs;
    let revocations = app::revocation::Revocations::load(
        &store,
        domain::time::now_ms() - (config.session_token_ttl_secs as i64).saturating_mul(1000),
    )
    .await?;
    let limits = serving::HttpLimits {
        header_read_timeout: std::time::Duration::from_secs(config.http_header_read_timeout_secs),
        request_timeout: std::time::Duration::from_secs(config.http_request_timeout_secs),
        max_connections: config.http_max_connections,
        shutdown_grace: std::time::Duration::from_secs(grace_secs),
    };
    let files = files::FileStorage::open(
        &config.files_url,
        &files::storage::default_dir(&config.database_url),
    )?;
    let state = AppState {
        files,
        limits: Arc::new(ratelimit::RateLimits::new(clock.clone())),
        client_quotas: Arc::new(app::quota::ClientQuotas::new(clock.clone())),
        revocations: Arc::new(revocations),
        silences: Arc::default(),
        uplink: Arc::default(),
        hooks: Arc::default(),
        push: Arc::new(push::PushService::new(&config)),
        acks: Arc::new(app::acks::AckWaiters::default()),
        clock,
        store: store.clone(),
        apps: Arc::new(AppDirectory::default()),
        connections: Arc::new(gateway::admission::Admission::new(
            config.ws_max_connections,
            config.ws_max_connections_per_ip,
        )),
        background: app::background::Background::start(store.clone(), shutdown.clone(), &tasks),
        hub: Arc::new(Hub::new()),
        config: Arc::new(config),
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
    };
    cluster::start(&state)?;
    app::startup::announce(&state).await;
    app::uplink::spawn_dispatcher(state.clone());
    app::notifications::spawn_pruner(state.clone());
    push::worker::spawn(state.clone());
    let mut ops = admin::router(state.clone()).merge(openapi::router());
    if state.config.metrics_enabled {
        ops = ops.merge(metrics::router(state.clone()));
    }
    let router = gateway::router(state.clone(), http::router(state).merge(ops));
    let router = serving::with_request_timeout(router, limits.request_timeout);
    serving::serve(listener, router, limits, shutdown).await;
    // Upgraded sockets are not HTTP connections: give them the grace period, then stop.
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
