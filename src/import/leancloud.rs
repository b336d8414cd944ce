//! `tidings import leancloud`: every conversation and message of a LeanCloud app, through its
//! REST API, into the Tidings store `database_url` names, under the same app id and keys.
//!
//! One lister pages the source's conversations and upserts each (fields, members, mutes);
//! `concurrency` workers then import each conversation's history oldest first, one page per
//! transaction with the resume point (see `store::import`). A re-run lists again (upserts are
//! idempotent) and continues every history after its resume point; a conversation whose
//! history was read to the end while the source's `lm` was what it still is costs nothing.

use super::listing::{history_page, history_path, ConversationPager, Listing};
use super::progress::Progress;
use super::source::{refusal, Cancelled, Source, SourceConfig};
use super::{convert, service, Report};
use crate::domain::conversation::Kind;
use crate::store::import::{Cursor, ImportState, ImportedConversation, ImportedMessage};
use crate::store::Store;
use anyhow::bail;
use parking_lot::Mutex;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything `run` needs. [`Options::new`] fills the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The source's API host, `https://<their api host>`.
    pub server: String,
    pub app_id: String,
    /// The target app is created (or its keys updated) with these keys. Empty: the app must
    /// exist in the target already.
    pub app_key: String,
    pub master_key: String,
    /// The target store.
    pub database_url: String,
    /// Requests per second to the source; 0 = unlimited.
    pub rate: u32,
    /// Conversations imported at once.
    pub concurrency: usize,
    /// Items per page (1..=1000).
    pub page_size: u32,
    /// Attempts per request before giving up.
    pub max_attempts: u32,
    pub listing: Listing,
    /// Stop after importing this many messages (an interruption on purpose, for tests and
    /// trial runs). The report then says `complete: false`.
    pub max_messages: Option<u64>,
    /// Print a progress line to stderr this often; `None`: quiet.
    pub progress_every: Option<Duration>,
    /// Cancelling stops the run cleanly (what was committed stays; re-run to resume).
    pub cancel: CancellationToken,
}

impl Options {
    pub fn new(server: &str, app_id: &str, app_key: &str, master_key: &str, database_url: &str) -> Options {
        Options {
            server: server.to_owned(),
            app_id: app_id.to_owned(),
            app_key: app_key.to_owned(),
            master_key: master_key.to_owned(),
            database_url: database_url.to_owned(),
            rate: 10,
            concurrency: 4,
            page_size: 1000,
            max_attempts: 8,
            listing: Listing::Auto,
            max_messages: None,
            progress_every: Some(Duration::from_secs(5)),
            cancel: CancellationToken::new(),
        }
    }

    pub(crate) fn source(&self, cancel: CancellationToken) -> anyhow::Result<Source> {
        let config = SourceConfig {
            server: self.server.clone(),
            app_id: self.app_id.clone(),
            master_key: self.master_key.clone(),
            rate: self.rate,
            max_attempts: self.max_attempts,
        };
        Source::new(config, cancel)
    }
}

/// Shared by the lister and the workers.
pub(crate) struct Ctx {
    pub store: Store,
    pub source: Source,
    pub app: String,
    pub progress: Arc<Progress>,
    pub report: Mutex<Report>,
    pub page_size: u32,
    pub stop: CancellationToken,
}

/// Runs the import; see the module docs.
pub async fn run(options: Options) -> anyhow::Result<Report> {
    let store = open_target(&options, true).await?;
    let outcome = import(&options, store.clone()).await;
    store.close().await;
    outcome
}

/// Connects to and migrates the target; with `write_app`, creates the app (or updates its
/// keys) when the keys are given.
pub(crate) async fn open_target(options: &Options, write_app: bool) -> anyhow::Result<Store> {
    anyhow::ensure!(!options.app_id.is_empty(), "--app-id is required");
    anyhow::ensure!(!options.master_key.is_empty(), "--master-key is required (the source's REST API needs it)");
    let connections = (options.concurrency as u32 + 2).max(4);
    let store = Store::connect(&options.database_url, connections, 64).await?;
    store.migrate().await?;
    if write_app && !options.app_key.is_empty() {
        anyhow::ensure!(options.app_key != options.master_key, "app key and master key must differ");
        store.upsert_app(&options.app_id, &options.app_key, &options.master_key).await?;
    } else if store.find_app(&options.app_id).await?.is_none() {
        bail!("app {} does not exist in the target; give --app-key to create it", options.app_id);
    }
    Ok(store)
}

async fn import(options: &Options, store: Store) -> anyhow::Result<Report> {
    let stop = options.cancel.child_token();
    let progress = Progress::new(options.max_messages);
    let ctx = Arc::new(Ctx {
        store,
        source: options.source(stop.clone())?,
        app: options.app_id.clone(),
        progress: Arc::clone(&progress),
        report: Mutex::new(Report::default()),
        page_size: options.page_size.clamp(1, 1000),
        stop: stop.clone(),
    });
    let printer_stop = CancellationToken::new();
    let printer = options.progress_every.map(|every| progress.spawn_printer(every, printer_stop.clone()));

    let (jobs, inbox) = tokio::sync::mpsc::channel::<ImportedConversation>(options.concurrency.max(1) * 4);
    let inbox = Arc::new(tokio::sync::Mutex::new(inbox));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (ctx, inbox) = (Arc::clone(&ctx), Arc::clone(&inbox));
        workers.spawn(async move {
            loop {
                let job = inbox.lock().await.recv().await;
                let Some(conv) = job else { return Ok(()) };
                if let Err(err) = import_history(&ctx, &conv).await {
                    ctx.stop.cancel();
                    return Err(err);
                }
                ctx.progress.conversations_done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    drop(inbox);
    let (seen, mut failure) = match list_conversations(&ctx, options.listing, jobs).await {
        Ok(seen) => (seen, None),
        Err(err) => (Vec::new(), Some(err)),
    };
    while let Some(joined) = workers.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let (Err(err), None) = (outcome, &failure) {
            failure = Some(err);
        }
    }
    printer_stop.cancel();
    if let Some(printer) = printer {
        let _ = printer.await;
    }
    if let Some(err) = failure.filter(|e| e.downcast_ref::<Cancelled>().is_none()) {
        if options.progress_every.is_some() {
            eprintln!("{}", progress.line());
        }
        return Err(err);
    }
    let complete = !stop.is_cancelled();
    let checksum = if complete {
        let mut per_conversation = Vec::with_capacity(seen.len());
        for id in seen {
            let (count, sha) = super::target_digest(&ctx.store, &ctx.app, &id).await?;
            per_conversation.push((id, count, sha));
        }
        Some(super::overall_checksum(per_conversation))
    } else {
        None
    };
    let mut report = std::mem::take(&mut *ctx.report.lock());
    report.complete = complete;
    report.checksum = checksum;
    report.messages_imported = progress.messages_imported.load(Ordering::Relaxed);
    report.messages_already_present = progress.messages_present.load(Ordering::Relaxed);
    report.requests = ctx.source.requests();
    report.retries = ctx.source.retries();
    report.elapsed = progress.elapsed();
    if options.progress_every.is_some() {
        eprintln!("{}", progress.line());
    }
    Ok(report)
}

/// Pages the source's conversations, upserts each and hands it to the workers. Returns the
/// ids of the conversations imported.
async fn list_conversations(ctx: &Ctx, listing: Listing, jobs: tokio::sync::mpsc::Sender<ImportedConversation>) -> anyhow::Result<Vec<String>> {
    let mut pager = ConversationPager::new(&ctx.source, listing, ctx.page_size);
    if let Some(total) = pager.total().await {
        ctx.progress.conversations_total.store(total, Ordering::Relaxed);
    }
    let mut seen = Vec::new();
    while let Some(page) = pager.next_page().await? {
        for object in page {
            ctx.report.lock().conversations_seen += 1;
            let conv = match convert::conversation(&object) {
                Ok(conv) => conv,
                Err(reason) => {
                    ctx.report.lock().skip("conversation", reason);
                    ctx.progress.conversations_done.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let created = ctx.store.import_conversation(&ctx.app, &conv).await?;
            {
                let mut report = ctx.report.lock();
                if created {
                    report.conversations_created += 1;
                } else {
                    report.conversations_updated += 1;
                }
            }
            seen.push(conv.id.clone());
            if jobs.send(conv).await.is_err() || ctx.stop.is_cancelled() {
                bail!(Cancelled);
            }
        }
    }
    Ok(seen)
}

/// Imports one conversation's history (or, for a service conversation, its subscribers and
/// what they received) after its resume point.
async fn import_history(ctx: &Ctx, conv: &ImportedConversation) -> anyhow::Result<()> {
    let state = ctx.store.import_state(&ctx.app, &conv.id).await?;
    if let Some(ImportState { complete_lm: Some(lm), .. }) = &state {
        if *lm == conv.last_message_at {
            ctx.report.lock().histories_up_to_date += 1;
            return Ok(());
        }
    }
    let cursor = state.and_then(|s| s.cursor);
    let finished = match conv.kind {
        Kind::Service => service::import(ctx, conv, cursor).await?,
        Kind::ChatRoom => import_pages(ctx, conv, &history_path("chatrooms", &conv.id), cursor).await?,
        Kind::Normal | Kind::Temporary => import_pages(ctx, conv, &history_path("conversations", &conv.id), cursor).await?,
    };
    if finished {
        ctx.store.mark_import_complete(&ctx.app, &conv.id, conv.last_message_at).await?;
    }
    Ok(())
}

/// Pages a conversation's history oldest first from `cursor`. Returns whether it got to the
/// end (false: the conversation is gone from the source).
async fn import_pages(ctx: &Ctx, conv: &ImportedConversation, path: &str, mut cursor: Option<Cursor>) -> anyhow::Result<bool> {
    loop {
        let items = match history_page(&ctx.source, path, cursor.as_ref(), false, ctx.page_size).await? {
            Ok(items) => items,
            Err(refused) if refused.status == 404 => {
                ctx.report.lock().skip(format!("conversation {}", conv.id), "its history is gone from the source");
                return Ok(false);
            }
            Err(refused) => return Err(refusal(path, &refused)),
        };
        let full = items.len() >= ctx.page_size as usize;
        let (messages, next) = convert_page(ctx, &conv.id, &items);
        match next {
            Some(next) => {
                write_messages(ctx, &conv.id, messages, next.clone()).await?;
                cursor = Some(next);
            }
            None if full => bail!("conversation {}: a full page of unreadable history items; cannot page on", conv.id),
            None => {}
        }
        if !full {
            return Ok(true);
        }
    }
}

/// The readable messages of a page in source order, and the cursor after the page.
pub(crate) fn convert_page(ctx: &Ctx, conv_id: &str, items: &[Value]) -> (Vec<ImportedMessage>, Option<Cursor>) {
    let mut messages = Vec::with_capacity(items.len());
    for item in items {
        match convert::message(item) {
            Ok(message) => messages.push(message),
            Err(reason) => {
                ctx.progress.messages_skipped.fetch_add(1, Ordering::Relaxed);
                ctx.report.lock().skip(format!("message in {conv_id}"), reason);
            }
        }
    }
    let cursor = messages.last().map(|m| Cursor { timestamp: m.timestamp, msg_id: m.msg_id.clone() });
    (messages, cursor)
}

/// Writes one page (in source order) within the run's message budget. When the budget runs
/// out, writes what fits, stops the run and returns `Cancelled`.
pub(crate) async fn write_messages(ctx: &Ctx, conv_id: &str, mut messages: Vec<ImportedMessage>, mut cursor: Cursor) -> anyhow::Result<()> {
    let wanted = messages.len() as u64;
    let granted = ctx.progress.reserve(wanted);
    let exhausted = granted < wanted;
    if exhausted {
        messages.truncate(granted as usize);
        match messages.last() {
            Some(last) => cursor = Cursor { timestamp: last.timestamp, msg_id: last.msg_id.clone() },
            None => {
                ctx.stop.cancel();
                bail!(Cancelled);
            }
        }
    }
    let outcome = ctx.store.import_messages(&ctx.app, conv_id, &messages, &cursor).await?;
    ctx.progress.messages_imported.fetch_add(outcome.inserted, Ordering::Relaxed);
    ctx.progress.messages_present.fetch_add(outcome.duplicates, Ordering::Relaxed);
    ctx.progress.messages_skipped.fetch_add(outcome.skipped.len() as u64, Ordering::Relaxed);
    if !outcome.skipped.is_empty() {
        let mut report = ctx.report.lock();
        for (msg_id, reason) in outcome.skipped {
            report.skip(format!("message {msg_id} in {conv_id}"), reason);
        }
    }
    if exhausted {
        ctx.stop.cancel();
        bail!(Cancelled);
    }
    Ok(())
}
