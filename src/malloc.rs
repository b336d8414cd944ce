//! glibc's allocator, tuned from inside the binary so that it behaves the same however the
//! server is started (the Docker image, a systemd unit, `cargo run`, a benchmark).
//!
//! Why: idle connections are the common case, and what glibc keeps is most of the gap
//! between the live heap and RSS (docs/benchmarks.md, "Idle memory per connection"). By
//! default glibc opens up to eight arenas per core, one per thread that allocates under
//! contention, and each keeps its own free memory; and it returns freed memory in the middle
//! of a heap (the logins' transient buffers, a burst's frames) only when asked.
//!
//! On other targets (musl, macOS) both functions do nothing.
//!
//! The crate's only `unsafe`: two foreign calls with no pointers and no preconditions.
#![allow(unsafe_code)]

use std::time::Duration;

/// How often freed heap pages are handed back to the kernel.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// Caps glibc's arenas at `arenas` (the runtime's worker threads serve allocations; more
/// arenas only keep more free memory). Call before the runtime starts any thread. An
/// operator's `MALLOC_ARENA_MAX` wins.
pub fn limit_arenas(arenas: usize) {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let arenas = i32::try_from(arenas.max(1)).unwrap_or(i32::MAX);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a tunable; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = arenas;
}

/// Returns free pages of every arena to the kernel (`malloc_trim(0)`); a no-op when there
/// are none. Takes each arena's lock for the walk of its free lists: 17 µs on an empty
/// server, 0.4-1.4 ms with 10,000 connections, up to 5 ms during a login or fan-out burst
/// (`ws_load`; logged at `RUST_LOG=tidings::malloc=debug`).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` has no preconditions; glibc locks each arena while it walks it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims every [`TRIM_INTERVAL`] until `shutdown`, on a blocking thread: the walk holds one
/// arena's lock at a time, and a worker thread should not wait for it.
pub async fn trim_periodically(shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(TRIM_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {
                let trimmed = tokio::task::spawn_blocking(|| {
                    let started = std::time::Instant::now();
                    trim();
                    started.elapsed()
                });
                if let Ok(took) = trimmed.await {
                    tracing::debug!(micros = took.as_micros() as u64, "malloc_trim");
                }
            }
        }
    }
}
