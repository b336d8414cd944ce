//! Presence hooks: `_clientOnline` after a login, `_clientOffline` after a logout or a
//! disconnect. Both are non-blocking; their order under rapid reconnects is not guaranteed
//! (as at LeanCloud).

use super::{notify, Hook};
use crate::domain::app::App;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `closeCode` values of `_clientOffline`.
pub const CLOSE_LOGOUT: i64 = 1;
pub const CLOSE_DISCONNECT: i64 = 2;

/// A login: `reconnect` when the SDK re-opened by itself (`r` in `session open`).
pub fn online(
    state: &AppState,
    app: &Arc<App>,
    peer: &str,
    source_ip: Option<&str>,
    tag: Option<&str>,
    reconnect: bool,
) {
    let params = json!({
        "peerId": peer,
        "sourceIP": source_ip,
        "tag": tag.unwrap_or("default"),
        "reconnect": i32::from(reconnect),
    });
    notify(state, app, Hook::ClientOnline, params);
}

/// Why a session ended.
pub struct Offline<'a> {
    pub close_code: i64,
    pub close_msg: &'a str,
    /// Known on a logout, absent on a disconnect.
    pub source_ip: Option<&'a str>,
    pub tag: Option<&'a str>,
    /// The error that ended the connection (e.g. 4109 frame too long), if any.
    pub error: Option<(i64, &'a str)>,
}

pub fn offline(state: &AppState, app: &Arc<App>, peer: &str, why: Offline<'_>) {
    let mut params = Map::new();
    params.insert("peerId".into(), json!(peer));
    params.insert("closeCode".into(), json!(why.close_code));
    params.insert("closeMsg".into(), json!(why.close_msg));
    params.insert("tag".into(), json!(why.tag.unwrap_or("default")));
    if let Some(ip) = why.source_ip {
        params.insert("sourceIP".into(), json!(ip));
    }
    if let Some((code, message)) = why.error {
        params.insert("errorCode".into(), json!(code));
        params.insert("errorMsg".into(), json!(message));
    }
    notify(state, app, Hook::ClientOffline, Value::Object(params));
}
