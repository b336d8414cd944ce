//! Timing one message's fan-out, the same way for every protocol: readers count frames and
//! find the sample marker `#S<6 digits>#` in the raw bytes (protobuf and Pusher's JSON both
//! carry the payload text verbatim), so both servers' clients cost the load tool alike.

use super::ws::Socket;
use super::{Args, Latencies};
use anyhow::{bail, Result};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

/// Per sample: deliveries seen and the first and last delivery (ns since `origin`).
pub struct Counters {
    pub origin: Instant,
    pub members: u64,
    seen: Vec<AtomicU64>,
    first_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    deliveries: AtomicU64,
    complete: Notify,
}

impl Counters {
    pub fn new(args: &Args, members: usize) -> Result<Counters> {
        let total = args.number::<usize>("samples", 200)? + args.number::<usize>("warmup", 10)?;
        Ok(Counters {
            origin: Instant::now(),
            members: members as u64,
            seen: (0..total).map(|_| AtomicU64::new(0)).collect(),
            first_ns: (0..total).map(|_| AtomicU64::new(u64::MAX)).collect(),
            last_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
            deliveries: AtomicU64::new(0),
            complete: Notify::new(),
        })
    }

    /// One frame as received, on either protocol: the marker `#S<6 digits>#` of the
    /// payload names the sample (protobuf and JSON both carry the text verbatim).
    pub fn on_frame(&self, bytes: &[u8]) {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        let Some(n) = marker(bytes).filter(|&n| n < self.seen.len()) else {
            return;
        };
        let now = self.origin.elapsed().as_nanos() as u64;
        self.first_ns[n].fetch_min(now, Ordering::Relaxed);
        self.last_ns[n].fetch_max(now, Ordering::Relaxed);
        if self.seen[n].fetch_add(1, Ordering::Relaxed) + 1 == self.members {
            self.complete.notify_one();
        }
    }
}

fn marker(bytes: &[u8]) -> Option<usize> {
    let at = bytes.windows(2).position(|w| w == b"#S")?;
    let digits = bytes.get(at + 2..at + 8)?;
    if bytes.get(at + 8) != Some(&b'#') || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + (d - b'0') as usize))
}

/// The payload of sample `n`: the marker, padded with `x` to `--payload` bytes.
fn payload(n: usize, bytes: usize) -> String {
    let mut text = format!("#S{n:06}#");
    while text.len() < bytes {
        text.push('x');
    }
    text
}

pub async fn read_frames(mut socket: Socket, counters: Arc<Counters>) {
    while let Some(Ok(frame)) = socket.next().await {
        match frame {
            Message::Binary(bytes) => counters.on_frame(&bytes),
            Message::Text(text) => counters.on_frame(text.as_bytes()),
            _ => {}
        }
    }
}

pub struct Outcome {
    pub samples: usize,
    pub first_p50: f64,
    pub last_p50: f64,
    pub last_p99: f64,
    pub last_max: f64,
    pub load_us_per_delivery: f64,
    pub server_us_per_delivery: f64,
    pub members: usize,
    pub load_before: String,
    pub load_after: String,
}

fn load_1min() -> String {
    super::load_average()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// `--warmup` untimed then `--samples` timed sends, one at a time, each waiting for its
/// last delivery; CPU of this process and of the server over the timed ones.
pub async fn measure<F, Fut>(
    args: &Args,
    counters: &Counters,
    server_pid: u32,
    mut send: F,
) -> Result<Outcome>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let samples: usize = args.number("samples", 200)?;
    let warmup: usize = args.number("warmup", 10)?;
    let bytes: usize = args.number("payload", 100)?;
    let gap = Duration::from_millis(args.number("gap-ms", 20)?);
    let mut first = Latencies::with_capacity(samples);
    let mut last = Latencies::with_capacity(samples);
    let (mut self_cpu, mut server_cpu, mut deliveries) = (0.0, 0.0, 0);
    let load_before = load_1min();
    for n in 0..warmup + samples {
        if n == warmup {
            self_cpu = super::self_cpu_seconds().unwrap_or_default();
            server_cpu = super::process_cpu_seconds(server_pid).unwrap_or_default();
            deliveries = counters.deliveries.load(Ordering::Relaxed);
        }
        let text = payload(n, bytes);
        let start_ns = counters.origin.elapsed().as_nanos() as u64;
        send(text).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while counters.seen[n].load(Ordering::Relaxed) < counters.members {
            if tokio::time::timeout_at(deadline, counters.complete.notified())
                .await
                .is_err()
            {
                bail!(
                    "sample {n}: {} of {} deliveries after 10 s",
                    counters.seen[n].load(Ordering::Relaxed),
                    counters.members
                );
            }
        }
        if n >= warmup {
            let last_ns = counters.last_ns[n].load(Ordering::Relaxed);
            let first_ns = counters.first_ns[n].load(Ordering::Relaxed);
            last.record(Duration::from_nanos(last_ns.saturating_sub(start_ns)));
            first.record(Duration::from_nanos(first_ns.saturating_sub(start_ns)));
        }
        tokio::time::sleep(gap).await;
    }
    let delivered = (counters.deliveries.load(Ordering::Relaxed) - deliveries).max(1) as f64;
    let self_cpu = super::self_cpu_seconds().unwrap_or_default() - self_cpu;
    let server_cpu = super::process_cpu_seconds(server_pid).unwrap_or_default() - server_cpu;
    Ok(Outcome {
        samples,
        first_p50: first.percentile_ms(50.0),
        last_p50: last.percentile_ms(50.0),
        last_p99: last.percentile_ms(99.0),
        last_max: last.percentile_ms(100.0),
        load_us_per_delivery: self_cpu * 1e6 / delivered,
        server_us_per_delivery: server_cpu * 1e6 / delivered,
        members: counters.members as usize,
        load_before,
        load_after: load_1min(),
    })
}
