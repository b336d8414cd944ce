//! Clients seen by the admin: unread counts (E42), stats (E47) and readiness of the store.

use crate::domain::time;
use crate::error::Result;
use crate::state::AppState;

/// The sum over the client's conversations of `last_seq - read_seq` (or one conversation).
pub async fn unread_count(
    state: &AppState,
    app: &str,
    client: &str,
    conv: Option<&str>,
) -> Result<i64> {
    state.store.unread_count(app, client, conv).await
}

/// (clients online now, distinct clients that logged in today, UTC).
pub async fn stats(state: &AppState, app: &str) -> Result<(usize, i64)> {
    let today = state
        .store
        .login_count(app, time::utc_day(time::now_ms()))
        .await?;
    Ok((state.hub.online_count(app), today))
}

/// For `/readyz`: can the database and the message writer take writes? 503 when not.
/// Clustered and cut off from Redis: `"degraded"` (still 200, docs/cluster.md: the node
/// serves its own clients, and every node loses the same Redis at once, so a balancer
/// pulling them all would turn a partial outage into a full one).
pub async fn ready(state: &AppState) -> Result<&'static str> {
    if let Err(err) = state.store.ping().await {
        tracing::warn!(error = %err, "not ready");
        return Err(crate::error::Error::unavailable(
            crate::error::code::SERVER_TIMEOUT,
            "Not ready: the database cannot take writes.",
        ));
    }
    match state.hub.cluster() {
        Some(cluster) if !cluster.is_up() => Ok("degraded"),
        _ => Ok("ready"),
    }
}
