//! A minimal WebSocket client speaking the SDKs' protobuf (`lc.protobuf2.3`): enough to
//! log in with a `deviceToken` / `deviceId` (what Swift and Java send; the JS SDK sends
//! neither), mute, report a token and log out.

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use std::time::Duration;
use tidings::proto::{
    CommandType, ConvCommand, GenericCommand, OpType, ReportCommand, SessionCommand,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    socket: Socket,
    next_i: i32,
    app_id: String,
}

fn command(cmd: CommandType, op: OpType) -> GenericCommand {
    GenericCommand {
        cmd: Some(cmd as i32),
        op: Some(op as i32),
        ..Default::default()
    }
}

impl Ws {
    pub async fn connect(base_url: &str, app_id: &str) -> Ws {
        let url = base_url.replacen("http://", "ws://", 1) + "/";
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("lc.protobuf2.3"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Ws {
            socket,
            next_i: 1,
            app_id: app_id.to_owned(),
        }
    }

    /// Connects and opens a session for `client`, as Swift does (token and user agent).
    pub async fn login(base_url: &str, app_id: &str, client: &str, session: SessionCommand) -> Ws {
        let mut ws = Ws::connect(base_url, app_id).await;
        let mut open = command(CommandType::Session, OpType::Open);
        open.app_id = Some(ws.app_id.clone());
        open.peer_id = Some(client.to_owned());
        open.session_message = Some(session);
        let opened = ws.request(open).await;
        assert_eq!(opened.op, Some(OpType::Opened as i32), "{opened:?}");
        ws
    }

    pub async fn request(&mut self, mut command: GenericCommand) -> GenericCommand {
        let i = self.next_i;
        self.next_i += 1;
        command.i = Some(i);
        let bytes = command.encode_to_vec();
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no reply to {command:?}"));
            if let Some(Ok(Message::Binary(bytes))) = frame {
                let reply = GenericCommand::decode(bytes.as_ref()).unwrap();
                if reply.i == Some(i) {
                    return reply;
                }
            } else if frame.is_none() {
                panic!("socket closed waiting for {command:?}");
            }
        }
    }

    pub async fn mute(&mut self, conv: &str) {
        let mut mute = command(CommandType::Conv, OpType::Mute);
        mute.conv_message = Some(ConvCommand {
            cid: Some(conv.to_owned()),
            ..Default::default()
        });
        let reply = self.request(mute).await;
        assert_eq!(reply.op, Some(OpType::Updated as i32), "{reply:?}");
    }

    pub async fn report_token(&mut self, token: &str) {
        let mut report = command(CommandType::Report, OpType::Upload);
        report.report_message = Some(ReportCommand {
            initiative: Some(true),
            r#type: Some("token".into()),
            data: Some(token.into()),
        });
        let reply = self.request(report).await;
        assert_eq!(reply.op, Some(OpType::Uploaded as i32), "{reply:?}");
    }

    /// `session close`: a logout.
    pub async fn logout(mut self) {
        let reply = self
            .request(command(CommandType::Session, OpType::Close))
            .await;
        assert_eq!(reply.op, Some(OpType::Closed as i32), "{reply:?}");
    }

    /// Drops the connection without logging out (the app went to the background).
    pub async fn disconnect(mut self) {
        let _ = self.socket.close(None).await;
    }
}

pub fn swift_session(token: &str) -> SessionCommand {
    SessionCommand {
        ua: Some("LeanCloud-Swift-SDK/17.0.0".into()),
        device_token: Some(token.into()),
        ..Default::default()
    }
}
