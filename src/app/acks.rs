//! Waiting for a receiver's acknowledgement of one message (Agora `wait_for_ack`). The
//! gateway calls [`AckWaiters::acknowledged`] when a client acks a delivered message.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct AckWaiters {
    waiting: Mutex<HashMap<(String, String), oneshot::Sender<String>>>,
}

impl AckWaiters {
    /// Registers interest in `msg_id` before it is sent; the receiver resolves to the id of
    /// the client that acknowledged it.
    pub fn wait_for(&self, app: &str, msg_id: &str) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert((app.to_owned(), msg_id.to_owned()), sender);
        }
        receiver
    }

    /// Stops waiting (timeout or send failure).
    pub fn forget(&self, app: &str, msg_id: &str) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&(app.to_owned(), msg_id.to_owned()));
        }
    }

    /// A client acknowledged `msg_id`. Cheap when nobody waits.
    pub fn acknowledged(&self, app: &str, msg_id: &str, client: &str) {
        let sender = match self.waiting.lock() {
            Ok(mut waiting) if !waiting.is_empty() => {
                waiting.remove(&(app.to_owned(), msg_id.to_owned()))
            }
            _ => None,
        };
        if let Some(sender) = sender {
            let _ = sender.send(client.to_owned());
        }
    }
}
