//! WebSocket quotas, per app (settings with defaults in `domain::app`): messages per client
//! per second, conversations created per client per minute, and commands per connection
//! per second. GCRA limiters from governor; a refused action changes nothing. Clustered,
//! the per-client message quota is counted in Redis (one budget across nodes); the
//! per-connection command quota stays local (a connection lives on one node).

use crate::clock::ServerClock;
use crate::domain::app::App;
use crate::error::{code, Error, Result};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, ServerClock, NoOpMiddleware<Duration>>;
type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, ServerClock, NoOpMiddleware<Duration>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Messages,
    Conversations,
}

/// The limiter of one app and quota kind, with the rate it was built for.
type Limiters = HashMap<(String, Kind), (u32, Arc<KeyedLimiter>)>;

/// Per-client quotas of every app.
pub struct ClientQuotas {
    clock: ServerClock,
    limiters: Mutex<Limiters>,
    /// Clustered: counted in Redis, so a client's sessions on several nodes share a quota.
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
}

impl ClientQuotas {
    pub fn new(clock: ServerClock) -> ClientQuotas {
        ClientQuotas {
            clock,
            limiters: Mutex::new(HashMap::new()),
            cluster: std::sync::OnceLock::new(),
        }
    }

    pub fn attach_cluster(&self, cluster: Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// One WebSocket send by `client`; `4116` over `client_message_rate_per_second`.
    pub async fn message(&self, app: &App, client: &str) -> Result<()> {
        let rate = app.settings.client_message_rate_per_second;
        let period = Duration::from_secs(1);
        let allowed = match self
            .allowed_in_cluster(app, "m", rate, period, client)
            .await
        {
            Some(allowed) => allowed,
            None => self.allowed(app, Kind::Messages, rate, period, client),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::forbidden(
                code::MESSAGE_SENT_QUOTA_EXCEEDED,
                "Messages are sent too fast; slow down.",
            ))
        }
    }

    /// One conversation created by `client`; `4318` over `client_conversations_per_minute`.
    pub fn conversation(&self, app: &App, client: &str) -> Result<()> {
        let rate = app.settings.client_conversations_per_minute;
        if self.allowed(
            app,
            Kind::Conversations,
            rate,
            Duration::from_secs(60),
            client,
        ) {
            Ok(())
        } else {
            Err(Error::forbidden(
                code::CONVERSATION_API_QUOTA_EXCEEDED,
                "Too many conversations created; try again later.",
            ))
        }
    }

    /// The quota in Redis; `None` when not clustered or Redis is away (count here).
    async fn allowed_in_cluster(
        &self,
        app: &App,
        kind: &str,
        rate: u32,
        period: Duration,
        client: &str,
    ) -> Option<bool> {
        let cluster = self.cluster.get()?;
        if rate == 0 {
            return Some(true);
        }
        let name = format!("ws:{}:{kind}:{client}", app.app_id);
        let verdict = cluster
            .take(&name, rate, period, None, self.clock.now_ms())
            .await?;
        Some(verdict == crate::cluster::quota::Verdict::Allowed)
    }

    fn allowed(&self, app: &App, kind: Kind, rate: u32, period: Duration, client: &str) -> bool {
        let Some(rate) = NonZeroU32::new(rate) else {
            return true;
        };
        let limiter = {
            let mut limiters = self.limiters.lock();
            let entry = limiters
                .entry((app.app_id.clone(), kind))
                .or_insert_with(|| (0, Arc::new(keyed(rate, period, &self.clock))));
            if entry.0 != rate.get() {
                *entry = (rate.get(), Arc::new(keyed(rate, period, &self.clock)));
            }
            Arc::clone(&entry.1)
        };
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&client.to_owned()).is_ok()
    }
}

fn quota(rate: NonZeroU32, period: Duration) -> Quota {
    let per_cell = period / rate.get();
    Quota::with_period(per_cell.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(rate))
        .allow_burst(rate)
}

fn keyed(rate: NonZeroU32, period: Duration, clock: &ServerClock) -> KeyedLimiter {
    RateLimiter::dashmap_with_clock(quota(rate, period), clock.clone())
}

/// What the connection should do with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandVerdict {
    Run,
    /// Over the rate: answer with an error, do nothing.
    Refuse,
    /// Refused for a whole second's worth of commands in a row: close the connection.
    Close,
}

/// Commands per connection per second (`connection_command_rate_per_second`).
pub struct ConnectionQuota {
    limiter: Option<(u32, DirectLimiter)>,
    refused_in_a_row: u32,
}

impl ConnectionQuota {
    pub fn new() -> ConnectionQuota {
        ConnectionQuota {
            limiter: None,
            refused_in_a_row: 0,
        }
    }

    /// `app` is the connection's app once a session is open (before that, the default).
    pub fn command(&mut self, app: Option<&App>, clock: &ServerClock) -> CommandVerdict {
        let rate = app.map_or(
            crate::domain::app::AppSettings::default().connection_command_rate_per_second,
            |a| a.settings.connection_command_rate_per_second,
        );
        let Some(rate) = NonZeroU32::new(rate) else {
            return CommandVerdict::Run;
        };
        if self.limiter.as_ref().map(|(r, _)| *r) != Some(rate.get()) {
            self.limiter = Some((
                rate.get(),
                RateLimiter::direct_with_clock(quota(rate, Duration::from_secs(1)), clock.clone()),
            ));
        }
        let allowed = self
            .limiter
            .as_ref()
            .is_none_or(|(_, limiter)| limiter.check().is_ok());
        if allowed {
            self.refused_in_a_row = 0;
            return CommandVerdict::Run;
        }
        self.refused_in_a_row += 1;
        if self.refused_in_a_row >= rate.get() {
            CommandVerdict::Close
        } else {
            CommandVerdict::Refuse
        }
    }
}

impl Default for ConnectionQuota {
    fn default() -> Self {
        ConnectionQuota::new()
    }
}

/// The REST rate-limit families (`ratelimit.rs`): 429 over the app's quota of `family`.
pub async fn rest(
    state: &crate::state::AppState,
    app: &App,
    family: crate::ratelimit::Family,
) -> Result<()> {
    state.limits.check(&state.store, app, family).await
}
