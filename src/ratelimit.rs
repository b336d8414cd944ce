//! Per-app quotas for the message REST APIs, in LeanCloud's three families (plus Agora's
//! per-second limit). Over a per-minute quota, every call of the family is refused with 429
//! for the next 60 seconds from the first refusal; over a daily total, until the UTC day ends.
//! The per-minute part is governor's GCRA; daily totals are counted in the store so a
//! restart does not reset them. One app's burst never touches another app's quota.
//! Clustered, the per-period part is counted in Redis (`cluster::quota`), so the nodes share
//! one budget and it survives restarts too; while Redis is away each node counts alone.

use crate::clock::ServerClock;
use crate::domain::app::App;
use crate::domain::time::utc_day;
use crate::error::{Error, Result};
use crate::store::Store;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Send, edit and recall in conversations, chat rooms and per-user service messages.
    Messages,
    /// Service-conversation broadcasts to all subscribers (E35) and their edits.
    Subscription,
    /// Global broadcasts (E49) and their edits.
    Broadcast,
    /// Agora peer and channel messages (per second).
    Agora,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Messages => "messages",
            Family::Subscription => "subscription",
            Family::Broadcast => "broadcast",
            Family::Agora => "agora",
        }
    }

    /// (calls per period, period, daily total) from the app's settings.
    fn quota(self, app: &App) -> (u32, Duration, Option<u32>) {
        let s = &app.settings;
        match self {
            Family::Messages => (s.message_rate_per_minute, MINUTE, None),
            Family::Subscription => (
                s.subscription_rate_per_minute,
                MINUTE,
                Some(s.subscription_rate_per_day),
            ),
            Family::Broadcast => (
                s.broadcast_rate_per_minute,
                MINUTE,
                Some(s.broadcast_rate_per_day),
            ),
            Family::Agora => (s.agora_rate_per_second, Duration::from_secs(1), None),
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

type Limiter = RateLimiter<NotKeyed, InMemoryState, ServerClock, NoOpMiddleware<Duration>>;

struct Bucket {
    per_period: u32,
    limiter: Limiter,
    /// Refusing everything until this clock reading (ms), after a per-period overflow.
    locked_until_ms: i64,
}

pub struct RateLimits {
    clock: ServerClock,
    buckets: Mutex<HashMap<(String, Family), Bucket>>,
    /// Clustered: the per-period part is counted in Redis (in memory while Redis is away).
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
}

impl RateLimits {
    pub fn new(clock: ServerClock) -> RateLimits {
        RateLimits {
            clock,
            buckets: Mutex::new(HashMap::new()),
            cluster: std::sync::OnceLock::new(),
        }
    }

    pub fn attach_cluster(&self, cluster: Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The per-period check in Redis, shared by every node; `None`: decide locally.
    async fn check_cluster(
        &self,
        app: &App,
        family: Family,
        per_period: u32,
        period: Duration,
        now: i64,
    ) -> Option<Result<()>> {
        let cluster = self.cluster.get()?;
        let name = format!("rest:{}:{}", app.app_id, family.name());
        let verdict = cluster
            .take(&name, per_period.max(1), period, Some(period), now)
            .await?;
        Some(match verdict {
            crate::cluster::quota::Verdict::Allowed => Ok(()),
            crate::cluster::quota::Verdict::Refused { wait_ms } => {
                crate::metrics::rate_limited(family.name());
                Err(too_many(wait_ms))
            }
        })
    }

    /// Counts one call of `family` for `app`, or refuses it with 429 and `Retry-After`.
    pub async fn check(&self, store: &Store, app: &App, family: Family) -> Result<()> {
        let now = self.clock.now_ms();
        let (per_period, period, daily) = family.quota(app);
        if let Some(daily) = daily {
            let used = store
                .rate_count(&app.app_id, family.name(), utc_day(now))
                .await?;
            if used >= i64::from(daily) {
                let end_of_day = (utc_day(now) + 1) * 86_400_000;
                crate::metrics::rate_limited(family.name());
                return Err(too_many(end_of_day - now));
            }
        }
        match self
            .check_cluster(app, family, per_period, period, now)
            .await
        {
            Some(verdict) => verdict?,
            None => self.check_period(app, family, per_period, period, now)?,
        }
        if daily.is_some() {
            store
                .rate_increment(&app.app_id, family.name(), utc_day(now))
                .await?;
        }
        Ok(())
    }

    fn check_period(
        &self,
        app: &App,
        family: Family,
        per_period: u32,
        period: Duration,
        now: i64,
    ) -> Result<()> {
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| Error::internal("rate limit lock poisoned"))?;
        let key = (app.app_id.clone(), family);
        let rebuild = buckets.get(&key).is_none_or(|b| b.per_period != per_period);
        if rebuild {
            let burst = NonZeroU32::new(per_period.max(1)).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::with_period(period / burst.get())
                .unwrap_or_else(|| Quota::per_second(burst))
                .allow_burst(burst);
            let limiter = RateLimiter::direct_with_clock(quota, self.clock.clone());
            buckets.insert(
                key.clone(),
                Bucket {
                    per_period,
                    limiter,
                    locked_until_ms: 0,
                },
            );
        }
        let Some(bucket) = buckets.get_mut(&key) else {
            return Err(Error::internal("rate bucket missing"));
        };
        if now < bucket.locked_until_ms {
            crate::metrics::rate_limited(family.name());
            return Err(too_many(bucket.locked_until_ms - now));
        }
        if bucket.limiter.check().is_err() {
            // LeanCloud: "rejected for one minute after the quota is exceeded" (per second
            // for Agora's limit).
            bucket.locked_until_ms = now + period.as_millis() as i64;
            crate::metrics::rate_limited(family.name());
            return Err(too_many(period.as_millis() as i64));
        }
        Ok(())
    }
}

fn too_many(wait_ms: i64) -> Error {
    Error::TooManyRequests {
        retry_after_secs: (wait_ms.max(0) as u64).div_ceil(1000),
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new(ServerClock::default())
    }
}

/// Shared handle.
pub type SharedRateLimits = Arc<RateLimits>;
