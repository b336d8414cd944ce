//! `read` (no reply): the tuples of a `read` command, each through `app::reads`.

use super::connection::Conn;
use super::session::Current;
use crate::app::reads;
use crate::proto::GenericCommand;
/// Tuples honoured from one `read`.
const MAX_TUPLES: usize = 100;

pub async fn read(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let body = command.read_message.unwrap_or_default();
    // JS, Swift and Java send tuples; `cid`/`cids` alone mean "read everything".
    let mut targets: Vec<(String, Option<i64>, Option<String>)> = body
        .convs
        .into_iter()
        .map(|t| (t.cid, t.timestamp, t.mid.filter(|m| !m.is_empty())))
        .collect();
    targets.extend(
        body.cid
            .into_iter()
            .chain(body.cids)
            .map(|cid| (cid, None, None)),
    );
    for (cid, timestamp, mid) in targets.into_iter().take(MAX_TUPLES) {
        if let Err(err) = reads::read(&conn.state, current, &cid, timestamp, mid.as_deref()).await {
            tracing::warn!(error = %err, "read position not stored");
        }
    }
}
