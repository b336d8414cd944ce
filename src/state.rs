//! Shared state handed to every handler and session.

use crate::app::directory::AppDirectory;
use crate::config::Config;
use crate::hub::Hub;
use crate::store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub apps: Arc<AppDirectory>,
    pub hub: Arc<Hub>,
    pub config: Arc<Config>,
    pub shutdown: CancellationToken,
}
