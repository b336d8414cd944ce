//! One conversation's history: paged oldest first after its resume point, each page written
//! in one transaction with the new resume point, within the run's message budget.

use super::leancloud::Ctx;
use super::listing::{history_page, history_path};
use super::source::{refusal, Cancelled};
use super::{convert, service};
use crate::domain::conversation::Kind;
use crate::store::import::{Cursor, ImportState, ImportedConversation, ImportedMessage};
use anyhow::bail;
use serde_json::Value;
use std::sync::atomic::Ordering;

/// Imports one conversation's history (or, for a service conversation, its subscribers and
/// what they received) after its resume point.
pub(crate) async fn import_history(ctx: &Ctx, conv: &ImportedConversation) -> anyhow::Result<()> {
    let state = ctx.store.import_state(&ctx.app, &conv.id).await?;
    if let Some(ImportState {
        complete_lm: Some(lm),
        ..
    }) = &state
    {
        if *lm == conv.last_message_at {
            ctx.report.lock().histories_up_to_date += 1;
            if conv.kind == Kind::Service {
                // Subscriptions change without touching `lm`.
                service::refresh_subscribers(ctx, conv).await?;
            }
            return Ok(());
        }
    }
    let cursor = state.and_then(|s| s.cursor);
    let finished = match conv.kind {
        Kind::Service => service::import(ctx, conv, cursor).await?,
        Kind::ChatRoom => {
            import_pages(ctx, conv, &history_path("chatrooms", &conv.id), cursor).await?
        }
        Kind::Normal | Kind::Temporary => {
            import_pages(ctx, conv, &history_path("conversations", &conv.id), cursor).await?
        }
    };
    if finished {
        ctx.store
            .mark_import_complete(&ctx.app, &conv.id, conv.last_message_at)
            .await?;
    }
    Ok(())
}

/// Pages a conversation's history oldest first from `cursor`. Returns whether it got to the
/// end (false: the conversation is gone from the source).
async fn import_pages(
    ctx: &Ctx,
    conv: &ImportedConversation,
    path: &str,
    mut cursor: Option<Cursor>,
) -> anyhow::Result<bool> {
    loop {
        let items =
            match history_page(&ctx.source, path, cursor.as_ref(), false, ctx.page_size).await? {
                Ok(items) => items,
                Err(refused) if refused.status == 404 => {
                    ctx.report.lock().skip(
                        format!("conversation {}", conv.id),
                        "its history is gone from the source",
                    );
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
            None if full => bail!(
                "conversation {}: a full page of unreadable history items; cannot page on",
                conv.id
            ),
            None => {}
        }
        if !full {
            return Ok(true);
        }
    }
}

/// The readable messages of a page in source order, and the cursor after the page.
pub(crate) fn convert_page(
    ctx: &Ctx,
    conv_id: &str,
    items: &[Value],
) -> (Vec<ImportedMessage>, Option<Cursor>) {
    let mut messages = Vec::with_capacity(items.len());
    for item in items {
        match convert::message(item) {
            Ok(message) => messages.push(message),
            Err(reason) => {
                ctx.progress
                    .messages_skipped
                    .fetch_add(1, Ordering::Relaxed);
                ctx.report
                    .lock()
                    .skip(format!("message in {conv_id}"), reason);
            }
        }
    }
    let cursor = messages.last().map(|m| Cursor {
        timestamp: m.timestamp,
        msg_id: m.msg_id.clone(),
    });
    (messages, cursor)
}

/// Writes one page (in source order) within the run's message budget. When the budget runs
/// out, writes what fits, stops the run and returns `Cancelled`.
pub(crate) async fn write_messages(
    ctx: &Ctx,
    conv_id: &str,
    mut messages: Vec<ImportedMessage>,
    mut cursor: Cursor,
) -> anyhow::Result<()> {
    let wanted = messages.len() as u64;
    let granted = ctx.progress.reserve(wanted);
    let exhausted = granted < wanted;
    if exhausted {
        messages.truncate(granted as usize);
        match messages.last() {
            Some(last) => {
                cursor = Cursor {
                    timestamp: last.timestamp,
                    msg_id: last.msg_id.clone(),
                }
            }
            None => {
                ctx.stop.cancel();
                bail!(Cancelled);
            }
        }
    }
    if let Some(copier) = &ctx.files {
        // Before the page is written: a resumed run re-reads the page and finds the copies.
        copier
            .rewrite(&ctx.store, &ctx.app, &mut messages, &ctx.report)
            .await?;
    }
    let outcome = ctx
        .store
        .import_messages(&ctx.app, conv_id, &messages, &cursor)
        .await?;
    ctx.progress
        .messages_imported
        .fetch_add(outcome.inserted, Ordering::Relaxed);
    ctx.progress
        .messages_present
        .fetch_add(outcome.duplicates, Ordering::Relaxed);
    ctx.progress
        .messages_skipped
        .fetch_add(outcome.skipped.len() as u64, Ordering::Relaxed);
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
