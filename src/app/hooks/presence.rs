//! Presence hooks: `_clientOnline` after a login, `_clientOffline` after a logout, a
//! disconnect or a kick (by a tag conflict or by the REST API). A kicked session may sit on
//! another connection or node: the hook is called where the kick is decided, once per
//! session. Both are non-blocking; their order under rapid reconnects is not guaranteed
//! (as at LeanCloud).

use super::{notify, Hook};
use crate::domain::app::App;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `closeCode` values of `_clientOffline`.
pub const CLOSE_LOGOUT: i64 = 1;
pub const CLOSE_DISCONNECT: i64 = 2;
/// Closed because another login took its single-device `tag` (the session got 4111).
pub const CLOSE_KICKED_BY_TAG: i64 = 3;
/// Closed by the app's REST kick, E43 (the session got 4115).
pub const CLOSE_KICKED_BY_API: i64 = 4;

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
