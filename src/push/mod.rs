//! Offline push delivery (`docs/push.md`): a persistent queue (`push_jobs`) worked by one
//! task per process ([`worker`]), through the app's provider: APNs ([`apns`]), FCM HTTP v1
//! ([`fcm`]) or the app's own webhook ([`webhook`]). What is pushed and to whom is decided
//! by `app::push`; this module only delivers, retries with backoff and counts.

pub mod apns;
pub mod device;
pub mod fcm;
pub mod metrics;
pub mod payload;
pub mod settings;
pub mod webhook;
pub mod worker;

use crate::config::Config;
use crate::error::Result;
use crate::store::push::Device;
use crate::store::Store;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

pub use settings::Provider;

/// Devices per queue row (a broadcast to many devices becomes several rows).
pub const DEVICES_PER_JOB: usize = 500;
/// Provider calls (APNs, FCM) made at once for one job.
const CALLS_PER_JOB: usize = 16;
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// One queue row: a payload and the devices it still has to reach.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub conv: String,
    pub msg: String,
    pub from: String,
    pub timestamp: i64,
    /// `message` (offline members), `subscribers` (E35) or `broadcast` (E49).
    pub kind: String,
    pub payload: Value,
    pub devices: Vec<Device>,
}

/// What a provider said about one device.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent,
    /// The token is gone: the registration is dropped.
    Unregistered,
    /// Try again later (provider down, throttled, unreachable).
    Retry(String),
    /// Will not work (bad credentials, refused payload): given up.
    Failed(String),
    /// An access token (FCM's OAuth step, internal).
    Token(String),
}

/// The delivery side of push, shared by the worker and the use cases.
pub struct PushService {
    /// HTTP/2 (prior knowledge: APNs speaks nothing else) for APNs and FCM.
    h2: reqwest::Client,
    /// Webhooks: whatever the app's server speaks.
    http: reqwest::Client,
    apns_tokens: Mutex<HashMap<String, apns::CachedJwt>>,
    fcm_tokens: Mutex<HashMap<String, fcm::CachedAccess>>,
    fcm_fetch: tokio::sync::Mutex<()>,
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Wakes the worker when a job is queued (else it polls).
    wake: Notify,
    pub counters: metrics::Counters,
    per_app: usize,
    retry_base_ms: u64,
    max_attempts: i64,
}

impl PushService {
    pub fn new(config: &Config) -> PushService {
        let h2 = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .unwrap_or_default();
        PushService {
            h2,
            http: reqwest::Client::new(),
            apns_tokens: Mutex::default(),
            fcm_tokens: Mutex::default(),
            fcm_fetch: tokio::sync::Mutex::default(),
            permits: Mutex::default(),
            wake: Notify::new(),
            counters: metrics::Counters::default(),
            per_app: config.push_concurrency_per_app.max(1),
            retry_base_ms: config.push_retry_base_ms.max(1),
            max_attempts: i64::from(config.push_max_attempts.max(1)),
        }
    }

    /// Jobs of one app in flight at once.
    fn app_permits(&self, app: &str) -> Arc<Semaphore> {
        let mut map = self.permits.lock();
        Arc::clone(
            map.entry(app.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_app))),
        )
    }

    /// How long to wait before attempt `attempts + 1` (doubling, at most ten minutes).
    fn backoff_ms(&self, attempts: i64) -> i64 {
        let doubled = self
            .retry_base_ms
            .saturating_mul(1 << attempts.clamp(0, 20));
        doubled.min(600_000) as i64
    }

    /// Queues `job` (split into rows of [`DEVICES_PER_JOB`] devices) and wakes the worker.
    pub async fn enqueue(
        &self,
        store: &Store,
        app: &str,
        provider: Provider,
        job: Job,
    ) -> Result<()> {
        let now = crate::domain::time::now_ms();
        for devices in job.devices.chunks(DEVICES_PER_JOB) {
            let row = Job {
                devices: devices.to_vec(),
                ..job.clone()
            };
            let text = serde_json::to_string(&row).unwrap_or_default();
            let id = crate::domain::ids::random_alphanumeric(24);
            store
                .enqueue_push_job(&id, app, provider.name(), &text, now)
                .await?;
        }
        self.wake.notify_one();
        Ok(())
    }
}
