//! The accept loop. `axum::serve` has no header-read timeout, no request timeout and no
//! connection cap, so a client trickling headers (slowloris) or never finishing a body held
//! a connection and its task forever. This loop serves HTTP/1.1 through hyper-util with:
//!
//! - a header-read timeout, which hyper also applies while a keep-alive connection waits
//!   for its next request: it is the keep-alive idle timeout too;
//! - a request timeout around every handler (body reads included), answered with
//!   LeanCloud's error shape;
//! - a cap on open HTTP connections: at the cap the loop stops accepting and the kernel's
//!   backlog holds new connections until one closes.
//!
//! Upgraded WebSockets leave this loop's accounting once upgraded; the gateway caps them
//! separately (`gateway::admission`).

use crate::error::code;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The HTTP limits, from the `http_*` config keys.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for open HTTP connections to finish.
    pub shutdown_grace: Duration,
}

/// Wraps `router` so every request gets at most `timeout`.
pub fn with_request_timeout(router: Router, timeout: Duration) -> Router {
    router.layer(middleware::from_fn_with_state(timeout, request_deadline))
}

async fn request_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => timed_out(),
    }
}

/// 503 rather than 408: the usual cause is the server (a slow store), and clients retry
/// either way.
fn timed_out() -> Response {
    let body = serde_json::json!({
        "code": code::REQUEST_TIMEOUT,
        "error": "The request did not complete in time.",
    });
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Serves `router` on `listener` until `shutdown` fires, then lets open connections
/// finish for up to `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, usually: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // No Nagle: pushes are small frames, and Nagle plus the peer's delayed ACK would
        // hold a push for up to 40 ms behind an unacknowledged one.
        let _ = tcp.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    request
                });
        let connection = builder
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let stop = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    // Finishes the request in flight, then closes; idle ones close now.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after the shutdown grace period");
    }
}
