//! The writer's loop: takes jobs from its queue, writes each batch (as a task of its own,
//! so that a panic fails only that batch), and answers senders and probes. The tasks are
//! local to the writer's thread (`spawn_local`): SQLite's rusqlite transaction is not `Send`.

use super::connection::{WriterConn, WriterTarget};
#[cfg(test)]
use super::PANIC_FOR_TESTS;
use super::{Job, NewMessage, Written};
use crate::domain::message::Message;
use crate::error::{code, Error, Result};
use crate::store::delivery::{Recent, Tracker};
use crate::store::Dialect;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Takes jobs from the queue and runs each batch as a task of its own: a panic there fails
/// that batch (its senders get an error) and the loop goes on with a fresh connection.
pub(super) async fn supervise(
    target: Arc<WriterTarget>,
    dialect: Dialect,
    batch_max: usize,
    mut inbox: mpsc::Receiver<Job>,
    delivery: Arc<Tracker>,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(batch_max);
    // The writer keeps its connection between batches: taking it from the pool each time
    // costs a health-check round trip (and, on SQLite, two thread hops) per batch.
    let mut held: Option<WriterConn> = None;
    while inbox.recv_many(&mut jobs, batch_max).await > 0 {
        let mut writes = Vec::with_capacity(jobs.len());
        let mut probes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                // Its sender gave up waiting: not written.
                Job::Write(_, reply) if reply.is_closed() => {}
                Job::Write(message, reply) => writes.push((message, reply)),
                Job::Probe(reply) => probes.push(reply),
            }
        }
        let batch = run_batch(
            target.clone(),
            dialect,
            held.take(),
            writes,
            probes,
            delivery.clone(),
        );
        match tokio::task::spawn_local(batch).await {
            Ok(conn) => held = conn,
            Err(err) => {
                tracing::error!(error = %err, "message batch task failed; the writer goes on");
            }
        }
    }
}

/// Writes one batch and answers its senders and probes. Returns the connection to keep, or
/// none when the database failed (the next batch connects afresh).
async fn run_batch(
    target: Arc<WriterTarget>,
    dialect: Dialect,
    held: Option<WriterConn>,
    writes: Vec<(NewMessage, oneshot::Sender<Result<Written>>)>,
    probes: Vec<oneshot::Sender<bool>>,
    delivery: Arc<Tracker>,
) -> Option<WriterConn> {
    let (messages, replies): (Vec<NewMessage>, Vec<_>) = writes.into_iter().unzip();
    #[cfg(test)]
    if messages.iter().any(|m| m.content.data == PANIC_FOR_TESTS) {
        panic!("message batch panics for a test");
    }
    let mut conn = match held {
        Some(conn) => conn,
        None => match target.connect().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::error!(error = ?err, "message writer has no connection");
                for reply in replies {
                    let _ = reply.send(Err(database_unavailable()));
                }
                for probe in probes {
                    let _ = probe.send(false);
                }
                return None;
            }
        },
    };
    let mut healthy = true;
    if !messages.is_empty() {
        let outcomes = write_isolated(&mut conn, dialect, &messages, &replies, &mut healthy).await;
        // Before anyone is answered, so that receivers' acks find the messages.
        for (new, outcome) in messages.iter().zip(&outcomes) {
            if let Ok(Written {
                message,
                duplicate: false,
            }) = outcome
            {
                delivery.record(&new.app_id, &message.conv_id, recent(message));
            }
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
    if !probes.is_empty() {
        let ready = healthy && conn.probe().await.is_ok();
        healthy &= ready;
        for reply in probes {
            let _ = reply.send(ready);
        }
    }
    healthy.then_some(conn)
}

/// A batch that failed without the database refusing it (connection lost, pool timeout):
/// 503 with LeanCloud's "server timeout" code, as when the write does not finish in time. A
/// connection lost during the commit leaves it unknown whether the batch was stored; a resend
/// with the same dedup key (`dt`) is then answered with the stored copy.
fn database_unavailable() -> Error {
    Error::unavailable(
        code::SERVER_TIMEOUT,
        "The database is unavailable; the message may not have been stored. Try again.",
    )
}

/// The batch in one transaction; if the database refuses it, each message alone, so that
/// one bad message fails by itself. A failure that is not the database refusing a
/// statement (a lost connection, a timeout of the pool) fails the batch at once.
async fn write_isolated(
    conn: &mut WriterConn,
    dialect: Dialect,
    messages: &[NewMessage],
    replies: &[oneshot::Sender<Result<Written>>],
    healthy: &mut bool,
) -> Vec<Result<Written>> {
    let err = match conn.write_batch(dialect, messages).await {
        Ok(outcomes) => return outcomes,
        Err(err) => err,
    };
    if messages.len() == 1 || !refused_by_database(&err) {
        tracing::error!(error = ?err, batch = messages.len(), "message batch failed");
        *healthy = false;
        let refused = refused_by_database(&err);
        return messages
            .iter()
            .map(|_| {
                Err(if refused {
                    Error::internal("message batch failed")
                } else {
                    database_unavailable()
                })
            })
            .collect();
    }
    tracing::warn!(error = ?err, batch = messages.len(), "message batch refused; writing its messages one at a time");
    let mut outcomes = Vec::with_capacity(messages.len());
    for (message, reply) in messages.iter().zip(replies) {
        if reply.is_closed() {
            outcomes.push(Err(Error::internal("the sender gave up waiting")));
            continue;
        }
        let alone = conn
            .write_batch(dialect, std::slice::from_ref(message))
            .await;
        outcomes.push(match alone.map(|mut one| one.pop()) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Err(Error::internal("message left unanswered")),
            Err(err) => {
                tracing::error!(error = ?err, msg_id = %message.msg_id, "message refused by the database");
                Err(Error::internal("message could not be stored"))
            }
        });
    }
    outcomes
}

/// The database answered and refused a statement (constraint, invalid value, statement
/// timeout), as opposed to the connection failing.
fn refused_by_database(err: &Error) -> bool {
    match err {
        // A unique key taken (a message id, a dedup key raced by another node).
        Error::Conflict { .. } => true,
        Error::Internal(inner) => {
            matches!(
                inner.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::Database(_))
            ) || matches!(
                inner.downcast_ref::<rusqlite::Error>(),
                Some(
                    rusqlite::Error::SqliteFailure(..) | rusqlite::Error::ToSqlConversionFailure(_)
                )
            )
        }
        _ => false,
    }
}

fn recent(message: &Message) -> Recent {
    Recent {
        seq: message.seq,
        msg_id: message.msg_id.clone(),
        from_client: message.content.from_client.clone(),
        timestamp: message.timestamp,
        ack_at: None,
    }
}
