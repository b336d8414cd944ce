//! `tidings import leancloud`: every conversation and message of a LeanCloud app, through its
//! REST API, into the Tidings store `database_url` names, under the same app id and keys.
//!
//! One lister pages the source's conversations and upserts each (fields, members, mutes);
//! `concurrency` workers then import each conversation's history oldest first, one page per
//! transaction with the resume point (see `store::import`). A re-run lists again (upserts are
//! idempotent) and continues every history after its resume point; a conversation whose
//! history was read to the end while the source's `lm` was what it still is costs nothing.

use super::history::import_history;
use super::listing::{ConversationPager, Listing};
use super::progress::Progress;
use super::source::{Cancelled, Source, SourceConfig};
use super::{convert, Report};
use crate::store::import::ImportedConversation;
use crate::store::Store;
use anyhow::bail;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything `run` needs. [`Options::new`] fills the defaults.
#[derive(Clone)]
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
    /// Copy the files messages reference (`_lcfile.url`) here; `None`: keep their URLs.
    pub files: Option<super::files::FilesTarget>,
}

impl Options {
    pub fn new(
        server: &str,
        app_id: &str,
        app_key: &str,
        master_key: &str,
        database_url: &str,
    ) -> Options {
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
            files: None,
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
    /// Copies referenced files into the target (`--files copy`).
    pub files: Option<super::files::FileCopier>,
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
    anyhow::ensure!(
        !options.master_key.is_empty(),
        "--master-key is required (the source's REST API needs it)"
    );
    let connections = (options.concurrency as u32 + 2).max(4);
    let store = Store::connect(&options.database_url, connections, 64).await?;
    store.migrate().await?;
    if write_app && !options.app_key.is_empty() {
        anyhow::ensure!(
            options.app_key != options.master_key,
            "app key and master key must differ"
        );
        store
            .upsert_app(&options.app_id, &options.app_key, &options.master_key)
            .await?;
    } else if store.find_app(&options.app_id).await?.is_none() {
        bail!(
            "app {} does not exist in the target; give --app-key to create it",
            options.app_id
        );
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
        files: options
            .files
            .as_ref()
            .map(|target| super::files::FileCopier::new(target, &options.database_url))
            .transpose()?,
    });
    let printer_stop = CancellationToken::new();
    let printer = options
        .progress_every
        .map(|every| progress.spawn_printer(every, printer_stop.clone()));

    let (jobs, inbox) =
        tokio::sync::mpsc::channel::<ImportedConversation>(options.concurrency.max(1) * 4);
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
                ctx.progress
                    .conversations_done
                    .fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    drop(inbox);
    let (seen, mut failure) = match list_conversations(&ctx, options.listing, jobs).await {
        Ok(seen) => (seen, None),
        Err(err) => {
            // The workers stop at their next request instead of draining the queue.
            stop.cancel();
            (Vec::new(), Some(err))
        }
    };
    while let Some(joined) = workers.join_next().await {
        if let Err(err) = joined.map_err(anyhow::Error::from).and_then(|r| r) {
            // A real failure wins over the `Cancelled` it caused elsewhere.
            if failure.as_ref().is_none_or(is_cancelled) {
                failure = Some(err);
            }
        }
    }
    printer_stop.cancel();
    if let Some(printer) = printer {
        let _ = printer.await;
    }
    if let Some(err) = failure.filter(|e| !is_cancelled(e)) {
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

fn is_cancelled(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Cancelled>().is_some()
}

/// Pages the source's conversations, upserts each and hands it to the workers. Returns the
/// ids of the conversations imported.
async fn list_conversations(
    ctx: &Ctx,
    listing: Listing,
    jobs: tokio::sync::mpsc::Sender<ImportedConversation>,
) -> anyhow::Result<Vec<String>> {
    let mut pager = ConversationPager::new(&ctx.source, listing, ctx.page_size);
    if let Some(total) = pager.total().await {
        ctx.progress
            .conversations_total
            .store(total, Ordering::Relaxed);
    }
    let mut seen = Vec::new();
    while let Some(page) = pager.next_page().await? {
        for object in page {
            ctx.report.lock().conversations_seen += 1;
            let conv = match convert::conversation(&object) {
                Ok(conv) => conv,
                Err(reason) => {
                    ctx.report.lock().skip("conversation", reason);
                    ctx.progress
                        .conversations_done
                        .fetch_add(1, Ordering::Relaxed);
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

/// Keys stay out of logs.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("server", &self.server)
            .field("app_id", &self.app_id)
            .field("concurrency", &self.concurrency)
            .field("app_key", &crate::domain::app::REDACTED)
            .field("master_key", &crate::domain::app::REDACTED)
            .finish_non_exhaustive()
    }
}
