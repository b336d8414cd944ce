//! The HTTP client of the source (LeanCloud's REST API, or anything speaking it): master-key
//! headers, a request-rate limit, and retries with exponential backoff and jitter on 429, 5xx
//! and network errors, honouring `Retry-After`. It gives up after a bounded number of
//! attempts; everything written so far stays, so a re-run resumes.

use anyhow::{anyhow, bail, Context};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use serde_json::Value;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Backoff: 500 ms doubling up to 30 s, times a random factor in [0.5, 1.5).
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the source is and how hard to use it.
#[derive(Clone)]
pub struct SourceConfig {
    /// `https://<api host>` (a bare host gets `https://`).
    pub server: String,
    pub app_id: String,
    pub master_key: String,
    /// Requests per second; 0 = no limit.
    pub rate: u32,
    /// Attempts per request before giving up (at least 1).
    pub max_attempts: u32,
}

/// A request the source refused for good (4xx other than 429): the status and its body.
#[derive(Debug, Clone)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

pub struct Source {
    http: reqwest::Client,
    base: String,
    config: SourceConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    cancel: CancellationToken,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Source {
    pub fn new(config: SourceConfig, cancel: CancellationToken) -> anyhow::Result<Source> {
        let server = config.server.trim().trim_end_matches('/');
        anyhow::ensure!(
            !server.is_empty(),
            "--server is required (the source's API host, e.g. https://abc.api.lncldglobal.com)"
        );
        let base = if server.starts_with("http://") || server.starts_with("https://") {
            server.to_owned()
        } else {
            format!("https://{server}")
        };
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("tidings-import/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let limiter =
            NonZeroU32::new(config.rate).map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        Ok(Source {
            http,
            base,
            config,
            limiter,
            cancel,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Retries so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// GETs `path` (e.g. `/1.2/rtm/all-conversations`) with `query`: the JSON body, or
    /// `Err(Refused)` inside `Ok` when the source answered a final 4xx.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Result<Value, Refused>> {
        let url = format!("{}{}", self.base, path);
        let attempts = self.config.max_attempts.max(1);
        let mut last_problem = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(limiter) = &self.limiter {
                tokio::select! {
                    _ = limiter.until_ready() => {}
                    _ = self.cancel.cancelled() => bail!(Cancelled),
                }
            }
            if self.cancel.is_cancelled() {
                bail!(Cancelled);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .http
                .get(&url)
                .query(query)
                .header("X-LC-Id", &self.config.app_id)
                .header("X-LC-Key", format!("{},master", self.config.master_key))
                .header("Accept", "application/json")
                .send()
                .await;
            let wait = match sent {
                Err(err) => {
                    last_problem = format!("network error: {err}");
                    backoff(attempt)
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    if status.is_success() {
                        let text = response.text().await;
                        match text.map(|t| serde_json::from_str::<Value>(&t).map_err(|e| (e, t))) {
                            Ok(Ok(value)) => return Ok(Ok(value)),
                            Ok(Err((err, text))) => bail!(
                                "{url} answered {status} with a body that is not JSON ({err}): {}",
                                excerpt(&text)
                            ),
                            Err(err) => {
                                last_problem = format!("reading the body failed: {err}");
                                backoff(attempt)
                            }
                        }
                    } else if status.as_u16() == 429 || status.is_server_error() {
                        let body = response.text().await.unwrap_or_default();
                        last_problem = format!("{status}: {}", excerpt(&body));
                        retry_after.unwrap_or_else(|| backoff(attempt))
                    } else {
                        let body = response.text().await.unwrap_or_default();
                        return Ok(Err(Refused {
                            status: status.as_u16(),
                            body,
                        }));
                    }
                }
            };
            if attempt + 1 < attempts {
                tracing::warn!(url = %url, attempt = attempt + 1, wait_ms = wait.as_millis() as u64, problem = %last_problem, "source request failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.cancel.cancelled() => bail!(Cancelled),
                }
            }
        }
        Err(anyhow!(
            "giving up on GET {url} after {attempts} attempts (last: {last_problem}); everything imported so far is kept: run the same command again to resume"
        ))
    }

    /// Like [`Source::get`], but a refusal is an error naming the request.
    pub async fn get_ok(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        match self.get(path, query).await? {
            Ok(value) => Ok(value),
            Err(refused) => Err(refusal(path, &refused)),
        }
    }
}

/// The run was cancelled (interrupted or stopped at its message budget).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("import cancelled")]
pub struct Cancelled;

/// An error for a final refusal, with advice for the common ones.
pub fn refusal(path: &str, refused: &Refused) -> anyhow::Error {
    let advice = match refused.status {
        401 | 403 => " (check --app-id and --master-key)",
        _ => "",
    };
    anyhow!(
        "GET {path} was refused with {}{advice}: {}",
        refused.status,
        excerpt(&refused.body)
    )
}

fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_MAX);
    exp.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and falls back to backoff).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(300)))
}

fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Keys stay out of logs.
impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("server", &self.server)
            .field("app_id", &self.app_id)
            .field("rate", &self.rate)
            .field("max_attempts", &self.max_attempts)
            .field("master_key", &crate::domain::app::REDACTED)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) < Duration::from_millis(750));
        assert!(backoff(3) >= Duration::from_secs(2));
        assert!(backoff(30) <= BACKOFF_MAX.mul_f64(1.5));
    }
}
