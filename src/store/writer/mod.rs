//! Group commit: a writer task (one on SQLite, a few on Postgres, each owning a share of the
//! conversations) drains a queue of pending sends and writes each batch in one transaction
//! (one fsync), then answers every sender in it. Alone, a send is written at once; under
//! load the batch grows by itself. The loop and its fault handling are in `supervise.rs`.
//!
//! Bounded under faults: a message the database refuses fails alone (its batch is written
//! again one message at a time); each batch runs as a task of its own, so a panic fails that
//! batch and the writer goes on; a send not stored within the write timeout is answered with
//! an error (and skipped if it has not been started); `ready` asks the writer itself whether
//! it can take a write. The batch itself is in `store/batch/`.

mod connection;
mod supervise;

use super::delivery::Tracker;
use super::Dialect;
use crate::domain::message::{Content, Message};
use crate::error::{code, Error, Result};
pub(crate) use connection::WriterTarget;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use supervise::supervise;
use tokio::sync::{mpsc, oneshot};

/// How long a send waits to be stored before it is answered with an error.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the writer (at most; less if the write timeout is shorter).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A message with this text makes its batch panic (tests of the supervision).
#[cfg(test)]
pub(super) const PANIC_FOR_TESTS: &str = "tidings-writer-test-panic";

/// A message to persist. `now` is the server time at receipt; the stored timestamp may be
/// later if the conversation's previous message is.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub app_id: String,
    pub conv_id: String,
    pub msg_id: String,
    pub content: Content,
    /// The sender's own id for this message: a resend with the same key returns the first copy.
    pub dedup_key: Option<String>,
    pub now: i64,
}

/// The stored message, and whether it was already stored by an earlier send (a resend).
#[derive(Debug, Clone)]
pub struct Written {
    pub message: Message,
    pub duplicate: bool,
}

// Probes are rare; boxing the write would cost an allocation per send.
#[allow(clippy::large_enum_variant)]
enum Job {
    Write(NewMessage, oneshot::Sender<Result<Written>>),
    /// Can the writer take a write now? (`/readyz`)
    Probe(oneshot::Sender<bool>),
}

#[derive(Clone)]
pub struct MessageWriter {
    /// One queue per writer connection; a conversation always goes to the same one.
    shards: Arc<[mpsc::Sender<Job>]>,
    shard_of: std::hash::RandomState,
    timeout_ms: Arc<AtomicU64>,
}

impl MessageWriter {
    /// Starts `connections` writers (each with its own connection to `target`) on a thread of
    /// their own with a single-threaded runtime. As tasks of the server's runtime, each await
    /// of a batch (begin, sequences, insert, commit) waited to be polled again behind the
    /// HTTP tasks: with 64 concurrent REST senders the steps took about a millisecond each on
    /// Postgres, and 0.1-0.3 ms on this thread. The batch is on the critical path of every
    /// send. They stop when the last `MessageWriter` is dropped.
    ///
    /// Several writers (Postgres) commit side by side, so a sender waits behind one fsync,
    /// not a queue of them. A conversation's messages all go through one writer, which keeps
    /// its sequences, timestamps and fan-out in commit order.
    pub(super) fn start(
        target: WriterTarget,
        dialect: Dialect,
        batch_max: usize,
        connections: usize,
        delivery: Arc<Tracker>,
    ) -> MessageWriter {
        let mut shards = Vec::new();
        let mut inboxes = Vec::new();
        for _ in 0..connections.max(1) {
            let (queue, inbox) = mpsc::channel(batch_max * 8);
            shards.push(queue);
            inboxes.push(inbox);
        }
        let spawned = std::thread::Builder::new()
            .name("tidings-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        runtime.block_on(tokio::task::LocalSet::new().run_until(async move {
                            let target = Arc::new(target);
                            let writers: Vec<_> = inboxes
                                .into_iter()
                                .map(|inbox| {
                                    tokio::task::spawn_local(supervise(
                                        target.clone(),
                                        dialect,
                                        batch_max,
                                        inbox,
                                        delivery.clone(),
                                    ))
                                })
                                .collect();
                            for writer in writers {
                                if let Err(err) = writer.await {
                                    tracing::error!(error = %err, "message writer stopped");
                                }
                            }
                        }))
                    }
                    Err(err) => {
                        tracing::error!(error = ?err, "message writer runtime failed to start")
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = ?err, "message writer thread failed to start");
        }
        MessageWriter {
            shards: shards.into(),
            shard_of: std::hash::RandomState::new(),
            timeout_ms: Arc::new(AtomicU64::new(WRITE_TIMEOUT.as_millis() as u64)),
        }
    }

    /// The writer for a conversation.
    fn shard(&self, app_id: &str, conv_id: &str) -> &mpsc::Sender<Job> {
        use std::hash::BuildHasher;
        let hash = self.shard_of.hash_one((app_id, conv_id));
        // The modulo is below the shard count, which is a usize.
        &self.shards[(hash % self.shards.len() as u64) as usize]
    }

    /// Changes the write timeout (every clone of this writer sees it).
    pub fn set_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// Persists one message; resolves once its batch has committed, or with a 503 (code
    /// 124) after the write timeout. A send that timed out before its batch started is not
    /// written; one already in a batch may still be stored (a resend with the same dedup key
    /// then answers with that copy).
    pub async fn write(&self, message: NewMessage) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        let queue = self.shard(&message.app_id, &message.conv_id);
        let stored = async {
            queue
                .send(Job::Write(message, reply))
                .await
                .map_err(|_| Error::internal("message writer stopped"))?;
            answer
                .await
                .map_err(|_| Error::internal("message writer dropped a send"))?
        };
        match tokio::time::timeout(self.timeout(), stored).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::unavailable(
                code::SERVER_TIMEOUT,
                "The message could not be stored in time. Try again.",
            )),
        }
    }

    /// Whether every writer answers and its database takes a write lock, within a short wait.
    /// The writers are asked side by side, so the probe takes as long as the slowest one.
    pub async fn ready(&self) -> Result<()> {
        let probes = self.shards.iter().map(|queue| async move {
            let (reply, answer) = oneshot::channel();
            queue.send(Job::Probe(reply)).await.is_ok() && answer.await.unwrap_or(false)
        });
        let probed = futures_util::future::join_all(probes);
        match tokio::time::timeout(self.timeout().min(PROBE_TIMEOUT), probed).await {
            Ok(answers) if answers.iter().all(|ready| *ready) => Ok(()),
            _ => Err(Error::unavailable(
                code::SERVER_TIMEOUT,
                "The message writer cannot take writes.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(data: &str) -> NewMessage {
        NewMessage {
            app_id: "app".into(),
            conv_id: "no-such-conversation".into(),
            msg_id: crate::domain::ids::new_message_id(),
            content: Content::text("alice", data.into()),
            dedup_key: None,
            now: 1,
        }
    }

    /// Order per conversation rests on this: one conversation, one writer, every time;
    /// and the conversations are spread over all the writers.
    #[test]
    fn a_conversation_always_goes_to_the_same_writer() {
        let queues: Vec<_> = (0..2).map(|_| mpsc::channel(1).0).collect();
        let writer = MessageWriter {
            shards: queues.into(),
            shard_of: std::hash::RandomState::new(),
            timeout_ms: Arc::new(AtomicU64::new(1)),
        };
        let index = |conv: &str| {
            let queue = writer.shard("app", conv);
            writer.shards.iter().position(|q| q.same_channel(queue))
        };
        let mut used = std::collections::HashSet::new();
        for n in 0..100 {
            let conv = format!("conv-{n}");
            let first = index(&conv);
            assert!((0..10).all(|_| index(&conv) == first), "{conv}");
            used.insert(first);
        }
        assert_eq!(used.len(), 2, "both writers get conversations");
    }

    #[tokio::test]
    async fn a_batch_that_panics_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = super::super::Store::connect(&url, 2, 16)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        let writer = store.writer();
        assert!(writer.write(message(PANIC_FOR_TESTS)).await.is_err());
        // The writer still answers, from the database: the conversation does not exist.
        let next = writer.write(message("hello")).await;
        assert!(
            matches!(next, Err(Error::NotFound { code, .. }) if code == code::CONVERSATION_NOT_FOUND),
            "{next:?}"
        );
        assert!(writer.ready().await.is_ok());
    }
}
