//! `tidings import`: moving an app off LeanCloud, losslessly.
//!
//! - [`leancloud`]: pulls every conversation (all kinds, members, mutes, subscribers, custom
//!   fields, creation times) and every message (ids, timestamps, senders, content, binary
//!   flag, edit and recall state) through LeanCloud's REST API into a Tidings store, keeping
//!   the original `objectId`s and `msg-id`s. Resumable, rate-limited, retrying.
//! - [`file`]: loads a console export of `_Conversation`.
//! - [`verify`]: compares source and target per conversation (count and an order-sensitive
//!   checksum of msg-ids).
//!
//! Decisions and their reasons: `docs/import.md`.

pub mod cli;
pub mod convert;
pub mod file;
pub mod files;
mod history;
pub mod leancloud;
pub mod listing;
pub mod progress;
mod service;
pub mod source;
pub mod verify;

use sha1::{Digest, Sha1};
use std::fmt;
use std::time::Duration;

/// Skipped records kept in a report with their reason; more are only counted.
pub const MAX_SKIP_DETAILS: usize = 1000;

/// Something not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub item: String,
    pub reason: String,
}

/// The outcome of `tidings import leancloud`.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every conversation's history was read to the end (false: interrupted; re-run).
    pub complete: bool,
    pub conversations_seen: u64,
    pub conversations_created: u64,
    pub conversations_updated: u64,
    /// Conversations whose history was already imported up to the source's `lm`.
    pub histories_up_to_date: u64,
    pub subscribers: u64,
    pub messages_imported: u64,
    /// Messages a previous run had already imported.
    pub messages_already_present: u64,
    pub skipped_total: u64,
    /// The first [`MAX_SKIP_DETAILS`] skipped records.
    pub skipped: Vec<Skipped>,
    /// Checksum of the target over the imported conversations (complete runs only); a
    /// `--verify` run prints the source's and the target's, which must equal it.
    pub checksum: Option<String>,
    pub requests: u64,
    pub retries: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn skip(&mut self, item: impl Into<String>, reason: impl Into<String>) {
        self.skipped_total += 1;
        if self.skipped.len() < MAX_SKIP_DETAILS {
            self.skipped.push(Skipped {
                item: item.into(),
                reason: reason.into(),
            });
        }
    }

    pub fn messages_per_second(&self) -> f64 {
        self.messages_imported as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.complete {
            "complete"
        } else {
            "INTERRUPTED: run the same command again to resume"
        };
        writeln!(f, "Import {status}.")?;
        writeln!(
            f,
            "  conversations: {} seen, {} created, {} updated ({} histories already up to date), {} subscribers",
            self.conversations_seen,
            self.conversations_created,
            self.conversations_updated,
            self.histories_up_to_date,
            self.subscribers
        )?;
        writeln!(
            f,
            "  messages: {} imported, {} already present, in {} ({:.0} msg/s; {} requests, {} retries)",
            self.messages_imported,
            self.messages_already_present,
            progress::clock(self.elapsed),
            self.messages_per_second(),
            self.requests,
            self.retries
        )?;
        write_skips(f, self.skipped_total, &self.skipped)?;
        if let Some(checksum) = &self.checksum {
            writeln!(
                f,
                "  checksum: {checksum} (check with the same command and --verify)"
            )?;
        }
        Ok(())
    }
}

pub(crate) fn write_skips(
    f: &mut fmt::Formatter<'_>,
    total: u64,
    details: &[Skipped],
) -> fmt::Result {
    writeln!(f, "  skipped: {total}")?;
    for skip in details {
        writeln!(f, "    {}: {}", skip.item, skip.reason)?;
    }
    if total as usize > details.len() {
        writeln!(f, "    ... and {} more", total as usize - details.len())?;
    }
    Ok(())
}

/// The order-sensitive digest of one conversation's history: count and sha1 over the
/// msg-ids, oldest first, each followed by a newline.
#[derive(Debug, Clone, Default)]
pub struct HistoryDigest {
    hasher: Sha1,
    pub count: u64,
}

impl HistoryDigest {
    pub fn add(&mut self, msg_id: &str) {
        self.hasher.update(msg_id.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
    }

    pub fn finish(self) -> (u64, String) {
        (self.count, hex::encode(self.hasher.finalize()))
    }
}

/// The checksum of a whole import: sha1 over `"<conv id> <count> <sha1>\n"` lines in
/// conversation-id order.
pub fn overall_checksum(mut per_conversation: Vec<(String, u64, String)>) -> String {
    per_conversation.sort();
    let mut hasher = Sha1::new();
    for (id, count, sha) in per_conversation {
        hasher.update(format!("{id} {count} {sha}\n").as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The digest of a conversation's stored history in the target.
pub async fn target_digest(
    store: &crate::store::Store,
    app: &str,
    conv: &str,
) -> anyhow::Result<(u64, String)> {
    let mut digest = HistoryDigest::default();
    let mut after = None;
    loop {
        let page = store.message_ids_page(app, conv, after, 5000).await?;
        let Some((_, ts, seq)) = page.last() else {
            break;
        };
        after = Some((*ts, *seq));
        for (msg_id, _, _) in &page {
            digest.add(msg_id);
        }
    }
    Ok(digest.finish())
}
