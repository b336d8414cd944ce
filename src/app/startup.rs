//! What the server says once at start about how it is configured.

use crate::state::AppState;

/// One line when any app lets every client id log in without a signature.
pub async fn announce(state: &AppState) {
    let apps = match state.store.list_apps().await {
        Ok(apps) => apps,
        Err(err) => {
            tracing::warn!(error = %err, "apps not listed at start");
            return;
        }
    };
    let unsigned: Vec<&str> = apps
        .iter()
        .filter(|a| !a.settings.login_signature_required)
        .map(|a| a.app_id.as_str())
        .collect();
    if let Some(first) = unsigned.first() {
        tracing::warn!(
            apps = %unsigned.join(","),
            "login signatures are off: any client id can log in to these apps; turn them on with `tidings app set {first} login_signature_required true`"
        );
    }
}
