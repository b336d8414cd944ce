//! Quotas counted in Redis, so every node draws from one budget: the same GCRA the nodes
//! run in memory (burst = the rate, one cell per `period / rate`), plus the optional lock
//! that REST families take after an overflow (refuse everything for a period). Keys
//! expire on their own, and survive a node's restart.

use super::Cluster;
use std::time::Duration;

/// One atomic step. KEYS[1] = theoretical arrival time, KEYS[2] = lock. ARGV = now (ms),
/// emission interval (µs), burst, lock (ms, 0 = none). Returns {allowed, wait ms}.
const GCRA: &str = r"
local now = tonumber(ARGV[1]) * 1000
local emission = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local lock = tonumber(ARGV[4])
if lock > 0 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return {0, left} end
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + emission
if new_tat - now > burst * emission then
  if lock > 0 then
    redis.call('SET', KEYS[2], '1', 'PX', lock)
    return {0, lock}
  end
  return {0, math.ceil((new_tat - now - burst * emission) / 1000)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(burst * emission / 1000) + 1000)
return {1, 0}
";

/// What Redis decided; `None` from [`Cluster::take`] means "Redis is away: decide locally".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused { wait_ms: i64 },
}

impl Cluster {
    /// Takes one cell of quota `name` (`rate` per `period`). `lock`: after an overflow,
    /// refuse for that long. `None` when Redis cannot answer quickly.
    pub async fn take(
        &self,
        name: &str,
        rate: u32,
        period: Duration,
        lock: Option<Duration>,
        now_ms: i64,
    ) -> Option<Verdict> {
        if !self.is_up() || rate == 0 {
            return None;
        }
        let emission_us = (period.as_micros() / u128::from(rate)).max(1) as u64;
        let lock_ms = lock.map_or(0, |l| l.as_millis() as u64);
        let script = redis::Script::new(GCRA);
        let mut manager = self.manager();
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.key(&format!("q:{name}")))
            .key(self.key(&format!("q:{name}:lock")))
            .arg(now_ms)
            .arg(emission_us)
            .arg(rate)
            .arg(lock_ms);
        let call = invocation.invoke_async::<(i64, i64)>(&mut manager);
        match tokio::time::timeout(Duration::from_millis(500), call).await {
            Ok(Ok((1, _))) => Some(Verdict::Allowed),
            Ok(Ok((_, wait_ms))) => Some(Verdict::Refused { wait_ms }),
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "cluster quota: Redis failed, counting locally");
                None
            }
            Err(_) => None,
        }
    }
}
