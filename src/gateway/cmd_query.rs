//! `conv query`: the results of `app::client_query` in `results.data`.

use super::cmd_conv::{conv_of, conv_reply};
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::client_query;
use crate::proto::{ConvCommand, GenericCommand, OpType};
use serde_json::Value;

pub async fn query(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let answer = match client_query::query(&conn.state, current, &conv_of(&command)).await {
        Ok(found) => {
            let data = Value::Array(found).to_string();
            conv_reply(
                &command,
                OpType::Results,
                ConvCommand {
                    results: json_text(data),
                    ..Default::default()
                },
            )
        }
        Err(err) => reply::failure(&command, &err),
    };
    conn.reply(answer);
}

fn json_text(data: String) -> Option<crate::proto::JsonObjectMessage> {
    Some(crate::proto::JsonObjectMessage { data })
}
