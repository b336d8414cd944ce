//! The node's two Redis tasks: the publisher (one connection, frames pipelined in batches,
//! in queue order) and the subscriber, which also beats every second, expires silent nodes
//! and reconnects by itself after Redis comes back.

use super::{inbound, Cluster, Outgoing};
use crate::state::AppState;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const BEAT: Duration = Duration::from_secs(1);
/// The node key's TTL: a node that stopped beating is gone from `{prefix}:node:*` by then.
const NODE_KEY_TTL_SECS: u64 = 5;
const BATCH: usize = 256;
const RETRY: Duration = Duration::from_millis(500);

/// Links this node to the cluster when `redis_url` is set; does nothing otherwise.
pub fn start(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config;
    if config.redis_url.is_empty() {
        return Ok(());
    }
    let cluster = Arc::new(Cluster::new(
        &config.redis_url,
        &config.redis_prefix,
        &config.node_id,
    )?);
    tracing::info!(node = %cluster.node(), "clustered through Redis");
    state.hub.attach_cluster(Arc::clone(&cluster));
    state.limits.attach_cluster(Arc::clone(&cluster));
    state.client_quotas.attach_cluster(Arc::clone(&cluster));
    state.acks.attach_cluster(Arc::clone(&cluster));
    let hook = Arc::clone(&cluster);
    state.store.on_member_change(Box::new(move |app, conv| {
        hook.broadcast(super::wire::Body::Members {
            app: app.to_owned(),
            conv: conv.to_owned(),
        });
    }));
    if let Some(queued) = cluster.queued.lock().take() {
        tokio::spawn(publisher(cluster.manager(), queued));
    }
    tokio::spawn(subscriber(state.clone(), cluster));
    Ok(())
}

async fn publisher(
    mut manager: redis::aio::ConnectionManager,
    mut queued: mpsc::Receiver<Outgoing>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for frame in batch.drain(..) {
            pipe.publish(frame.channel, frame.payload).ignore();
        }
        if let Err(err) = pipe.query_async::<()>(&mut manager).await {
            // Lost with the connection; receivers notice presence gaps and ask for a
            // snapshot, clients resync messages from history.
            tracing::debug!(error = %err, "cluster publish failed");
        }
    }
}

async fn subscriber(state: AppState, cluster: Arc<Cluster>) {
    let mut was_lost = false;
    loop {
        if state.shutdown.is_cancelled() {
            return;
        }
        match listen(&state, &cluster, was_lost).await {
            Ok(()) => return,
            Err(err) => {
                if cluster.up.swap(false, Ordering::AcqRel) || !was_lost {
                    tracing::warn!(error = %err, "Redis lost: cross-node delivery paused");
                }
                was_lost = true;
            }
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
        cluster.replica.expire();
    }
}

/// Subscribes and serves until shutdown (`Ok`) or until Redis goes away (`Err`).
async fn listen(state: &AppState, cluster: &Cluster, was_lost: bool) -> anyhow::Result<()> {
    let mut pubsub =
        tokio::time::timeout(Duration::from_secs(2), cluster.client.get_async_pubsub())
            .await
            .map_err(|_| anyhow::anyhow!("connect timed out"))??;
    pubsub.subscribe(cluster.all_channel()).await?;
    pubsub
        .subscribe(cluster.node_channel(&cluster.node))
        .await?;
    let mut manager = cluster.manager();
    beat_key(cluster, &mut manager).await?;
    cluster.up.store(true, Ordering::Release);
    if was_lost {
        recovered(state, cluster).await;
    }
    cluster.publish_snapshot(|| state.hub.local_sessions());
    let mut stream = pubsub.on_message();
    let mut beat = tokio::time::interval(BEAT);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => {
                cluster.broadcast(super::wire::Body::Bye);
                // Give the publisher a moment to send the goodbye.
                tokio::time::sleep(Duration::from_millis(100)).await;
                cluster.up.store(false, Ordering::Release);
                return Ok(());
            }
            message = stream.next() => {
                let Some(message) = message else {
                    anyhow::bail!("subscription closed");
                };
                inbound::handle(state, cluster, message.get_payload_bytes());
            }
            _ = beat.tick() => {
                beat_key(cluster, &mut manager).await?;
                cluster.beat();
                cluster.replica.expire();
            }
        }
    }
}

/// Refreshes `{prefix}:node:{id}` (TTL a few seconds): which nodes are alive, for operators.
async fn beat_key(
    cluster: &Cluster,
    manager: &mut redis::aio::ConnectionManager,
) -> anyhow::Result<()> {
    let key = cluster.key(&format!("alive:{}", cluster.node));
    let mut command = redis::cmd("SET");
    command
        .arg(&key)
        .arg(crate::domain::time::now_ms())
        .arg("EX")
        .arg(NODE_KEY_TTL_SECS);
    let set = command.query_async::<()>(manager);
    tokio::time::timeout(Duration::from_secs(2), set)
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer"))??;
    Ok(())
}

/// Back after an outage: what travelled on the bus meanwhile is lost, so caches filled from
/// it are dropped and clients reconnect to resync from history.
async fn recovered(state: &AppState, cluster: &Cluster) {
    tracing::info!(node = %cluster.node(), "Redis is back: cross-node delivery resumed");
    state.store.forget_all_members();
    state.silences.clear();
    let since = crate::domain::time::now_ms()
        - (state.config.session_token_ttl_secs as i64).saturating_mul(1000);
    if let Err(err) = state.revocations.reload(&state.store, since).await {
        tracing::warn!(error = %err, "revocations not reloaded");
    }
    let asked = state.hub.ask_all_to_reconnect();
    if asked > 0 {
        tracing::info!(connections = asked, "asked clients to reconnect and resync");
    }
}
