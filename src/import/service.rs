//! Service conversations. LeanCloud's REST API has no history of a service conversation as a
//! whole: only what each subscriber received (`.../subscribers/{client}/messages`). So the
//! importer lists the subscribers (`.../subscribers`, 50 a page, `client_id` cursor), reads
//! every subscriber's history, and merges the streams: one message per msg-id, in
//! `(timestamp, source order)`. A message every subscriber got becomes a broadcast; one that
//! at most 20 got (the per-user limit) a per-user message to them; one that more but not all
//! got, a broadcast hidden from the others. Each subscriber's history then reads as before.
//!
//! Cost: one history scan per subscriber; a conversation's messages are merged in memory.

use super::history::write_messages;
use super::leancloud::Ctx;
use super::listing::{history_page, segment};
use super::source::{refusal, Source};
use super::{convert, HistoryDigest};
use crate::domain::message::{MessageKind, MAX_MENTIONS};
use crate::store::import::{Cursor, ImportedConversation, ImportedMessage};
use anyhow::bail;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

const SUBSCRIBER_PAGE: usize = 50;

/// Subscribers and the merged messages of one service conversation, as the source has them.
pub(crate) struct ServiceHistory {
    /// `(client id, subscribed at)`.
    pub subscribers: Vec<(String, i64)>,
    pub messages: Vec<ImportedMessage>,
}

/// Imports subscribers and messages newer than `cursor`. Returns whether it got to the end.
pub(crate) async fn import(
    ctx: &Ctx,
    conv: &ImportedConversation,
    cursor: Option<Cursor>,
) -> anyhow::Result<bool> {
    let Some(history) = fetch(&ctx.source, &conv.id, cursor.as_ref(), ctx.page_size).await? else {
        ctx.report.lock().skip(
            format!("conversation {}", conv.id),
            "its subscribers are gone from the source",
        );
        return Ok(false);
    };
    ctx.store
        .import_subscribers(&ctx.app, &conv.id, &history.subscribers)
        .await?;
    ctx.report.lock().subscribers += history.subscribers.len() as u64;
    for chunk in history.messages.chunks(ctx.page_size as usize) {
        let Some(last) = chunk.last() else { continue };
        let cursor = Cursor {
            timestamp: last.timestamp,
            msg_id: last.msg_id.clone(),
        };
        write_messages(ctx, &conv.id, chunk.to_vec(), cursor).await?;
    }
    Ok(true)
}

/// Brings the subscriber list in line with the source (for a conversation whose messages are
/// up to date).
pub(crate) async fn refresh_subscribers(
    ctx: &Ctx,
    conv: &ImportedConversation,
) -> anyhow::Result<()> {
    let base = format!(
        "/1.2/rtm/service-conversations/{}/subscribers",
        segment(&conv.id)
    );
    if let Some(subscribers) = subscribers(&ctx.source, &base).await? {
        ctx.store
            .import_subscribers(&ctx.app, &conv.id, &subscribers)
            .await?;
        ctx.report.lock().subscribers += subscribers.len() as u64;
    }
    Ok(())
}

/// The digest of what the source's subscribers received, in the order the import stores it.
pub(crate) async fn source_digest(
    source: &Source,
    conv_id: &str,
    page_size: u32,
) -> anyhow::Result<Option<(u64, String)>> {
    let Some(history) = fetch(source, conv_id, None, page_size).await? else {
        return Ok(None);
    };
    let mut digest = HistoryDigest::default();
    for message in &history.messages {
        digest.add(&message.msg_id);
    }
    Ok(Some(digest.finish()))
}

/// Reads subscribers and their histories from `since.timestamp` (inclusive: the store drops
/// what it already has). `None` when the conversation is gone from the source.
pub(crate) async fn fetch(
    source: &Source,
    conv_id: &str,
    since: Option<&Cursor>,
    page_size: u32,
) -> anyhow::Result<Option<ServiceHistory>> {
    let base = format!(
        "/1.2/rtm/service-conversations/{}/subscribers",
        segment(conv_id)
    );
    let Some(subscribers) = subscribers(source, &base).await? else {
        return Ok(None);
    };
    let mut streams = Vec::with_capacity(subscribers.len());
    for (client, _) in &subscribers {
        let path = format!("{base}/{}/messages", segment(client));
        let mut stream: Vec<ImportedMessage> = Vec::new();
        loop {
            let cursor = stream.last().map(|m| Cursor {
                timestamp: m.timestamp,
                msg_id: m.msg_id.clone(),
            });
            let (cursor, inclusive) = match (&cursor, since) {
                (Some(cursor), _) => (Some(cursor), false),
                (None, since) => (since, true),
            };
            let items = match history_page(source, &path, cursor, inclusive, page_size).await? {
                Ok(items) => items,
                Err(refused) if refused.status == 404 => return Ok(None),
                Err(refused) => return Err(refusal(&path, &refused)),
            };
            let full = items.len() >= page_size as usize;
            let before = stream.len();
            stream.extend(items.iter().filter_map(|item| convert::message(item).ok()));
            if !full {
                break;
            }
            if stream.len() == before {
                bail!("{path}: a full page of unreadable history items; cannot page on");
            }
        }
        streams.push((client.clone(), stream));
    }
    let everyone = subscribers.len();
    let messages = merge(streams)
        .into_iter()
        .map(|(mut message, seen_by)| {
            if seen_by.len() == everyone {
                message.content.kind = MessageKind::SubscriberBroadcast;
            } else if seen_by.len() <= MAX_MENTIONS {
                message.content.kind = MessageKind::PerUser;
                message.content.to_clients = seen_by;
            } else {
                message.content.kind = MessageKind::SubscriberBroadcast;
                message.hidden_for = subscribers
                    .iter()
                    .map(|(c, _)| c.clone())
                    .filter(|c| !seen_by.contains(c))
                    .collect();
            }
            message
        })
        .collect();
    Ok(Some(ServiceHistory {
        subscribers,
        messages,
    }))
}

/// Every subscriber `(client id, subscribed at)`, 50 a page; `None` when the conversation is
/// gone from the source.
async fn subscribers(source: &Source, base: &str) -> anyhow::Result<Option<Vec<(String, i64)>>> {
    let mut subscribers: Vec<(String, i64)> = Vec::new();
    loop {
        let mut query = vec![("limit", SUBSCRIBER_PAGE.to_string())];
        if let Some((last, _)) = subscribers.last() {
            query.push(("client_id", last.clone()));
        }
        let items = match source.get(base, &query).await? {
            Ok(Value::Array(items)) => items,
            Ok(_) => bail!("{base} answered something other than a JSON array"),
            Err(refused) if refused.status == 404 => return Ok(None),
            Err(refused) => return Err(refusal(base, &refused)),
        };
        let before = subscribers.len();
        for item in &items {
            let Some(client) = item.get("subscriber").and_then(Value::as_str) else {
                continue;
            };
            let at = item
                .get("timestamp")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            subscribers.push((client.to_owned(), at));
        }
        if items.len() < SUBSCRIBER_PAGE {
            break;
        }
        if subscribers.len() == before {
            bail!("{base}: a full page without one readable subscriber; cannot page on");
        }
    }
    Ok(Some(subscribers))
}

/// Merges per-subscriber streams (each oldest first) into one list without repeats, in
/// timestamp order; messages sharing a millisecond keep every stream's relative order.
/// Returns each message with the subscribers that received it.
pub(crate) fn merge(
    streams: Vec<(String, Vec<ImportedMessage>)>,
) -> Vec<(ImportedMessage, Vec<String>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut items: Vec<(ImportedMessage, Vec<String>)> = Vec::new();
    let mut successors: Vec<Vec<usize>> = Vec::new();
    let mut indegree: Vec<usize> = Vec::new();
    for (client, stream) in streams {
        let mut previous: Option<usize> = None;
        for message in stream {
            let i = match index.get(&message.msg_id) {
                Some(&i) => i,
                None => {
                    index.insert(message.msg_id.clone(), items.len());
                    items.push((message, Vec::new()));
                    successors.push(Vec::new());
                    indegree.push(0);
                    items.len() - 1
                }
            };
            if !items[i].1.contains(&client) {
                items[i].1.push(client.clone());
            }
            if let Some(p) =
                previous.filter(|&p| p != i && items[p].0.timestamp == items[i].0.timestamp)
            {
                successors[p].push(i);
                indegree[i] += 1;
            }
            previous = Some(i);
        }
    }
    let mut by_time: Vec<usize> = (0..items.len()).collect();
    by_time.sort_by_key(|&i| (items[i].0.timestamp, i));
    let mut order = Vec::with_capacity(items.len());
    for group in by_time.chunk_by(|&a, &b| items[a].0.timestamp == items[b].0.timestamp) {
        // Kahn's algorithm within the millisecond, first-seen first among the free ones.
        let mut free: BinaryHeap<Reverse<usize>> = group
            .iter()
            .filter(|&&i| indegree[i] == 0)
            .map(|&i| Reverse(i))
            .collect();
        let mut placed = 0;
        while let Some(Reverse(i)) = free.pop() {
            order.push(i);
            placed += 1;
            for &next in &successors[i] {
                indegree[next] -= 1;
                if indegree[next] == 0 {
                    free.push(Reverse(next));
                }
            }
        }
        if placed < group.len() {
            // Streams that disagree (a cycle): the rest in first-seen order.
            order.extend(group.iter().filter(|&&i| indegree[i] > 0));
        }
    }
    let mut slots: Vec<Option<(ImportedMessage, Vec<String>)>> =
        items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Content;

    fn message(id: &str, timestamp: i64) -> ImportedMessage {
        ImportedMessage {
            msg_id: id.to_owned(),
            timestamp,
            content: Content::text("svc", id.to_owned()),
            hidden_for: Vec::new(),
            patch_timestamp: None,
            recalled: false,
            ack_at: None,
        }
    }

    #[test]
    fn streams_merge_in_time_and_stream_order() {
        let a = vec![
            message("b1", 1),
            message("x", 2),
            message("b2", 2),
            message("b3", 3),
        ];
        let b = vec![
            message("b1", 1),
            message("b2", 2),
            message("y", 2),
            message("b3", 3),
        ];
        let merged = merge(vec![("a".to_owned(), a), ("b".to_owned(), b)]);
        let ids: Vec<&str> = merged.iter().map(|(m, _)| m.msg_id.as_str()).collect();
        assert_eq!(ids, vec!["b1", "x", "b2", "y", "b3"]);
        let seen: Vec<usize> = merged.iter().map(|(_, s)| s.len()).collect();
        assert_eq!(seen, vec![2, 1, 2, 1, 2]);
    }
}
