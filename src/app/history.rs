//! History: the same cursor semantics for REST (`GET .../messages`) and the WebSocket `logs`.

use crate::domain::app::App;
use crate::domain::message::Message;
use crate::domain::{signature, time};
use crate::error::{code, Error, Result};
use crate::state::AppState;
pub use crate::store::messages::{HistoryQuery, HistoryScope, Position};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// REST history parameters as they arrive (all optional strings).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct HistoryParams {
    pub msgid: Option<String>,
    pub timestamp: Option<String>,
    pub till_msgid: Option<String>,
    pub till_timestamp: Option<String>,
    pub include_start: Option<String>,
    pub include_stop: Option<String>,
    pub reversed: Option<String>,
    pub limit: Option<String>,
    pub client_id: Option<String>,
    pub nonce: Option<String>,
    pub signature_ts: Option<String>,
    pub signature: Option<String>,
}

impl HistoryParams {
    /// LeanCloud's rules: bounds exclusive unless `include_*`; newest first unless
    /// `reversed`; `limit` default 100, at most 1000 (larger values are cut to 1000).
    pub fn to_query(&self) -> Result<HistoryQuery> {
        let start = position(
            "timestamp",
            self.timestamp.as_deref(),
            self.msgid.as_deref(),
        )?;
        let end = position(
            "till_timestamp",
            self.till_timestamp.as_deref(),
            self.till_msgid.as_deref(),
        )?;
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n >= 0 => n.min(MAX_LIMIT),
                _ => {
                    return Err(Error::bad_request(
                        code::INVALID_TYPE,
                        "limit must be a non-negative integer.",
                    ))
                }
            },
        };
        Ok(HistoryQuery {
            start,
            end,
            include_start: flag("include_start", self.include_start.as_deref())?,
            include_end: flag("include_stop", self.include_stop.as_deref())?,
            newest_first: !flag("reversed", self.reversed.as_deref())?,
            limit,
        })
    }
}

fn position(
    field: &str,
    timestamp: Option<&str>,
    msg_id: Option<&str>,
) -> Result<Option<Position>> {
    let msg_id = msg_id
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    match timestamp.map(str::trim).filter(|t| !t.is_empty()) {
        None if msg_id.is_some() => Err(Error::invalid(format!(
            "A message id needs {field} as well."
        ))),
        None => Ok(None),
        Some(text) => {
            let timestamp = text.parse::<i64>().map_err(|_| {
                Error::bad_request(
                    code::INVALID_TYPE,
                    format!("{field} must be a number of milliseconds."),
                )
            })?;
            Ok(Some(Position { timestamp, msg_id }))
        }
    }
}

fn flag(field: &str, value: Option<&str>) -> Result<bool> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        _ => Err(Error::bad_request(
            code::INVALID_TYPE,
            format!("{field} must be true or false."),
        )),
    }
}

/// Runs a history scan, checking the history signature first when the app requires it.
pub async fn history(
    state: &AppState,
    app: &App,
    scope: HistoryScope<'_>,
    params: &HistoryParams,
) -> Result<Vec<Message>> {
    let query = params.to_query()?;
    if app.settings.history_signature_required {
        let conv = match scope {
            HistoryScope::Conversation(conv) | HistoryScope::Subscriber { conv, .. } => conv,
            HistoryScope::Sender(_) | HistoryScope::App => "",
        };
        verify_history_signature(app, conv, params)?;
    }
    state.store.history(&app.app_id, scope, &query).await
}

/// `appid:client_id:convid:nonce:signature_ts` (documented order), also accepting the
/// LeanEngine demo's `...:signature_ts:nonce`; valid for six hours.
fn verify_history_signature(app: &App, conv: &str, params: &HistoryParams) -> Result<()> {
    let refused = || {
        Error::forbidden(
            code::CONVERSATION_SIGNATURE_FAILED,
            "History signature verification failed.",
        )
    };
    let (Some(client), Some(nonce), Some(ts), Some(given)) = (
        &params.client_id,
        &params.nonce,
        &params.signature_ts,
        &params.signature,
    ) else {
        return Err(refused());
    };
    let ts_value: i64 = ts.trim().parse().map_err(|_| refused())?;
    if (time::now_ms() - signature::timestamp_ms(ts_value)).abs()
        > signature::REALTIME_SIGNATURE_TTL_MS
    {
        return Err(refused());
    }
    let given = given.to_ascii_lowercase();
    let documented =
        signature::realtime_sign(&app.master_key, &[&app.app_id, client, conv, nonce, ts]);
    let demo = signature::realtime_sign(&app.master_key, &[&app.app_id, client, conv, ts, nonce]);
    if signature::same(&given, &documented) || signature::same(&given, &demo) {
        Ok(())
    } else {
        Err(refused())
    }
}
