//! Who is acting. Every use case takes an [`Actor`]: the app's administrator (REST with the
//! master key, Agora, the console) or one client session of the SDK protocol. The policy
//! (`app::policy`) decides from it what is allowed.

use crate::domain::app::App;
use std::sync::Arc;

/// One logged-in client session (WebSocket), detached from its connection.
#[derive(Clone, Debug)]
pub struct ClientSession {
    pub app: Arc<App>,
    pub client: Arc<str>,
    /// The hub's id of the session (its pushes skip it; chat-room presence is per session).
    pub session: u64,
}

impl ClientSession {
    pub fn app_id(&self) -> &str {
        &self.app.app_id
    }
}

#[derive(Clone, Debug)]
pub enum Actor {
    /// The app itself: master key over REST, Agora's Basic credentials, the admin console.
    Admin(Arc<App>),
    /// A client session of the SDK protocol.
    Client(ClientSession),
}

impl Actor {
    pub fn app(&self) -> &App {
        match self {
            Actor::Admin(app) => app,
            Actor::Client(session) => &session.app,
        }
    }

    pub fn app_id(&self) -> &str {
        &self.app().app_id
    }

    /// The acting client, for a client session.
    pub fn client(&self) -> Option<&str> {
        match self {
            Actor::Admin(_) => None,
            Actor::Client(session) => Some(&session.client),
        }
    }

    pub fn session(&self) -> Option<u64> {
        match self {
            Actor::Admin(_) => None,
            Actor::Client(session) => Some(session.session),
        }
    }
}

impl From<&ClientSession> for Actor {
    fn from(session: &ClientSession) -> Actor {
        Actor::Client(session.clone())
    }
}
