//! Paging the source: conversations through LeanStorage's `/1.1/scan/classes/_Conversation`
//! cursor when the source serves it, else `/1.2/rtm/all-conversations` with a keyset on
//! (`createdAt`, `objectId`) (skip-based paging is unsafe on a live source); and one
//! conversation's history, oldest first, after a `(timestamp, msgid)` cursor.

use super::convert;
use super::source::{refusal, Refused, Source};
use crate::domain::time::iso;
use crate::store::import::Cursor;
use anyhow::bail;
use serde_json::{json, Value};

/// How to list the source's conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Listing {
    /// The scan cursor if the source answers it, else `all-conversations`.
    #[default]
    Auto,
    Scan,
    AllConversations,
}

const SCAN_PATH: &str = "/1.1/scan/classes/_Conversation";
const ALL_PATH: &str = "/1.2/rtm/all-conversations";

enum Mode {
    Undecided,
    Scan { cursor: Option<String> },
    Keyset { after: Option<(i64, String)> },
}

/// Pages through every conversation of the source.
pub struct ConversationPager<'a> {
    source: &'a Source,
    mode: Mode,
    limit: u32,
    done: bool,
}

impl<'a> ConversationPager<'a> {
    pub fn new(source: &'a Source, listing: Listing, limit: u32) -> ConversationPager<'a> {
        let mode = match listing {
            Listing::Auto => Mode::Undecided,
            Listing::Scan => Mode::Scan { cursor: None },
            Listing::AllConversations => Mode::Keyset { after: None },
        };
        ConversationPager {
            source,
            mode,
            limit: limit.clamp(1, 1000),
            done: false,
        }
    }

    /// How many conversations the source has (`count=1&limit=0`), if it says.
    pub async fn total(&self) -> Option<u64> {
        let query = [("limit", "0".to_owned()), ("count", "1".to_owned())];
        match self.source.get(ALL_PATH, &query).await {
            Ok(Ok(body)) => body.get("count").and_then(Value::as_u64),
            _ => None,
        }
    }

    /// The next page of raw `_Conversation` objects; `None` after the last.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        if let Mode::Undecided = self.mode {
            match self.scan(None).await? {
                Ok(page) => {
                    tracing::info!("listing conversations through {SCAN_PATH}");
                    return Ok(Some(page));
                }
                Err(refused) => {
                    tracing::info!(
                        status = refused.status,
                        "{SCAN_PATH} is not served; listing through {ALL_PATH}"
                    );
                    self.mode = Mode::Keyset { after: None };
                }
            }
        }
        let page = match &self.mode {
            Mode::Scan { cursor } => {
                let cursor = cursor.clone();
                self.scan(cursor)
                    .await?
                    .map_err(|refused| refusal(SCAN_PATH, &refused))?
            }
            _ => self.keyset().await?,
        };
        Ok(Some(page))
    }

    /// One scan page; moves the cursor (or ends) on success.
    async fn scan(
        &mut self,
        cursor: Option<String>,
    ) -> anyhow::Result<Result<Vec<Value>, Refused>> {
        let mut query = vec![("limit", self.limit.to_string())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        let body = match self.source.get(SCAN_PATH, &query).await? {
            Ok(body) => body,
            Err(refused) => return Ok(Err(refused)),
        };
        let results = results(&body, SCAN_PATH)?;
        let next = body
            .get("cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        self.done = next.is_none() || results.is_empty();
        self.mode = Mode::Scan { cursor: next };
        Ok(Ok(results))
    }

    async fn keyset(&mut self) -> anyhow::Result<Vec<Value>> {
        let Mode::Keyset { after } = &self.mode else {
            bail!("not in keyset mode")
        };
        let mut query = vec![
            ("limit", self.limit.to_string()),
            ("order", "createdAt,objectId".to_owned()),
        ];
        if let Some((created, id)) = after {
            let date = json!({"__type": "Date", "iso": iso(*created)});
            let filter = json!({"$or": [
                {"createdAt": {"$gt": date}},
                {"createdAt": date, "objectId": {"$gt": id}},
            ]});
            query.push(("where", filter.to_string()));
        }
        let body = self.source.get_ok(ALL_PATH, &query).await?;
        let results = results(&body, ALL_PATH)?;
        self.done = results.len() < self.limit as usize;
        let last = results.iter().rev().find_map(|object| {
            let created = object.get("createdAt").and_then(convert::date)?;
            let id = object.get("objectId").and_then(Value::as_str)?;
            Some((created, id.to_owned()))
        });
        match last {
            Some(last) => self.mode = Mode::Keyset { after: Some(last) },
            None if !self.done => bail!(
                "a full page of {ALL_PATH} without one readable createdAt/objectId: cannot page on"
            ),
            None => {}
        }
        Ok(results)
    }
}

fn results(body: &Value, path: &str) -> anyhow::Result<Vec<Value>> {
    match body.get("results") {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => bail!("{path} answered without a results array"),
    }
}

/// `/1.2/rtm/conversations/{id}/messages` or the chat-room form.
pub fn history_path(family: &str, conv_id: &str) -> String {
    format!("/1.2/rtm/{family}/{}/messages", segment(conv_id))
}

/// One page of history, oldest first, after `cursor` (or from `cursor.timestamp` inclusive
/// when `inclusive`, for callers that cannot pin the message).
pub async fn history_page(
    source: &Source,
    path: &str,
    cursor: Option<&Cursor>,
    inclusive: bool,
    limit: u32,
) -> anyhow::Result<Result<Vec<Value>, Refused>> {
    let mut query = vec![
        ("reversed", "true".to_owned()),
        ("limit", limit.clamp(1, 1000).to_string()),
    ];
    if let Some(cursor) = cursor {
        query.push(("timestamp", cursor.timestamp.to_string()));
        if inclusive {
            query.push(("include_start", "true".to_owned()));
        } else {
            query.push(("msgid", cursor.msg_id.clone()));
        }
    }
    Ok(match source.get(path, &query).await? {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => bail!("{path} answered something other than a JSON array"),
        Err(refused) => Err(refused),
    })
}

/// Percent-encodes an id for use as one URL path segment.
pub fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
