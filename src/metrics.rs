//! Every metric the server exports, defined here and recorded through small named
//! functions (`metrics::message_accepted(origin, kind)`), so other modules record in one line.
//! Exposed in Prometheus text format at `/metrics` (see [`router`]).
//!
//! Labels are bounded: app ids (an operator creates a handful), doors, conversation kinds,
//! route templates (`/1.2/rtm/conversations/{conv_id}`, never the concrete path), status
//! codes, rate-limit families, close reasons. Never client ids or conversation ids.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder); several
//! servers in one process (the test suites) share it, so tests compare before and after.

use crate::app::send::Origin;
use crate::domain::conversation::Kind;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const CONNECTIONS: &str = "tidings_ws_connections";
pub const SESSIONS: &str = "tidings_sessions";
pub const MESSAGES_ACCEPTED: &str = "tidings_messages_accepted_total";
pub const DELIVERIES: &str = "tidings_deliveries_total";
pub const DELIVERY_LATENCY: &str = "tidings_delivery_latency_seconds";
pub const OUTBOUND_QUEUE_DEPTH: &str = "tidings_outbound_queue_depth";
pub const WS_CLOSES: &str = "tidings_ws_closes_total";
pub const COMMIT_BATCH_SIZE: &str = "tidings_commit_batch_messages";
pub const COMMIT_SECONDS: &str = "tidings_commit_seconds";
pub const DB_POOL_CONNECTIONS: &str = "tidings_db_pool_connections";
pub const DB_POOL_IDLE: &str = "tidings_db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "tidings_db_pool_max_connections";
pub const HTTP_REQUESTS: &str = "tidings_http_requests_total";
pub const HTTP_SECONDS: &str = "tidings_http_request_seconds";
pub const RATE_LIMITED: &str = "tidings_rate_limited_total";

/// Seconds: from a millisecond to ten seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Counts: group-commit batch sizes and drained queue lengths.
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process. Returns `None` when another recorder
/// was installed first (then `/metrics` answers 503 rather than lying with an empty page).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_messages".into()), SIZE_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_depth".into()), SIZE_BUCKETS)
                });
            match builder.and_then(|b| b.install_recorder()) {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps the recorder's histograms bounded until `shutdown`. The exporter holds every
/// histogram sample until an upkeep folds it into the buckets; upkeep ran only on a scrape,
/// so a server nobody scraped grew by every sample it recorded: ~400 bytes per stored
/// message, +133 % RSS in the 10,000-connection soak (docs/reliability.md).
pub async fn upkeep(shutdown: tokio_util::sync::CancellationToken) {
    let Some(handle) = install() else { return };
    let mut every = tokio::time::interval(UPKEEP_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

/// `GET /metrics` when `metrics_enabled` (the main listener).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response();
    };
    sample_pool(&state);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Pool gauges are read when scraped: they are cheap to read and change too often to push.
fn sample_pool(state: &AppState) {
    let (size, idle, max) = state.store.pool().gauges();
    gauge!(DB_POOL_CONNECTIONS).set(f64::from(size));
    gauge!(DB_POOL_IDLE).set(idle as f64);
    gauge!(DB_POOL_MAX).set(f64::from(max));
}

/// Counts an open WebSocket connection while alive (hold it for the connection's life).
#[must_use]
pub struct ConnectionGauge(());

impl ConnectionGauge {
    pub fn open() -> ConnectionGauge {
        gauge!(CONNECTIONS).increment(1.0);
        ConnectionGauge(())
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        gauge!(CONNECTIONS).decrement(1.0);
    }
}

/// A client session opened (login) in `app`.
pub fn session_opened(app: &str) {
    gauge!(SESSIONS, "app" => app.to_owned()).increment(1.0);
}

/// A client session of `app` ended.
pub fn session_closed(app: &str) {
    gauge!(SESSIONS, "app" => app.to_owned()).decrement(1.0);
}

/// A message was accepted (stored, or transient and handed to fan-out).
pub fn message_accepted(origin: &Origin, kind: Kind) {
    let door = match origin {
        Origin::Admin => "rest",
        Origin::Session { .. } => "websocket",
    };
    counter!(MESSAGES_ACCEPTED, "door" => door, "kind" => kind_label(kind)).increment(1);
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Normal => "normal",
        Kind::Temporary => "temporary",
        Kind::ChatRoom => "chatroom",
        Kind::Service => "service",
    }
}

/// A message left the hub for its recipients' queues: observes the time since it was
/// stored (`timestamp_ms`, the server's wall clock at commit).
pub fn message_fanned_out(event: &crate::hub::Event) {
    if let crate::hub::Event::Message { message, .. } = event {
        let age_ms = (crate::domain::time::now_ms() - message.timestamp).max(0);
        histogram!(DELIVERY_LATENCY, "stage" => "queued").record(age_ms as f64 / 1000.0);
    }
}

/// A connection took `items` frames off its queue to write them (deliveries), the queue's
/// depth at that moment.
pub fn outbound_drained(items: usize) {
    counter!(DELIVERIES).increment(items as u64);
    histogram!(OUTBOUND_QUEUE_DEPTH).record(items as f64);
}

/// Pushes written and flushed to a socket `since` they were taken off the queue.
pub fn outbound_written(since: Instant) {
    histogram!(DELIVERY_LATENCY, "stage" => "written").record(since.elapsed().as_secs_f64());
}

/// A WebSocket connection closed by the server with `code` (None: the client left).
pub fn connection_closed(code: Option<u16>) {
    let reason = match code {
        None => "client",
        Some(1001) => "shutdown",
        Some(1013) => "slow_client",
        Some(4107) => "read_timeout",
        Some(4108) => "login_timeout",
        Some(4109) => "frame_too_long",
        Some(_) => "session_closed",
    };
    counter!(WS_CLOSES, "reason" => reason).increment(1);
}

/// The group-commit writer committed `messages` messages in `took`.
pub fn batch_committed(messages: usize, took: Duration) {
    histogram!(COMMIT_BATCH_SIZE).record(messages as f64);
    histogram!(COMMIT_SECONDS).record(took.as_secs_f64());
}

/// A call of rate-limit `family` was refused with 429.
pub fn rate_limited(family: &'static str) {
    counter!(RATE_LIMITED, "family" => family).increment(1);
}

/// Standard methods by name; extension methods (`FOO /x`) share one label.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: HTTP requests by method, route template and status, and their duration.
/// Paths no route matched count as `unmatched`, so scanners cannot grow the label set.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    histogram!(HTTP_SECONDS, "route" => route.clone()).record(started.elapsed().as_secs_f64());
    counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}
