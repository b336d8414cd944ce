//! `tidings import leancloud ... --verify`: for every conversation of the source, compares
//! the count and an order-sensitive checksum (sha1 over msg-ids, oldest first) of the
//! source's history with the target's, and the overall checksum an import run printed.
//! Nothing is written.

use super::leancloud::{open_target, Options};
use super::listing::{history_page, history_path, ConversationPager};
use super::source::{refusal, Source};
use super::{convert, service, HistoryDigest, Skipped};
use crate::domain::conversation::Kind;
use crate::store::import::{Cursor, ImportedConversation};
use crate::store::Store;
use anyhow::bail;
use futures_util::stream::{self, StreamExt};
use std::fmt;

/// One conversation whose source and target differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub conv_id: String,
    pub source_count: u64,
    pub target_count: u64,
    pub problem: String,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub conversations: u64,
    pub source_messages: u64,
    pub target_messages: u64,
    pub source_checksum: String,
    pub target_checksum: String,
    pub mismatches: Vec<Mismatch>,
    /// Source records that could not be read (not counted as mismatches).
    pub unreadable: Vec<Skipped>,
    /// Copied files checked (`--files copy`), and those missing or of the wrong size.
    pub files_checked: u64,
    pub file_problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
            && self.source_checksum == self.target_checksum
            && self.file_problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok() {
            "OK: source and target agree"
        } else {
            "MISMATCH"
        };
        writeln!(f, "Verify: {verdict}.")?;
        writeln!(
            f,
            "  conversations: {}; messages: {} in the source, {} in the target",
            self.conversations, self.source_messages, self.target_messages
        )?;
        writeln!(
            f,
            "  checksum: source {}, target {}",
            self.source_checksum, self.target_checksum
        )?;
        for m in &self.mismatches {
            writeln!(
                f,
                "    {}: source {} messages, target {}: {}",
                m.conv_id, m.source_count, m.target_count, m.problem
            )?;
        }
        if !self.unreadable.is_empty() {
            super::write_skips(f, self.unreadable.len() as u64, &self.unreadable)?;
        }
        if self.files_checked > 0 || !self.file_problems.is_empty() {
            writeln!(
                f,
                "  files: {} copies checked, {} missing or of the wrong size",
                self.files_checked,
                self.file_problems.len()
            )?;
            for problem in &self.file_problems {
                writeln!(f, "    {problem}")?;
            }
        }
        Ok(())
    }
}

/// Per conversation: `(id, source digest, target digest)`, or a problem.
type Checked = anyhow::Result<(String, (u64, String), (u64, String), Option<String>)>;

/// Compares source and target; see the module docs.
pub async fn run(options: Options) -> anyhow::Result<VerifyReport> {
    let store = open_target(&options, false).await?;
    let outcome = compare(&options, &store).await;
    store.close().await;
    outcome
}

async fn compare(options: &Options, store: &Store) -> anyhow::Result<VerifyReport> {
    let source = options.source(options.cancel.child_token())?;
    let page_size = options.page_size.clamp(1, 1000);
    let mut pager = ConversationPager::new(&source, options.listing, page_size);
    let mut report = VerifyReport::default();
    let (mut sources, mut targets) = (Vec::new(), Vec::new());
    while let Some(page) = pager.next_page().await? {
        let mut convs = Vec::with_capacity(page.len());
        for object in &page {
            match convert::conversation(object) {
                Ok(conv) => convs.push(conv),
                Err(reason) => report.unreadable.push(Skipped {
                    item: "conversation".to_owned(),
                    reason,
                }),
            }
        }
        let checked: Vec<Checked> = stream::iter(convs)
            .map(|conv| check(&source, store, &options.app_id, conv, page_size))
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        for outcome in checked {
            let (id, (source_count, source_sha), (target_count, target_sha), problem) = outcome?;
            report.conversations += 1;
            report.source_messages += source_count;
            report.target_messages += target_count;
            let problem = problem.or_else(|| {
                match (source_count == target_count, source_sha == target_sha) {
                    (true, true) => None,
                    (false, _) => Some("message counts differ".to_owned()),
                    (true, false) => Some("same count, different messages or order".to_owned()),
                }
            });
            if let Some(problem) = problem {
                report.mismatches.push(Mismatch {
                    conv_id: id.clone(),
                    source_count,
                    target_count,
                    problem,
                });
            }
            sources.push((id.clone(), source_count, source_sha));
            targets.push((id, target_count, target_sha));
        }
    }
    report.mismatches.sort_by(|a, b| a.conv_id.cmp(&b.conv_id));
    report.source_checksum = super::overall_checksum(sources);
    report.target_checksum = super::overall_checksum(targets);
    if let Some(target) = &options.files {
        let copier = super::files::FileCopier::new(target, &options.database_url)?;
        let (checked, problems) = copier.verify(store, &options.app_id).await?;
        report.files_checked = checked;
        report.file_problems = problems;
    }
    Ok(report)
}

async fn check(
    source: &Source,
    store: &Store,
    app: &str,
    conv: ImportedConversation,
    page_size: u32,
) -> Checked {
    let source_digest = match conv.kind {
        Kind::Service => service::source_digest(source, &conv.id, page_size).await?,
        Kind::ChatRoom => {
            history_digest(source, &history_path("chatrooms", &conv.id), page_size).await?
        }
        Kind::Normal | Kind::Temporary => {
            history_digest(source, &history_path("conversations", &conv.id), page_size).await?
        }
    };
    let Some(source_digest) = source_digest else {
        return Ok((
            conv.id,
            (0, String::new()),
            (0, String::new()),
            Some("gone from the source during the check".to_owned()),
        ));
    };
    let target_digest = super::target_digest(store, app, &conv.id).await?;
    let problem = match store.find_conversation(app, &conv.id).await? {
        None => Some("missing in the target".to_owned()),
        Some(found) if found.kind != conv.kind => Some(format!(
            "kind {:?} in the source, {:?} in the target",
            conv.kind, found.kind
        )),
        Some(_) => None,
    };
    Ok((conv.id, source_digest, target_digest, problem))
}

/// The digest of a conversation's history in the source; `None` when it is gone.
async fn history_digest(
    source: &Source,
    path: &str,
    page_size: u32,
) -> anyhow::Result<Option<(u64, String)>> {
    let mut digest = HistoryDigest::default();
    let mut cursor: Option<Cursor> = None;
    loop {
        let items = match history_page(source, path, cursor.as_ref(), false, page_size).await? {
            Ok(items) => items,
            Err(refused) if refused.status == 404 => return Ok(None),
            Err(refused) => return Err(refusal(path, &refused)),
        };
        let full = items.len() >= page_size as usize;
        let before = digest.count;
        for item in &items {
            if let Ok(message) = convert::message(item) {
                digest.add(&message.msg_id);
                cursor = Some(Cursor {
                    timestamp: message.timestamp,
                    msg_id: message.msg_id,
                });
            }
        }
        if !full {
            return Ok(Some(digest.finish()));
        }
        if digest.count == before {
            bail!("{path}: a full page of unreadable history items; cannot page on");
        }
    }
}
