//! What a client catches up on right after `opened`: unread counts (protocol 3) or the
//! stored messages it has not acknowledged (protocol 1), then edits and recalls newer than
//! its `lastPatchTime`. All pushes: no `i`, `service = 2`, `peerId` set.

use super::connection::Conn;
use crate::app::catchup;
use crate::domain::app::App;
use crate::proto::SessionCommand;

pub async fn after_open(conn: &mut Conn, app: &App, client: &str, request: &SessionCommand) {
    let version = conn.protocol.version.into();
    let pushes = match catchup::after_open(&conn.state, app, client, version, request).await {
        Ok(pushes) => pushes,
        Err(err) => {
            // The login itself succeeded; a client without its catch-up still works and
            // resyncs through history.
            tracing::warn!(error = %err, "login catch-up failed");
            return;
        }
    };
    for mut command in pushes {
        command.peer_id = Some(client.to_owned());
        conn.reply(command);
    }
}
