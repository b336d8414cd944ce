//! The queue worker: one task per process claims due rows in batches (with a lease, so a
//! crashed process's rows come back), runs each under the app's concurrency cap, and
//! settles it before it could be claimed again: delete on success (or give-up), write the
//! devices left and a later due time on a retryable failure. At shutdown it stops claiming
//! and frees rows still waiting for a permit.

use super::metrics::Count;
use super::{apns, fcm, webhook, Job, Outcome, Provider, PushService};
use crate::state::AppState;
use crate::store::push::PushJobRow;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Rows claimed per round.
const BATCH: i64 = 64;
/// Rows held by this process at once.
const IN_FLIGHT: usize = 256;
/// A claim expires after this long (a process that died holding rows gives them back).
const LEASE_MS: i64 = 120_000;
/// With nothing queued, look again this often (other processes enqueue too).
const POLL: Duration = Duration::from_millis(500);

pub fn spawn(state: AppState) {
    let tasks = state.tasks.clone();
    tasks.spawn(run(state));
}

async fn run(state: AppState) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        if state.shutdown.is_cancelled() {
            break;
        }
        let free = in_flight.available_permits().min(BATCH as usize) as i64;
        let mut claimed = 0;
        if free > 0 {
            let now = crate::domain::time::now_ms();
            match state.store.claim_push_jobs(now, now + LEASE_MS, free).await {
                Ok(rows) => {
                    claimed = rows.len() as i64;
                    for row in rows {
                        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
                            break;
                        };
                        let state = state.clone();
                        state.tasks.clone().spawn(async move {
                            settle(&state, row).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming push jobs failed"),
            }
        }
        if claimed == BATCH {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = state.push.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Runs one row under its app's cap; at shutdown a row still waiting is released.
async fn settle(state: &AppState, row: PushJobRow) {
    let permits = state.push.app_permits(&row.app_id);
    let permit = tokio::select! {
        permit = permits.acquire_owned() => permit,
        _ = state.shutdown.cancelled() => {
            if let Err(e) = state.store.release_push_jobs(std::slice::from_ref(&row.id)).await {
                tracing::warn!(error = %e, "releasing a push job at shutdown failed");
            }
            return;
        }
    };
    let Ok(_permit) = permit else { return };
    if let Err(e) = deliver(state, &row).await {
        tracing::warn!(job = %row.id, error = %e, "push job not settled; retried after its lease");
    }
}

async fn deliver(state: &AppState, row: &PushJobRow) -> crate::error::Result<()> {
    let service: &PushService = &state.push;
    let label = Provider::parse(&row.provider).map_or("unknown", Provider::name);
    let Ok(mut job) = serde_json::from_str::<Job>(&row.job) else {
        tracing::warn!(job = %row.id, "unreadable push job dropped");
        service.counters.add(label, Count::Failed, 1);
        return state.store.delete_push_job(&row.id).await;
    };
    let app = state.apps.get(&state.store, &row.app_id).await?;
    let provider = app.as_ref().and_then(|a| a.settings.push.provider());
    let (Some(app), Some(provider)) = (app, provider) else {
        // The app is gone or stopped pushing: nothing to deliver through.
        service
            .counters
            .add(label, Count::Dropped, job.devices.len() as u64);
        return state.store.delete_push_job(&row.id).await;
    };
    let label = provider.name();
    let outcomes = match provider {
        Provider::Webhook => webhook::send(service, &app, &job).await,
        Provider::Apns | Provider::Fcm => {
            let mut outcomes = Vec::with_capacity(job.devices.len());
            for devices in job.devices.chunks(super::CALLS_PER_JOB) {
                let calls = devices.iter().map(|device| async {
                    match provider {
                        Provider::Apns => apns::send(service, &app, &job, device).await,
                        _ => fcm::send(service, &app, &job, device).await,
                    }
                });
                outcomes.extend(join_all(calls).await);
            }
            outcomes
        }
    };
    let mut left = Vec::new();
    let mut last_reason = String::new();
    for (device, outcome) in job.devices.iter().zip(outcomes) {
        match outcome {
            Outcome::Sent => service.counters.add(label, Count::Sent, 1),
            Outcome::Unregistered => {
                service.counters.add(label, Count::Dropped, 1);
                state
                    .store
                    .delete_push_token(&row.app_id, &device.token)
                    .await?;
            }
            Outcome::Retry(reason) => {
                last_reason = reason;
                left.push(device.clone());
            }
            Outcome::Failed(reason) => {
                service.counters.add(label, Count::Failed, 1);
                tracing::warn!(app = %row.app_id, provider = label, %reason, "push failed");
            }
            // Never a device's outcome (and never logged: it is a credential).
            Outcome::Token(_) => service.counters.add(label, Count::Failed, 1),
        }
    }
    if left.is_empty() {
        return state.store.delete_push_job(&row.id).await;
    }
    let attempts = row.attempts + 1;
    if attempts >= service.max_attempts {
        service
            .counters
            .add(label, Count::Failed, left.len() as u64);
        tracing::warn!(app = %row.app_id, provider = label, reason = %last_reason, attempts, "push given up");
        return state.store.delete_push_job(&row.id).await;
    }
    tracing::info!(app = %row.app_id, provider = label, reason = %last_reason, attempts, "push retried later");
    job.devices = left;
    let text = serde_json::to_string(&job).unwrap_or_default();
    let due = crate::domain::time::now_ms() + service.backoff_ms(row.attempts);
    state
        .store
        .retry_push_job(&row.id, &text, attempts, due)
        .await
}
